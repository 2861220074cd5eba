"""Forecast backtest (issue 16 point 3): hand-made series whose errors are computed by hand
(alpha = beta = 0.5, so that every value is an exact binary fraction), the backtest against
the forecast the pipeline makes on D−k, and auto never worse than sba on its own backtest."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.backtest import (
    ALL_CLASSES,
    TIE_METHOD,
    accuracy_summary,
    auto_forecast,
    backtest_events,
    best_methods,
    error_columns,
    forecast_backtest,
)
from solvers.forecasting import FORECAST_METHODS, forecast_rates, rate_of_series
from solvers.grouped_arrays import GroupedArrays

D = date(2024, 6, 30)
N, K = 4, 2  # history days, horizon days of the hand-made cases
HALF = {"alpha": 0.5, "beta": 0.5}
SCHEMA = {
    "date": pl.Date, "site_id": pl.String, "article_id": pl.String, "technician_id": pl.String,
    "movement_type": pl.String, "quantity": pl.Float64,
}  # fmt: skip


def movements(series: dict[tuple[str, str], list[float]], history_days: int = N, horizon_days: int = K) -> pl.DataFrame:
    """Each pair's daily consumption x_1..x_{N+k} (day 1 = D−N−k+1) as CONSUMPTION rows."""
    rows = []
    for (site, article), xs in series.items():
        assert len(xs) == history_days + horizon_days
        for t, quantity in enumerate(xs, start=1):
            if quantity:
                day = D - timedelta(days=history_days + horizon_days - t)
                rows.append((day, site, article, None, "CONSUMPTION", float(quantity)))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def pairs(*keys: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(keys, schema={"site_id": pl.String, "article_id": pl.String}, orient="row")


def backtest(*args, **kwargs) -> pl.DataFrame:
    """forecast_backtest's rows with their errors (error_columns)."""
    return forecast_backtest(*args, **kwargs).with_columns(error_columns())


def by_method(frame: pl.DataFrame, site: str, article: str, column: str) -> dict[str, object]:
    rows = frame.filter((pl.col("site_id") == site) & (pl.col("article_id") == article))
    return dict(zip(rows["method"], rows[column]))


# --- hand-made series ---------------------------------------------------------------------

# x = 0, 2, 0, 2 | 3, 1: fitted on 0, 2, 0, 2; actual (3 + 1) / 2 = 2 per day; scale = 4 / 4 = 1.
#   mean    4 / 4 = 1
#   ses     l: 0 -> 1 -> 0.5 -> 1.25
#   croston first demand t = 2: z = 2, p = 2; t = 4 (q = 2): z = 2, p = 2 -> 1
#   sba     0.75 x 1 = 0.75
#   tsb     z = 2, pr = 2/4; pr: .25 -> .625 -> .3125 -> .65625, z stays 2 -> 1.3125
UNDER = [0, 2, 0, 2, 3, 1]
UNDER_FORECAST = {"mean": 1.0, "ses": 1.25, "croston": 1.0, "sba": 0.75, "tsb": 1.3125}


def test_errors_of_an_under_forecast_series_are_those_computed_by_hand():
    frame = backtest(pairs(("S", "A")), movements({("S", "A"): UNDER}), D, N, K, **HALF)
    assert frame["method"].to_list() == list(FORECAST_METHODS)
    assert by_method(frame, "S", "A", "forecast_rate") == UNDER_FORECAST
    assert set(frame["actual_rate"]) == {2.0} and set(frame["fitting_mean"]) == {1.0}
    assert by_method(frame, "S", "A", "error") == {m: f - 2.0 for m, f in UNDER_FORECAST.items()}
    assert by_method(frame, "S", "A", "abs_error") == {"mean": 1.0, "ses": 0.75, "croston": 1.0, "sba": 1.25, "tsb": 0.6875}
    # scale 1: the scaled error is the absolute error
    assert by_method(frame, "S", "A", "scaled_error") == by_method(frame, "S", "A", "abs_error")
    assert by_method(frame, "S", "A", "best") == {m: m == "tsb" for m in FORECAST_METHODS}


def test_an_over_forecast_has_a_positive_error_and_the_scale_divides_it():
    # x = 4, 4, 4, 4 | 0, 0: every method fits 4 except sba (0.75 x 4 = 3); actual 0; scale 4
    frame = backtest(pairs(("S", "A")), movements({("S", "A"): [4, 4, 4, 4, 0, 0]}), D, N, K, **HALF)
    assert by_method(frame, "S", "A", "error") == {"mean": 4.0, "ses": 4.0, "croston": 4.0, "sba": 3.0, "tsb": 4.0}
    assert by_method(frame, "S", "A", "scaled_error") == {"mean": 1.0, "ses": 1.0, "croston": 1.0, "sba": 0.75, "tsb": 1.0}
    assert by_method(frame, "S", "A", "best")["sba"] is True


def test_no_consumption_while_fitting_gives_a_null_scaled_error_and_sba():
    # nothing over 1..N, then 6 on the last day: every method forecasts 0, actual 3 per day
    frame = backtest(pairs(("S", "A")), movements({("S", "A"): [0, 0, 0, 0, 0, 6]}), D, N, K, **HALF)
    assert set(frame["error"]) == {-3.0}
    assert frame["scaled_error"].null_count() == len(FORECAST_METHODS)
    assert not frame["scaled_error"].is_nan().any()
    assert frame.filter("best")["method"].to_list() == [TIE_METHOD]


def test_a_pair_without_any_consumption_has_zero_errors_and_keeps_sba():
    frame = backtest(pairs(("S", "A"), ("S", "B")), movements({("S", "A"): UNDER}), D, N, K, **HALF)
    silent = frame.filter(pl.col("article_id") == "B")
    assert silent["forecast_rate"].to_list() == [0.0] * 5 and silent["abs_error"].to_list() == [0.0] * 5
    assert silent.filter("best")["method"].to_list() == [TIE_METHOD]


def test_consumption_outside_the_window_or_of_another_type_is_not_counted():
    rows = movements({("S", "A"): UNDER})
    extra = pl.DataFrame(
        [
            (D - timedelta(days=N + K), "S", "A", None, "CONSUMPTION", 100.0),  # the day before day 1
            (D + timedelta(days=1), "S", "A", None, "CONSUMPTION", 100.0),  # after D
            (D, "S", "A", None, "RECEIPT", 100.0),
        ],
        schema=SCHEMA,
        orient="row",
    )
    frame = forecast_backtest(pairs(("S", "A")), pl.concat([rows, extra]), D, N, K, **HALF)
    assert by_method(frame, "S", "A", "forecast_rate") == UNDER_FORECAST
    assert set(frame["actual_rate"]) == {2.0}


def test_rows_are_pair_major_sorted_by_site_then_article():
    frame = forecast_backtest(pairs(("S2", "A"), ("S1", "B"), ("S1", "A")), movements({}), D, N, K)
    assert frame.select("site_id", "article_id").unique(maintain_order=True).rows() == [
        ("S1", "A"), ("S1", "B"), ("S2", "A")
    ]
    assert frame.height == 3 * len(FORECAST_METHODS)


def test_auto_records_the_best_method_and_forecasts_with_it_on_d():
    # S/A: tsb wins its backtest (above); its rate on D is tsb over days 3..6 = 0, 2, 3, 1:
    # z = 2, pr = 3/4; pr .375 -> .6875 (z 2) -> .84375 (z 2.5) -> .921875 (z 1.75): 1.61328125
    frame = auto_forecast(pairs(("S", "A"), ("S", "B")), movements({("S", "A"): UNDER}), D, N, K, **HALF)
    assert frame.rows() == [("S", "A", "tsb", 0.921875 * 1.75), ("S", "B", TIE_METHOD, 0.0)]
    assert frame.row(0)[3] == rate_of_series(np.array(UNDER[K:], dtype=float), "tsb", **HALF)


def test_ties_keep_sba_and_float_noise_does_not_move_a_pair_off_it():
    errors = np.array([[1.0, 2.0, 1.0], [1.0, 2.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 1.0 + 1e-12], [1.0, 2.0, 0.5]])
    assert best_methods(errors, FORECAST_METHODS).tolist() == [3, 3, 4]
    with pytest.raises(ValueError, match="sba"):
        best_methods(errors[:2], ("mean", "ses"))


def test_bad_windows_are_rejected():
    with pytest.raises(ValueError, match="horizon_days"):
        forecast_backtest(pairs(("S", "A")), movements({}), D, N, 0)


# --- the backtest is the forecast the pipeline makes on D−k --------------------------------


def test_the_fitted_rates_are_those_forecast_rates_gives_on_d_minus_k():
    rng = np.random.default_rng(7)
    history, horizon = 30, 7
    series = {
        (f"S{i % 3}", f"A{i}"): [float(v) if rng.random() < 0.3 else 0.0 for v in rng.integers(1, 9, history + horizon)]
        for i in range(40)
    }
    rows = movements(series, history, horizon)
    keys = pairs(*series)
    frame = forecast_backtest(keys, rows, D, history, horizon, alpha=0.2, beta=0.3)
    means = frame.filter(pl.col("method") == "mean")
    assert means["fitting_mean"].equals(means["forecast_rate"], check_names=False)  # the scale is the mean's fit
    for method in FORECAST_METHODS:
        on_d_minus_k = forecast_rates(keys, rows, D - timedelta(days=horizon), history, method, alpha=0.2, beta=0.3)
        fitted = frame.filter(pl.col("method") == method).select("site_id", "article_id", rate="forecast_rate")
        assert fitted.equals(on_d_minus_k), method  # bit for bit
    auto = auto_forecast(keys, rows, D, history, horizon, alpha=0.2, beta=0.3)
    for method in set(auto["method"]):
        on_d = forecast_rates(keys, rows, D, history, method, alpha=0.2, beta=0.3)
        chosen = auto.filter(pl.col("method") == method).select("site_id", "article_id", "rate")
        assert chosen.join(on_d, on=["site_id", "article_id"], suffix="_d").select(
            (pl.col("rate") == pl.col("rate_d")).all()
        ).item()


# --- auto never worse than sba: a property over random series ------------------------------

quantities = st.one_of(st.just(0.0), st.just(0.0), st.integers(1, 20).map(float), st.floats(0.01, 500.0))


@settings(max_examples=200, deadline=None)
@given(
    history=st.integers(1, 25),
    horizon=st.integers(1, 10),
    data=st.data(),
    alpha=st.sampled_from([0.1, 0.3, 0.5, 1.0]),
    beta=st.sampled_from([0.1, 0.5]),
)
def test_auto_is_never_worse_than_sba_on_its_own_backtest(history, horizon, data, alpha, beta):
    n_pairs = data.draw(st.integers(1, 6))
    series = [data.draw(st.lists(quantities, min_size=history + horizon, max_size=history + horizon)) for _ in range(n_pairs)]
    starts, keys, values = [0], [], []
    for xs in series:
        for t, x in enumerate(xs, start=1):
            if x > 0:
                keys.append(t)
                values.append(x)
        starts.append(len(keys))
    events = GroupedArrays(np.array(starts, dtype=np.int64), np.array(keys, dtype=np.int64), np.array(values, dtype=np.float64))
    result = backtest_events(events, history, horizon, alpha, beta)
    best = result.best()
    sba = FORECAST_METHODS.index(TIE_METHOD)
    for g, xs in enumerate(series):
        fitting, actual = np.array(xs[:history]), xs[history:]
        for m, method in enumerate(FORECAST_METHODS):  # the fit is the SPEC rate of days 1..N
            assert result.forecast[m, g] == rate_of_series(fitting, method, alpha, beta)
        total = 0.0
        for x in actual:
            total += x
        assert result.actual[g] == total / horizon
        errors = [abs(result.forecast[m, g] - result.actual[g]) for m in range(len(FORECAST_METHODS))]
        assert errors[best[g]] <= errors[sba]
        assert errors[best[g]] == min(errors) or errors[sba] - min(errors) <= 1e-9 * max(1.0, errors[sba])
        scaled = result.scaled_error[:, g]
        if sum(xs[:history]) > 0:
            assert np.allclose(scaled, np.array(errors) / (sum(xs[:history]) / history), rtol=1e-12)
        else:
            assert np.isnan(scaled).all()


# --- the summary per ABC class and overall -------------------------------------------------


def test_summary_per_class_and_overall():
    series = {("S", "A"): UNDER, ("S", "B"): [4, 4, 4, 4, 0, 0], ("S", "C"): [0] * 6}
    frame = forecast_backtest(pairs(*series), movements(series), D, N, K, **HALF)  # the stored columns
    assert frame.columns == ["site_id", "article_id", "method", "forecast_rate", "actual_rate", "fitting_mean", "best"]
    abc = pl.DataFrame({"article_id": ["A", "B"], "abc": ["A", "A"]})  # C has no class
    summary = accuracy_summary(frame, abc)
    assert summary["abc"].unique(maintain_order=True).to_list() == ["A", ALL_CLASSES]
    assert summary.filter(pl.col("abc") == "A")["method"].to_list() == list(FORECAST_METHODS)
    a_sba = summary.filter((pl.col("abc") == "A") & (pl.col("method") == "sba")).row(0, named=True)
    # sba: errors -1.25 (A) and 3 (B); scaled 1.25 and 0.75; best for B only
    assert a_sba == {"abc": "A", "method": "sba", "pairs": 2, "mae": 2.125, "bias": 0.875,
                     "scaled_error": 1.0, "scaled_pairs": 2, "best_share": 0.5}  # fmt: skip
    all_tsb = summary.filter((pl.col("abc") == ALL_CLASSES) & (pl.col("method") == "tsb")).row(0, named=True)
    # tsb: -0.6875 (A), 4 (B), 0 (C); scaled 0.6875, 1, null; best for A
    assert all_tsb["pairs"] == 3 and all_tsb["scaled_pairs"] == 2
    assert all_tsb["mae"] == pytest.approx(4.6875 / 3) and all_tsb["bias"] == pytest.approx(3.3125 / 3)
    assert all_tsb["scaled_error"] == pytest.approx(0.84375) and all_tsb["best_share"] == pytest.approx(1 / 3)
    assert summary.filter(pl.col("abc") == ALL_CLASSES)["best_share"].sum() == pytest.approx(1.0)
