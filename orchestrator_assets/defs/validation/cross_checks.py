"""Checks that compare tables or partitions, in Polars (a GX suite sees one table at a time).

Each function takes plain frames and returns the failing rows (or the numbers a soft check
compares), so it is tested on hand-made frames; its adapter in check_registry.py (CROSS_CHECKS)
reads the frames and turns the result into a CheckOutcome.

The capacity check re-derives SPEC §2's default capacities and SPEC §5's constraints here,
on purpose, instead of calling solvers.knapsack: a check that shared the solver's code
would share its bugs.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

#: SPEC §2 "Default constraints", re-declared independently of solvers.knapsack.
DEFAULT_CAPACITY_TOTAL = 120.0
DEFAULT_CATEGORY_LIMITS: Mapping[str, float] = {"FIBRE": 50.0, "CUIVRE": 40.0}
TOTAL_SCOPE = "TOTAL"
CRITIQUE_LEVEL = "CRITIQUE"


def site_limits(
    sites: pl.DataFrame,
    site_capacities: pl.DataFrame,
    default_total: float = DEFAULT_CAPACITY_TOTAL,
    default_categories: Mapping[str, float] = DEFAULT_CATEGORY_LIMITS,
) -> pl.DataFrame:
    """[site_id, scope, capacity]: one TOTAL row per site (capacity_total, default 120 when
    empty) and one row per limited category: the site's site_capacities rows if it has any,
    else FIBRE 50 and CUIVRE 40 (SPEC §2)."""
    totals = sites.select(
        "site_id",
        pl.lit(TOTAL_SCOPE).alias("scope"),
        pl.col("capacity_total").cast(pl.Float64).fill_null(default_total).alias("capacity"),
    )
    explicit = site_capacities.select(
        "site_id", pl.col("category").alias("scope"), pl.col("capacity").cast(pl.Float64)
    )
    defaults = pl.DataFrame(
        {"scope": list(default_categories), "capacity": [float(value) for value in default_categories.values()]},
        schema={"scope": pl.String, "capacity": pl.Float64},
    )
    without_rows = sites.select("site_id").join(explicit.select("site_id").unique(), on="site_id", how="anti")
    defaulted = without_rows.join(defaults, how="cross")
    return pl.concat([totals, explicit, defaulted], how="vertical_relaxed")


def with_overrides(limits: pl.DataFrame, overrides: Mapping[str, Mapping[str, float]]) -> pl.DataFrame:
    """[site_id, scope, capacity] with each overridden (site, scope) replaced or added
    ("total" is the TOTAL scope)."""
    rows = [
        (site_id, TOTAL_SCOPE if key == "total" else key, float(value))
        for site_id, values in overrides.items()
        for key, value in values.items()
    ]
    if not rows:
        return limits
    replaced = pl.DataFrame(rows, schema={"site_id": pl.String, "scope": pl.String, "capacity": pl.Float64}, orient="row")
    kept = limits.join(replaced.select("site_id", "scope"), on=["site_id", "scope"], how="anti")
    return pl.concat([kept, replaced], how="vertical_relaxed")


def capacity_excess(
    allocation: pl.DataFrame,
    articles: pl.DataFrame,
    sites: pl.DataFrame,
    site_capacities: pl.DataFrame,
    tolerance: float = 1e-6,
    overrides: Mapping[str, Mapping[str, float]] | None = None,
) -> pl.DataFrame:
    """Every (site, scope) whose allocated volume exceeds its capacity (SPEC §5 constraints),
    the capacities being the reference ones with the run's `overrides` (knapsack.capacity,
    a what-if's {site: {"total": t, category: c}}) applied as the knapsack applied them.

    Volume is quantity x unit_volume of the article in raw.articles (not the allocation's
    own volume column), summed per site (scope TOTAL) and per category of the article.
    A site absent from raw.sites has no known capacity: it fails with capacity null.
    Returns [site_id, scope, used, capacity, excess], largest excess first.
    """
    volumes = allocation.select("site_id", "article_id", "quantity").join(
        articles.select("article_id", "category", "unit_volume"), on="article_id", how="left"
    ).with_columns((pl.col("quantity").cast(pl.Float64) * pl.col("unit_volume")).fill_null(0.0).alias("volume"))
    used = pl.concat(
        [
            volumes.group_by("site_id").agg(pl.lit(TOTAL_SCOPE).alias("scope"), pl.col("volume").sum().alias("used")),
            volumes.filter(pl.col("category").is_not_null())
            .group_by("site_id", "category")
            .agg(pl.col("volume").sum().alias("used"))
            .select("site_id", pl.col("category").alias("scope"), "used"),
        ],
        how="vertical_relaxed",
    )
    limits = with_overrides(site_limits(sites, site_capacities), overrides or {})
    # Left join: a category without a limit is unlimited (only the total applies); a site
    # without a TOTAL row (unknown site) keeps a null capacity on its TOTAL row and fails.
    compared = used.join(limits, on=["site_id", "scope"], how="left").filter(
        pl.col("capacity").is_not_null() | (pl.col("scope") == TOTAL_SCOPE)
    )
    return (
        compared.with_columns((pl.col("used") - pl.col("capacity")).alias("excess"))
        .filter(pl.col("capacity").is_null() | (pl.col("excess") > tolerance))
        .sort(["excess", "site_id", "scope"], descending=[True, False, False], nulls_last=False)
        .select("site_id", "scope", "used", "capacity", "excess")
    )


def quantities_not_in_whole_lots(allocation: pl.DataFrame, articles: pl.DataFrame) -> pl.DataFrame:
    """Allocation rows whose quantity is not lots x lot_size of the article in raw.articles
    (SPEC §5: the plan is made of whole lots), or whose article is unknown there.
    Returns [site_id, article_id, lots, quantity, lot_size, reason]."""
    joined = allocation.select("site_id", "article_id", "lots", "quantity").join(
        articles.select("article_id", "lot_size"), on="article_id", how="left"
    )
    quantity = pl.col("quantity")
    lot_size = pl.col("lot_size")
    reason = (
        pl.when(lot_size.is_null())
        .then(pl.lit("article not in raw.articles"))
        .when(quantity.is_null() | pl.col("lots").is_null())
        .then(pl.lit("quantity or lots missing"))
        .when(quantity % lot_size != 0)
        .then(pl.lit("quantity not a multiple of lot_size"))
        .when(quantity != pl.col("lots") * lot_size)
        .then(pl.lit("quantity differs from lots x lot_size"))
    )
    return joined.with_columns(reason.alias("reason")).filter(pl.col("reason").is_not_null())


def zero_rate_share(forecast: pl.DataFrame) -> float:
    """Share of the pairs whose forecast consumption rate is zero (0 for no pair)."""
    if forecast.height == 0:
        return 0.0
    return float(forecast.select((pl.col("rate") == 0).mean()).item())


def backtest_best_violations(backtest: pl.DataFrame, default_method: str = "sba") -> pl.DataFrame:
    """Pairs of stock.forecast_backtest without exactly one `best` row, or whose best method's
    absolute error |forecast_rate - actual_rate| is above the default method's (auto must never
    do worse than sba on its own backtest), or without a row for the default method. Returns
    [site_id, article_id, best_rows, best_error, default_error]."""
    return (
        backtest.with_columns(abs_error=(pl.col("forecast_rate") - pl.col("actual_rate")).abs())
        .group_by("site_id", "article_id")
        .agg(
            pl.col("best").cast(pl.Int64).sum().alias("best_rows"),
            pl.col("abs_error").filter(pl.col("best")).max().alias("best_error"),
            pl.col("abs_error").filter(pl.col("method") == default_method).first().alias("default_error"),
        )
        .filter(
            (pl.col("best_rows") != 1)
            | pl.col("default_error").is_null()
            | (pl.col("best_error") > pl.col("default_error"))
        )
        .sort("site_id", "article_id")
    )


def critique_count(classification: pl.DataFrame) -> int:
    """Pairs of level CRITIQUE (any ABC class)."""
    return int(classification.filter(pl.col("level") == CRITIQUE_LEVEL).height)


def is_critique_jump(current: int, previous: int | None, ratio: float, min_increase: int) -> bool:
    """A sudden jump: more than `ratio` times the previous partition's count and more than
    `min_increase` pairs above it. No previous partition: no jump."""
    if previous is None:
        return False
    return current > ratio * previous and current - previous > min_increase


def depot_supply_excess(
    allocation: pl.DataFrame, articles: pl.DataFrame, stock_levels: pl.DataFrame, tolerance: float = 1e-9
) -> pl.DataFrame:
    """Every (depot, article) that ships more than its supply (SPEC §5.2), re-derived here:
    supply = max(0, on_hand - stock_min) from raw.stock_levels and raw.articles (0 without a
    stock row), shipped = the quantities of the allocation rows whose source is the depot.
    Returns [site_id (the depot), article_id, shipped, supply, excess], largest excess first."""
    if "source_site_id" not in allocation.columns:
        return pl.DataFrame(schema={"site_id": pl.String, "article_id": pl.String, "shipped": pl.Float64,
                                    "supply": pl.Float64, "excess": pl.Float64})
    shipped = (
        allocation.filter(pl.col("source_site_id").is_not_null() & (pl.col("quantity") > 0))
        .group_by(pl.col("source_site_id").alias("site_id"), "article_id")
        .agg(pl.col("quantity").cast(pl.Float64).sum().alias("shipped"))
    )
    supply = stock_levels.select("site_id", "article_id", pl.col("quantity_on_hand").cast(pl.Float64).alias("on_hand")).join(
        articles.select("article_id", pl.col("stock_min").cast(pl.Float64)), on="article_id", how="left"
    ).select("site_id", "article_id", (pl.col("on_hand") - pl.col("stock_min").fill_null(0.0)).clip(lower_bound=0.0).alias("supply"))
    return (
        shipped.join(supply, on=["site_id", "article_id"], how="left")
        .with_columns(pl.col("supply").fill_null(0.0))
        .with_columns((pl.col("shipped") - pl.col("supply")).alias("excess"))
        .filter(pl.col("excess") > tolerance)
        .sort(["excess", "site_id", "article_id"], descending=[True, False, False])
        .select("site_id", "article_id", "shipped", "supply", "excess")
    )


def depot_shipped_mismatch(depot_supply: pl.DataFrame, allocation: pl.DataFrame) -> pl.DataFrame:
    """Rows of knapsack.depot_supply whose `shipped` is not the sum of the quantities its vans
    receive from it in knapsack.allocation, and (depot, article) pairs shipped without a
    depot_supply row. Returns [site_id, article_id, shipped, from_allocation]."""
    from_allocation = (
        allocation.filter(pl.col("source_site_id").is_not_null() & (pl.col("quantity") > 0))
        .group_by(pl.col("source_site_id").alias("site_id"), "article_id")
        .agg(pl.col("quantity").cast(pl.Int64).sum().alias("from_allocation"))
        if "source_site_id" in allocation.columns
        else pl.DataFrame(schema={"site_id": pl.String, "article_id": pl.String, "from_allocation": pl.Int64})
    )
    return (
        depot_supply.select("site_id", "article_id", pl.col("shipped").cast(pl.Int64))
        .join(from_allocation, on=["site_id", "article_id"], how="full", coalesce=True)
        .with_columns(pl.col("shipped").fill_null(0), pl.col("from_allocation").fill_null(0))
        .filter(pl.col("shipped") != pl.col("from_allocation"))
        .sort("site_id", "article_id")
    )
