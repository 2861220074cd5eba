"""Consumption rates of SPEC §3: hand-computed series, then the fast kernel against the
plain-Python reference. Most hand cases use alpha = beta = 0.5 so that every
intermediate value is an exact binary fraction."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.forecasting import FORECAST_METHODS, forecast_rates, rate_of_series

D = date(2024, 6, 30)

MOVEMENT_SCHEMA = {
    "date": pl.Date,
    "site_id": pl.String,
    "article_id": pl.String,
    "technician_id": pl.String,
    "movement_type": pl.String,
    "quantity": pl.Float64,
}


def movements(rows: list[tuple[date, str, str, str, float]]) -> pl.DataFrame:
    """(date, site, article, type, quantity) rows as a SPEC movements frame."""
    return pl.DataFrame(
        [(d, s, a, None, t, q) for d, s, a, t, q in rows], schema=MOVEMENT_SCHEMA, orient="row"
    )


def pairs(*keys: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(keys, schema={"site_id": pl.String, "article_id": pl.String}, orient="row")


def rate(x: list[float], method: str) -> float:
    return rate_of_series(np.array(x, dtype=float), method, alpha=0.5, beta=0.5)


# --- hand-computed series --------------------------------------------------------------


@pytest.mark.parametrize("method", FORECAST_METHODS)
def test_all_zero_history_gives_rate_zero(method):
    assert rate_of_series(np.zeros(10), method) == 0.0


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("mean", 1.0),  # 4 / 4
        ("ses", 1.0),  # 0, 0, 2, 1
        ("croston", 4 / 3),  # z = 4, p = 3, nothing after
        ("sba", 1.0),  # 0.75 x 4/3
        ("tsb", 1.0625),  # pr 1/4 -> .125 -> .0625 -> .53125 -> .265625, z = 4
    ],
)
def test_single_demand_in_the_middle(method, expected):
    assert rate([0, 0, 4, 0], method) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("mean", 1.5),
        ("ses", 0.75),  # 6, 3, 1.5, 0.75
        ("croston", 6.0),  # z = 6, p = 1
        ("sba", 4.5),
        ("tsb", 0.46875),  # pr .25 -> .625 -> .3125 -> .15625 -> .078125, z = 6
    ],
)
def test_demand_on_the_first_day(method, expected):
    assert rate([6, 0, 0, 0], method) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("mean", 2.0),
        ("ses", 4.0),  # 0, 0, 0, 4
        ("croston", 2.0),  # z = 8, p = 4
        ("sba", 1.5),
        ("tsb", 4.125),  # pr .25 -> .125 -> .0625 -> .03125 -> .515625, z = 8
    ],
)
def test_demand_on_the_last_day(method, expected):
    assert rate([0, 0, 0, 8], method) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("mean", 1.6),  # 8 / 5
        ("ses", 3.125),  # 0, 1, .5, .25, 3.125
        ("croston", 1.6),  # z: 2 -> 4; p: 2 -> 2 + .5 (3 - 2) = 2.5
        ("sba", 1.2),
        ("tsb", 2.5875),  # pr .4 -> .2 -> .6 -> .3 -> .15 -> .575; z 4 -> 3 -> 4.5
    ],
)
def test_two_demands(method, expected):
    assert rate([0, 2, 0, 0, 6], method) == pytest.approx(expected, rel=1e-15)


def test_croston_starts_p_at_the_one_based_index_of_the_first_demand():
    assert rate([0, 0, 0, 0, 0, 3], "croston") == 0.5  # z = 3, p = 6


def test_sba_is_croston_times_one_minus_half_alpha():
    x = np.array([0, 3, 0, 0, 1, 0, 2, 0, 0, 0], dtype=float)
    croston = rate_of_series(x, "croston")
    assert rate_of_series(x, "sba") == (1 - 0.1 / 2) * croston


def test_tsb_starts_from_mean_and_share_of_the_whole_series():
    # z0 = mean(2, 4) = 3, pr0 = 1; x_1 = 2 -> z = 2.5; x_2 = 4 -> z = 3.25.
    # Starting from z0 = x_1 instead would give 3.
    assert rate([2, 4], "tsb") == 3.25


def test_ses_starts_from_the_first_day_even_when_it_is_zero():
    assert rate([0, 4], "ses") == 2.0


def test_unknown_method_is_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="mean, ses, croston, sba, tsb"):
        rate_of_series(np.ones(3), "holt")
    with pytest.raises(ValueError, match="valid methods"):
        forecast_rates(pairs(("S", "A")), movements([]), D, method="holt")


@pytest.mark.parametrize(("alpha", "beta"), [(0.0, 0.1), (1.5, 0.1), (0.1, 0.0), (0.1, -1.0)])
def test_smoothing_constants_outside_zero_one_are_rejected(alpha, beta):
    with pytest.raises(ValueError, match="must be in"):
        forecast_rates(pairs(("S", "A")), movements([]), D, alpha=alpha, beta=beta)


def test_smoothing_constant_one_is_allowed():
    assert rate_of_series(np.array([0.0, 5.0, 0.0]), "ses", alpha=1.0) == 0.0


# --- window and movement selection ------------------------------------------------------


def test_movement_on_d_minus_n_is_excluded_and_on_d_minus_n_plus_one_included():
    n = 5
    mv = movements(
        [
            (D - timedelta(days=n), "S", "A", "CONSUMPTION", 100.0),
            (D - timedelta(days=n - 1), "S", "A", "CONSUMPTION", 5.0),
        ]
    )
    out = forecast_rates(pairs(("S", "A")), mv, D, history_days=n, method="mean")
    assert out.get_column("rate").to_list() == [1.0]


def test_movement_after_d_is_excluded():
    mv = movements([(D + timedelta(days=1), "S", "A", "CONSUMPTION", 100.0)])
    out = forecast_rates(pairs(("S", "A")), mv, D, history_days=5, method="mean")
    assert out.get_column("rate").to_list() == [0.0]


def test_movements_other_than_consumption_are_ignored():
    mv = movements(
        [(D, "S", "A", t, 50.0) for t in ("RECEIPT", "TRANSFER", "ADJUSTMENT")]
        + [(D, "S", "A", "CONSUMPTION", 5.0)]
    )
    out = forecast_rates(pairs(("S", "A")), mv, D, history_days=5, method="mean")
    assert out.get_column("rate").to_list() == [1.0]


def test_several_movements_of_one_day_are_summed_before_smoothing():
    # x = (0, 0, 0, 0, 2 + 3): ses gives 0.1 x 5, not two updates of 2 and 3.
    mv = movements([(D, "S", "A", "CONSUMPTION", 2.0), (D, "S", "A", "CONSUMPTION", 3.0)])
    out = forecast_rates(pairs(("S", "A")), mv, D, history_days=5, method="ses")
    assert out.get_column("rate").to_list() == [rate_of_series(np.array([0, 0, 0, 0, 5.0]), "ses")]


def test_consumption_of_another_pair_does_not_leak():
    mv = movements(
        [(D, "S", "B", "CONSUMPTION", 5.0), (D, "T", "A", "CONSUMPTION", 5.0)]
    )
    out = forecast_rates(pairs(("S", "A")), mv, D, history_days=5, method="mean")
    assert out.get_column("rate").to_list() == [0.0]


@pytest.mark.parametrize("method", FORECAST_METHODS)
def test_pair_without_consumption_gets_zero(method):
    mv = movements([(D, "S", "A", "CONSUMPTION", 5.0)])
    out = forecast_rates(pairs(("S", "A"), ("S", "B")), mv, D, history_days=5, method=method)
    assert out.filter(pl.col("article_id") == "B").get_column("rate").to_list() == [0.0]


def test_output_is_one_row_per_pair_sorted_by_site_then_article():
    out = forecast_rates(pairs(("V2", "A"), ("DEP", "Z"), ("V2", "0")), movements([]), D)
    assert out.columns == ["site_id", "article_id", "rate"]
    assert out.schema["rate"] == pl.Float64
    assert out.select("site_id", "article_id").rows() == [("DEP", "Z"), ("V2", "0"), ("V2", "A")]


def test_duplicated_pairs_are_rejected():
    with pytest.raises(ValueError, match="duplicated"):
        forecast_rates(pairs(("S", "A"), ("S", "A")), movements([]), D)


def test_lazy_movements_are_accepted():
    mv = movements([(D, "S", "A", "CONSUMPTION", 5.0)])
    out = forecast_rates(pairs(("S", "A")), mv.lazy(), D, history_days=5, method="mean")
    assert out.get_column("rate").to_list() == [1.0]


# --- the fast kernel is the reference, bit for bit ---------------------------------------

quantities = st.one_of(
    st.integers(min_value=1, max_value=50).map(float),
    st.floats(min_value=0.001, max_value=1000.0, allow_nan=False),
)
series = st.dictionaries(st.integers(min_value=1, max_value=40), quantities, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    n_days=st.integers(min_value=1, max_value=40),
    per_pair=st.lists(series, min_size=1, max_size=6),
    method=st.sampled_from(FORECAST_METHODS),
    alpha=st.floats(min_value=0.01, max_value=1.0),
    beta=st.floats(min_value=0.01, max_value=1.0),
)
def test_fast_kernel_equals_the_reference_on_random_sparse_series(
    n_days, per_pair, method, alpha, beta
):
    rows, expected = [], {}
    for i, days in enumerate(per_pair):
        article = f"A{i:02d}"
        x = np.zeros(n_days)
        for t, q in days.items():
            # days beyond the window land after D and must be ignored
            rows.append((D - timedelta(days=n_days - t), "S", article, "CONSUMPTION", q))
            if t <= n_days:
                x[t - 1] = q
        expected[article] = rate_of_series(x, method, alpha, beta)
    keys = pairs(*[("S", a) for a in expected])
    out = forecast_rates(keys, movements(rows), D, n_days, method, alpha, beta)
    assert dict(out.select("article_id", "rate").rows()) == expected
