"""All sites of a partition: one knapsack per site, optionally over a process pool.

The asset layer calls this once per partition and writes the two frames it returns
(knapsack.allocation and knapsack.site_summary). Sites are independent problems, so a
pool of worker processes scales with cores. Workers are spawned, not forked (forking
a process that runs Polars' thread pool can deadlock); each pays the imports and
numba's first-call load (~2-4 s) once.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Mapping, Sequence

import polars as pl

from solvers.knapsack.site_model import (
    TOPUP_RATIO,
    SiteCapacities,
    SiteSolution,
    SiteSolver,
    SiteSummary,
    Strategy,
    solve_site,
)


def summary_frame(summaries: Sequence[SiteSummary]) -> pl.DataFrame:
    """knapsack.site_summary rows; per-category use and capacity as ``use_<CAT>`` /
    ``capacity_<CAT>`` columns over every category of the batch (null: no such limit)."""
    categories = sorted({c for s in summaries for c in s.category_use})
    rows = []
    for s in summaries:
        row = {
            "site_id": s.site_id, "strategy": s.strategy, "status": s.status,
            "solver": s.solver, "objective": s.objective, "bound": s.bound, "gap": s.gap,
            "volume_used": s.volume_used, "capacity_total": s.capacity_total,
            "n_pairs": s.n_pairs, "n_items": s.n_items,
            "build_ms": s.build_ms, "solve_ms": s.solve_ms, "detail": s.detail,
        }
        for c in categories:
            row[f"use_{c}"] = s.category_use.get(c, 0.0)
            row[f"capacity_{c}"] = s.category_capacity.get(c)
        rows.append(row)
    schema = {
        "objective": pl.Float64, "bound": pl.Float64, "gap": pl.Float64,
        "volume_used": pl.Float64, "capacity_total": pl.Float64,
        **{f"use_{c}": pl.Float64 for c in categories},
        **{f"capacity_{c}": pl.Float64 for c in categories},
    }
    return pl.DataFrame(rows, schema_overrides=schema)


def _solve_one(args: tuple) -> SiteSolution:
    return solve_site(*args)


def solve_sites(
    pairs: pl.DataFrame,
    capacities: Mapping[object, SiteCapacities],
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = "cbc",
    time_limit_s: float = 10.0,
    topup_ratio: float = TOPUP_RATIO,
    workers: int = 1,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(allocation of every pair of every site, one summary row per site).

    ``capacities`` must hold every site_id of ``pairs`` (defaults already applied).
    """
    missing = set(pairs["site_id"].unique().to_list()) - set(capacities)
    if missing:
        raise KeyError(f"no capacities for sites {sorted(missing)[:10]}")
    groups = pairs.partition_by("site_id", as_dict=True, maintain_order=True)
    jobs = [
        (frame, capacities[key[0]], strategy, solver, time_limit_s, topup_ratio)
        for key, frame in sorted(groups.items(), key=lambda kv: str(kv[0][0]))
    ]
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            solutions = list(pool.map(_solve_one, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    else:
        solutions = [_solve_one(j) for j in jobs]
    allocation = (
        pl.concat([s.allocation for s in solutions], how="vertical_relaxed")
        if solutions
        else pl.DataFrame()
    )
    return allocation, summary_frame([s.summary for s in solutions])
