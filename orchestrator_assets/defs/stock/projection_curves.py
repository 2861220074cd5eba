"""The daily projected stock of one pair, or of one article summed over its sites, on request.

The stored stock_projection keeps one summary row per pair (the full pairs x horizon matrix
is never materialised); an analyst who wants the curve gets it recomputed here from the
same partition's warehouse inputs with the same solver (solvers.projection.projection_series),
so it matches the summary exactly (same rates, plan and receipts).
"""

from datetime import date

import polars as pl

from orchestrator_assets.warehouse import Warehouse
from solvers.planned_demand import planned_demand
from solvers.projection import projection_series
from solvers.receipts import receipts


def _partition(warehouse: Warehouse, table: str, day: date, columns: str = "* EXCLUDE (partition_date, run_id)") -> pl.DataFrame:
    return warehouse.read(f"SELECT {columns} FROM {table} WHERE partition_date = ?", [day])


def projection_curve(
    warehouse: Warehouse, day: date, article_id: str, site_id: str | None = None, horizon_days: int = 30
) -> pl.DataFrame:
    """(site_id, article_id, d, date, stock) for one pair, or (article_id, d, date, stock) summed
    over the sites of the article when site_id is None. Raises LookupError when the partition
    or the pair is not in the warehouse."""
    pairs = _partition(warehouse, "stock.stock_initial", day).join(
        _partition(warehouse, "stock.consumption_forecast", day, "site_id, article_id, rate"),
        on=["site_id", "article_id"],
        how="left",
    ).with_columns(pl.col("rate").fill_null(0.0))
    if pairs.is_empty():
        raise LookupError(f"no stock partition {day} in the warehouse: run `reassort run --date {day}` first")
    chosen = pairs.filter(pl.col("article_id") == article_id)
    if site_id is not None:
        chosen = chosen.filter(pl.col("site_id") == site_id)
    if chosen.is_empty():
        where = f"site {site_id}, " if site_id else ""
        raise LookupError(f"no pair ({where}article {article_id}) in the stock of {day}")
    plan = planned_demand(
        _partition(warehouse, "raw.planned_interventions", day),
        _partition(warehouse, "raw.technicians", day),
        _partition(warehouse, "raw.bom", day),
        day,
    )
    arriving = receipts(_partition(warehouse, "raw.purchase_orders", day), day, horizon_days)
    curve = projection_series(
        pairs, plan, arriving, horizon_days, subset=chosen.select("site_id", "article_id"), by_article=site_id is None
    )
    return curve.with_columns((pl.lit(day) + pl.duration(days=pl.col("d"))).alias("date"))
