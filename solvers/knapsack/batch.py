"""All sites of a partition: one knapsack per site, optionally over a process pool.

The asset layer calls this once per partition and writes the two frames it returns
(knapsack.allocation and knapsack.site_summary). Sites are independent problems, so a
pool of worker processes scales with cores. Workers are spawned, not forked (forking
a process that runs Polars' thread pool can deadlock); each pays the imports and
numba's first-call load (~2-4 s) once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import polars as pl
from polars.datatypes import DataTypeClass

from solvers.knapsack.site_model import (
    DEFAULT_SOLVER,
    TOPUP_RATIO,
    SiteCapacities,
    SiteSolver,
    SiteSummary,
    Strategy,
    allocation_frame,
    pair_terms,
    plan_lots,
    site_summary,
    solve_terms,
)

CATEGORY_USE_TYPE = pl.List(pl.Struct({"category": pl.String, "capacity": pl.Float64, "used": pl.Float64}))
CATEGORY_USE_SCHEMA = pl.Schema({"site_id": pl.String, "category": pl.String, "capacity": pl.Float64, "used": pl.Float64})


def summary_frame(summaries: Sequence[SiteSummary]) -> pl.DataFrame:
    """knapsack.site_summary rows, with the per-category use nested in `category_use` (a list
    of {category, capacity, used}, one per limited category of the site).

    Categories are values, never column names: a category comes from the articles file, and
    a name from data must not become an identifier (`category_use_frame` gives the long
    table knapsack.category_use)."""
    rows = [
        {
            "site_id": s.site_id, "strategy": s.strategy, "status": s.status,
            "solver": s.solver, "objective": s.objective, "bound": s.bound, "gap": s.gap,
            "volume_used": s.volume_used, "capacity_total": s.capacity_total,
            "n_pairs": s.n_pairs, "n_items": s.n_items,
            "build_ms": s.build_ms, "solve_ms": s.solve_ms, "detail": s.detail,
            "category_use": [
                {"category": c, "capacity": s.category_capacity.get(c), "used": s.category_use.get(c, 0.0)}
                for c in sorted(s.category_use)
            ],
        }
        for s in summaries
    ]
    schema: dict[str, pl.DataType | DataTypeClass] = {
        "site_id": pl.String, "strategy": pl.String, "status": pl.String, "solver": pl.String,
        "objective": pl.Float64, "bound": pl.Float64, "gap": pl.Float64,
        "volume_used": pl.Float64, "capacity_total": pl.Float64, "n_pairs": pl.Int64, "n_items": pl.Int64,
        "build_ms": pl.Float64, "solve_ms": pl.Float64, "detail": pl.String, "category_use": CATEGORY_USE_TYPE,
    }
    return pl.DataFrame(rows, schema=schema)


def category_use_frame(site_summary: pl.DataFrame) -> pl.DataFrame:
    """knapsack.category_use: one row per (site, category present at the site): its capacity
    (null: the site sets no limit for it, only the total applies) and the volume used."""
    if "category_use" not in site_summary.columns or not site_summary.height:
        return pl.DataFrame(schema=CATEGORY_USE_SCHEMA)
    return (
        site_summary.select("site_id", "category_use")
        .explode("category_use")
        .drop_nulls("category_use")
        .unnest("category_use")
        .select(list(CATEGORY_USE_SCHEMA))
        .cast(CATEGORY_USE_SCHEMA)
        .sort("site_id", "category")
    )


def _solve_one(args: tuple) -> tuple[np.ndarray, np.ndarray, SiteSummary]:
    terms, capacities, strategy, solver, time_limit_s = args
    model, result = solve_terms(terms, capacities, strategy, solver, time_limit_s)
    lots_hi, lots_lo = plan_lots(model, result)
    return lots_hi, lots_lo, site_summary(model, result, strategy, lots_hi, lots_lo)


def solve_sites(
    pairs: pl.DataFrame,
    capacities: Mapping[object, SiteCapacities],
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    topup_ratio: float = TOPUP_RATIO,
    workers: int = 1,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(allocation of every pair of every site, one summary row per site), sites in
    site_id order, pairs in article_id order within a site.

    ``capacities`` must hold every site_id of ``pairs`` (defaults already applied). The
    SPEC §5 terms and the allocation frame are computed once for all sites (Polars), the
    site models and solves one site at a time (numpy / numba).
    """
    missing = set(pairs["site_id"].unique().to_list()) - set(capacities)
    if missing:
        raise KeyError(f"no capacities for sites {sorted(missing)[:10]}")
    terms = pair_terms(pairs, topup_ratio)
    if terms.height == 0:
        return pl.DataFrame(), summary_frame([])
    site_ids = terms["site_id"].to_numpy()
    starts = np.concatenate([[0], np.flatnonzero(site_ids[1:] != site_ids[:-1]) + 1, [terms.height]])
    jobs = [
        (terms.slice(a, b - a), capacities[site_ids[a]], strategy, solver, time_limit_s)
        for a, b in zip(starts[:-1], starts[1:])
    ]
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            solved = list(pool.map(_solve_one, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    else:
        solved = [_solve_one(j) for j in jobs]
    summaries = [s for _, _, s in solved]
    status = pl.Series("status", [s.status for s in summaries]).gather(
        np.repeat(np.arange(len(summaries)), np.diff(starts))
    )
    allocation = allocation_frame(
        terms, np.concatenate([h for h, _, _ in solved]), np.concatenate([lo for _, lo, _ in solved]), strategy, status
    )
    return allocation, summary_frame(summaries)
