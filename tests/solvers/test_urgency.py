"""URGENCE scores, levels and classes (SPEC §4), with hand-computed expectations."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.urgency import (
    ABC_CLASSES,
    LEVELS,
    URGENCY_CLASSES,
    URGENCY_REASONS,
    classify_urgency,
    u_quantitative_expr,
    u_temporal_expr,
    u_total_expr,
    urgency_level,
    urgency_quantitative,
    urgency_temporal,
    urgency_total,
)

PROJECTION_SCHEMA = {
    "site_id": pl.String,
    "article_id": pl.String,
    "on_hand": pl.Float64,
    "stock_min": pl.Int64,
    "lead_time_days": pl.Int64,
    "days_to_min": pl.Int64,
    "days_to_stockout": pl.Int64,
    "min_projected": pl.Float64,
    "end_projected": pl.Float64,
    "projected_at_lead_time": pl.Float64,
}


def projection(**columns: list) -> pl.DataFrame:
    """A stock_projection frame: the given columns, one pair per row, sensible rest."""
    n = len(next(iter(columns.values())))
    defaults = {
        "site_id": ["S1"] * n,
        "article_id": [f"A{i}" for i in range(n)],
        "on_hand": [10.0] * n,
        "stock_min": [4] * n,
        "lead_time_days": [3] * n,
        "days_to_min": [None] * n,
        "days_to_stockout": [None] * n,
        "min_projected": [10.0] * n,
        "end_projected": [10.0] * n,
        "projected_at_lead_time": [10.0] * n,
    }
    return pl.DataFrame({**defaults, **columns}, schema=PROJECTION_SCHEMA)


def articles_of(proj: pl.DataFrame, importance: str | list[str] = "STANDARD") -> pl.DataFrame:
    """One article per article_id of `proj`, with the given importance(s)."""
    ids = proj["article_id"].unique(maintain_order=True).to_list()
    levels = [importance] * len(ids) if isinstance(importance, str) else importance
    return pl.DataFrame({"article_id": ids, "importance": levels, "unit_cost": [1.0] * len(ids)})


def totals(proj: pl.DataFrame, u_total: list[float | None]) -> pl.DataFrame:
    """A urgency_total frame for the pairs of `proj`, U chosen by hand."""
    return proj.select("site_id", "article_id").with_columns(
        pl.Series("u_total", u_total, dtype=pl.Float64)
    )


def levels_for(
    u_total: list[float | None],
    importance: str | list[str] = "STANDARD",
    **columns: list,
) -> list[str | None]:
    """The level of each U, for pairs built from `columns`."""
    proj = projection(**columns) if columns else projection(stock_min=[4] * len(u_total))
    result = urgency_level(totals(proj, u_total), proj, articles_of(proj, importance))
    return result["level"].to_list()


# --- U_t --------------------------------------------------------------------------------


def test_no_fall_below_minimum_gives_zero_temporal_urgency() -> None:
    result = urgency_temporal(projection(days_to_min=[None]))
    assert result["u_temporal"].to_list() == [0.0]


def test_falling_below_minimum_on_the_lead_time_day_gives_temporal_urgency_one() -> None:
    result = urgency_temporal(projection(days_to_min=[3], lead_time_days=[3]))
    assert result["u_temporal"].to_list() == [1.0]


def test_falling_below_minimum_today_gives_temporal_urgency_one() -> None:
    result = urgency_temporal(projection(days_to_min=[0], lead_time_days=[0]))
    assert result["u_temporal"].to_list() == [1.0]


def test_one_day_after_the_lead_time_gives_exp_of_minus_one_over_tau() -> None:
    proj = projection(days_to_min=[4], lead_time_days=[3])
    assert urgency_temporal(proj)["u_temporal"].to_list() == [math.exp(-1 / 7)]
    assert urgency_temporal(proj, tau=2.0)["u_temporal"].to_list() == [math.exp(-0.5)]


def test_temporal_urgency_decays_with_the_days_beyond_the_lead_time() -> None:
    result = urgency_temporal(projection(days_to_min=[17], lead_time_days=[3]), tau=7.0)
    assert result["u_temporal"].to_list() == [pytest.approx(math.exp(-2.0), rel=1e-15)]


def test_temporal_urgency_keeps_the_pair_keys_and_row_order() -> None:
    proj = projection(site_id=["S2", "S1"], article_id=["B", "A"], days_to_min=[None, 1])
    result = urgency_temporal(proj)
    assert result.columns == ["site_id", "article_id", "u_temporal"]
    assert result.rows() == [("S2", "B", 0.0), ("S1", "A", 1.0)]


@pytest.mark.parametrize("tau", [0.0, -1.0, math.nan, math.inf])
def test_tau_must_be_a_finite_positive_number(tau: float) -> None:
    with pytest.raises(ValueError, match="tau"):
        urgency_temporal(projection(days_to_min=[1]), tau=tau)


# --- U_q --------------------------------------------------------------------------------


def test_quantitative_urgency_is_the_shortfall_share_of_the_minimum() -> None:
    result = urgency_quantitative(projection(stock_min=[4], min_projected=[1.0]))
    assert result["u_quantitative"].to_list() == [0.75]


def test_quantitative_urgency_is_clipped_at_one_when_stock_goes_negative() -> None:
    result = urgency_quantitative(projection(stock_min=[4], min_projected=[-2.0]))
    assert result["u_quantitative"].to_list() == [1.0]


def test_quantitative_urgency_is_clipped_at_zero_when_stock_stays_above_minimum() -> None:
    result = urgency_quantitative(projection(stock_min=[4], min_projected=[9.0]))
    assert result["u_quantitative"].to_list() == [0.0]


def test_zero_minimum_with_negative_projection_gives_quantitative_urgency_one() -> None:
    result = urgency_quantitative(projection(stock_min=[0], min_projected=[-0.5]))
    assert result["u_quantitative"].to_list() == [1.0]


def test_zero_minimum_without_negative_projection_gives_quantitative_urgency_zero() -> None:
    result = urgency_quantitative(projection(stock_min=[0, 0], min_projected=[0.0, 3.0]))
    assert result["u_quantitative"].to_list() == [0.0, 0.0]


# --- U ----------------------------------------------------------------------------------


def test_total_urgency_weighs_temporal_and_quantitative_urgency() -> None:
    # U_t = 1 (falls below minimum within lead time), U_q = 0.75 -> 0.6 + 0.4 * 0.75 = 0.9
    proj = projection(days_to_min=[2], lead_time_days=[3], stock_min=[4], min_projected=[1.0])
    result = urgency_total(urgency_temporal(proj), urgency_quantitative(proj))
    assert result.columns == ["site_id", "article_id", "u_total"]
    assert result["u_total"].to_list() == [pytest.approx(0.9, abs=1e-15)]


def test_total_urgency_uses_the_given_weights() -> None:
    proj = projection(days_to_min=[2], lead_time_days=[3], stock_min=[4], min_projected=[1.0])
    result = urgency_total(urgency_temporal(proj), urgency_quantitative(proj), w_t=0.0, w_q=1.0)
    assert result["u_total"].to_list() == [0.75]


@pytest.mark.parametrize(
    ("w_t", "w_q"), [(-0.1, 0.4), (0.6, -1.0), (math.nan, 0.4), (0.6, math.inf)]
)
def test_weights_must_be_finite_and_non_negative(w_t: float, w_q: float) -> None:
    proj = projection(days_to_min=[1])
    with pytest.raises(ValueError, match="w_"):
        urgency_total(urgency_temporal(proj), urgency_quantitative(proj), w_t=w_t, w_q=w_q)


def test_total_urgency_refuses_inputs_with_different_pairs() -> None:
    proj = projection(days_to_min=[1, 2])
    with pytest.raises(ValueError, match="same"):
        urgency_total(urgency_temporal(proj), urgency_quantitative(proj).head(1))


# --- level ------------------------------------------------------------------------------


def test_level_thresholds_are_inclusive() -> None:
    assert levels_for([0.8, 0.5, 0.2]) == ["CRITIQUE", "URGENT", "SURVEILLANCE"]


def test_level_just_below_each_threshold_is_the_lower_level() -> None:
    below = [math.nextafter(u, 0.0) for u in (0.8, 0.5, 0.2)]
    assert levels_for(below) == ["URGENT", "SURVEILLANCE", "NORMAL"]


def test_scores_exactly_on_the_thresholds_reach_their_level_end_to_end() -> None:
    # w_t = 0, w_q = 1: U = U_q = (10 - P) / 10 = 0.8, 0.5, 0.2 exactly (correctly rounded).
    proj = projection(stock_min=[10, 10, 10], min_projected=[2.0, 5.0, 8.0])
    total = urgency_total(urgency_temporal(proj), urgency_quantitative(proj), w_t=0.0, w_q=1.0)
    assert total["u_total"].to_list() == [0.8, 0.5, 0.2]
    result = urgency_level(total, proj, articles_of(proj))
    assert result["level"].to_list() == ["CRITIQUE", "URGENT", "SURVEILLANCE"]


def test_temporal_urgency_one_with_full_weight_is_critique() -> None:
    proj = projection(days_to_min=[3], lead_time_days=[3])
    total = urgency_total(urgency_temporal(proj), urgency_quantitative(proj), w_t=1.0, w_q=0.0)
    assert urgency_level(total, proj, articles_of(proj))["level"].to_list() == ["CRITIQUE"]


def test_stockout_within_the_lead_time_forces_critique() -> None:
    levels = levels_for([0.0, 0.3], days_to_stockout=[3, 1], lead_time_days=[3, 3])
    assert levels == ["CRITIQUE", "CRITIQUE"]


def test_stockout_after_the_lead_time_does_not_force_critique() -> None:
    assert levels_for([0.0], days_to_stockout=[4], lead_time_days=[3]) == ["NORMAL"]


def test_no_stockout_does_not_force_critique() -> None:
    assert levels_for([0.0], days_to_stockout=[None], lead_time_days=[3]) == ["NORMAL"]


def test_critical_article_goes_from_surveillance_to_urgent() -> None:
    assert levels_for([0.3], importance="CRITIQUE") == ["URGENT"]


def test_critical_article_goes_from_urgent_to_critique() -> None:
    assert levels_for([0.6], importance="CRITIQUE") == ["CRITIQUE"]


def test_critical_article_stays_normal() -> None:
    assert levels_for([0.1], importance="CRITIQUE") == ["NORMAL"]


def test_critical_article_stays_critique() -> None:
    assert levels_for([0.9], importance="CRITIQUE") == ["CRITIQUE"]


def test_only_critical_importance_escalates() -> None:
    levels = levels_for([0.3, 0.3, 0.3], importance=["IMPORTANT", "STANDARD", "CRITIQUE"])
    assert levels == ["SURVEILLANCE", "SURVEILLANCE", "URGENT"]


def test_missing_total_urgency_gives_no_level() -> None:
    assert levels_for([None]) == [None]


def test_level_needs_a_projection_row_for_every_pair() -> None:
    proj = projection(days_to_min=[1, 2])
    with pytest.raises(ValueError, match="stock_projection"):
        urgency_level(totals(proj, [0.1, 0.2]), proj.head(1), articles_of(proj))


# --- reason: the rule that set the level -----------------------------------------------

#: Hand-made pairs, one per rule of SPEC §4 "level" (lead time 3 days everywhere):
#: (U, days_to_stockout, importance) -> (level, reason).
REASON_CASES = [
    # U >= 0.8: CRITIQUE by the score, even when the stock also runs out in the lead time
    ((0.8, None, "STANDARD"), ("CRITIQUE", "U_CRITIQUE_THRESHOLD")),
    ((0.95, 2, "STANDARD"), ("CRITIQUE", "U_CRITIQUE_THRESHOLD")),
    # U below 0.8 but the stock runs out on or before the lead time day
    ((0.1, 3, "STANDARD"), ("CRITIQUE", "STOCKOUT_WITHIN_LEAD_TIME")),
    ((0.6, 0, "CRITIQUE"), ("CRITIQUE", "STOCKOUT_WITHIN_LEAD_TIME")),
    # a stockout one day after the lead time forces nothing: the thresholds decide
    ((0.5, 4, "STANDARD"), ("URGENT", "U_URGENT_THRESHOLD")),
    ((0.2, None, "IMPORTANT"), ("SURVEILLANCE", "U_SURVEILLANCE_THRESHOLD")),
    ((0.19, None, "STANDARD"), ("NORMAL", "BELOW_THRESHOLDS")),
    # importance CRITIQUE: one level up from URGENT and SURVEILLANCE only
    ((0.5, None, "CRITIQUE"), ("CRITIQUE", "U_URGENT_THRESHOLD+IMPORTANCE_ESCALATION")),
    ((0.3, 4, "CRITIQUE"), ("URGENT", "U_SURVEILLANCE_THRESHOLD+IMPORTANCE_ESCALATION")),
    ((0.9, None, "CRITIQUE"), ("CRITIQUE", "U_CRITIQUE_THRESHOLD")),
    ((0.1, None, "CRITIQUE"), ("NORMAL", "BELOW_THRESHOLDS")),
]


def test_reason_names_the_spec_rule_that_set_each_level() -> None:
    inputs = [case for case, _ in REASON_CASES]
    proj = projection(
        days_to_stockout=[stockout for _, stockout, _ in inputs], lead_time_days=[3] * len(inputs)
    )
    result = urgency_level(
        totals(proj, [u for u, _, _ in inputs]), proj, articles_of(proj, [imp for _, _, imp in inputs])
    )
    assert list(zip(result["level"], result["reason"])) == [expected for _, expected in REASON_CASES]


def test_reason_follows_the_thresholds_given() -> None:
    proj = projection(stock_min=[4, 4])
    result = urgency_level(totals(proj, [0.45, 0.15]), proj, articles_of(proj), thresholds=(0.9, 0.4, 0.1))
    assert result["reason"].to_list() == ["U_URGENT_THRESHOLD", "U_SURVEILLANCE_THRESHOLD"]


def test_missing_total_urgency_gives_no_reason() -> None:
    proj = projection(stock_min=[4])
    assert urgency_level(totals(proj, [None]), proj, articles_of(proj, "CRITIQUE"))["reason"].to_list() == [None]


def test_the_reason_vocabulary_is_the_five_rules_and_two_escalations() -> None:
    assert len(set(URGENCY_REASONS)) == len(URGENCY_REASONS) == 7
    assert sum(reason.endswith("+IMPORTANCE_ESCALATION") for reason in URGENCY_REASONS) == 2


# --- class ------------------------------------------------------------------------------


def test_class_is_level_and_abc_joined_by_underscore() -> None:
    proj = projection(article_id=["A1", "A2"], days_to_min=[1, None])
    total = urgency_total(urgency_temporal(proj), urgency_quantitative(proj))
    abc = pl.DataFrame(
        {"article_id": ["A1", "A2"], "consumption_value": [5.0, 1.0], "abc": ["A", "C"]}
    )
    result = classify_urgency(total, proj, articles_of(proj), abc)
    assert result.columns == ["site_id", "article_id", "u_total", "level", "reason", "abc", "class"]
    # A1: U_t = 1, U_q = 0 -> U = 0.6 URGENT; A2: U = 0 NORMAL.
    assert result.select("level", "abc", "class").rows() == [
        ("URGENT", "A", "URGENT_A"),
        ("NORMAL", "C", "NORMAL_C"),
    ]


def test_classification_needs_an_abc_class_for_every_article() -> None:
    proj = projection(article_id=["A1", "A2"])
    abc = pl.DataFrame({"article_id": ["A1"], "consumption_value": [5.0], "abc": ["A"]})
    with pytest.raises(ValueError, match="ABC"):
        classify_urgency(totals(proj, [0.1, 0.2]), proj, articles_of(proj), abc)


def test_there_are_twelve_distinct_class_labels() -> None:
    assert len(set(URGENCY_CLASSES)) == 12
    assert {"CRITIQUE_A", "URGENT_B", "NORMAL_C"} <= set(URGENCY_CLASSES)


def test_expressions_compose_in_a_lazy_pipeline() -> None:
    proj = projection(days_to_min=[4, None], lead_time_days=[3, 3], min_projected=[1.0, 9.0])
    lazy = (
        proj.lazy()
        .with_columns(u_temporal_expr(7.0), u_quantitative_expr())
        .select("site_id", "article_id", u_total_expr(0.6, 0.4))
        .collect()
    )
    eager = urgency_total(urgency_temporal(proj), urgency_quantitative(proj))
    assert lazy.equals(eager)


# --- properties -------------------------------------------------------------------------

HORIZON = 30
pair_rows = st.lists(
    st.fixed_dictionaries(
        {
            "stock_min": st.integers(0, 50),
            "lead_time_days": st.integers(0, 40),
            "days_to_min": st.none() | st.integers(0, HORIZON),
            "days_to_stockout": st.none() | st.integers(0, HORIZON),
            "min_projected": st.floats(-1e6, 1e6, allow_nan=False),
            "importance": st.sampled_from(["CRITIQUE", "IMPORTANT", "STANDARD"]),
            "abc": st.sampled_from(ABC_CLASSES),
        }
    ),
    min_size=1,
    max_size=30,
)
weights = st.floats(0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(rows=pair_rows, w_t=weights, tau=st.floats(0.1, 100.0))
def test_every_pair_gets_one_of_the_twelve_classes(
    rows: list[dict], w_t: float, tau: float
) -> None:
    proj = projection(
        article_id=[f"A{i}" for i in range(len(rows))],
        **{k: [r[k] for r in rows] for k in ("stock_min", "lead_time_days", "days_to_min",
                                              "days_to_stockout", "min_projected")},
    )
    articles = articles_of(proj, [r["importance"] for r in rows])
    abc = proj.select("article_id", pl.Series("abc", [r["abc"] for r in rows]))
    temporal, quantitative = urgency_temporal(proj, tau), urgency_quantitative(proj)
    total = urgency_total(temporal, quantitative, w_t=w_t, w_q=1.0 - w_t)
    result = classify_urgency(total, proj, articles, abc)

    assert result.height == proj.height
    assert set(result["class"].to_list()) <= set(URGENCY_CLASSES)
    assert set(result["level"].to_list()) <= set(LEVELS)
    # the reason's rule gives the level: before escalation, then one up when it says so
    rule_level = {"U_CRITIQUE_THRESHOLD": 0, "STOCKOUT_WITHIN_LEAD_TIME": 0, "U_URGENT_THRESHOLD": 1,
                  "U_SURVEILLANCE_THRESHOLD": 2, "BELOW_THRESHOLDS": 3}
    for level, reason, row in zip(result["level"], result["reason"], rows):
        rule, _, escalation = reason.partition("+")
        assert LEVELS.index(level) == rule_level[rule] - (1 if escalation else 0)
        assert bool(escalation) == (row["importance"] == "CRITIQUE" and rule_level[rule] in (1, 2))
    for column, frame in (("u_temporal", temporal), ("u_quantitative", quantitative)):
        assert frame[column].is_between(0.0, 1.0).all()
    assert total["u_total"].is_between(0.0, 1.0 + 1e-12).all()
