"""What held back a pair that got fewer lots than its need: knapsack.allocation.bound_by.

A plan says how many lots each pair gets; an analyst then asks of a pair left short
(lots < u) what stopped it: the depot had no more to ship, the site or its category was
full, or the room went to lots worth more. This module answers from the plan alone, after
the solve (the lots are not touched), one vectorised Polars pass over every site of a
partition. The rule (docs/domain.md §5.3) looks at the pair's **next lot**, the one it
would get first: a high-tier lot while lots_hi < n_min, else a top-up lot.

- ``DEPOT_SUPPLY``: the van is supplied by a depot (§5.2) whose remaining supply of the
  article is less than one lot.
- otherwise the capacities the next lot does not fit: the site's total (room =
  capacity_total - volume_used) and the limit of the pair's category, if it has one
  (room = capacity - used), each with the 1e-9 tolerance of the solvers.
  - ``UNUSED_ROOM``: it fits both (only a plan not proven optimal can leave such a lot).
  - ``LOWER_VALUE``: in a capacity it does not fit, every lot taken ranks at or above it,
    and it would fit that capacity empty: the room went to lots worth at least as much.
  - ``SITE_CAPACITY_TOTAL``: it does not fit the total, and where it does not fit, some
    lot ranking below it was taken (or the lot is larger than the capacity itself): the
    room left was too small for one more lot of this pair.
  - ``CATEGORY_CAPACITY``: the same with the total still having room: its category's
    limit (the pair's `category`) is what is full.

Rank of a lot: its value per volume (v_hi or v_lo over unit_volume x lot_size); under
``criticite_hybride`` the high-tier lots of CRITIQUE-level pairs first (its phase 1
serves them before any other lot). Equal ranks count as "at or above".
"""

from __future__ import annotations

import polars as pl

from solvers.knapsack.problem import CAPACITY_TOLERANCE
from solvers.knapsack.site_model import CRITICAL_LEVEL

DEPOT_SUPPLY = "DEPOT_SUPPLY"
SITE_CAPACITY_TOTAL = "SITE_CAPACITY_TOTAL"
CATEGORY_CAPACITY = "CATEGORY_CAPACITY"
LOWER_VALUE = "LOWER_VALUE"
UNUSED_ROOM = "UNUSED_ROOM"
#: Every non-null value of knapsack.allocation.bound_by (null: the pair got its whole need).
BOUND_BY_VALUES: tuple[str, ...] = (DEPOT_SUPPLY, SITE_CAPACITY_TOTAL, CATEGORY_CAPACITY, LOWER_VALUE, UNUSED_ROOM)

#: The strategy whose phase 1 ranks the critical lots above every other lot (SPEC §5).
CRITICAL_FIRST_STRATEGY = "criticite_hybride"
ALLOCATION_INPUTS = (
    "site_id", "article_id", "category", "level", "strategy", "lot_size", "unit_volume",
    "lots", "lots_hi", "lots_lo", "n_min", "u", "v_hi", "v_lo",
)


def _critical(high_tier: pl.Expr) -> pl.Expr:
    """1 for a critical lot under criticite_hybride (high tier of a CRITIQUE-level pair), else 0."""
    return (
        (pl.col("strategy") == CRITICAL_FIRST_STRATEGY) & high_tier & (pl.col("level") == CRITICAL_LEVEL)
    ).cast(pl.Int8)


def _least_taken(taken: pl.DataFrame, keys: list[str], suffix: str) -> pl.DataFrame:
    """Per capacity (keys), the lowest rank among the lots taken: the least critical flag,
    then the least value per volume among the lots with that flag."""
    return taken.group_by(keys).agg(
        pl.col("critical").min().alias(f"least_critical{suffix}"),
        pl.col("ratio").filter(pl.col("critical") == pl.col("critical").min()).min().alias(f"least_ratio{suffix}"),
    )


def _ranks_below(suffix: str) -> pl.Expr:
    """Some lot taken in the capacity ranks strictly below the pair's next lot."""
    critical, ratio = pl.col(f"least_critical{suffix}"), pl.col(f"least_ratio{suffix}")
    below = (critical < pl.col("next_critical")) | ((critical == pl.col("next_critical")) & (ratio < pl.col("next_ratio")))
    return below.fill_null(False)


def with_bound_by(
    allocation: pl.DataFrame,
    site_summary: pl.DataFrame,
    category_use: pl.DataFrame,
    depot_supply: pl.DataFrame,
) -> pl.DataFrame:
    """`allocation` with a `bound_by` column (module docstring), rows and lots unchanged.

    ``allocation``: the plan's rows with `ALLOCATION_INPUTS` (pair_terms columns and lots)
    and, when sourcing is on, source_site_id; ``site_summary``: site_id, capacity_total,
    volume_used; ``category_use``: site_id, category, capacity (null: no limit of its own),
    used; ``depot_supply``: site_id (the depot), article_id, remaining (pieces).
    """
    if allocation.is_empty():
        return allocation.with_columns(bound_by=pl.lit(None, dtype=pl.String))
    if "remaining" not in depot_supply.columns:  # no group in the plan (sourcing off, or no van)
        depot_supply = pl.DataFrame(schema={"site_id": pl.String, "article_id": pl.String, "remaining": pl.Int64})
    missing = [column for column in ALLOCATION_INPUTS if column not in allocation.columns]
    if missing:
        raise ValueError(f"with_bound_by: the allocation lacks {missing}")
    weight = (pl.col("unit_volume").cast(pl.Float64) * pl.col("lot_size").cast(pl.Float64)).alias("weight")
    lots = allocation.select(
        "site_id", "category", "lots_hi", "lots_lo", "v_hi", "v_lo", "strategy", "level", weight
    )
    taken = pl.concat([
        lots.filter(pl.col("lots_hi") > 0).select(
            "site_id", "category", critical=_critical(pl.lit(True)), ratio=pl.col("v_hi") / pl.col("weight")
        ),
        lots.filter(pl.col("lots_lo") > 0).select(
            "site_id", "category", critical=_critical(pl.lit(False)), ratio=pl.col("v_lo") / pl.col("weight")
        ),
    ])
    source = pl.col("source_site_id") if "source_site_id" in allocation.columns else pl.lit(None, dtype=pl.String)
    high_next = pl.col("lots_hi") < pl.col("n_min")
    pairs = (
        allocation.select(
            "site_id", "article_id", "category", "lots", "u", "lot_size", weight,
            source.alias("depot"),
            next_critical=_critical(high_next),
            next_ratio=pl.when(high_next).then(pl.col("v_hi")).otherwise(pl.col("v_lo"))
            / (pl.col("unit_volume").cast(pl.Float64) * pl.col("lot_size").cast(pl.Float64)),
        )
        .join(site_summary.select("site_id", "capacity_total", "volume_used"), on="site_id", how="left", maintain_order="left")
        .join(
            category_use.select("site_id", "category", category_capacity="capacity", category_used="used"),
            on=["site_id", "category"], how="left", maintain_order="left",
        )
        .join(
            depot_supply.select(depot="site_id", article_id="article_id", remaining="remaining"),
            on=["depot", "article_id"], how="left", maintain_order="left",
        )
        .join(_least_taken(taken, ["site_id"], "_total"), on="site_id", how="left", maintain_order="left")
        .join(_least_taken(taken, ["site_id", "category"], "_category"), on=["site_id", "category"], how="left", maintain_order="left")
    )
    w = pl.col("weight")
    total_full = (w > pl.col("capacity_total") - pl.col("volume_used") + CAPACITY_TOLERANCE).fill_null(False)
    category_full = (w > pl.col("category_capacity") - pl.col("category_used") + CAPACITY_TOLERANCE).fill_null(False)
    outranked = (
        total_full & (w <= pl.col("capacity_total") + CAPACITY_TOLERANCE) & ~_ranks_below("_total")
    ) | (
        category_full & (w <= pl.col("category_capacity") + CAPACITY_TOLERANCE).fill_null(False) & ~_ranks_below("_category")
    )
    depot_short = (pl.col("depot").is_not_null() & (pl.col("remaining") < pl.col("lot_size"))).fill_null(False)
    reason = (
        pl.when(pl.col("lots") >= pl.col("u")).then(pl.lit(None, dtype=pl.String))
        .when(depot_short).then(pl.lit(DEPOT_SUPPLY))
        .when(~total_full & ~category_full).then(pl.lit(UNUSED_ROOM))
        .when(outranked).then(pl.lit(LOWER_VALUE))
        .when(total_full).then(pl.lit(SITE_CAPACITY_TOTAL))
        .otherwise(pl.lit(CATEGORY_CAPACITY))
    )
    return allocation.with_columns(pairs.select(reason.alias("bound_by")).to_series())
