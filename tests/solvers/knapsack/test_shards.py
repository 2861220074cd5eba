"""Shards of a partition's knapsack (solvers/knapsack/shards.py): groups stay whole, shards
are balanced and deterministic, and the merged plans of shards solved apart equal the plan
of the whole partition solved at once, row for row."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from solvers.knapsack.shards import merge_plans, plan_shards, shard_count
from solvers.knapsack.sourcing import SourcedPlan, solve_sourced
from tests.solvers.knapsack.sourcing_groups import SMALL, random_groups

#: columns that measure the solve, not its result
TIMINGS = ("build_ms", "solve_ms")
#: durations inside a group's detail ("LP 0.02 s", "MILP Optimal 0.01 s")
SECONDS = r"\b\d+(?:\.\d+)? s\b"


def partition(seed: int, depots: int = 3, vans: int = 3):
    """A partition as the asset sees it: vans in depot groups, the depots' own pairs and a
    van without parent (both supplied from outside, SPEC §5 alone)."""
    pairs, capacities, parents, supply = random_groups(seed, depots=depots, vans=vans, articles=9, pairs_per_van=6)
    outside = pl.concat([
        pairs.filter(pl.col("site_id") == f"D{d}V00").with_columns(site_id=pl.lit(f"D{d}")) for d in range(depots)
    ] + [pairs.filter(pl.col("site_id") == "D0V01").with_columns(site_id=pl.lit("X1"))])
    capacities = {**capacities, **{site: SMALL for site in outside["site_id"].unique().to_list()}}
    return pl.concat([pairs, outside]), capacities, parents, supply


def without_timings(plan: SourcedPlan) -> dict[str, pl.DataFrame]:
    frames = {}
    for name in ("allocation", "site_summary", "group_summary", "depot_supply"):
        frame = getattr(plan, name)
        frame = frame.drop([c for c in TIMINGS if c in frame.columns])
        if "detail" in frame.columns:  # a group's detail says how long its LP and MILP took
            frame = frame.with_columns(pl.col("detail").str.replace_all(SECONDS, "_ s"))
        frames[name] = frame
    return frames


def sorted_whole(plan: SourcedPlan) -> dict[str, pl.DataFrame]:
    frames = without_timings(plan)
    frames["group_summary"] = frames["group_summary"].sort("site_id")
    frames["depot_supply"] = frames["depot_supply"].sort("site_id", "article_id")
    return frames


def test_shard_count_keeps_a_partition_below_the_threshold_whole():
    assert shard_count(0, 100) == 1
    assert shard_count(100, 100) == 1
    assert shard_count(101, 100) == 2
    assert shard_count(1_500_000, 500_000) == 3
    with pytest.raises(ValueError, match="shard_pairs"):
        shard_count(10, 0)


def test_a_depot_group_is_never_split_and_every_site_is_in_one_shard():
    pairs, _, parents, _ = partition(1)
    shards = plan_shards(pairs, parents, 3)
    assert len(shards) == 3
    every = [site for shard in shards for site in shard]
    assert sorted(every) == sorted(pairs["site_id"].unique().to_list())
    for depot in set(parents.values()):
        vans = {van for van, parent in parents.items() if parent == depot}
        assert sum(1 for shard in shards if vans & set(shard)) == 1, f"{depot}'s vans are in one shard"


def test_shards_are_balanced_by_pairs_and_the_same_pairs_give_the_same_shards():
    pairs, _, parents, _ = partition(2, depots=4, vans=2)
    shards = plan_shards(pairs, parents, 2)
    loads = [pairs.filter(pl.col("site_id").is_in(shard)).height for shard in shards]
    unit_sizes = pairs.with_columns(unit=pl.col("site_id").replace({v: f"{d}/vans" for v, d in parents.items()})).group_by("unit").len()["len"]
    assert max(loads) - min(loads) <= unit_sizes.max()  # largest first into the lightest: within one unit
    assert plan_shards(pairs.sample(fraction=1.0, shuffle=True, seed=3), parents, 2) == shards


def test_more_shards_asked_than_independent_problems_gives_one_shard_per_problem():
    pairs, _, parents, _ = partition(3, depots=2, vans=2)
    # units, largest first: D0's vans, D1's vans, then D0, D1 and X1 alone (a depot's own
    # pairs are supplied from outside, independent of its vans)
    assert plan_shards(pairs, parents, 50) == [["D0V00", "D0V01"], ["D1V00", "D1V01"], ["D0"], ["D1"], ["X1"]]
    with pytest.raises(ValueError, match="count"):
        plan_shards(pairs, parents, 0)


@pytest.mark.parametrize("strategy", ["criticite_hybride", "exact", "greedy"])
@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_solved_apart_and_merged_equal_the_whole_partition_solved_at_once(strategy, count):
    pairs, capacities, parents, supply = partition(7)
    whole = solve_sourced(pairs, capacities, parents, supply, strategy=strategy)
    plans = []
    for sites in plan_shards(pairs, parents, count):
        shard = pairs.filter(pl.col("site_id").is_in(sites))
        plans.append(solve_sourced(shard, capacities, {s: parents[s] for s in sites if s in parents}, supply, strategy=strategy))
    merged, reference = without_timings(merge_plans(plans)), sorted_whole(whole)
    assert merged["allocation"]["lots"].sum() > 0
    for name in reference:
        assert_frame_equal(merged[name], reference[name], check_column_order=False)


def test_merging_no_plan_gives_the_empty_plan_with_its_columns():
    merged = merge_plans([])
    assert merged.allocation.height == 0 and merged.site_summary.height == 0
    assert "critical_short" in merged.depot_supply.columns and "gap" in merged.group_summary.columns
