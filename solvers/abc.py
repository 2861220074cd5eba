"""ABC class of each article by consumption value over the history window (SPEC §4).

The class ranks articles by what their consumption is worth, so that, at equal urgency,
the planner sees first the few articles that carry most of the spend (class A).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers

import polars as pl

from solvers.horizon import DEFAULT_HISTORY_DAYS

DEFAULT_A_CUTOFF = 0.80
DEFAULT_B_CUTOFF = 0.95
CONSUMPTION = "CONSUMPTION"
#: ABC classes, most valuable first.
ABC_CLASSES: tuple[str, ...] = ("A", "B", "C")


def _check_parameters(history_days: int, a_cutoff: float, b_cutoff: float) -> None:
    """The window holds at least one day; the cutoffs are shares with 0 <= A <= B <= 1."""
    is_integer = isinstance(history_days, numbers.Integral) and not isinstance(history_days, bool)
    if not is_integer or history_days < 1:
        raise ValueError(f"history_days must be an integer >= 1, got {history_days!r}")
    for name, cutoff in (("a_cutoff", a_cutoff), ("b_cutoff", b_cutoff)):
        if not (math.isfinite(cutoff) and 0 <= cutoff <= 1):
            raise ValueError(f"{name} must be a share in [0, 1], got {cutoff!r}")
    if a_cutoff > b_cutoff:
        raise ValueError(f"a_cutoff ({a_cutoff}) must not exceed b_cutoff ({b_cutoff})")


def abc_classification(
    movements: pl.DataFrame,
    articles: pl.DataFrame,
    partition_date: dt.date,
    history_days: int = DEFAULT_HISTORY_DAYS,
    a_cutoff: float = DEFAULT_A_CUTOFF,
    b_cutoff: float = DEFAULT_B_CUTOFF,
) -> pl.DataFrame:
    """ABC class per article (SPEC §4, table urgence.abc_classification).

    value = (sum of CONSUMPTION quantities of the article over all sites on days
    t = D-N+1..D) x unit_cost, with D = `partition_date`, N = `history_days`. Articles are
    sorted by value descending, ties by article_id ascending; cum_i is the share of the
    total value held by items 1..i, cum_0 = 0. Item i is A if cum_{i-1} < a_cutoff, else
    B if cum_{i-1} < b_cutoff, else C. Value 0 is C, so a zero total makes all C.

    Coverage: one row per active article of `articles` (SPEC §4: inactive articles are
    neither ranked nor counted in the total, so their consumption never shifts the
    cut-offs of the others); every pair's article is active, so every pair finds its
    class. An article without consumption in the window has value 0 (class C). Without an
    `active` column every article counts as active. Movements of articles not in
    `articles`, or of inactive ones, are ignored.

    Float precision: the total is the last value of the running sum in rank order, and
    cum_i = running_sum_i / total. The same additions give both, so cum is non-decreasing
    and cum_n is exactly 1; cum_{i-1} is the previous running sum (not cum_i - share_i,
    which could drift). Exact shares such as 80/100 then meet the 0.80 boundary exactly.

    Returns [article_id, consumption_value (Float64), abc (String)], in rank order.
    """
    _check_parameters(history_days, a_cutoff, b_cutoff)
    if articles["article_id"].is_duplicated().any():
        raise ValueError("abc_classification: articles.article_id must be unique")
    if "active" in articles.columns:
        articles = articles.filter(pl.col("active").cast(pl.Boolean).fill_null(False))
    first_day = partition_date - dt.timedelta(days=history_days - 1)
    day = pl.col("date").cast(pl.Date)
    consumed = (
        movements.filter(
            (pl.col("movement_type") == CONSUMPTION) & day.is_between(first_day, partition_date)
        )
        .group_by("article_id")
        .agg(pl.col("quantity").cast(pl.Float64).sum().alias("consumed"))
    )
    value = pl.col("consumption_value")
    running_sum = value.cum_sum()
    total = running_sum.last()
    share_before = running_sum.shift(1, fill_value=0.0) / total
    return (
        articles.select("article_id", pl.col("unit_cost").cast(pl.Float64))
        .join(consumed, on="article_id", how="left")
        .select(
            "article_id",
            (pl.col("consumed").fill_null(0.0) * pl.col("unit_cost")).alias("consumption_value"),
        )
        .sort(["consumption_value", "article_id"], descending=[True, False])
        .with_columns(
            pl.when(value <= 0)
            .then(pl.lit("C"))
            .when(share_before < a_cutoff)
            .then(pl.lit("A"))
            .when(share_before < b_cutoff)
            .then(pl.lit("B"))
            .otherwise(pl.lit("C"))
            .alias("abc")
        )
    )
