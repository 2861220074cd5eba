"""`reassort compare --date D A B`: two plans of one day side by side ('base' or scenarios).

Each figure is a plain aggregate of the tables a reader of that scenario sees (the
scenario's own tables, the official ones for what it did not re-compute), so the test can
recompute every one with SQL:
- critique_a_pairs: pairs of class CRITIQUE_A (urgence.urgency_classification);
- critical_coverage: high-tier lots sent to CRITIQUE-level pairs / their minimum need
  (solvers.knapsack.alternatives.critical_coverage, SPEC §5);
- value, volume, cost: sums over knapsack.allocation (cost = quantity x unit_cost);
- shortages: pairs left below their minimum need (lots < n_min);
- sites_at_capacity: sites whose used volume reaches their total capacity (knapsack.site_summary);
- the pairs whose lots differ most between the two plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from orchestrator_assets.scenarios import BASE, check_scenario_name
from orchestrator_assets.warehouse import Warehouse
from solvers.knapsack.alternatives import plan_metrics

FIGURES = (
    "critique_a_pairs",
    "critical_coverage",
    "value",
    "volume",
    "cost",
    "shortages",
    "sites_at_capacity",
)
DIFFERENCES_LISTED = 10
_TABLES = ("knapsack.allocation", "raw.articles", "urgence.urgency_classification", "knapsack.site_summary")
_ALLOCATION = (
    "SELECT a.site_id, a.article_id, a.level, a.lots, a.lots_hi, a.n_min, a.quantity, a.volume, a.value, a.v_hi, "
    "r.unit_cost FROM knapsack.allocation a LEFT JOIN raw.articles r "
    "ON r.article_id = a.article_id AND r.partition_date = a.partition_date WHERE a.partition_date = ?"
)


@dataclass(frozen=True)
class PlanFigures:
    scenario: str
    figures: dict[str, float | int | None]
    lots: pl.DataFrame  # site_id, article_id, lots


def plan_figures(warehouse: Warehouse, day: date, scenario: str) -> PlanFigures:
    """The figures of one plan of `day` as a reader of `scenario` sees it."""
    view = warehouse.for_scenario(None if scenario == BASE else check_scenario_name(scenario))
    with view.connection(_TABLES, partitions=[day]) as con:  # one set of views, over that day only
        present = {
            f"{schema}.{name}"
            for schema, name in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        }
        missing = [table for table in _TABLES if table not in present]
        if missing:
            raise LookupError(f"no {', '.join(missing)} for {day} in scenario {scenario!r}")
        allocation = con.execute(_ALLOCATION, [day]).pl()
        if allocation.is_empty():
            raise LookupError(f"no knapsack.allocation for {day} in scenario {scenario!r}")
        critique_a = con.execute(
            "SELECT count(*) FROM urgence.urgency_classification WHERE partition_date = ? AND class = 'CRITIQUE_A'",
            [day],
        ).fetchone()[0]
        at_capacity = con.execute(
            "SELECT count(*) FROM knapsack.site_summary WHERE partition_date = ? "
            "AND capacity_total IS NOT NULL AND volume_used >= capacity_total - 1e-9",
            [day],
        ).fetchone()[0]
    metrics = plan_metrics(allocation)
    figures: dict[str, float | int | None] = {
        "critique_a_pairs": int(critique_a),
        "critical_coverage": metrics["critical_coverage"],
        "value": metrics["value"],
        "volume": metrics["volume"],
        "cost": metrics["cost"],
        "shortages": int(allocation.filter(pl.col("lots") < pl.col("n_min")).height),
        "sites_at_capacity": int(at_capacity),
    }
    return PlanFigures(scenario, figures, allocation.select("site_id", "article_id", "lots"))


def lot_differences(a: PlanFigures, b: PlanFigures, limit: int = DIFFERENCES_LISTED) -> pl.DataFrame:
    """The pairs whose lots differ most (a pair missing from a plan has 0 lots there)."""
    joined = a.lots.join(b.lots, on=["site_id", "article_id"], how="full", coalesce=True, suffix="_b")
    return (
        joined.with_columns(pl.col("lots").fill_null(0).alias("lots_a"), pl.col("lots_b").fill_null(0))
        .with_columns((pl.col("lots_b") - pl.col("lots_a")).alias("difference"))
        .filter(pl.col("difference") != 0)
        .sort([pl.col("difference").abs(), "site_id", "article_id"], descending=[True, False, False])
        .select("site_id", "article_id", "lots_a", "lots_b", "difference")
        .head(limit)
    )


def render_comparison(day: date, a: PlanFigures, b: PlanFigures, differences: pl.DataFrame) -> str:
    width = max(len(name) for name in FIGURES)
    lines = [f"{day}: {a.scenario} vs {b.scenario}", f"{'':<{width}}  {a.scenario:>16}  {b.scenario:>16}"]
    for name in FIGURES:
        lines.append(f"{name:<{width}}  {_shown(a.figures[name]):>16}  {_shown(b.figures[name]):>16}")
    if differences.is_empty():
        lines.append("the two plans send the same lots to every pair")
    else:
        lines.append(f"pairs whose lots differ most ({differences.height}):")
        for site, article, lots_a, lots_b, difference in differences.iter_rows():
            lines.append(f"  {site} {article}: {lots_a} -> {lots_b} ({difference:+d})")
    return "\n".join(lines)


def _shown(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
