"""SPEC §5 site model: hand-computed n_min / u / values, strategies, fallback, alternatives."""

from __future__ import annotations

import numpy as np
import polars as pl
import pulp
import pytest

from solvers.knapsack import (
    SiteCapacities,
    alternatives,
    build_site_model,
    pair_terms,
    solve_site,
    solve_sites,
)
from solvers.knapsack.batch import category_use_frame
from solvers.knapsack.site_model import solve_model

ROOMY = SiteCapacities(total=1000.0, categories={"FIBRE": 500.0, "CUIVRE": 400.0})


@pytest.fixture
def terms_of(site_frame):
    """The SPEC §5 terms of a single pair given as keyword overrides."""
    return lambda **pair: pair_terms(site_frame({"article_id": "A1", **pair})).row(0, named=True)


def test_a_need_a_hair_above_two_lots_takes_two_lots_not_three(terms_of):
    t = terms_of(stock_min=10, stock_max=10, min_projected=-1e-10, lot_size=5)
    assert t["need_min"] == pytest.approx(10.0000000001)
    assert (t["n_min"], t["u"]) == (2, 2)


def test_a_need_clearly_above_two_lots_takes_three(terms_of):
    t = terms_of(stock_min=10, stock_max=10, min_projected=-0.1, lot_size=5)
    assert (t["n_min"], t["u"]) == (3, 3)


def test_n_min_covers_stock_min_and_u_covers_stock_max(terms_of):
    t = terms_of(stock_min=10, stock_max=23, min_projected=2.5, lot_size=5)
    # need_min 7.5 -> 2 lots; need_max 20.5 -> 4.1 -> 5 lots
    assert (t["need_min"], t["need_max"], t["n_min"], t["u"]) == (7.5, 20.5, 2, 5)


def test_a_pair_above_stock_max_needs_nothing(terms_of):
    t = terms_of(stock_min=4, stock_max=8, min_projected=9.0, lot_size=1)
    assert (t["need_min"], t["need_max"], t["n_min"], t["u"]) == (0.0, 0.0, 0, 0)


def test_a_projected_stockout_counts_in_the_need_even_with_zero_stock_min(terms_of):
    t = terms_of(stock_min=0, stock_max=2, min_projected=-3.0, lot_size=2)
    assert (t["need_min"], t["n_min"], t["need_max"], t["u"]) == (3.0, 2, 5.0, 3)


def test_values_follow_urgency_and_importance_weight(terms_of):
    t = terms_of(importance="CRITIQUE", u_total=0.69, unit_volume=0.25, lot_size=4)
    assert t["v_hi"] == pytest.approx((0.69 + 0.01) * 3)
    assert t["v_lo"] == pytest.approx(0.1 * (0.69 + 0.01) * 3)
    assert t["weight_lot"] == pytest.approx(1.0)
    assert terms_of(importance="IMPORTANT", u_total=0.0)["v_hi"] == pytest.approx(0.02)


def test_unknown_importance_is_refused(terms_of):
    with pytest.raises(ValueError, match="importance"):
        terms_of(importance="VITAL")


def test_each_pair_gives_a_high_tier_and_a_top_up_item_and_empty_tiers_are_dropped(site_frame):
    pairs = site_frame(
        {"article_id": "A1", "stock_min": 2, "stock_max": 5},  # 2 hi + 3 lo
        {"article_id": "A2", "stock_min": 0, "stock_max": 4},  # 0 hi + 4 lo
        {"article_id": "A3", "stock_min": 3, "stock_max": 3},  # 3 hi + 0 lo
        {"article_id": "A4", "stock_min": 0, "stock_max": 0},  # nothing
    )
    m = build_site_model(pairs, ROOMY)
    assert list(zip(m.item_pair.tolist(), m.item_tier.tolist(), m.problem.upper.tolist())) == [
        (0, 0, 2), (0, 1, 3), (1, 1, 4), (2, 0, 3),
    ]


def test_constraints_are_the_total_and_each_limited_category(site_frame):
    pairs = site_frame(
        {"article_id": "A1", "category": "FIBRE", "stock_max": 1},
        {"article_id": "A2", "category": "CUIVRE", "stock_max": 1},
        {"article_id": "A3", "category": "OUTIL", "stock_max": 1},
    )
    m = build_site_model(pairs, SiteCapacities(120, {"FIBRE": 50, "CUIVRE": 40}))
    p = m.problem
    assert p.constraint_names == ("total", "CUIVRE", "FIBRE")
    assert p.capacities.tolist() == [120.0, 40.0, 50.0]
    rows = [p.row_items[p.row_starts[i] : p.row_starts[i + 1]].tolist() for i in range(3)]
    assert rows == [[0, 1, 2], [1], [0]]


# ---- strategies -----------------------------------------------------------------------
@pytest.fixture
def greedy_trap(site_frame) -> tuple:
    """Capacity 10. A (weight 6, value 0.66, ratio 0.11) outranks B (2 lots of weight 5,
    value 0.5 each, ratio 0.10): greedy takes A and B no longer fits; B, B is worth 1.0."""
    pairs = site_frame(
        {"article_id": "A", "unit_volume": 6.0, "stock_min": 1, "stock_max": 1, "u_total": 0.65},
        {"article_id": "B", "unit_volume": 5.0, "stock_min": 2, "stock_max": 2, "u_total": 0.49},
    )
    return pairs, SiteCapacities(total=10.0)


def test_greedy_is_not_optimal_on_the_trap_site_and_exact_is(greedy_trap):
    pairs, caps = greedy_trap
    g = solve_site(pairs, caps, "greedy")
    e = solve_site(pairs, caps, "exact", solver="cbc")
    assert g.allocation["lots"].to_list() == [1, 0]
    assert g.summary.objective == pytest.approx(0.66)
    assert e.allocation["lots"].to_list() == [0, 2]
    assert e.summary.objective == pytest.approx(1.0)
    assert e.summary.status == "OPTIMAL" and e.summary.gap == 0.0


def test_greedy_lets_a_category_limit_skip_a_lot_and_keeps_filling(site_frame):
    pairs = site_frame(
        {"article_id": "A", "category": "FIBRE", "unit_volume": 3.0, "stock_max": 2, "u_total": 0.99},
        {"article_id": "B", "category": "CUIVRE", "unit_volume": 1.0, "stock_max": 3, "u_total": 0.09},
    )
    g = solve_site(pairs, SiteCapacities(10.0, {"FIBRE": 4.0}), "greedy")
    assert g.allocation["lots"].to_list() == [1, 3]


def test_greedy_ties_go_to_higher_importance_then_to_the_smaller_article_id(site_frame):
    tie = site_frame(
        {"article_id": "B", "importance": "STANDARD", "u_total": 0.99, "stock_min": 1, "stock_max": 1},
        {"article_id": "C", "importance": "IMPORTANT", "u_total": 0.49, "stock_min": 1, "stock_max": 1},
        {"article_id": "A", "importance": "STANDARD", "u_total": 0.99, "stock_min": 1, "stock_max": 1},
    )
    v = pair_terms(tie)["v_hi"].to_list()
    assert v[0] == v[1] == v[2]  # the premise: equal value per weight
    one_lot = SiteCapacities(total=1.0)
    two_lots = SiteCapacities(total=2.0)

    def take(caps: SiteCapacities) -> list[tuple]:
        return solve_site(tie, caps, "greedy").allocation.select("article_id", "lots").rows()

    assert take(one_lot) == [("A", 0), ("B", 0), ("C", 1)]
    assert take(two_lots) == [("A", 1), ("B", 0), ("C", 1)]


@pytest.mark.parametrize("solver", ["cbc", "bnb"])
def test_criticite_hybride_serves_critical_need_first_even_when_less_valuable(site_frame, solver):
    pairs = site_frame(
        {"article_id": "CRIT", "level": "CRITIQUE", "unit_volume": 10.0, "stock_min": 1, "stock_max": 1, "u_total": 0.9},
        {"article_id": "D1", "unit_volume": 5.0, "stock_min": 1, "stock_max": 1, "u_total": 0.6},
        {"article_id": "D2", "unit_volume": 5.0, "stock_min": 1, "stock_max": 1, "u_total": 0.6},
    )
    caps = SiteCapacities(total=10.0)
    exact = solve_site(pairs, caps, "exact", solver)
    hybrid = solve_site(pairs, caps, "criticite_hybride", solver)
    assert exact.allocation["lots"].to_list() == [0, 1, 1]
    assert hybrid.allocation["lots"].to_list() == [1, 0, 0]
    assert hybrid.summary.status == "OPTIMAL" and hybrid.summary.solver == solver


def test_the_bnb_solver_names_the_method_that_proved_each_hybride_phase(site_frame):
    pairs = site_frame(
        {"article_id": "CRIT", "level": "CRITIQUE", "unit_volume": 10.0, "stock_min": 1, "stock_max": 1, "u_total": 0.9},
        {"article_id": "D1", "unit_volume": 5.0, "stock_min": 1, "stock_max": 1, "u_total": 0.6},
    )
    model = build_site_model(pairs, SiteCapacities(total=10.0))
    alone = solve_model(model, "criticite_hybride", solver="bnb")
    assert alone.solver == "bnb" and alone.detail.startswith("phase 1 bnb")
    assert "phase 2 bnb" in alone.detail


def test_allocation_rows_carry_lots_quantity_volume_and_value(site_frame):
    pairs = site_frame(
        {"article_id": "A", "stock_min": 3, "stock_max": 9, "lot_size": 4, "unit_volume": 0.5,
         "importance": "CRITIQUE", "u_total": 0.49, "class": "URGENT_A"},
    )
    s = solve_site(pairs, ROOMY, "exact", solver="cbc")
    row = s.allocation.row(0, named=True)
    # n_min = 1 (need 3, lot 4), u = 3 (need 9 -> 2.25 -> 3)
    assert (row["n_min"], row["u"], row["lots_hi"], row["lots_lo"], row["lots"]) == (1, 3, 1, 2, 3)
    assert row["quantity"] == 12 and row["volume"] == pytest.approx(6.0)
    assert row["value"] == pytest.approx(1.5 + 2 * 0.15)
    assert (row["class"], row["strategy"], row["status"]) == ("URGENT_A", "exact", "OPTIMAL")
    assert s.summary.volume_used == pytest.approx(6.0)
    assert s.summary.category_use == {"CUIVRE": 0.0, "FIBRE": 6.0}


# ---- fallback -------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["exact", "criticite_hybride"])
def test_a_crashed_solver_falls_back_to_the_greedy_plan(monkeypatch, strategy, greedy_trap):
    pairs, caps = greedy_trap
    pairs = pairs.with_columns(level=pl.lit("CRITIQUE"))

    def crash(self, lp, **kwargs):
        raise pulp.PulpSolverError("cbc died")

    monkeypatch.setattr(pulp.COIN_CMD, "actualSolve", crash)
    s = solve_site(pairs, caps, strategy, solver="cbc")
    assert s.summary.status == "FALLBACK_GREEDY"
    assert "SOLVER_ERROR" in s.summary.detail
    assert s.summary.bound is None and s.summary.gap is None
    assert s.allocation["lots"].to_list() == solve_site(pairs, caps, "greedy").allocation["lots"].to_list()
    assert (s.allocation["status"] == "FALLBACK_GREEDY").all()


def test_a_time_limit_without_any_plan_falls_back_to_greedy(monkeypatch, greedy_trap):
    def no_plan_in_time(self, lp, **kwargs):
        lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
        return pulp.LpStatusNotSolved

    monkeypatch.setattr(pulp.COIN_CMD, "actualSolve", no_plan_in_time)
    pairs, caps = greedy_trap
    s = solve_site(pairs, caps, "exact", solver="cbc", time_limit_s=0.01)
    assert s.summary.status == "FALLBACK_GREEDY" and "NO_SOLUTION" in s.summary.detail
    assert s.summary.volume_used <= caps.total
    assert s.summary.objective == pytest.approx(0.66)


def test_a_tiny_time_limit_still_returns_a_feasible_plan(site_frame):
    rng = np.random.default_rng(7)
    n = 150
    pairs = site_frame(*[
        {"article_id": f"A{k:03d}", "category": ["FIBRE", "CUIVRE", "X"][k % 3],
         "unit_volume": float(np.round(rng.uniform(0.05, 2.0), 3)), "stock_min": int(rng.integers(0, 5)),
         "stock_max": int(rng.integers(5, 12)), "u_total": float(rng.uniform()),
         "level": "CRITIQUE" if k % 4 == 0 else "NORMAL"}
        for k in range(n)
    ])
    caps = SiteCapacities(120.0, {"FIBRE": 50.0, "CUIVRE": 40.0})
    for strategy in ("exact", "criticite_hybride"):
        s = solve_site(pairs, caps, strategy, solver="cbc", time_limit_s=0.001)
        assert s.summary.status in {"OPTIMAL", "TIME_LIMIT_FEASIBLE", "FALLBACK_GREEDY"}
        assert s.summary.volume_used <= 120.0 + 1e-9
        assert s.summary.category_use["FIBRE"] <= 50.0 + 1e-9


# ---- alternatives ---------------------------------------------------------------------
def test_alternatives_show_every_strategy_with_value_volume_cost_and_coverage(site_frame):
    pairs = site_frame(
        {"article_id": "CRIT", "level": "CRITIQUE", "unit_volume": 10.0, "stock_min": 1,
         "stock_max": 1, "u_total": 0.9, "unit_cost": 7.0},
        {"article_id": "D1", "unit_volume": 5.0, "stock_min": 1, "stock_max": 1, "u_total": 0.6, "unit_cost": 2.0},
        {"article_id": "D2", "unit_volume": 5.0, "stock_min": 1, "stock_max": 1, "u_total": 0.6, "unit_cost": 3.0},
    )
    alt = alternatives(pairs, SiteCapacities(total=10.0), chosen="criticite_hybride", solver="cbc")
    rows = {r["strategy"]: r for r in alt.metrics.iter_rows(named=True)}
    assert set(rows) == {"exact", "greedy", "criticite_hybride"}
    assert rows["criticite_hybride"]["chosen"] and not rows["exact"]["chosen"]
    assert rows["criticite_hybride"]["critical_coverage"] == 1.0
    assert rows["criticite_hybride"]["cost"] == pytest.approx(7.0)
    assert rows["exact"]["critical_coverage"] == 0.0
    assert rows["exact"]["cost"] == pytest.approx(5.0)
    assert rows["exact"]["value"] == pytest.approx(1.22)
    assert rows["exact"]["volume"] == pytest.approx(10.0)
    assert alt.plans["exact"]["lots"].to_list() == [0, 1, 1]


def test_coverage_is_full_when_the_site_has_no_critical_need(greedy_trap):
    pairs, caps = greedy_trap
    alt = alternatives(pairs, caps, solver="cbc")
    assert alt.metrics["critical_coverage"].to_list() == [1.0, 1.0, 1.0]


def test_all_sites_of_a_partition_give_one_summary_row_each_in_or_out_of_a_pool(site_frame):
    a = site_frame(
        {"article_id": "A", "stock_max": 3, "u_total": 0.9},
        {"article_id": "B", "category": "CUIVRE", "stock_max": 2},
    )
    b = site_frame({"site_id": "S2", "article_id": "A", "stock_max": 9})
    caps = {"S1": SiteCapacities(2.0, {"FIBRE": 1.0}), "S2": SiteCapacities(5.0)}
    alloc, summary = solve_sites(pl.concat([a, b]), caps, strategy="exact", solver="cbc")
    assert summary.select("site_id", "status", "volume_used").rows() == [("S1", "OPTIMAL", 2.0), ("S2", "OPTIMAL", 5.0)]
    # per-category use in rows, never in columns named after a category (issue 13)
    assert category_use_frame(summary).rows() == [
        ("S1", "CUIVRE", None, 1.0), ("S1", "FIBRE", 1.0, 1.0), ("S2", "FIBRE", None, 5.0),
    ]  # capacity null: no limit for that category at that site, only the total applies
    assert not [c for c in summary.columns if "FIBRE" in c]
    assert alloc.select("site_id", "article_id", "lots").rows() == [("S1", "A", 1), ("S1", "B", 1), ("S2", "A", 5)]
    alloc2, summary2 = solve_sites(pl.concat([a, b]), caps, strategy="exact", solver="cbc", workers=2)
    assert alloc2.select("site_id", "article_id", "lots").rows() == alloc.select("site_id", "article_id", "lots").rows()


def test_a_site_without_capacities_is_refused(site_frame):
    with pytest.raises(KeyError, match="S1"):
        solve_sites(site_frame({"article_id": "A"}), {})


def test_critical_coverage_counts_high_tier_lots_of_critique_pairs_against_their_minimum_need():
    from solvers.knapsack.alternatives import critical_coverage

    plan = pl.DataFrame({"level": ["CRITIQUE", "CRITIQUE", "URGENT"], "n_min": [4, 2, 9], "lots_hi": [3, 0, 9]})
    assert critical_coverage(plan) == pytest.approx(3 / 6)
    assert critical_coverage(plan.filter(pl.col("level") == "URGENT")) == 1.0  # no CRITIQUE need
