"""Monthly KPIs (kpi.monthly), from the month's daily partitions of the warehouse.

Service level = share of pair-days without stock-out (on hand <= 0 at the end of the day);
stock-out and below-minimum pair-days; share of the CRITIQUE-level minimum need (n_min lots)
that the allocations covered; volume / value / cost shipped; capacity use (allocated volume
over the capacity of the days solved, SPEC §2 defaults included) — per site and category,
per site, per category and overall. The SQL is in monthly_kpis.sql.
"""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from orchestrator_assets.asset_conventions import module_asset_args
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.step_limits import time_limited
from orchestrator_assets.warehouse import Warehouse

GROUP = "kpi"
SQL = (Path(__file__).parent / "monthly_kpis.sql").read_text()
DAILY_SOURCES = [
    dg.AssetKey(["stock", "stock_initial"]),
    dg.AssetKey(["knapsack", "allocation"]),
    dg.AssetKey(["raw", "articles"]),
    dg.AssetKey(["raw", "sites"]),
    dg.AssetKey(["raw", "site_capacities"]),
]


def month_bounds(partition_key: str) -> tuple[date, date]:
    first = date.fromisoformat(partition_key)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last


def monthly_asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.Output[pl.DataFrame]:
    """kpi.monthly from the month's daily partitions; a month with none materialised fails
    without retry, naming what to run first."""
    first, last = month_bounds(context.partition_key)
    days = warehouse.read(
        "SELECT count(DISTINCT partition_date) AS n FROM stock.stock_initial WHERE partition_date BETWEEN ? AND ?",
        [first, last],
    )["n"][0] if warehouse.table_exists("stock.stock_initial") else 0
    if not days:
        raise dg.Failure(
            f"No daily partition of {first:%Y-%m} is materialised: run the daily pipeline first.", allow_retries=False
        )
    frame = warehouse.read(SQL, [first, last])
    overall = frame.filter((pl.col("site_id") == "ALL") & (pl.col("category") == "ALL"))
    return dg.Output(
        frame.drop("month"),
        metadata={
            "dagster/row_count": frame.height,
            "daily_partitions_used": int(days),
            "overall": dg.MetadataValue.md(markdown_table(overall.drop("month", "site_id", "category"))),
        },
    )


def build_kpi_assets(monthly_partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """kpi.monthly over `monthly_partitions`: `monthly_asset` under its decorator."""
    decorator = dg.asset(
        key=[GROUP, "monthly"],
        partitions_def=monthly_partitions,
        deps=DAILY_SOURCES,
        description="Monthly KPIs per site and category: service level, stock-outs, below-minimum days, critical "
        "need covered, capacity use, volume and value shipped.",
        **module_asset_args(GROUP, "KPI", {"duckdb"}),
    )
    return [decorator(time_limited(monthly_asset))]
