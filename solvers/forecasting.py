"""Consumption rate per (site, article) from its daily history (SPEC §3, "rate").

Two implementations of the same formulas, on purpose:

- :func:`rate_of_series` is the readable reference: plain Python over one dense
  series ``x_1..x_N``, written line by line from the SPEC. Tests use it as the oracle.
- :func:`forecast_rates` is the production path: numba kernels over the sparse
  consumption events of every pair (CSR arrays, see :mod:`solvers.grouped_arrays`).
  They perform the same floating-point operations in the same order as the reference,
  so both give bit-identical rates, and never build a dense pairs x N matrix
  (300k pairs x 182 days would be 440 MB of mostly zeros).

Why a kernel may skip zero days for some methods without changing a single bit:
``mean`` adds zeros (``s + 0.0 == s``); ``croston``/``sba`` only touch z and p on
demand days, and ``q`` at a demand day is exactly the gap since the previous one
(:func:`_event_walk_kernel`). ``ses`` and ``tsb`` decay on every zero day, so their
kernel walks t = 1..N for blocks of pairs at once (:func:`_daily_walk_kernel`).
"""

from __future__ import annotations

from datetime import date, timedelta

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
from solvers.horizon import DEFAULT_HISTORY_DAYS

FORECAST_METHODS: tuple[str, ...] = ("mean", "ses", "croston", "sba", "tsb")

#: Integer codes of FORECAST_METHODS handed to the kernel.
_METHOD_CODE = {name: code for code, name in enumerate(FORECAST_METHODS)}
_MEAN, _SES, _CROSTON, _SBA, _TSB = range(5)

CONSUMPTION = "CONSUMPTION"


def check_forecast_parameters(method: str, alpha: float, beta: float) -> None:
    """Reject an unknown method or a smoothing constant outside (0, 1] (SPEC §3).

    A constant of 0 would freeze the initial value and one above 1 over-corrects; both
    are configuration mistakes better caught before a 300k-pair run.
    """
    if method not in _METHOD_CODE:
        raise ValueError(
            f"unknown forecast_method {method!r}; valid methods: {', '.join(FORECAST_METHODS)}"
        )
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not (0.0 < float(value) <= 1.0):
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def rate_of_series(x: np.ndarray, method: str, alpha: float = 0.1, beta: float = 0.1) -> float:
    """Rate of one dense daily series ``x = (x_1, ..., x_N)``, literally as in SPEC §3.

    Plain Python (no numpy reductions, whose pairwise summation would change the last
    bits): this is the reference the fast kernel is tested against.
    """
    check_forecast_parameters(method, alpha, beta)
    xs = [float(v) for v in x]
    n = len(xs)
    if n == 0:
        raise ValueError("the series must hold at least one day")
    alpha = float(alpha)
    beta = float(beta)

    if method == "mean":
        total = 0.0
        for v in xs:
            total += v
        return total / n

    if method == "ses":
        level = xs[0]
        for v in xs[1:]:
            level = level + alpha * (v - level)
        return level

    if method in ("croston", "sba"):
        first = next((i for i, v in enumerate(xs) if v > 0), None)
        if first is None:
            return 0.0
        z = xs[first]
        p = float(first + 1)  # periods up to and including the first demand (1-based t)
        q = 0.0
        for v in xs[first + 1 :]:
            q = q + 1.0
            if v > 0:
                z = z + alpha * (v - z)
                p = p + alpha * (q - p)
                q = 0.0
        croston = z / p
        return croston if method == "croston" else (1.0 - alpha / 2.0) * croston

    # tsb
    nonzero_total = 0.0
    nonzero_count = 0
    for v in xs:
        if v > 0:
            nonzero_total += v
            nonzero_count += 1
    if nonzero_count == 0:
        return 0.0
    z = nonzero_total / nonzero_count
    pr = nonzero_count / n
    for v in xs:
        if v > 0:
            pr = pr + beta * (1.0 - pr)
            z = z + alpha * (v - z)
        else:
            pr = pr + beta * (0.0 - pr)
    return pr * z


@numba.njit(cache=True)
def _event_walk_kernel(
    starts: np.ndarray,
    days: np.ndarray,
    values: np.ndarray,
    n_days: int,
    method: int,
    alpha: float,
) -> np.ndarray:
    """``mean``, ``croston`` and ``sba``: one pass per pair over its demand days only
    (``days`` in 1..n_days, increasing, ``values`` > 0); the arithmetic mirrors
    :func:`rate_of_series` operation by operation."""
    n_pairs = len(starts) - 1
    out = np.zeros(n_pairs, dtype=np.float64)
    for g in range(n_pairs):
        lo = starts[g]
        hi = starts[g + 1]
        if lo == hi:
            continue  # no demand: every method gives 0
        if method == _MEAN:
            total = 0.0
            for k in range(lo, hi):
                total += values[k]
            out[g] = total / n_days
        else:  # _CROSTON or _SBA
            z = values[lo]
            p = float(days[lo])
            for k in range(lo + 1, hi):
                q = float(days[k] - days[k - 1])
                z = z + alpha * (values[k] - z)
                p = p + alpha * (q - p)
            rate = z / p
            if method == _SBA:
                rate = (1.0 - alpha / 2.0) * rate
            out[g] = rate
    return out


#: Pairs walked together by :func:`_daily_walk_kernel`: its day buffer is
#: (N + 1) x LANES floats, 187 kB for N = 182, which stays in the L2 cache.
LANES = 128


@numba.njit(cache=True)
def _daily_walk_kernel(
    starts: np.ndarray,
    days: np.ndarray,
    values: np.ndarray,
    n_days: int,
    method: int,
    alpha: float,
    beta: float,
) -> np.ndarray:
    """``ses`` and ``tsb``, which update on every day t = 1..N, zero days included.

    Pairs with demand are taken LANES at a time: their events are scattered into a
    small day x lane buffer, then each day updates all lanes in one loop, which the
    compiler turns into SIMD instructions (a pointer walk per pair is one long chain of
    dependent scalar operations). Each lane still performs exactly the operations of
    :func:`rate_of_series` in the same order; a zero day differs from a demand day only
    by which value is selected, so the rates are the same bits.
    """
    n_pairs = len(starts) - 1
    out = np.zeros(n_pairs, dtype=np.float64)  # no demand: 0 for both methods
    with_demand = np.flatnonzero(starts[1:] > starts[:-1])
    x = np.zeros((n_days + 1, LANES), dtype=np.float64)  # row t holds day t (row 0 unused)
    level = np.zeros(LANES, dtype=np.float64)  # ses level, or tsb pr
    z = np.zeros(LANES, dtype=np.float64)  # tsb demand size
    for first in range(0, len(with_demand), LANES):
        block = with_demand[first : first + LANES]
        level[:] = 0.0
        z[:] = 0.0
        for lane in range(len(block)):
            lo = starts[block[lane]]
            hi = starts[block[lane] + 1]
            for k in range(lo, hi):
                x[days[k], lane] = values[k]
            if method == _SES:
                level[lane] = x[1, lane]  # l = x_1
            else:
                total = 0.0
                for k in range(lo, hi):
                    total += values[k]
                z[lane] = total / (hi - lo)  # mean of the nonzero x_t
                level[lane] = (hi - lo) / n_days  # their share
        if method == _SES:
            for t in range(2, n_days + 1):
                _ses_day(level, x[t], alpha)
            for lane in range(len(block)):
                out[block[lane]] = level[lane]
        else:
            for t in range(1, n_days + 1):
                _tsb_day(level, z, x[t], alpha, beta)
            for lane in range(len(block)):
                out[block[lane]] = level[lane] * z[lane]
        for lane in range(len(block)):  # clear the buffer for the next block
            for k in range(starts[block[lane]], starts[block[lane] + 1]):
                x[days[k], lane] = 0.0
    return out


@numba.njit(cache=True)
def _ses_day(level: np.ndarray, x_t: np.ndarray, alpha: float) -> None:
    for lane in range(len(level)):
        level[lane] = level[lane] + alpha * (x_t[lane] - level[lane])


@numba.njit(cache=True)
def _tsb_day(pr: np.ndarray, z: np.ndarray, x_t: np.ndarray, alpha: float, beta: float) -> None:
    for lane in range(len(pr)):
        v = x_t[lane]
        pr[lane] = pr[lane] + beta * ((1.0 if v > 0.0 else 0.0) - pr[lane])
        updated = z[lane] + alpha * (v - z[lane])
        z[lane] = updated if v > 0.0 else z[lane]


def rates_from_events(
    events: GroupedArrays, history_days: int, method: str, alpha: float = 0.1, beta: float = 0.1
) -> np.ndarray:
    """Rates of every group of ``events`` (day index 1..history_days, values > 0)."""
    check_forecast_parameters(method, alpha, beta)
    code = _METHOD_CODE[method]
    if code in (_SES, _TSB):
        return _daily_walk_kernel(
            events.starts, events.keys, events.values, int(history_days), code,
            float(alpha), float(beta),
        )  # fmt: skip
    return _event_walk_kernel(
        events.starts, events.keys, events.values, int(history_days), code, float(alpha)
    )


def consumption_events(
    indexed_pairs: pl.DataFrame,
    movements: pl.DataFrame | pl.LazyFrame,
    partition_date: date,
    history_days: int,
) -> GroupedArrays:
    """Daily CONSUMPTION totals x_t > 0 of each pair, t = 1..N for days D-N+1..D (SPEC §3).

    ``indexed_pairs``: site_id, article_id, pair_idx (see :func:`index_pairs`).

    Movements of other types, outside the window, or of pairs not in ``indexed_pairs``
    are dropped; several movements of one pair on one day are summed in row order (a
    null quantity counts as 0, as in a sum aggregation).
    """
    lookup = PairLookup.of(indexed_pairs)
    origin = partition_date - timedelta(days=history_days)  # day t = 0
    rows = (
        movements.lazy()
        .filter(
            (pl.col("movement_type") == CONSUMPTION)
            & (pl.col("date") > origin)
            & (pl.col("date") <= partition_date)
        )
        .select(
            lookup.pair_code(),
            t=(pl.col("date") - pl.lit(origin)).dt.total_days(),
            quantity=pl.col("quantity").cast(pl.Float64).fill_null(0.0),
        )
        .collect()
    )
    return group_events(
        lookup.positions(rows.get_column("pair_code")),
        kernel_array(rows.get_column("t"), np.int64),
        kernel_array(rows.get_column("quantity"), np.float64),
        indexed_pairs.height,
        first_key=1,
        last_key=history_days,
        positive_only=True,
    )


def forecast_rates(
    pairs: pl.DataFrame,
    movements: pl.DataFrame | pl.LazyFrame,
    partition_date: date,
    history_days: int = DEFAULT_HISTORY_DAYS,
    method: str = "sba",
    alpha: float = 0.1,
    beta: float = 0.1,
) -> pl.DataFrame:
    """Consumption rate of every (site_id, article_id) of ``pairs`` on day D (SPEC §3).

    ``movements`` holds the history window (several days concatenated; a LazyFrame
    lets the window and type filters reach the scan). Returns ``site_id, article_id,
    rate`` (Float64), sorted by site_id, article_id. Pairs without consumption in the
    window get 0 for every method.
    """
    check_forecast_parameters(method, alpha, beta)
    if history_days < 1:
        raise ValueError(f"history_days must be >= 1, got {history_days}")
    indexed = index_pairs(pairs.select("site_id", "article_id"))
    events = consumption_events(indexed, movements, partition_date, history_days)
    rates = rates_from_events(events, history_days, method, alpha, beta)
    return indexed.select("site_id", "article_id").with_columns(
        rate=pl.Series(rates, dtype=pl.Float64)
    )
