"""Forecast accuracy: each method's rate as the pipeline would have forecast it on D−k, held
against the consumption of D−k+1..D (issue 16 point 3), and the per-pair choice of
``stock.forecast_method = auto``.

**What is compared.** The window read is D−N−k+1..D (N = history_days, k = horizon_days),
day t = 1..N+k. For each pair and method:

- ``forecast_rate``: the SPEC §3 rate on days t = 1..N, i.e. exactly the rate
  :func:`solvers.forecasting.forecast_rates` gives on partition D−k with the same N (same
  kernels, same operations: bit-identical, tested). Not a rate fitted on the N−k days left
  inside D's own window: that would grade a forecaster the pipeline never runs (``mean``
  divides by another N, croston's first interval starts elsewhere);
- ``actual_rate``: the consumption of D−k+1..D (days t = N+1..N+k) divided by k;
- ``error`` = forecast_rate − actual_rate, in pieces per day (> 0: over-forecast). It is the
  error on the horizon's **total** demand divided by k, (k·rate − Σ actual) / k, which is
  the quantity the projection uses (S_d subtracts d·rate). It is not the mean of the k daily
  errors |rate − x_t|: on intermittent series a per-day absolute error is minimised by the
  median day, which is 0, so it ranks a zero forecast best and would steer ``auto`` to the
  lowest rate, i.e. to stock-outs (bench/bench_backtest.py measures both);
- ``abs_error`` = |error|, whose mean over pairs is the MAE; the mean of ``error`` is the bias;
- ``fitting_mean`` = mean daily consumption over the fitting days 1..N (the ``mean`` method's
  forecast_rate), and
- ``scaled_error`` = abs_error / fitting_mean, the
  MAD/Mean ratio (Kolassa & Schütz 2007; Hyndman 2006 for intermittent demand): "the rate
  was off by this share of the pair's usual demand", comparable across pairs of any volume.
  The MASE scale (in-sample one-step naive MAE) was not kept: it measures day-to-day jumps,
  which for intermittent series reflect how demand is spread, not how much there is, so the
  ratio of a rate error to it has no plain reading; it is also 0 for every constant series.
  Our scale is 0 only for a pair without consumption in its fitting window: then every
  method forecasts 0, and scaled_error is null (never inf or NaN).

**Stored: the rates, not the errors.** The table holds forecast_rate, actual_rate,
fitting_mean and best; error, abs_error and scaled_error are derived (:func:`error_columns`,
plain SQL in docs/sql-recipes.md). Measured on a `large` partition (283,524 pairs, 1.42 M
rows): 10.3 MB of Parquet, against 32.8 MB with the three derived columns stored, which are
full-entropy floats while the rates repeat (actual_rate and fitting_mean five times per pair,
zeros for the pairs that consume little).

**auto.** Per pair, the method with the lowest abs_error (the same ranking as scaled_error:
one scale per pair). ``sba``, the SPEC default, is kept unless another method is lower by more
than :data:`TIE_TOLERANCE` × max(1, sba's error), so float noise never moves a pair off sba;
among the others, the first lowest in :data:`FORECAST_METHODS` order. So the chosen method
is never worse than sba on its own backtest. The pair's rate on D is then that method's
SPEC rate over D−N+1..D (days t = k+1..N+k).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numba
import numpy as np
import polars as pl

from solvers.abc import ABC_CLASSES
from solvers.forecasting import (
    FORECAST_METHODS,
    check_forecast_parameters,
    consumption_events,
    rates_from_events,
)
from solvers.grouped_arrays import GroupedArrays, index_pairs
from solvers.horizon import DEFAULT_HISTORY_DAYS, DEFAULT_HORIZON_DAYS

#: The ``stock.forecast_method`` value that picks a method per pair from its backtest.
AUTO = "auto"
#: The method ``auto`` keeps on a tie (the SPEC §3 default).
TIE_METHOD = "sba"
#: Relative margin another method must beat sba's error by to replace it.
TIE_TOLERANCE = 1e-9
#: The ``abc`` label of the all-pairs rows of :func:`accuracy_summary`.
ALL_CLASSES = "ALL"


@dataclass(frozen=True)
class Backtest:
    """Backtest of every pair (columns) and method (rows of ``forecast``)."""

    methods: tuple[str, ...]
    forecast: np.ndarray  # (methods, pairs): rate fitted on days 1..N (partition D−k)
    actual: np.ndarray  # (pairs,): consumption of days N+1..N+k, per day
    scale: np.ndarray  # (pairs,): mean daily consumption of days 1..N

    @property
    def error(self) -> np.ndarray:
        return self.forecast - self.actual[None, :]

    @property
    def abs_error(self) -> np.ndarray:
        return np.abs(self.error)

    @property
    def scaled_error(self) -> np.ndarray:
        """abs_error / scale, NaN where the scale is 0 (null in :func:`error_columns`)."""
        scale = np.where(self.scale > 0.0, self.scale, np.nan)
        return self.abs_error / scale[None, :]

    def best(self) -> np.ndarray:
        """Index in ``methods`` of each pair's method (module docstring: auto)."""
        return best_methods(self.abs_error, self.methods)


def best_methods(abs_error: np.ndarray, methods: tuple[str, ...]) -> np.ndarray:
    """Per column of ``abs_error`` (methods x pairs), the row ``auto`` picks: the lowest,
    sba unless beaten by more than TIE_TOLERANCE x max(1, sba's error)."""
    if TIE_METHOD not in methods:
        raise ValueError(f"the methods compared must include {TIE_METHOD!r}, got {methods}")
    tie = methods.index(TIE_METHOD)
    lowest = np.argmin(abs_error, axis=0)  # first lowest: FORECAST_METHODS order
    columns = np.arange(abs_error.shape[1])
    sba_error = abs_error[tie]
    beaten = abs_error[lowest, columns] < sba_error - TIE_TOLERANCE * np.maximum(1.0, sba_error)
    return np.where(beaten, lowest, tie)


@numba.njit(cache=True)
def _window_kernel(starts, keys, values, first, last, shift):  # fmt: skip
    """The events with first <= key <= last, keys moved down by ``shift`` (CSR again)."""
    n_groups = len(starts) - 1
    out_starts = np.zeros(n_groups + 1, dtype=np.int64)
    kept = 0
    for g in range(n_groups):
        for j in range(starts[g], starts[g + 1]):
            if first <= keys[j] <= last:
                kept += 1
        out_starts[g + 1] = kept
    out_keys = np.empty(kept, dtype=np.int64)
    out_values = np.empty(kept, dtype=np.float64)
    m = 0
    for g in range(n_groups):
        for j in range(starts[g], starts[g + 1]):
            if first <= keys[j] <= last:
                out_keys[m] = keys[j] - shift
                out_values[m] = values[j]
                m += 1
    return out_starts, out_keys, out_values


@numba.njit(cache=True)
def _window_totals(starts, keys, values, first, last):  # fmt: skip
    """Per group, the sum of the values with first <= key <= last, in key order."""
    n_groups = len(starts) - 1
    out = np.zeros(n_groups, dtype=np.float64)
    for g in range(n_groups):
        total = 0.0
        for j in range(starts[g], starts[g + 1]):
            if first <= keys[j] <= last:
                total += values[j]
        out[g] = total
    return out


def window(events: GroupedArrays, first: int, last: int) -> GroupedArrays:
    """The events of days ``first..last``, renumbered from 1 (day ``first`` becomes 1)."""
    starts, keys, values = _window_kernel(events.starts, events.keys, events.values, first, last, first - 1)
    return GroupedArrays(starts=starts, keys=keys, values=values)


def backtest_events(
    events: GroupedArrays,
    history_days: int,
    horizon_days: int,
    alpha: float = 0.1,
    beta: float = 0.1,
    methods: tuple[str, ...] = FORECAST_METHODS,
) -> Backtest:
    """Backtest of every group of ``events``, days t = 1..history_days + horizon_days
    (t = 1 is D−N−k+1): fit on 1..N, compare with N+1..N+k (module docstring)."""
    _check_days(history_days, horizon_days)
    if not methods:
        raise ValueError("at least one method to backtest")
    for method in methods:
        check_forecast_parameters(method, alpha, beta)
    fitting = window(events, 1, history_days)
    forecast = np.vstack([rates_from_events(fitting, history_days, method, alpha, beta) for method in methods])
    last = history_days + horizon_days
    actual = _window_totals(events.starts, events.keys, events.values, history_days + 1, last) / horizon_days
    scale = _window_totals(events.starts, events.keys, events.values, 1, history_days) / history_days
    return Backtest(methods=tuple(methods), forecast=forecast, actual=actual, scale=scale)


def _check_days(history_days: int, horizon_days: int) -> None:
    if history_days < 1 or horizon_days < 1:
        raise ValueError(f"history_days and horizon_days must be >= 1, got {history_days} and {horizon_days}")


def _events(
    pairs: pl.DataFrame,
    movements: pl.DataFrame | pl.LazyFrame,
    partition_date: date,
    history_days: int,
    horizon_days: int,
) -> tuple[pl.DataFrame, GroupedArrays]:
    """The pairs indexed as forecast_rates does, and their consumption over D−N−k+1..D."""
    _check_days(history_days, horizon_days)
    indexed = index_pairs(pairs.select("site_id", "article_id"))
    return indexed, consumption_events(indexed, movements, partition_date, history_days + horizon_days)


def error_columns() -> list[pl.Expr]:
    """error, abs_error and scaled_error (null when fitting_mean is 0) of the backtest rows."""
    error = pl.col("forecast_rate") - pl.col("actual_rate")
    return [
        error.alias("error"),
        error.abs().alias("abs_error"),
        pl.when(pl.col("fitting_mean") > 0).then(error.abs() / pl.col("fitting_mean")).alias("scaled_error"),
    ]


def forecast_backtest(
    pairs: pl.DataFrame,
    movements: pl.DataFrame | pl.LazyFrame,
    partition_date: date,
    history_days: int = DEFAULT_HISTORY_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    alpha: float = 0.1,
    beta: float = 0.1,
) -> pl.DataFrame:
    """One row per (site_id, article_id, method) of ``pairs`` x FORECAST_METHODS, sorted so:
    forecast_rate, actual_rate, fitting_mean and ``best`` (the method auto picks for the
    pair); the errors are :func:`error_columns`.

    ``movements`` must hold D−N−k+1..D (N + k days, k = horizon_days)."""
    indexed, events = _events(pairs, movements, partition_date, history_days, horizon_days)
    result = backtest_events(events, history_days, horizon_days, alpha, beta)
    return backtest_frame(indexed, result)


def backtest_frame(indexed: pl.DataFrame, result: Backtest) -> pl.DataFrame:
    """The long table of :func:`forecast_backtest` from indexed pairs and their backtest:
    pair-major, methods in ``result.methods`` order (no sort: rows are gathered)."""
    n_methods, n_pairs = len(result.methods), indexed.height
    best = result.best()
    method_index = np.tile(np.arange(n_methods), n_pairs)

    def pair_major(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array.T).reshape(-1)

    return (
        indexed.select("site_id", "article_id")
        .gather(np.repeat(np.arange(n_pairs), n_methods))
        .with_columns(
            method=pl.Series(result.methods, dtype=pl.String).gather(method_index),
            forecast_rate=pl.Series(pair_major(result.forecast), dtype=pl.Float64),
            actual_rate=pl.Series(np.repeat(result.actual, n_methods), dtype=pl.Float64),
            fitting_mean=pl.Series(np.repeat(result.scale, n_methods), dtype=pl.Float64),
            best=pl.Series(method_index == np.repeat(best, n_methods), dtype=pl.Boolean),
        )
    )


def auto_forecast(
    pairs: pl.DataFrame,
    movements: pl.DataFrame | pl.LazyFrame,
    partition_date: date,
    history_days: int = DEFAULT_HISTORY_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    alpha: float = 0.1,
    beta: float = 0.1,
) -> pl.DataFrame:
    """``stock.forecast_method = auto``: site_id, article_id, method (the pair's best on its
    backtest), rate (that method's SPEC §3 rate over D−N+1..D), sorted by site_id,
    article_id as forecast_rates. ``movements`` must hold D−N−k+1..D."""
    indexed, events = _events(pairs, movements, partition_date, history_days, horizon_days)
    result = backtest_events(events, history_days, horizon_days, alpha, beta)
    best = result.best()
    today = window(events, horizon_days + 1, history_days + horizon_days)
    rates = np.zeros(indexed.height, dtype=np.float64)
    for code, method in enumerate(result.methods):
        chosen = best == code
        if chosen.any():
            rates[chosen] = rates_from_events(today, history_days, method, alpha, beta)[chosen]
    return indexed.select("site_id", "article_id").with_columns(
        method=pl.Series(result.methods, dtype=pl.String).gather(best),
        rate=pl.Series(rates, dtype=pl.Float64),
    )


def accuracy_summary(backtest: pl.DataFrame, abc: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per ABC class (``abc``: article_id, abc) and over all pairs (abc = "ALL"), per method:
    pairs, mae (mean abs_error), bias (mean error), scaled_error (mean over the pairs that
    have one), scaled_pairs (how many) and best_share (share of the pairs auto gives it).
    ``backtest``: the rows of :func:`forecast_backtest` (article_id, method, forecast_rate,
    actual_rate, fitting_mean, best at least).

    Classes in ABC_CLASSES order then ALL, methods in FORECAST_METHODS order; a class without
    pairs has no row. A pair whose article has no class counts in ALL only."""
    order = {method: i for i, method in enumerate(FORECAST_METHODS)}
    rows = backtest.select("article_id", "method", "best", *error_columns())
    if abc is not None:
        rows = rows.join(abc.select("article_id", "abc"), on="article_id", how="left")
    else:
        rows = rows.with_columns(abc=pl.lit(None, dtype=pl.String))
    metrics = [
        pl.len().alias("pairs"),
        pl.col("abs_error").mean().alias("mae"),
        pl.col("error").mean().alias("bias"),
        pl.col("scaled_error").mean().alias("scaled_error"),
        pl.col("scaled_error").is_not_null().sum().cast(pl.Int64).alias("scaled_pairs"),
        pl.col("best").mean().alias("best_share"),
    ]
    per_class = rows.filter(pl.col("abc").is_not_null()).group_by("abc", "method").agg(metrics)
    overall = rows.group_by("method").agg(metrics).with_columns(abc=pl.lit(ALL_CLASSES))
    class_rank = {label: i for i, label in enumerate((*ABC_CLASSES, ALL_CLASSES))}
    return (
        pl.concat([per_class, overall.select(per_class.columns)])
        .with_columns(pairs=pl.col("pairs").cast(pl.Int64))
        .sort(
            pl.col("abc").replace_strict(class_rank, default=len(class_rank), return_dtype=pl.Int64),
            pl.col("abc"),
            pl.col("method").replace_strict(order, default=len(order), return_dtype=pl.Int64),
            pl.col("method"),
        )
        .select("abc", "method", "pairs", "mae", "bias", "scaled_error", "scaled_pairs", "best_share")
    )
