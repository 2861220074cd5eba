"""Stock projection over the horizon and its per-pair summary (SPEC §3).

For each (site, article) pair and d = 1..H:

    demand(d) = planned(d)  if the site is planned and d <= plan_end   (0 when the plan
                            has nothing for that article that day)
              = rate        otherwise
    S_0 = on_hand,  S_d = S_{d-1} + receipts(d) - demand(d)

The recurrence lives once, in :func:`_fill_curve`; :func:`project_stock` summarises each
curve in a reusable (H+1) buffer (never a pairs x H matrix, which is what lets 300k
pairs run in well under a second), and :func:`projection_series` keeps the curves of a
chosen subset for analysts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import polars as pl

from solvers.grouped_arrays import (
    GroupedArrays,
    PairLookup,
    group_events,
    index_pairs,
    kernel_array,
)
from solvers.horizon import DEFAULT_HORIZON_DAYS
from solvers.planned_demand import PlannedDemand

PAIR_COLUMNS = ("site_id", "article_id", "on_hand", "stock_min", "lead_time_days", "rate")

_NONE = -1  # "no such day" inside the kernel, null in the output


def stock_initial(stock_levels: pl.DataFrame, articles: pl.DataFrame) -> pl.DataFrame:
    """The STOCK pairs of D with their article parameters (SPEC §3, "Pairs", "stock_initial").

    Every (site, article) of D's snapshot whose article is active; stock_min,
    stock_max, lead_time_days and lot_size come from the article. Returns
    ``site_id, article_id, on_hand (Float64), stock_min, stock_max, lead_time_days,
    lot_size`` sorted by site_id, article_id.
    """
    return (
        stock_levels.lazy()
        .select("site_id", "article_id", on_hand=pl.col("quantity_on_hand").cast(pl.Float64))
        .join(
            articles.lazy()
            .filter(pl.col("active"))
            .select("article_id", "stock_min", "stock_max", "lead_time_days", "lot_size"),
            on="article_id",
            how="inner",
        )
        .sort("site_id", "article_id")
        .collect()
    )


@numba.njit(cache=True)
def _fill_curve(
    g: int,
    on_hand: np.ndarray,
    rate: np.ndarray,
    uses_plan: np.ndarray,
    plan_days: int,
    plan_starts: np.ndarray,
    plan_d: np.ndarray,
    plan_q: np.ndarray,
    rec_starts: np.ndarray,
    rec_d: np.ndarray,
    rec_q: np.ndarray,
    curve: np.ndarray,
) -> None:
    """S_0..S_H of pair ``g`` into ``curve`` (length H+1): the SPEC §3 recurrence.

    Plan events are limited to d <= plan_days and receipts to d <= H by the caller, and
    both are sorted by d within the pair, so one pointer per table suffices.
    """
    horizon = len(curve) - 1
    s = on_hand[g]
    curve[0] = s
    kp = plan_starts[g]
    kp_end = plan_starts[g + 1]
    kr = rec_starts[g]
    kr_end = rec_starts[g + 1]
    planned = uses_plan[g]
    for d in range(1, horizon + 1):
        received = 0.0
        if kr < kr_end and rec_d[kr] == d:
            received = rec_q[kr]
            kr += 1
        if planned and d <= plan_days:
            demand = 0.0
            if kp < kp_end and plan_d[kp] == d:
                demand = plan_q[kp]
                kp += 1
        else:
            demand = rate[g]
        s = s + received - demand
        curve[d] = s


@numba.njit(cache=True)
def _summary_kernel(
    on_hand, stock_min, lead_time, rate, uses_plan, plan_days,
    plan_starts, plan_d, plan_q, rec_starts, rec_d, rec_q, horizon,
):  # fmt: skip
    """Per pair: days_to_min, days_to_stockout (-1 = none), min, S_H, S_min(lead_time, H)."""
    n = len(on_hand)
    days_to_min = np.full(n, _NONE, dtype=np.int64)
    days_to_stockout = np.full(n, _NONE, dtype=np.int64)
    min_projected = np.empty(n, dtype=np.float64)
    end_projected = np.empty(n, dtype=np.float64)
    at_lead_time = np.empty(n, dtype=np.float64)
    curve = np.empty(horizon + 1, dtype=np.float64)
    for g in range(n):
        _fill_curve(
            g, on_hand, rate, uses_plan, plan_days,
            plan_starts, plan_d, plan_q, rec_starts, rec_d, rec_q, curve,
        )  # fmt: skip
        lowest = curve[0]
        for d in range(horizon + 1):
            s = curve[d]
            if days_to_min[g] == _NONE and s < stock_min[g]:
                days_to_min[g] = d
            if days_to_stockout[g] == _NONE and s < 0.0:
                days_to_stockout[g] = d
            if s < lowest:
                lowest = s
        min_projected[g] = lowest
        end_projected[g] = curve[horizon]
        at_lead_time[g] = curve[min(lead_time[g], horizon)]
    return days_to_min, days_to_stockout, min_projected, end_projected, at_lead_time


@numba.njit(cache=True)
def _series_kernel(
    selected, on_hand, rate, uses_plan, plan_days,
    plan_starts, plan_d, plan_q, rec_starts, rec_d, rec_q, horizon,
):  # fmt: skip
    """Curves S_0..S_H of the pairs ``selected``, one row each."""
    curves = np.empty((len(selected), horizon + 1), dtype=np.float64)
    for i in range(len(selected)):
        _fill_curve(
            selected[i], on_hand, rate, uses_plan, plan_days,
            plan_starts, plan_d, plan_q, rec_starts, rec_d, rec_q, curves[i],
        )  # fmt: skip
    return curves


@dataclass(frozen=True)
class _Prepared:
    """Pairs sorted with their kernel arrays, plan and receipts as CSR events."""

    pairs: pl.DataFrame  # sorted, with pair_idx
    on_hand: np.ndarray
    stock_min: np.ndarray
    lead_time: np.ndarray
    rate: np.ndarray
    uses_plan: np.ndarray
    plan_days: int
    plan: GroupedArrays
    rec: GroupedArrays


def _prepare(
    pairs: pl.DataFrame, planned: PlannedDemand, receipts: pl.DataFrame, horizon_days: int
) -> _Prepared:
    """Check the pairs, sort them, and turn plan and receipts into per-pair CSR events.

    Shared by :func:`project_stock` and :func:`projection_series` so that both see
    exactly the same demand and receipts. Plan events beyond min(plan_end, H) and
    receipts beyond H cannot reach S_0..S_H and are dropped here.
    """
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs lacks columns {missing}")
    nulls = [c for c in PAIR_COLUMNS if pairs.get_column(c).null_count()]
    if nulls:
        raise ValueError(f"pairs has nulls in {nulls}")
    if (pairs.get_column("lead_time_days") < 0).any():
        raise ValueError("lead_time_days must be >= 0 (SPEC §2)")

    indexed = index_pairs(pairs.select(PAIR_COLUMNS))
    plan_days = 0 if planned.plan_end is None else min(planned.plan_end, horizon_days)
    planned_sites = pl.Series(sorted(planned.planned_sites), dtype=pl.String)
    indexed = indexed.with_columns(uses_plan=pl.col("site_id").is_in(planned_sites.implode()))
    lookup = PairLookup.of(indexed)

    def events(table: pl.DataFrame, last_day: int) -> GroupedArrays:
        rows = table.select(  # a null day is dropped and a null quantity adds 0, as before
            lookup.pair_code(),
            pl.col("d").cast(pl.Int64).fill_null(0),
            pl.col("quantity").cast(pl.Float64).fill_null(0.0),
        )
        return group_events(
            lookup.positions(rows.get_column("pair_code")),
            kernel_array(rows.get_column("d"), np.int64),
            kernel_array(rows.get_column("quantity"), np.float64),
            indexed.height,
            first_key=1,
            last_key=last_day,
        )

    def column(name: str, dtype: type) -> np.ndarray:
        return kernel_array(indexed.get_column(name), dtype)

    return _Prepared(
        pairs=indexed,
        on_hand=column("on_hand", np.float64),
        stock_min=column("stock_min", np.float64),
        lead_time=column("lead_time_days", np.int64),
        rate=column("rate", np.float64),
        uses_plan=column("uses_plan", np.bool_),
        plan_days=plan_days,
        plan=events(planned.quantities, plan_days),
        rec=events(receipts, horizon_days),
    )


def project_stock(
    pairs: pl.DataFrame,
    planned: PlannedDemand,
    receipts: pl.DataFrame,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> pl.DataFrame:
    """stock_projection of SPEC §3, one row per pair, sorted by site_id, article_id.

    ``pairs``: site_id, article_id, on_hand, stock_min, lead_time_days, rate (e.g.
    :func:`stock_initial` joined with :func:`solvers.forecasting.forecast_rates`);
    ``planned``: :func:`solvers.planned_demand.planned_demand`; ``receipts``:
    :func:`solvers.receipts.receipts` (site_id, article_id, d, quantity).

    Columns: site_id, article_id, on_hand, stock_min, lead_time_days,
    days_to_min / days_to_stockout (Int64, null when the threshold is never crossed;
    d = 0 counts, so on_hand < stock_min gives 0), min_projected (min of S_0..S_H),
    end_projected (S_H), projected_at_lead_time (S_min(lead_time, H)), planned_days
    (days of 1..H whose demand comes from the plan: min(plan_end, H) on planned
    sites, else 0).
    """
    prep = _prepare(pairs, planned, receipts, horizon_days)
    days_to_min, days_to_stockout, min_projected, end_projected, at_lead_time = _summary_kernel(
        prep.on_hand, prep.stock_min, prep.lead_time, prep.rate, prep.uses_plan, prep.plan_days,
        prep.plan.starts, prep.plan.keys, prep.plan.values,
        prep.rec.starts, prep.rec.keys, prep.rec.values, int(horizon_days),
    )  # fmt: skip
    return prep.pairs.select(
        "site_id",
        "article_id",
        pl.col("on_hand").cast(pl.Float64),
        "stock_min",
        "lead_time_days",
        days_to_min=_nullable_days(days_to_min),
        days_to_stockout=_nullable_days(days_to_stockout),
        min_projected=pl.lit(pl.Series(min_projected, dtype=pl.Float64)),
        end_projected=pl.lit(pl.Series(end_projected, dtype=pl.Float64)),
        projected_at_lead_time=pl.lit(pl.Series(at_lead_time, dtype=pl.Float64)),
        planned_days=pl.when(pl.col("uses_plan"))
        .then(pl.lit(prep.plan_days, dtype=pl.Int64))
        .otherwise(pl.lit(0, dtype=pl.Int64)),
    )


def projection_series(
    pairs: pl.DataFrame,
    planned: PlannedDemand,
    receipts: pl.DataFrame,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    subset: pl.DataFrame | None = None,
    by_article: bool = False,
) -> pl.DataFrame:
    """Daily curve S_0..S_H for analysts: ``site_id, article_id, d, stock``.

    ``subset`` (site_id, article_id) picks the pairs to draw; None draws every pair,
    i.e. pairs x (H+1) rows, so pass a subset on large sites. Pairs of ``subset``
    unknown to ``pairs`` are ignored. ``by_article`` sums the curves over the sites of
    each article instead (``article_id, d, stock``), e.g. network-wide stock of a part.
    Same recurrence as :func:`project_stock` (one function, :func:`_fill_curve`).
    """
    prep = _prepare(pairs, planned, receipts, horizon_days)
    chosen = prep.pairs.select("site_id", "article_id", "pair_idx")
    if subset is not None:
        chosen = chosen.join(
            subset.select("site_id", "article_id").unique(), on=["site_id", "article_id"],
            how="semi",
        ).sort("pair_idx")
    selected = kernel_array(chosen.get_column("pair_idx"), np.int64)
    curves = _series_kernel(
        selected, prep.on_hand, prep.rate, prep.uses_plan, prep.plan_days,
        prep.plan.starts, prep.plan.keys, prep.plan.values,
        prep.rec.starts, prep.rec.keys, prep.rec.values, int(horizon_days),
    )  # fmt: skip
    width = horizon_days + 1
    series = chosen.select("site_id", "article_id")[np.repeat(np.arange(len(selected)), width)]
    series = series.with_columns(
        d=pl.Series(np.tile(np.arange(width, dtype=np.int64), len(selected)), dtype=pl.Int64),
        stock=pl.Series(curves.reshape(-1), dtype=pl.Float64),
    )
    if by_article:
        return (
            series.group_by("article_id", "d")
            .agg(pl.col("stock").sum())
            .sort("article_id", "d")
        )
    return series


def _nullable_days(days: np.ndarray) -> pl.Expr:
    """Kernel day indices (-1 = none) as a nullable Int64 column."""
    values = pl.lit(pl.Series(days, dtype=pl.Int64))
    return pl.when(values >= 0).then(values)
