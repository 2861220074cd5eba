"""Invariants on random sites (hypothesis): capacities, lexicographic order, solver agreement."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.knapsack import SiteCapacities, build_site_model, solve_site
from solvers.knapsack.alternatives import plan_metrics
from solvers.knapsack.laminar_bnb import laminar_structure, solve_laminar_bnb
from solvers.knapsack.site_model import solve_model

CATEGORIES = ["FIBRE", "CUIVRE", "OUTIL"]
LEVELS = ["CRITIQUE", "URGENT", "SURVEILLANCE", "NORMAL"]
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


@st.composite
def sites(draw, max_pairs: int = 25) -> tuple[pl.DataFrame, SiteCapacities]:
    """A site of 1..max_pairs pairs with tight capacities, so that limits bind."""
    n = draw(st.integers(1, max_pairs))
    rows = []
    for k in range(n):
        stock_min = draw(st.integers(0, 8))
        rows.append(
            {
                "site_id": "S",
                "article_id": f"A{k:03d}",
                "category": draw(st.sampled_from(CATEGORIES)),
                "importance": draw(st.sampled_from(["CRITIQUE", "IMPORTANT", "STANDARD"])),
                "u_total": draw(st.floats(0, 1)),
                "min_projected": round(draw(st.floats(-6, 20)), 3),
                "stock_min": stock_min,
                "stock_max": stock_min + draw(st.integers(0, 10)),
                "lot_size": draw(st.sampled_from([1, 1, 2, 5, 10])),
                "unit_volume": draw(st.sampled_from([0.005, 0.02, 0.125, 0.3, 0.75, 1.0, 2.5])),
                "level": draw(st.sampled_from(LEVELS)),
                "class": "X",
                "unit_cost": 1.0,
            }
        )
    limits = draw(
        st.dictionaries(st.sampled_from(CATEGORIES), st.integers(0, 15).map(float), max_size=3)
    )
    total = float(draw(st.integers(0, 30)))
    return pl.DataFrame(rows), SiteCapacities(total=total, categories=limits)


def assert_within_capacities(solution, caps: SiteCapacities) -> None:
    a = solution.allocation
    assert a["volume"].sum() <= caps.total + 1e-9
    for cat, cap in caps.categories.items():
        assert a.filter(pl.col("category") == cat)["volume"].sum() <= cap + 1e-9
    assert (a["lots"] <= a["u"]).all() and (a["lots_hi"] <= a["n_min"]).all()
    assert (a["lots_hi"] >= 0).all() and (a["lots_lo"] >= 0).all()
    assert (a["quantity"] % a["lot_size"] == 0).all()


@SETTINGS
@given(sites())
def test_every_strategy_respects_every_capacity(site):
    pairs, caps = site
    for strategy in ("exact", "greedy", "criticite_hybride"):
        s = solve_site(pairs, caps, strategy, solver="cbc")
        assert_within_capacities(s, caps)
        assert s.summary.status in {"OPTIMAL", "HEURISTIC"}


@SETTINGS
@given(sites())
def test_the_branch_and_bound_respects_every_capacity_in_both_exact_strategies(site):
    pairs, caps = site
    for strategy in ("exact", "criticite_hybride"):
        s = solve_site(pairs, caps, strategy, solver="bnb")
        assert_within_capacities(s, caps)
        assert s.summary.status == "OPTIMAL" and s.summary.solver == "bnb"


@SETTINGS
@given(sites())
def test_lexicographic_mode_never_covers_less_critical_need_than_plain_exact(site):
    """Critical need is measured as criticite_hybride's first objective: the value of the
    high-tier lots of CRITIQUE-level pairs (a lot count could favour plain exact)."""
    pairs, caps = site
    model = build_site_model(pairs, caps)
    exact = solve_model(model, "exact", solver="cbc")
    hybrid = solve_model(model, "criticite_hybride", solver="cbc")
    crit_exact = float(np.dot(model.critical_values, exact.x))
    crit_hybrid = float(np.dot(model.critical_values, hybrid.x))
    assert crit_hybrid >= crit_exact - 1e-7 * max(1.0, crit_exact)
    assert hybrid.objective <= exact.objective + 1e-7 * max(1.0, exact.objective)


@SETTINGS
@given(sites())
def test_structured_hybride_never_covers_less_critical_need_than_structured_exact(site):
    pairs, caps = site
    model = build_site_model(pairs, caps)
    exact = solve_model(model, "exact", solver="bnb")
    hybrid = solve_model(model, "criticite_hybride", solver="bnb")
    crit_exact = float(np.dot(model.critical_values, exact.x))
    crit_hybrid = float(np.dot(model.critical_values, hybrid.x))
    assert crit_hybrid >= crit_exact - 1e-7 * max(1.0, crit_exact)
    assert hybrid.objective <= exact.objective + 1e-7 * max(1.0, exact.objective)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(sites(max_pairs=40))
def test_structured_hybride_and_pulp_two_phase_agree_on_random_sites(site):
    """Same phase-1 value (critical value of the plan) and same total, to 1e-7."""
    pairs, caps = site
    model = build_site_model(pairs, caps)
    bnb = solve_model(model, "criticite_hybride", solver="bnb")
    cbc = solve_model(model, "criticite_hybride", solver="cbc")
    assert bnb.solver == "bnb" and bnb.status == cbc.status == "OPTIMAL"
    assert model.problem.is_feasible(bnb.x)
    crit_bnb = float(np.dot(model.critical_values, bnb.x))
    crit_cbc = float(np.dot(model.critical_values, cbc.x))
    assert crit_bnb == pytest.approx(crit_cbc, rel=1e-7, abs=1e-9)
    assert bnb.objective == pytest.approx(cbc.objective, rel=1e-7, abs=1e-9)


@SETTINGS
@given(sites())
def test_exact_is_never_worse_than_greedy(site):
    pairs, caps = site
    model = build_site_model(pairs, caps)
    assert solve_model(model, "exact", solver="cbc").objective >= solve_model(model, "greedy").objective - 1e-9


@SETTINGS
@given(sites(max_pairs=40))
def test_branch_and_bound_and_pulp_agree_on_random_sites(site):
    pairs, caps = site
    model = build_site_model(pairs, caps)
    assert laminar_structure(model.problem) is not None
    bnb = solve_laminar_bnb(model.problem)
    cbc = solve_model(model, "exact", solver="cbc")
    assert bnb.status == "OPTIMAL" and model.problem.is_feasible(bnb.x)
    assert bnb.objective == pytest.approx(cbc.objective, rel=1e-7, abs=1e-9)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(sites(max_pairs=40))
def test_highs_and_cbc_agree_on_random_sites(site):
    pairs, caps = site
    model = build_site_model(pairs, caps)
    for strategy in ("exact", "criticite_hybride"):
        cbc = solve_model(model, strategy, solver="cbc")
        highs = solve_model(model, strategy, solver="highs")
        assert highs.status == cbc.status == "OPTIMAL"
        assert highs.objective == pytest.approx(cbc.objective, rel=1e-7, abs=1e-9)


def test_plan_metrics_of_an_empty_plan_are_zero_with_full_coverage():
    pairs = pl.DataFrame(
        {
            "site_id": ["S"], "article_id": ["A"], "category": ["FIBRE"], "importance": ["CRITIQUE"],
            "u_total": [0.9], "min_projected": [0.0], "stock_min": [2], "stock_max": [2],
            "lot_size": [1], "unit_volume": [1.0], "level": ["CRITIQUE"], "class": ["X"],
            "unit_cost": [3.0],
        }
    )
    s = solve_site(pairs, SiteCapacities(total=0.5), "exact", solver="cbc")
    m = plan_metrics(s.allocation)
    assert (m["value"], m["volume"], m["cost"], m["critical_coverage"]) == (0.0, 0.0, 0.0, 0.0)
