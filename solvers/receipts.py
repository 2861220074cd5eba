"""Expected receipts of open purchase orders per day of the horizon (SPEC §3, "receipts").

An order expected on D+d arrives on day d. An order already late (expected on or before
D) is still open, so the analyst expects it any moment: it counts on day 1, the
earliest day the projection can receive anything. Orders expected after the horizon
cannot change S_0..S_H and are dropped.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from solvers.horizon import DEFAULT_HORIZON_DAYS

RECEIPTS_SCHEMA = {
    "site_id": pl.String,
    "article_id": pl.String,
    "d": pl.Int64,
    "quantity": pl.Float64,
}


def receipts(
    purchase_orders: pl.DataFrame, partition_date: date, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> pl.DataFrame:
    """receipts(a, s, d) for d = 1..H: ``site_id, article_id, d, quantity`` (summed
    quantity_open of the orders arriving that day), sorted by site_id, article_id, d."""
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    return (
        purchase_orders.lazy()
        .select(
            "site_id",
            "article_id",
            d=pl.max_horizontal(
                (pl.col("expected_date") - pl.lit(partition_date)).dt.total_days(), pl.lit(1)
            ),
            quantity=pl.col("quantity_open").cast(pl.Float64),
        )
        .filter(pl.col("d") <= horizon_days)
        .group_by("site_id", "article_id", "d")
        .agg(pl.col("quantity").sum())
        .select(
            pl.col("site_id").cast(pl.String),
            pl.col("article_id").cast(pl.String),
            pl.col("d").cast(pl.Int64),
            pl.col("quantity"),
        )
        .sort("site_id", "article_id", "d")
        .collect()
    )
