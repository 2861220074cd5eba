"""Benchmark: URGENCE scoring (SPEC §4) with Polars expressions vs a numba kernel.

Scores N (site, article) pairs: U_t, U_q, U and the level, from a frame that already
holds the projection columns and the article's importance (the joins are the same for
both ways and are timed apart, as the end-to-end `solvers.urgency` functions). The
peer is a numba kernel of the same formulas over flat NumPy arrays; it also checks that
both give the same values. The faster is the implementation in solvers/urgency.py.

    cd /work/main && uv run python bench/bench_urgency.py [--pairs 300000] [--repeat 7]
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import math
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np
import polars as pl

from solvers.urgency import (
    DEFAULT_TAU,
    DEFAULT_W_Q,
    DEFAULT_W_T,
    LEVELS,
    classify_urgency,
    u_quantitative_expr,
    u_temporal_expr,
    u_total_expr,
    urgency_level_expr,
    urgency_quantitative,
    urgency_temporal,
    urgency_total,
)

HORIZON = 30


def synthetic_pairs(n_pairs: int, seed: int = 0) -> pl.DataFrame:
    """A projection-like frame with importance, spread over all branches of the formulas."""
    rng = np.random.default_rng(seed)
    stock_min = rng.integers(0, 20, n_pairs)
    lead = rng.integers(0, 15, n_pairs)
    min_projected = rng.normal(5.0, 10.0, n_pairs).round(1)
    days_to_min = rng.integers(0, HORIZON + 1, n_pairs)
    days_to_stockout = np.minimum(days_to_min + rng.integers(0, 20, n_pairs), HORIZON + 5)
    return pl.DataFrame(
        {
            "site_id": [f"S{i % 500:03d}" for i in range(n_pairs)],
            "article_id": [f"A{i // 500:05d}" for i in range(n_pairs)],
            "stock_min": stock_min,
            "lead_time_days": lead,
            "days_to_min": days_to_min,
            "days_to_stockout": days_to_stockout,
            "min_projected": min_projected,
            "importance": rng.choice(["CRITIQUE", "IMPORTANT", "STANDARD"], n_pairs),
        }
    ).with_columns(
        pl.when(pl.col("days_to_min") < 20).then(pl.col("days_to_min")).alias("days_to_min"),
        pl.when(pl.col("days_to_stockout") <= HORIZON).then(pl.col("days_to_stockout")),
    )


def score_polars(pairs: pl.DataFrame) -> pl.DataFrame:
    """The implementation: the expressions of solvers/urgency.py in one eager select."""
    return (
        pairs.lazy()
        .with_columns(u_temporal_expr(DEFAULT_TAU), u_quantitative_expr())
        .with_columns(u_total_expr(DEFAULT_W_T, DEFAULT_W_Q))
        .select(
            "site_id", "article_id", "u_temporal", "u_quantitative", "u_total",
            urgency_level_expr(),
        )
        .collect()
    )


@numba.njit(cache=True)
def _score_kernel(
    days_to_min, has_min, lead, stock_min, min_projected, days_to_stockout, has_stockout,
    escalates, tau, w_t, w_q,
):  # pragma: no cover - compiled
    """SPEC §4 per pair; level as an index into LEVELS (0 = CRITIQUE .. 3 = NORMAL)."""
    n = days_to_min.shape[0]
    u_t = np.empty(n)
    u_q = np.empty(n)
    u = np.empty(n)
    level = np.empty(n, dtype=np.uint8)
    for i in range(n):
        if not has_min[i]:
            u_t[i] = 0.0
        elif days_to_min[i] <= lead[i]:
            u_t[i] = 1.0
        else:
            u_t[i] = math.exp(-float(days_to_min[i] - lead[i]) / tau)
        if stock_min[i] > 0:
            q = (stock_min[i] - min_projected[i]) / stock_min[i]
            u_q[i] = min(max(q, 0.0), 1.0)
        else:
            u_q[i] = 1.0 if min_projected[i] < 0 else 0.0
        u[i] = w_t * u_t[i] + w_q * u_q[i]
        if u[i] >= 0.8 or (has_stockout[i] and days_to_stockout[i] <= lead[i]):
            lv = 0
        elif u[i] >= 0.5:
            lv = 1
        elif u[i] >= 0.2:
            lv = 2
        else:
            lv = 3
        if escalates[i] and (lv == 1 or lv == 2):
            lv -= 1
        level[i] = lv
    return u_t, u_q, u, level


def kernel_arrays(pairs: pl.DataFrame) -> tuple:
    """The kernel's flat arguments: nulls as a value plus a validity mask."""
    days_to_min = pairs["days_to_min"]
    days_to_stockout = pairs["days_to_stockout"]
    return (
        days_to_min.fill_null(0).to_numpy(),
        days_to_min.is_not_null().to_numpy(),
        pairs["lead_time_days"].to_numpy(),
        pairs["stock_min"].to_numpy(),
        pairs["min_projected"].to_numpy(),
        days_to_stockout.fill_null(0).to_numpy(),
        days_to_stockout.is_not_null().to_numpy(),
        (pairs["importance"] == "CRITIQUE").to_numpy(),
        DEFAULT_TAU,
        DEFAULT_W_T,
        DEFAULT_W_Q,
    )


def score_numba(pairs: pl.DataFrame) -> pl.DataFrame:
    """The peer: flat arrays in, kernel, frame out (conversions included in the timing)."""
    u_t, u_q, u, level = _score_kernel(*kernel_arrays(pairs))
    return pairs.select("site_id", "article_id").with_columns(
        pl.Series("u_temporal", u_t),
        pl.Series("u_quantitative", u_q),
        pl.Series("u_total", u),
        pl.Series("level", LEVELS, dtype=pl.String).gather(level),
    )


def end_to_end(pairs: pl.DataFrame) -> pl.DataFrame:
    """The public frame functions, joins included, as an asset would call them."""
    projection = pairs.drop("importance")
    articles = pairs.select("article_id", "importance").unique("article_id")
    abc = articles.select("article_id", pl.lit("A").alias("abc"))
    total = urgency_total(urgency_temporal(projection), urgency_quantitative(projection))
    return classify_urgency(total, projection, articles, abc)


def timed(
    fn: Callable[[pl.DataFrame], object], pairs: pl.DataFrame, repeat: int
) -> list[float]:
    """Wall-clock seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(pairs)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    pairs = synthetic_pairs(args.pairs)
    start = time.perf_counter()
    by_numba = score_numba(pairs)
    first_numba = time.perf_counter() - start
    by_polars = score_polars(pairs)
    for column in ("u_temporal", "u_quantitative", "u_total"):
        gap = (by_polars[column] - by_numba[column]).abs().max()
        assert gap is not None and gap <= 1e-15, f"{column} differs by {gap}"
    assert (by_polars["level"] == by_numba["level"]).all(), "levels differ"

    print(f"{args.pairs:,} pairs, {args.repeat} runs, polars {pl.__version__}, "
          f"numba {numba.__version__}, threads {pl.thread_pool_size()}")
    print(f"numba first call (load or compile + run): {first_numba * 1e3:8.1f} ms")
    arrays = kernel_arrays(pairs)
    for name, fn in (("polars expressions", score_polars),
                     ("numba, conversions", score_numba),
                     ("numba kernel alone", lambda _: _score_kernel(*arrays)),
                     ("end to end (joins)", end_to_end)):
        runs = timed(fn, pairs, args.repeat)
        median, best = statistics.median(runs) * 1e3, min(runs) * 1e3
        print(f"{name:<20} median {median:8.1f} ms   min {best:8.1f} ms")


if __name__ == "__main__":
    main()
