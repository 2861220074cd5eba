"""The daily report asset (report/daily_report): one HTML page per partition.

Wiring only: read the partition's tables from the warehouse, redraw the projected stock of
the most urgent pairs with solvers.projection.projection_series (same inputs, same
recurrence as stock/stock_projection), render with daily_report.render_daily_report and write
<data folder>/reports/YYYY-MM-DD.html. The asset stores no table (no IO manager): its
materialisation links the file and carries the page's key figures.
"""

import os
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from orchestrator_assets.asset_conventions import module_asset_args
from orchestrator_assets.defs.ingest.resources import InputFiles
from orchestrator_assets.defs.report.daily_report import (
    CURVES_DRAWN,
    DailyReportData,
    method_counts,
    most_urgent_pairs,
    render_daily_report,
    report_kpis,
)
from orchestrator_assets.defs.stock.config import StockConfig
from orchestrator_assets.defs.stock.projection_curves import curves_from_inputs
from orchestrator_assets.partitions import TIMEZONE
from orchestrator_assets.step_limits import time_limited
from orchestrator_assets.warehouse import Warehouse, writing_runs
from solvers.backtest import accuracy_summary

GROUP = "report"
REPORT_KEY = dg.AssetKey([GROUP, "daily_report"])
PROJECTION_KEY = dg.AssetKey(["stock", "stock_projection"])
REPORTS_FOLDER = "reports"
# The module conventions, less the IO manager (the asset writes a file, not a table) and the
# parameter tag (the report has no run parameters).
ARGS = {
    **{key: value for key, value in module_asset_args(GROUP, "REPORT", {"html", "duckdb"}).items() if key != "io_manager_key"},
    "tags": {"module": "REPORT"},
}

#: table -> the columns the report reads from it (every one a same-partition dependency).
SOURCES: dict[str, str] = {
    "stock.stock_projection": "*",
    "urgence.urgency_classification": "*",
    "knapsack.allocation": "*",
    "knapsack.site_summary": "*",
    "knapsack.category_use": "site_id, category, capacity, used",
    "knapsack.depot_supply": "*",
    "stock.stock_initial": "site_id, article_id, on_hand, stock_min, lead_time_days",
    "stock.consumption_forecast": "site_id, article_id, method, rate",
    "stock.forecast_backtest": "article_id, method, forecast_rate, actual_rate, fitting_mean, best",
    "urgence.abc_classification": "article_id, abc",
    "raw.articles": "article_id, designation, unit_cost",
    "raw.purchase_orders": "*",
    "raw.planned_interventions": "*",
    "raw.technicians": "*",
    "raw.bom": "*",
}
LINEAGE_TABLES = ["stock.stock_projection", "urgence.urgency_classification", "knapsack.allocation"]


def report_path(data_root: Path, partition_date: date) -> Path:
    return data_root / REPORTS_FOLDER / f"{partition_date.isoformat()}.html"


def write_atomically(path: Path, text: str) -> None:
    """Write the page beside its final name, then rename: a reader never sees half a page,
    and a re-run replaces the previous page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is meant to be read
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def projection_horizon(instance: dg.DagsterInstance, partition_key: str) -> int:
    """H of the stock projection stored for this partition (its `param_horizon_days`
    metadata), so the curves are drawn over the horizon the summary was computed with."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PROJECTION_KEY, asset_partitions=[partition_key]), limit=1
    ).records
    if records and records[0].asset_materialization is not None:
        value = records[0].asset_materialization.metadata.get("param_horizon_days")
        if value is not None:
            return int(value.value)
    return StockConfig.model_fields["horizon_days"].default


def read_sources(warehouse: Warehouse, partition_date: date) -> tuple[dict[str, pl.DataFrame], dict[str, list[str]]]:
    """The partition's rows of every source table (SOURCES' columns, without the lineage
    columns), and the runs that wrote the LINEAGE_TABLES; read with Polars, each table's
    files of the partition whole (as the IO manager reads an input)."""
    files = warehouse.files([partition_date.isoformat()])
    missing = [table for table in SOURCES if table not in files]
    if missing:
        raise dg.Failure(
            f"The daily report needs {', '.join(missing)}: materialise the daily pipeline for "
            f"{partition_date} first.",
            allow_retries=False,
        )
    rows = {table: warehouse.read_partition(table, partition_date, files) for table in SOURCES}
    lineage = {table: writing_runs(rows[table]) for table in LINEAGE_TABLES}
    frames = {}
    for table, columns in SOURCES.items():
        frame = rows[table] if columns == "*" else rows[table].select(columns.split(", "))
        frames[table] = frame.drop("partition_date", "run_id", strict=False)
    return frames, lineage


def urgent_curves(
    frames: dict[str, pl.DataFrame], urgent: pl.DataFrame, partition_date: date, horizon_days: int
) -> pl.DataFrame:
    """S_0..S_H of the urgent pairs from the partition's stored inputs, as stock/stock_projection built them."""
    return curves_from_inputs(frames, partition_date, horizon_days, urgent)


def curves_match_projection(curves: pl.DataFrame, urgent: pl.DataFrame) -> bool:
    """The redrawn curves reach the stored min_projected (a guard against drawing other inputs)."""
    if not urgent.height:
        return True
    lowest = curves.group_by("site_id", "article_id").agg(pl.col("stock").min().alias("curve_min"))
    joined = urgent.join(lowest, on=["site_id", "article_id"], how="left")
    return bool(
        joined.select(
            ((pl.col("curve_min") - pl.col("min_projected")).abs() <= 1e-6).fill_null(False).all()
        ).item()
    )


def daily_report_asset(
    context: dg.AssetExecutionContext, warehouse: Warehouse, input_files: InputFiles
) -> dg.MaterializeResult:
    """Write the partition's page and record its file and key figures; the curves are redrawn
    over the horizon the stored projection used, and a mismatch with it is logged."""
    started = time.perf_counter()
    partition_date = date.fromisoformat(context.partition_key)
    horizon_days = projection_horizon(context.instance, context.partition_key)
    frames, lineage = read_sources(warehouse, partition_date)
    urgent = most_urgent_pairs(
        frames["urgence.urgency_classification"], frames["stock.stock_projection"], CURVES_DRAWN
    )
    curves = urgent_curves(frames, urgent, partition_date, horizon_days)
    consistent = curves_match_projection(curves, urgent)
    if not consistent:
        context.log.warning(
            "the redrawn curves do not reach the stored min_projected: the inputs of "
            f"{partition_date} changed since stock/stock_projection ran (re-run the partition)"
        )
    data = DailyReportData(
        partition_date=partition_date,
        horizon_days=horizon_days,
        projection=frames["stock.stock_projection"],
        classification=frames["urgence.urgency_classification"],
        allocation=frames["knapsack.allocation"].join(frames["raw.articles"], on="article_id", how="left"),
        site_summary=frames["knapsack.site_summary"],
        category_use=frames["knapsack.category_use"],
        depot_supply=frames["knapsack.depot_supply"],
        accuracy=accuracy_summary(frames["stock.forecast_backtest"], frames["urgence.abc_classification"]),
        methods_used=method_counts(frames["stock.consumption_forecast"]),
        urgent_pairs=urgent,
        curves=curves,
        sources=lineage,
        generated_at=datetime.now(ZoneInfo(TIMEZONE)),
    )
    page = render_daily_report(data)
    path = report_path(input_files.path, partition_date).resolve()
    write_atomically(path, page)
    elapsed = time.perf_counter() - started
    context.log.info(f"report {partition_date}: {path} ({len(page.encode()) / 1024:.0f} kB) in {elapsed:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(path)),
            "report_url": dg.MetadataValue.url(path.as_uri()),
            "bytes": len(page.encode()),
            "horizon_days": horizon_days,
            "curves_match_projection": consistent,
            **report_kpis(data),
            "seconds": round(elapsed, 3),
        }
    )


def build_report_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """report/daily_report over `partitions_def`: `daily_report_asset` under its decorator."""
    decorator = dg.asset(
        key=REPORT_KEY,
        partitions_def=partitions_def,
        deps=[dg.AssetKey(table.split(".")) for table in SOURCES],
        description="The day's HTML report (<data folder>/reports/YYYY-MM-DD.html, one file that opens offline): "
        "key figures, projected stock of the most urgent pairs, pairs per class, capacity use per site, the "
        "lots to ship and the forecast's accuracy per method and ABC class.",
        **ARGS,
    )
    return [decorator(time_limited(daily_report_asset))]
