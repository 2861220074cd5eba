"""The daily projected stock of one pair, or of one article summed over its sites, on request.

The stored stock_projection keeps one summary row per pair (the full pairs x horizon matrix
is never materialised); an analyst who wants the curve gets it recomputed here from the
same partition's warehouse inputs with the same solver (solvers.projection.projection_series),
so it matches the summary exactly (same rates, plan and receipts).
"""

from collections.abc import Mapping
from datetime import date

import polars as pl

from orchestrator_assets.warehouse import Warehouse
from solvers.horizon import DEFAULT_HORIZON_DAYS
from solvers.planned_demand import planned_demand
from solvers.projection import projection_series
from solvers.receipts import receipts


def _partition(warehouse: Warehouse, table: str, day: date) -> pl.DataFrame:
    return warehouse.read(f"SELECT * EXCLUDE (partition_date, run_id) FROM {table} WHERE partition_date = ?", [day])


INPUT_TABLES = (
    "stock.stock_initial",
    "stock.consumption_forecast",
    "raw.planned_interventions",
    "raw.technicians",
    "raw.bom",
    "raw.purchase_orders",
)


def curves_from_inputs(
    frames: Mapping[str, pl.DataFrame],
    day: date,
    horizon_days: int,
    subset: pl.DataFrame,
    by_article: bool = False,
) -> pl.DataFrame:
    """S_0..S_H of the `subset` pairs from one partition's stored inputs (`frames` keyed by
    INPUT_TABLES), exactly as stock/stock_projection built them."""
    pairs = frames["stock.stock_initial"].join(
        frames["stock.consumption_forecast"].select("site_id", "article_id", "rate"),
        on=["site_id", "article_id"],
        how="left",
    ).with_columns(pl.col("rate").fill_null(0.0))
    plan = planned_demand(
        frames["raw.planned_interventions"], frames["raw.technicians"], frames["raw.bom"], day
    )
    arriving = receipts(frames["raw.purchase_orders"], day, horizon_days)
    return projection_series(
        pairs, plan, arriving, horizon_days, subset=subset.select("site_id", "article_id"), by_article=by_article
    )


def projection_curve(
    warehouse: Warehouse, day: date, article_id: str, site_id: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> pl.DataFrame:
    """(site_id, article_id, d, date, stock) for one pair, or (article_id, d, date, stock) summed
    over the sites of the article when site_id is None. Raises LookupError when the partition
    or the pair is not in the warehouse."""
    frames = {table: _partition(warehouse, table, day) for table in INPUT_TABLES}
    stock = frames["stock.stock_initial"]
    if stock.is_empty():
        raise LookupError(f"no stock partition {day} in the warehouse: run `reassort run --date {day}` first")
    chosen = stock.filter(pl.col("article_id") == article_id)
    if site_id is not None:
        chosen = chosen.filter(pl.col("site_id") == site_id)
    if chosen.is_empty():
        where = f"site {site_id}, " if site_id else ""
        raise LookupError(f"no pair ({where}article {article_id}) in the stock of {day}")
    curve = curves_from_inputs(frames, day, horizon_days, chosen, by_article=site_id is None)
    return curve.with_columns((pl.lit(day) + pl.duration(days=pl.col("d"))).alias("date"))
