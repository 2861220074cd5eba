"""Shards of one partition's knapsack: independent parts solved apart, put back together.

A partition's plan is a set of independent problems (SPEC §5, §5.2): one per site supplied
from outside, one per depot group (a depot's vans share its stock, so a group is never
split). A shard is a set of those problems, so solving the shards apart and merging gives
the plan solving them together gives, row for row: each problem is solved by the same
deterministic search on the same inputs whatever else is in its shard. (The one
exception is a problem whose search stops at its time limit, `time_limit_s`: what it has
found by then depends on the machine's speed, sharded or not.)

The KNAPSACK asset uses shards twice: as its progress batches in one process, and, in
cluster mode, as the parts of a big partition that other workers solve
(orchestrator_assets/defs/knapsack/shard_dispatch.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

import polars as pl

from solvers.knapsack.sourcing import SourcedPlan, empty_plan


def shard_count(n_pairs: int, shard_pairs: int) -> int:
    """How many shards a partition of `n_pairs` pairs needs so that none holds much more
    than `shard_pairs` (1: below the threshold the partition stays whole)."""
    if shard_pairs < 1:
        raise ValueError(f"shard_pairs must be >= 1, got {shard_pairs}")
    return max(1, -(-n_pairs // shard_pairs))


def plan_shards(pairs: pl.DataFrame, parents: Mapping[str, str], count: int) -> list[list[str]]:
    """The sites of each of at most `count` shards, balanced by pairs.

    Units are the independent problems: the vans of one depot together (they share its
    stock), any other site alone (a depot's own replenishment is supplied from outside,
    independent of its vans). Largest unit first
    into the lightest shard (ties: the lower shard), units in key order among equals: the
    same pairs always give the same shards. Empty shards are dropped; each shard's sites
    are sorted."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    sizes = pairs.group_by("site_id").len().rows()
    units: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for site, n in sizes:
        key = (parents[site], 1) if site in parents else (site, 0)
        units.setdefault(key, []).append((site, n))
    ordered = sorted(units.items(), key=lambda item: (-sum(n for _, n in item[1]), item[0]))
    heap = [(0, index) for index in range(count)]
    shards: list[list[str]] = [[] for _ in range(count)]
    for _, members in ordered:
        load, index = heapq.heappop(heap)
        shards[index].extend(site for site, _ in members)
        heapq.heappush(heap, (load + sum(n for _, n in members), index))
    return [sorted(sites) for sites in shards if sites]


def merge_plans(plans: Sequence[SourcedPlan]) -> SourcedPlan:
    """One plan from the plans of disjoint shards, in the order a whole solve gives:
    allocation by (site_id, article_id), site_summary by site_id, group_summary by depot,
    depot_supply by (depot, article)."""
    def stacked(name: str) -> list[pl.DataFrame]:
        return [frame for frame in (getattr(plan, name) for plan in plans) if frame.width]

    allocation, summaries, groups, supplies = (
        stacked(name) for name in ("allocation", "site_summary", "group_summary", "depot_supply")
    )
    empty = empty_plan()
    return SourcedPlan(
        allocation=pl.concat(allocation, how="diagonal_relaxed").sort("site_id", "article_id") if allocation else empty.allocation,
        site_summary=pl.concat(summaries, how="diagonal_relaxed").sort("site_id") if summaries else empty.site_summary,
        group_summary=pl.concat(groups, how="diagonal_relaxed").sort("site_id") if groups else empty.group_summary,
        depot_supply=(
            pl.concat(supplies, how="diagonal_relaxed").sort("site_id", "article_id") if supplies else empty.depot_supply
        ),
    )
