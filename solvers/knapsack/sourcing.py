"""Sourcing (SPEC §5.2): vans supplied from their parent depot's finite stock.

The entry points the KNAPSACK asset calls:

- ``supply_from_stock``: supply(a, p) = max(0, on_hand(a, p) - stock_min(a)) pieces.
- ``van_parents``: van -> parent depot, from the sites table's optional parent_site_id.
- ``solve_groups``: every group (the vans of one depot) by one strategy, its plan within
  the depot's supply; returns knapsack.allocation rows (with source_site_id),
  knapsack.site_summary rows for the vans (their own capacity use and objective, the
  group's status, bound and gap), knapsack.group_summary and knapsack.depot_supply.
- ``solve_sourced``: a whole partition: the vans with a parent by ``solve_groups``, the
  other sites (depots, parentless vans) by the per-site batch (batch.solve_sites), the
  frames put together.

The model of a group is group_model.py, its strategies group_strategies.py, the exact
search group_exact.py. Groups are independent, so a pool of worker processes (spawned,
as in batch.py) solves them in parallel.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from solvers.knapsack.batch import solve_sites, summary_frame
from solvers.knapsack.group_exact import GAP_TOLERANCE, GroupResult, warm_up
from solvers.knapsack.group_model import GroupModel, build_group_model
from solvers.knapsack.group_strategies import solve_group
from solvers.knapsack.site_model import (
    CRITICAL_LEVEL,
    DEFAULT_SOLVER,
    TOPUP_RATIO,
    SiteCapacities,
    SiteSolver,
    SiteSummary,
    Strategy,
    allocation_frame,
    pair_terms,
)

DEPOT_SUPPLY_COLUMNS = ("site_id", "article_id", "supply", "requested", "shipped", "remaining", "critical_short")
GROUP_SUMMARY_SCHEMA = {
    "site_id": pl.String, "strategy": pl.String, "status": pl.String, "solver": pl.String,
    "objective": pl.Float64, "bound": pl.Float64, "gap": pl.Float64, "critical_value": pl.Float64,
    "solve_ms": pl.Float64, "build_ms": pl.Float64, "vans": pl.Int64, "articles_short": pl.Int64,
    "articles_scarce": pl.Int64, "detail": pl.String,
}


def supply_from_stock(on_hand: pl.DataFrame, articles: pl.DataFrame) -> pl.DataFrame:
    """SPEC §5.2 supply per (site, article) in pieces: max(0, on_hand - stock_min); the
    depot never ships below its own minimum. ``on_hand``: site_id, article_id, on_hand
    (D's snapshot, e.g. stock.stock_initial, filtered to the depots by the caller; a pair
    without a row has supply 0). ``articles``: article_id, stock_min."""
    return (
        on_hand.select("site_id", "article_id", "on_hand")
        .join(articles.select("article_id", "stock_min"), on="article_id", how="inner")
        .with_columns(supply=pl.max_horizontal(pl.lit(0), pl.col("on_hand").cast(pl.Int64) - pl.col("stock_min").cast(pl.Int64)))
        .select("site_id", "article_id", "supply")
        .sort("site_id", "article_id")
    )


def van_parents(sites: pl.DataFrame) -> dict[str, str]:
    """van site_id -> parent depot, for the sites whose parent_site_id is set (SPEC §5.2:
    empty, or the column absent, means supplied from outside). Rows breaking the
    ``bad_parent`` rule are expected to have been rejected at ingest."""
    if "parent_site_id" not in sites.columns:
        return {}
    rows = sites.filter(pl.col("parent_site_id").is_not_null() & (pl.col("parent_site_id").cast(pl.String) != ""))
    return dict(rows.select(pl.col("site_id").cast(pl.String), pl.col("parent_site_id").cast(pl.String)).iter_rows())


@dataclass(frozen=True)
class SourcedPlan:
    """The four tables of a sourced plan (SPEC §5.2 / §7).

    allocation: knapsack.allocation rows (the per-site columns + source_site_id);
    site_summary: knapsack.site_summary rows (batch.summary_frame columns);
    group_summary: one row per depot with vans (GROUP_SUMMARY_SCHEMA);
    depot_supply: one row per (depot, article) with any request in its group.
    """

    allocation: pl.DataFrame
    site_summary: pl.DataFrame
    group_summary: pl.DataFrame
    depot_supply: pl.DataFrame


# ---- one group -------------------------------------------------------------------------


def _van_lots(gm: GroupModel, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    m = gm.vans[k]
    xk = x[gm.van_slice(k)]
    hi = m.item_tier == 0
    n_pairs = m.pairs.height
    lots_hi = np.bincount(m.item_pair[hi], weights=xk[hi], minlength=n_pairs).astype(np.int64)
    lots_lo = np.bincount(m.item_pair[~hi], weights=xk[~hi], minlength=n_pairs).astype(np.int64)
    return lots_hi, lots_lo


def _nan_to_none(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _van_summaries(
    gm: GroupModel, result: GroupResult, strategy: str, his: list[np.ndarray], los: list[np.ndarray], build_ms: float
) -> list[SiteSummary]:
    """Every van's knapsack.site_summary row (as site_model.site_summary computes it, over
    the group's arrays at once: ~50 us a van instead of ~4 ms): its own capacity use and
    objective, its group's status, bound and gap."""
    terms = gm.terms
    lots = (np.concatenate(his) + np.concatenate(los)) if his else np.zeros(0, np.int64)
    volume = lots * terms["lot_size"].to_numpy().astype(np.int64) * terms["unit_volume"].to_numpy().astype(np.float64)
    categories, code = np.unique(terms["category"].to_numpy().astype(str), return_inverse=True)
    bound, gap = _nan_to_none(result.bound), _nan_to_none(result.gap)
    summaries, start = [], 0
    for k, model in enumerate(gm.vans):
        end = start + model.pairs.height
        use = np.bincount(code[start:end], weights=volume[start:end], minlength=categories.shape[0])
        category_use = {c: 0.0 for c in model.limited_categories}
        for c in np.unique(code[start:end]).tolist():
            category_use[str(categories[c])] = float(use[c])
        sl = gm.van_slice(k)
        summaries.append(SiteSummary(
            site_id=gm.van_ids[k], strategy=strategy, status=str(result.status), solver=result.solver,
            objective=float(np.dot(gm.values[sl], result.x[sl])), bound=bound, gap=gap,
            volume_used=float(volume[start:end].sum()), capacity_total=float(model.capacities.total),
            category_use=dict(sorted(category_use.items())),
            category_capacity={c: float(model.capacities.categories[c]) for c in model.limited_categories},
            n_pairs=model.pairs.height, n_items=model.problem.n_items, build_ms=build_ms,
            solve_ms=result.solve_ms, detail=f"group {gm.depot_id}",
        ))
        start = end
    return summaries


def depot_supply_frame(gm: GroupModel, x: np.ndarray) -> pl.DataFrame:
    """knapsack.depot_supply rows of one group's plan: articles with requested > 0."""
    terms = gm.terms
    critical_need = np.bincount(
        np.searchsorted(gm.articles, terms["article_id"].to_numpy().astype(str)),
        weights=np.where(
            (terms["level"] == CRITICAL_LEVEL).to_numpy(),
            terms["n_min"].to_numpy() * terms["lot_size"].to_numpy(),
            0,
        ).astype(np.float64),
        minlength=gm.articles.shape[0],
    )
    shipped = gm.shipped(x)
    keep = gm.requested > 0
    supply = gm.supply[keep]
    return pl.DataFrame(
        {
            "site_id": gm.depot_id,
            "article_id": gm.articles[keep],
            "supply": np.rint(supply).astype(np.int64),
            "requested": np.rint(gm.requested[keep]).astype(np.int64),
            "shipped": np.rint(shipped[keep]).astype(np.int64),
            "remaining": np.rint(supply - shipped[keep]).astype(np.int64),
            "critical_short": np.rint(np.maximum(0.0, critical_need[keep] - supply)).astype(np.int64),
        },
        schema={"site_id": pl.String, "article_id": pl.String, "supply": pl.Int64, "requested": pl.Int64,
                "shipped": pl.Int64, "remaining": pl.Int64, "critical_short": pl.Int64},
    )


@dataclass(frozen=True)
class GroupOutput:
    """One group's share of the four tables (picklable: it comes back from a worker)."""

    allocation: pl.DataFrame
    summaries: list[SiteSummary]
    group_row: dict
    depot_supply: pl.DataFrame
    result: GroupResult


def solve_one_group(
    depot_id: str,
    terms: pl.DataFrame,
    capacities: Mapping[object, SiteCapacities],
    supply: Mapping[str, float],
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    gap_tolerance: float = GAP_TOLERANCE,
) -> GroupOutput:
    """One depot's group from its vans' ``pair_terms`` rows (sorted by site_id,
    article_id) and the depot's supply per article (pieces; absent: 0)."""
    warm_up()
    t0 = time.perf_counter()
    gm = build_group_model(depot_id, terms, capacities, supply)
    build_ms = (time.perf_counter() - t0) * 1e3
    result = solve_group(gm, strategy, solver, time_limit_s, gap_tolerance)
    lots = [_van_lots(gm, result.x, k) for k in range(gm.n_vans)]
    his = [h for h, _ in lots]
    los = [lo for _, lo in lots]
    summaries = _van_summaries(gm, result, strategy, his, los, build_ms)
    allocation = allocation_frame(
        terms, np.concatenate(his) if his else np.zeros(0, np.int64), np.concatenate(los) if los else np.zeros(0, np.int64),
        strategy, str(result.status),
    ).with_columns(source_site_id=pl.lit(depot_id, dtype=pl.String))
    depot_supply = depot_supply_frame(gm, result.x)
    group_row = {
        "site_id": depot_id, "strategy": strategy, "status": str(result.status), "solver": result.solver,
        "objective": float(result.objective), "bound": _nan_to_none(result.bound), "gap": _nan_to_none(result.gap),
        "critical_value": float(np.dot(gm.critical_values, result.x)),
        "solve_ms": result.solve_ms, "build_ms": build_ms, "vans": gm.n_vans,
        "articles_short": int((depot_supply["critical_short"] > 0).sum()),
        "articles_scarce": int(gm.coupled.size), "detail": result.detail,
    }
    return GroupOutput(allocation, summaries, group_row, depot_supply, result)


def _solve_job(args: tuple) -> GroupOutput:
    return solve_one_group(*args)


# ---- every group -----------------------------------------------------------------------


def solve_groups(
    pairs: pl.DataFrame,
    capacities: Mapping[object, SiteCapacities],
    parents: Mapping[str, str],
    supply: pl.DataFrame,
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    topup_ratio: float = TOPUP_RATIO,
    gap_tolerance: float = GAP_TOLERANCE,
    workers: int = 1,
) -> SourcedPlan:
    """Every group of the vans in ``pairs`` (each must have a parent in ``parents``).

    ``pairs``: the per-site input of batch.solve_sites (site_id, article_id, category,
    importance, u_total, min_projected, stock_min, stock_max, lot_size, unit_volume,
    level, class); ``capacities``: every van's limits; ``supply``: site_id (the depot),
    article_id, supply (pieces, >= 0; a missing row is 0, see ``supply_from_stock``).
    ``time_limit_s`` and ``gap_tolerance`` are per group; ``solver`` is the per-site
    solver for groups that need no coupling (group_strategies.py).
    """
    terms = pair_terms(pairs, topup_ratio)
    sites = terms["site_id"].unique().to_list()
    orphans = sorted(s for s in sites if s not in parents)
    if orphans:
        raise KeyError(f"vans without a parent depot: {orphans[:10]} (use solve_sourced for a mix)")
    missing = sorted(set(sites) - set(capacities))
    if missing:
        raise KeyError(f"no capacities for sites {missing[:10]}")
    if terms.height == 0:
        return empty_plan()
    if supply.height and supply.select(pl.col("supply").min() < 0).item():
        raise ValueError("supply must be >= 0 (SPEC §5.2: max(0, on_hand - stock_min))")
    if supply.height and supply.select(pl.struct("site_id", "article_id").is_duplicated().any()).item():
        raise ValueError("supply lists a (depot, article) twice")
    terms = terms.with_columns(depot=pl.col("site_id").replace_strict(dict(parents), return_dtype=pl.String)).sort(
        "depot", "site_id", "article_id"
    )
    by_depot = depot_stock(supply)
    jobs = []
    for (depot,), group_terms in terms.partition_by("depot", as_dict=True, maintain_order=True).items():
        group_terms = group_terms.drop("depot")
        vans = group_terms["site_id"].unique().to_list()
        jobs.append((
            str(depot), group_terms, {v: capacities[v] for v in vans}, by_depot.get(str(depot), {}),
            strategy, solver, time_limit_s, gap_tolerance,
        ))
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
            outputs = list(pool.map(_solve_job, jobs))
    else:
        outputs = [_solve_job(j) for j in jobs]
    return SourcedPlan(
        allocation=pl.concat([o.allocation for o in outputs], how="vertical_relaxed"),
        site_summary=summary_frame([s for o in outputs for s in o.summaries]),
        group_summary=pl.DataFrame([o.group_row for o in outputs], schema=GROUP_SUMMARY_SCHEMA),
        depot_supply=pl.concat([o.depot_supply for o in outputs], how="vertical_relaxed"),
    )


def depot_stock(supply: pl.DataFrame) -> dict[str, dict[str, float]]:
    """depot -> {article: pieces it can give}: one dict per depot built from columns (a
    `large` day has ~10^5 supply rows; a loop over rows was a tenth of its knapsack)."""
    if not supply.height:
        return {}
    frame = supply.select(
        pl.col("site_id").cast(pl.String), pl.col("article_id").cast(pl.String), pl.col("supply").cast(pl.Float64)
    )
    return {
        str(depot): dict(zip(group["article_id"].to_list(), group["supply"].to_list(), strict=True))
        for (depot,), group in frame.partition_by("site_id", as_dict=True, maintain_order=True).items()
    }


def empty_plan() -> SourcedPlan:
    """A plan with no site: every frame empty, with its columns (depot_supply, group_summary)."""
    return SourcedPlan(
        allocation=pl.DataFrame(),
        site_summary=summary_frame([]),
        group_summary=pl.DataFrame(schema=GROUP_SUMMARY_SCHEMA),
        depot_supply=pl.DataFrame(schema={c: (pl.String if c in ("site_id", "article_id") else pl.Int64) for c in DEPOT_SUPPLY_COLUMNS}),
    )


def solve_sourced(
    pairs: pl.DataFrame,
    capacities: Mapping[object, SiteCapacities],
    parents: Mapping[str, str],
    supply: pl.DataFrame,
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    topup_ratio: float = TOPUP_RATIO,
    gap_tolerance: float = GAP_TOLERANCE,
    workers: int = 1,
) -> SourcedPlan:
    """A partition with sourcing on (SPEC §5.2): vans with a parent by ``solve_groups``,
    every other site by the per-site batch (source_site_id null: supplied from outside).
    Allocation and site_summary in site_id order, as the per-site batch gives them."""
    sited = set(parents)
    grouped = pairs.filter(pl.col("site_id").is_in(list(sited)))
    outside = pairs.filter(~pl.col("site_id").is_in(list(sited)))
    plan = solve_groups(grouped, capacities, parents, supply, strategy, solver, time_limit_s, topup_ratio,
                        gap_tolerance, workers) if grouped.height else empty_plan()
    if outside.height:
        allocation, summary = solve_sites(outside, capacities, strategy, solver, time_limit_s, topup_ratio, workers)
        allocation = allocation.with_columns(source_site_id=pl.lit(None, dtype=pl.String))
        allocations = [a for a in (plan.allocation, allocation) if a.height]
        summaries = [s for s in (plan.site_summary, summary) if s.height]
        plan = SourcedPlan(
            allocation=pl.concat(allocations, how="diagonal_relaxed").sort("site_id", "article_id"),
            site_summary=pl.concat(summaries, how="diagonal_relaxed").sort("site_id"),
            group_summary=plan.group_summary,
            depot_supply=plan.depot_supply,
        )
    return plan
