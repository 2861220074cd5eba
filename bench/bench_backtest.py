"""Benchmark of the forecast backtest (issue 16 point 3) against statsforecast's cross-validation.

Not a test: a script that, on one partition D of a generated data set,

1. **ours**: ``solvers.backtest.forecast_backtest`` over every pair (events from the
   movements of D−N−k+1..D, the five methods fitted on D−N−k+1..D−k, compared with D−k+1..D),
   timed end to end from the movements frame (best of ``--repeat``);
2. **statsforecast**: ``StatsForecast(...).cross_validation(h=k, n_windows=1, input_size=N)``
   with HistoricAverage (mean), SimpleExponentialSmoothing(alpha) (ses), CrostonClassic,
   CrostonSBA and TSB(alpha, beta), on the zero-filled long frame (unique_id, ds, y) of a
   random sample of pairs (``--sample``; 0 = every pair): the same series, the same cut-off
   D−k, the same N-day fitting window. Timed: building the long frame, then the CV call
   (numba warm-up excluded), extrapolated linearly to every pair when sampled;

then, on the sampled pairs, per method: our and statsforecast's accuracy (MAE and bias of the
rate against the horizon's mean daily consumption, scaled error, and the mean of the per-day
absolute errors), how far the two forecasts are apart, the share of pairs where a zero forecast
beats sba under each error (why the backtest scores the horizon's total, solvers/backtest.py),
and, when the data holds N + 2k days, an out-of-sample check of ``auto``: the method each pair
would have been given on D−k (its backtest over D−2k+1..D−k), scored on D−k+1..D, against sba
and every fixed method.

Usage (never into the repository's data/ folder)::

    uv run --group bench python bench/bench_backtest.py --data /tmp/bt-small          # generated already
    uv run --group bench python bench/bench_backtest.py --profile small --days 250    # generates into a temp dir
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solvers.backtest import backtest_events, forecast_backtest  # noqa: E402
from solvers.forecasting import FORECAST_METHODS, consumption_events  # noqa: E402
from solvers.grouped_arrays import index_pairs  # noqa: E402
from solvers.projection import stock_initial  # noqa: E402

HISTORY_DAYS = 182
HORIZON_DAYS = 30
ALPHA = 0.1
BETA = 0.1
SF_NAMES = {  # statsforecast model alias -> our method
    "HistoricAverage": "mean",
    "SES": "ses",
    "CrostonClassic": "croston",
    "CrostonSBA": "sba",
    "TSB": "tsb",
}


# --- data ------------------------------------------------------------------------------------


def extract_dates(data: Path) -> list[date]:
    return sorted(date.fromisoformat(p.name) for p in (data / "extracts").iterdir() if p.is_dir())


def read_table(folder: Path, stem: str) -> pl.DataFrame:
    csv, parquet = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    if csv.exists():
        return pl.read_csv(csv, try_parse_dates=True)
    return pl.read_parquet(parquet)


def read_consumption(data: Path, first: date, last: date) -> pl.DataFrame:
    """CONSUMPTION movements of first..last (days without a folder: none)."""
    frames = []
    day = first
    while day <= last:
        folder = data / "extracts" / day.isoformat()
        if folder.is_dir():
            frames.append(
                read_table(folder, "movements")
                .filter(pl.col("movement_type") == "CONSUMPTION")
                .select(
                    pl.col("date").cast(pl.Date), "site_id", "article_id", "movement_type",
                    pl.col("quantity").cast(pl.Float64),
                )  # fmt: skip
            )
        day += timedelta(days=1)
    return pl.concat(frames)


def read_pairs(data: Path, day: date) -> pl.DataFrame:
    stock = read_table(data / "extracts" / day.isoformat(), "stock_levels")
    articles = read_table(data / "reference", "articles")
    return stock_initial(stock, articles).select("site_id", "article_id")


def ensure_data(args: argparse.Namespace) -> Path:
    if args.data:
        return Path(args.data)
    from data_generation.field_service import generate

    out = Path(tempfile.mkdtemp(prefix="bench_backtest_")) / "data"
    started = time.perf_counter()
    generate(args.profile, date(2025, 1, 1), args.days, out, seed=args.seed, bad_rows=0.0)
    print(f"generated {args.profile} x {args.days} days into {out} in {time.perf_counter() - started:.1f} s")
    return out


# --- ours --------------------------------------------------------------------------------------


def run_ours(pairs: pl.DataFrame, movements: pl.DataFrame, day: date, n: int, k: int, repeat: int) -> tuple[pl.DataFrame, list[float]]:
    times = []
    frame = pl.DataFrame()
    for _ in range(repeat):
        started = time.perf_counter()
        frame = forecast_backtest(pairs, movements, day, n, k, ALPHA, BETA)
        times.append(time.perf_counter() - started)
    return frame, times


def daily_actuals(pairs: pl.DataFrame, movements: pl.DataFrame, day: date, k: int) -> np.ndarray:
    """pairs x k matrix of the consumption of D−k+1..D (rows in ``pairs`` order)."""
    keyed = pairs.with_row_index("row")
    days = (
        movements.filter(pl.col("date") > day - timedelta(days=k), pl.col("date") <= day)
        .join(keyed, on=["site_id", "article_id"])
        .group_by("row", "date").agg(pl.col("quantity").sum())
    )  # fmt: skip
    out = np.zeros((pairs.height, k))
    column = (days["date"] - (day - timedelta(days=k - 1))).dt.total_days().to_numpy()
    out[days["row"].to_numpy(), column] = days["quantity"].to_numpy()
    return out


# --- statsforecast -----------------------------------------------------------------------------


def run_statsforecast(sample: pl.DataFrame, movements: pl.DataFrame, day: date, n: int, k: int) -> tuple[pl.DataFrame, dict]:
    """Per sampled pair and method, the CV forecast of each of the k days (constant for these
    models); timings of the long frame and of the CV call."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, CrostonClassic, CrostonSBA, HistoricAverage, SimpleExponentialSmoothing

    def models():
        return [HistoricAverage(), SimpleExponentialSmoothing(alpha=ALPHA), CrostonClassic(), CrostonSBA(),
                TSB(alpha_d=ALPHA, alpha_p=BETA)]  # fmt: skip

    started = time.perf_counter()  # numba compilation of the models, once, not timed below
    warm = pd.DataFrame({"unique_id": "x", "ds": pd.date_range("2024-01-01", periods=12), "y": [0, 1, 0, 0, 2, 0] * 2})
    StatsForecast(models=models(), freq="D", n_jobs=1).cross_validation(df=warm, h=2, n_windows=1, input_size=8)
    warm_up = time.perf_counter() - started

    started = time.perf_counter()
    keyed = sample.with_columns(unique_id=pl.col("site_id") + "|" + pl.col("article_id"))
    first = day - timedelta(days=n + k - 1)
    days = pl.DataFrame({"ds": pl.date_range(first, day, "1d", eager=True)})
    daily = (
        movements.filter(pl.col("date") >= first, pl.col("date") <= day)
        .group_by("site_id", "article_id", pl.col("date").alias("ds")).agg(y=pl.col("quantity").sum())
    )  # fmt: skip
    long = (
        keyed.select("unique_id", "site_id", "article_id").join(days, how="cross")
        .join(daily, on=["site_id", "article_id", "ds"], how="left")
        .select("unique_id", pl.col("ds").cast(pl.Datetime("ns")), pl.col("y").fill_null(0.0))
        .sort("unique_id", "ds")
        .to_pandas()
    )  # fmt: skip
    prepare = time.perf_counter() - started

    started = time.perf_counter()
    cpu = time.process_time()
    cv = StatsForecast(models=models(), freq="D", n_jobs=1).cross_validation(
        df=long, h=k, n_windows=1, step_size=k, input_size=n
    )
    cv_s, cv_cpu = time.perf_counter() - started, time.process_time() - cpu
    cv = pl.from_pandas(cv.reset_index() if "unique_id" not in cv.columns else cv)
    renamed = cv.rename({alias: method for alias, method in SF_NAMES.items() if alias in cv.columns})
    forecasts = renamed.join(keyed.select("unique_id", "site_id", "article_id"), on="unique_id")
    return forecasts, {"warm_up_s": warm_up, "prepare_s": prepare, "cv_s": cv_s, "cv_cpu_s": cv_cpu,
                       "long_rows": len(long), "cutoff": str(cv["cutoff"].min())}  # fmt: skip


# --- accuracy ------------------------------------------------------------------------------------


def accuracy(forecast: np.ndarray, daily: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """forecast: pairs x k (a constant rate repeated, or per-day forecasts); daily: pairs x k actuals."""
    error = forecast.mean(axis=1) - daily.mean(axis=1)
    with_scale = scale > 0
    return {
        "mae": float(np.abs(error).mean()),
        "bias": float(error.mean()),
        "scaled_error": float((np.abs(error)[with_scale] / scale[with_scale]).mean()) if with_scale.any() else float("nan"),
        "per_day_mae": float(np.abs(forecast - daily).mean()),
    }


def out_of_sample_auto(pairs: pl.DataFrame, movements: pl.DataFrame, day: date, n: int, k: int) -> dict:
    """Methods chosen on D−k by their backtest over D−2k+1..D−k, scored on D−k+1..D."""
    indexed = index_pairs(pairs)
    before = backtest_events(consumption_events(indexed, movements, day - timedelta(days=k), n + k), n, k, ALPHA, BETA)
    now = backtest_events(consumption_events(indexed, movements, day, n + k), n, k, ALPHA, BETA)
    chosen = before.best()
    columns = np.arange(indexed.height)
    error = now.error
    rows = {method: error[m] for m, method in enumerate(now.methods)}
    rows["auto (chosen on D−k)"] = error[chosen, columns]
    rows["oracle (best on D−k+1..D)"] = error[now.best(), columns]
    scale = now.scale > 0
    table = {
        name: {
            "mae": float(np.abs(e).mean()),
            "bias": float(e.mean()),
            "scaled_error": float((np.abs(e)[scale] / now.scale[scale]).mean()),
        }
        for name, e in rows.items()
    }
    same = float((chosen == now.best()).mean())
    return {"table": table, "chosen_share": {m: float((chosen == i).mean()) for i, m in enumerate(now.methods)},
            "same_choice_share": same}  # fmt: skip


# --- report ----------------------------------------------------------------------------------------


def markdown(rows: list[list[object]], head: list[str]) -> str:
    def cell(value: object) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a generated data folder (reference/, extracts/)")
    parser.add_argument("--profile", default="small", choices=["tiny", "small", "large"])
    parser.add_argument("--days", type=int, default=HISTORY_DAYS + 2 * HORIZON_DAYS + 8)
    parser.add_argument("--date", help="partition D (default: the last extract)")
    parser.add_argument("--sample", type=int, default=2000, help="pairs given to statsforecast (0 = all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-statsforecast", action="store_true")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    n, k = HISTORY_DAYS, HORIZON_DAYS

    data = ensure_data(args)
    dates = extract_dates(data)
    day = date.fromisoformat(args.date) if args.date else dates[-1]
    started = time.perf_counter()
    movements = read_consumption(data, day - timedelta(days=n + 2 * k - 1), day)
    pairs = read_pairs(data, day)
    read_s = time.perf_counter() - started
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.2f}; "
          f"D = {day}, N = {n}, k = {k}; {pairs.height:,} pairs, {movements.height:,} consumption rows "
          f"over {day - timedelta(days=n + 2 * k - 1)}..{day} (read in {read_s:.1f} s)")  # fmt: skip

    frame, times = run_ours(pairs, movements, day, n, k, args.repeat)
    print(f"\nours, every pair: {frame.height:,} rows in {min(times):.3f} s (best of {args.repeat}: "
          f"{', '.join(f'{t:.3f}' for t in times)})")  # fmt: skip
    report: dict = {"date": str(day), "pairs": pairs.height, "consumption_rows": movements.height,
                    "load_before": load, "ours_s": times}  # fmt: skip

    rng = np.random.default_rng(args.seed)
    size = pairs.height if args.sample <= 0 else min(args.sample, pairs.height)
    sample = index_pairs(pairs).filter(
        pl.col("pair_idx").is_in(np.sort(rng.choice(pairs.height, size, replace=False)))
    ).select("site_id", "article_id")
    daily = daily_actuals(sample, movements, day, k)
    ours = sample.join(frame, on=["site_id", "article_id"], how="left")
    scale_by_pair = (
        ours.filter(pl.col("method") == "mean").select("site_id", "article_id", scale="forecast_rate")
    )
    scale = sample.join(scale_by_pair, on=["site_id", "article_id"], how="left")["scale"].to_numpy()

    def our_rates(method: str) -> np.ndarray:
        rows = sample.join(ours.filter(pl.col("method") == method), on=["site_id", "article_id"], how="left")
        return rows["forecast_rate"].to_numpy()

    rows, table = [], {}
    sf_rates: dict[str, np.ndarray] = {}
    if not args.skip_statsforecast:
        forecasts, sf_times = run_statsforecast(sample, movements, day, n, k)
        report["statsforecast"] = sf_times
        scale_up = pairs.height / sample.height
        print(f"statsforecast, {sample.height:,} pairs ({sf_times['long_rows']:,} long rows, cut-off "
              f"{sf_times['cutoff']}): long frame {sf_times['prepare_s']:.2f} s, cross_validation "
              f"{sf_times['cv_s']:.2f} s (CPU {sf_times['cv_cpu_s']:.2f} s; numba warm-up {sf_times['warm_up_s']:.1f} s "
              f"not counted); every pair, extrapolated linearly: cross_validation {scale_up * sf_times['cv_s']:.1f} s, "
              f"with the long frame {scale_up * (sf_times['prepare_s'] + sf_times['cv_s']):.1f} s")
        ordered = sample.join(forecasts, on=["site_id", "article_id"], how="left").sort("site_id", "article_id", "ds")
        for method in FORECAST_METHODS:
            sf_rates[method] = ordered[method].to_numpy().reshape(sample.height, k)
        y = ordered["y"].to_numpy().reshape(sample.height, k)
        report["same_actuals"] = bool(np.array_equal(y, daily))

    zero = np.zeros((sample.height, k))
    for method in (*FORECAST_METHODS, "zero"):
        ours_f = zero if method == "zero" else np.repeat(our_rates(method)[:, None], k, axis=1)
        ours_acc = accuracy(ours_f, daily, scale)
        entry = {"ours": ours_acc}
        row = [method, ours_acc["mae"], ours_acc["bias"], ours_acc["scaled_error"], ours_acc["per_day_mae"]]
        if method in sf_rates:
            sf_acc = accuracy(sf_rates[method], daily, scale)
            gap = np.abs(sf_rates[method][:, 0] - ours_f[:, 0])
            entry |= {"statsforecast": sf_acc, "max_abs_diff": float(gap.max()),
                      "pairs_within_1e-9": float((gap <= 1e-9 * np.maximum(1.0, np.abs(ours_f[:, 0]))).mean())}  # fmt: skip
            row += [sf_acc["mae"], sf_acc["bias"], sf_acc["scaled_error"], sf_acc["per_day_mae"],
                    entry["max_abs_diff"], f"{100 * entry['pairs_within_1e-9']:.1f} %"]  # fmt: skip
        elif not args.skip_statsforecast:
            row += ["", "", "", "", "", ""]
        table[method] = entry
        rows.append(row)
    report["accuracy"] = table
    head = ["method", "MAE", "bias", "scaled", "per-day MAE"]
    if not args.skip_statsforecast:
        head += ["sf MAE", "sf bias", "sf scaled", "sf per-day MAE", "max |ours − sf|", "pairs equal"]
    print(f"\nAccuracy on the {sample.height:,} sampled pairs (MAE, bias: rate vs the horizon's mean daily "
          "consumption, pieces/day; scaled: MAE / mean daily consumption while fitting; per-day MAE: mean of |f - x_d|)")
    print(markdown(rows, head))

    sba = np.repeat(our_rates("sba")[:, None], k, axis=1)
    e_zero, e_sba = daily.mean(axis=1), np.abs(sba.mean(axis=1) - daily.mean(axis=1))
    pd_zero, pd_sba = np.abs(daily).mean(axis=1), np.abs(sba - daily).mean(axis=1)
    has_demand = daily.sum(axis=1) > 0
    zero_wins = {
        "horizon_error": float((e_zero[has_demand] < e_sba[has_demand]).mean()),
        "per_day_mae": float((pd_zero[has_demand] < pd_sba[has_demand]).mean()),
        "pairs_with_demand": int(has_demand.sum()),
    }
    report["zero_beats_sba"] = zero_wins
    print(f"\nPairs with demand over D−k+1..D ({zero_wins['pairs_with_demand']:,}) where a zero forecast beats sba: "
          f"{100 * zero_wins['horizon_error']:.1f} % on the horizon error, {100 * zero_wins['per_day_mae']:.1f} % "
          "on the per-day MAE")  # fmt: skip

    if day - timedelta(days=n + 2 * k - 1) >= dates[0]:
        oos = out_of_sample_auto(pairs, movements, day, n, k)
        report["auto_out_of_sample"] = oos
        print(f"\nauto out of sample, every pair: methods chosen on D−k = {day - timedelta(days=k)} "
              f"(share: {', '.join(f'{m} {100 * s:.1f} %' for m, s in oos['chosen_share'].items())}), scored on "
              f"D−k+1..D; the same method is best on both windows for {100 * oos['same_choice_share']:.1f} % of pairs")
        print(markdown([[name, *v.values()] for name, v in oos["table"].items()], ["forecast", "MAE", "bias", "scaled"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
