"""Alternatives (SPEC §5, on request): every strategy's plan for a site, side by side.

A planner who doubts the chosen plan wants to see what the others would have sent and
at what price: value, volume, cost and critical coverage of each.

- cost = sum of quantity x unit_cost (needs a ``unit_cost`` column; null without it).
- critical_coverage = share of the CRITIQUE-level minimum need that is covered, counted
  in lots: sum of high-tier lots sent to CRITIQUE-level pairs / sum of their n_min.
  1.0 when the site has no CRITIQUE-level need (nothing is left uncovered).
- critical_value = value of those high-tier lots (what criticite_hybride maximises
  first; it is this figure, not the lot count, that it guarantees to be maximal).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from solvers.knapsack.site_model import (
    CRITICAL_LEVEL,
    DEFAULT_SOLVER,
    STRATEGIES,
    TOPUP_RATIO,
    SiteCapacities,
    SiteSolver,
    Strategy,
    build_site_model,
    plan_from_result,
    solve_model,
)


def critical_coverage(allocation: pl.DataFrame) -> float:
    """Share of the minimum need (n_min lots) of CRITIQUE-level pairs that a plan covers
    (high-tier lots sent to them / their n_min); 1.0 without such need. One plan or many
    (a partition's allocation): the same sums."""
    critical = allocation.filter(pl.col("level") == CRITICAL_LEVEL)
    need = int(critical["n_min"].sum()) if critical.height else 0
    return float(critical["lots_hi"].sum()) / need if need else 1.0


def plan_metrics(a: pl.DataFrame) -> dict[str, float | None]:
    """value, volume, cost, critical_coverage, critical_value of one plan (its allocation rows)."""
    critical = a.filter(pl.col("level") == CRITICAL_LEVEL)
    cost = (
        float((a["quantity"] * a["unit_cost"].cast(pl.Float64)).sum())
        if "unit_cost" in a.columns
        else None
    )
    return {
        "value": float(a["value"].sum()),
        "volume": float(a["volume"].sum()),
        "cost": cost,
        "critical_coverage": critical_coverage(a),
        "critical_value": float(
            (critical["lots_hi"] * critical["v_hi"]).sum()
        ) if critical.height else 0.0,
    }


@dataclass(frozen=True)
class SiteAlternatives:
    """metrics: one row per strategy (``chosen`` flags the site's strategy);
    plans: the allocation rows of every strategy, by name."""

    metrics: pl.DataFrame
    plans: dict[str, pl.DataFrame]


def alternatives(
    pairs: pl.DataFrame,
    capacities: SiteCapacities,
    chosen: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    topup_ratio: float = TOPUP_RATIO,
    chosen_plan: tuple[pl.DataFrame, str] | None = None,
    threads: int = 1,
) -> SiteAlternatives:
    """The plans of all strategies for one site. ``chosen_plan`` (the chosen strategy's
    allocation rows and status, as the batch wrote them) is reused instead of solved again."""
    model = build_site_model(pairs, capacities, topup_ratio)
    plans: dict[str, pl.DataFrame] = {}
    statuses: dict[str, str] = {}
    for strategy in STRATEGIES:
        if strategy == chosen and chosen_plan is not None:
            plans[strategy], statuses[strategy] = chosen_plan
            continue
        result = solve_model(model, strategy, solver, time_limit_s, threads)  # type: ignore[arg-type]
        plans[strategy] = plan_from_result(model, result, strategy).allocation
        statuses[strategy] = str(result.status)
    site_ids = pairs["site_id"].unique().to_list() if pairs.height else [None]
    rows = [
        {
            "site_id": site_ids[0] if len(site_ids) == 1 else None,
            "strategy": strategy,
            "chosen": strategy == chosen,
            "status": statuses[strategy],
            **plan_metrics(plan),
        }
        for strategy, plan in plans.items()
    ]
    metrics = pl.DataFrame(
        rows,
        schema_overrides={
            "strategy": pl.String, "chosen": pl.Boolean,
            "status": pl.String, "value": pl.Float64, "volume": pl.Float64,
            "cost": pl.Float64, "critical_coverage": pl.Float64, "critical_value": pl.Float64,
        },
    )
    return SiteAlternatives(metrics=metrics, plans=plans)
