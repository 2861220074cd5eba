"""Sourcing (SPEC §5.2): groups of vans supplied from their depot's finite stock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from solvers.knapsack import SiteCapacities, group_strategies, solve_sites
from solvers.knapsack.exact_pulp import solve_exact
from solvers.knapsack.group_model import build_group_model
from solvers.knapsack.lexicographic import solve_lexicographic
from solvers.knapsack.site_model import pair_terms
from solvers.knapsack.sourcing import solve_groups, solve_sourced, supply_from_stock, van_parents
from tests.solvers.knapsack.conftest import build_site_frame
from tests.solvers.knapsack.sourcing_groups import random_groups

STRATEGIES = ("exact", "greedy", "criticite_hybride")
WIDE = SiteCapacities(total=120.0, categories={"FIBRE": 50.0, "CUIVRE": 40.0})


def supply_frame(*rows: tuple[str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={"site_id": pl.String, "article_id": pl.String, "supply": pl.Int64}, orient="row")


def lots_of(allocation: pl.DataFrame) -> dict[tuple[str, str], int]:
    return {(s, a): n for s, a, n in allocation.select("site_id", "article_id", "lots").iter_rows()}


def two_vans_one_scarce_article() -> tuple[pl.DataFrame, dict, dict, pl.DataFrame]:
    """V1 and V2 each need 3 lots of A (1 piece a lot); the depot can give 4 pieces.
    V1's need is worth 0.91 a lot, V2's 0.51 (STANDARD, U = 0.9 and 0.5). B is plentiful."""
    pairs = build_site_frame(
        {"site_id": "V1", "article_id": "A", "u_total": 0.9, "stock_min": 3, "stock_max": 3, "level": "CRITIQUE"},
        {"site_id": "V1", "article_id": "B", "u_total": 0.2, "stock_min": 2, "stock_max": 2},
        {"site_id": "V2", "article_id": "A", "u_total": 0.5, "stock_min": 3, "stock_max": 3, "level": "CRITIQUE"},
        {"site_id": "V2", "article_id": "B", "u_total": 0.2, "stock_min": 2, "stock_max": 2},
    )
    parents = {"V1": "DEP", "V2": "DEP"}
    return pairs, {"V1": WIDE, "V2": WIDE}, parents, supply_frame(("DEP", "A", 4), ("DEP", "B", 100))


def group_model_of(pairs, capacities, parents, supply, depot):
    """The group model of one depot, built as solve_groups builds it (for the PuLP cross-check)."""
    vans = [s for s, p in parents.items() if p == depot]
    terms = pair_terms(pairs.filter(pl.col("site_id").is_in(vans)))
    pieces = {a: float(q) for d, a, q in supply.iter_rows() if d == depot}
    return build_group_model(depot, terms, capacities, pieces)


def shipped_per_depot_article(plan, parents) -> pl.DataFrame:
    return (
        plan.allocation.with_columns(depot=pl.col("site_id").replace_strict(parents))
        .group_by("depot", "article_id")
        .agg(shipped=pl.col("quantity").sum())
    )


# ---- the hand-made group -----------------------------------------------------------------


def test_per_van_plans_overship_a_scarce_article_and_the_group_plan_does_not():
    pairs, capacities, parents, supply = two_vans_one_scarce_article()
    allocation, _ = solve_sites(pairs, capacities, strategy="exact", solver="bnb")
    assert allocation.filter(pl.col("article_id") == "A")["quantity"].sum() == 6  # > 4 in the depot
    for strategy in STRATEGIES:
        plan = solve_groups(pairs, capacities, parents, supply, strategy=strategy)
        lots = lots_of(plan.allocation)
        assert lots[("V1", "A")] == 3 and lots[("V2", "A")] == 1, strategy
        assert lots[("V1", "B")] == 2 and lots[("V2", "B")] == 2, strategy
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact")
    group = plan.group_summary.row(0, named=True)
    assert group["status"] == "OPTIMAL"
    # 3 x 0.91 + 1 x 0.51 + 4 x 0.21
    assert group["objective"] == pytest.approx(3 * 0.91 + 0.51 + 4 * 0.21)
    assert group["bound"] == pytest.approx(group["objective"]) and group["gap"] == 0.0
    assert group["vans"] == 2 and group["articles_scarce"] == 1


def test_depot_supply_rows_hold_supply_request_shipped_remaining_and_critical_shortage():
    pairs, capacities, parents, supply = two_vans_one_scarce_article()
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact")
    rows = {r["article_id"]: r for r in plan.depot_supply.iter_rows(named=True)}
    # A: both vans' need is CRITIQUE-level, 3 + 3 pieces against 4
    assert rows["A"] == {
        "site_id": "DEP", "article_id": "A", "supply": 4, "requested": 6, "shipped": 4, "remaining": 0,
        "critical_short": 2,
    }
    assert rows["B"] == {
        "site_id": "DEP", "article_id": "B", "supply": 100, "requested": 4, "shipped": 4, "remaining": 96,
        "critical_short": 0,
    }
    assert plan.group_summary["articles_short"].to_list() == [1]
    assert set(plan.allocation["source_site_id"].to_list()) == {"DEP"}


def test_a_van_summary_keeps_its_own_objective_and_the_group_status():
    pairs, capacities, parents, supply = two_vans_one_scarce_article()
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact")
    summary = {r["site_id"]: r for r in plan.site_summary.iter_rows(named=True)}
    assert summary["V1"]["objective"] == pytest.approx(3 * 0.91 + 2 * 0.21)
    assert summary["V2"]["objective"] == pytest.approx(0.51 + 2 * 0.21)
    assert summary["V2"]["volume_used"] == pytest.approx(3.0)
    group = plan.group_summary.row(0, named=True)
    for row in summary.values():
        assert (row["status"], row["bound"], row["gap"]) == (group["status"], group["bound"], group["gap"])


def test_a_depot_without_stock_ships_nothing():
    pairs, capacities, parents, _ = two_vans_one_scarce_article()
    plan = solve_groups(pairs, capacities, parents, supply_frame(), strategy="criticite_hybride")
    assert plan.allocation["lots"].sum() == 0
    assert plan.depot_supply["supply"].to_list() == [0, 0]


def test_greedy_ties_go_to_the_lower_site_id():
    """Same article, same value per weight, same importance in both vans, one lot in the
    depot: the van first in site_id order gets it, whatever the input order."""
    pairs = build_site_frame(
        {"site_id": "V2", "article_id": "A", "u_total": 0.7, "stock_min": 1, "stock_max": 1},
        {"site_id": "V1", "article_id": "A", "u_total": 0.7, "stock_min": 1, "stock_max": 1},
    )
    parents = {"V1": "DEP", "V2": "DEP"}
    plan = solve_groups(pairs, {"V1": WIDE, "V2": WIDE}, parents, supply_frame(("DEP", "A", 1)), strategy="greedy")
    assert lots_of(plan.allocation) == {("V1", "A"): 1, ("V2", "A"): 0}
    assert plan.group_summary["status"].to_list() == ["HEURISTIC"]


def test_greedy_takes_the_better_lot_per_weight_first_across_vans():
    """V2's lot of A is worth more per weight than V1's: V2 gets the single lot even
    though V1 comes first in site_id order."""
    pairs = build_site_frame(
        {"site_id": "V1", "article_id": "A", "u_total": 0.3, "stock_min": 1, "stock_max": 1},
        {"site_id": "V2", "article_id": "A", "u_total": 0.8, "stock_min": 1, "stock_max": 1},
    )
    parents = {"V1": "DEP", "V2": "DEP"}
    plan = solve_groups(pairs, {"V1": WIDE, "V2": WIDE}, parents, supply_frame(("DEP", "A", 1)), strategy="greedy")
    assert lots_of(plan.allocation) == {("V1", "A"): 0, ("V2", "A"): 1}


def test_criticite_hybride_serves_the_critical_need_before_a_more_valuable_total():
    """V1's need of A is CRITIQUE-level but worth less per lot than V2's URGENT one:
    exact gives the scarce lot to V2, criticite_hybride to V1."""
    pairs = build_site_frame(
        {"site_id": "V1", "article_id": "A", "u_total": 0.3, "stock_min": 1, "stock_max": 1, "level": "CRITIQUE"},
        {"site_id": "V2", "article_id": "A", "u_total": 0.9, "stock_min": 1, "stock_max": 1, "level": "URGENT"},
    )
    parents = {"V1": "DEP", "V2": "DEP"}
    caps = {"V1": WIDE, "V2": WIDE}
    exact = solve_groups(pairs, caps, parents, supply_frame(("DEP", "A", 1)), strategy="exact")
    hybrid = solve_groups(pairs, caps, parents, supply_frame(("DEP", "A", 1)), strategy="criticite_hybride")
    assert lots_of(exact.allocation) == {("V1", "A"): 0, ("V2", "A"): 1}
    assert lots_of(hybrid.allocation) == {("V1", "A"): 1, ("V2", "A"): 0}
    assert hybrid.group_summary["critical_value"].to_list() == [pytest.approx(0.31)]
    assert hybrid.group_summary["status"].to_list() == ["OPTIMAL"]


# ---- against PuLP on the full group model --------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_exact_matches_pulp_on_the_full_group_model(seed):
    pairs, capacities, parents, supply = random_groups(seed, vans=3, articles=8, pairs_per_van=6)
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact", gap_tolerance=0.0)
    reference = solve_exact(group_model_of(pairs, capacities, parents, supply, "D0").problem, solver="cbc")
    assert reference.status == "OPTIMAL"
    group = plan.group_summary.row(0, named=True)
    assert group["status"] == "OPTIMAL"
    assert group["objective"] == pytest.approx(reference.objective, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_the_reported_bound_is_never_below_the_optimum(seed):
    """With the default tolerance the search may stop early: its bound must still hold."""
    pairs, capacities, parents, supply = random_groups(100 + seed, vans=4, articles=10, pairs_per_van=8)
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact")
    optimum = solve_exact(group_model_of(pairs, capacities, parents, supply, "D0").problem, solver="cbc").objective
    group = plan.group_summary.row(0, named=True)
    assert group["objective"] <= optimum + 1e-9
    assert group["bound"] >= optimum - 1e-9
    assert group["gap"] <= 1e-3 or group["status"] == "TIME_LIMIT_FEASIBLE"


@pytest.mark.parametrize("seed", range(8))
def test_criticite_hybride_reaches_the_largest_critical_value_then_the_best_total(seed):
    pairs, capacities, parents, supply = random_groups(200 + seed, vans=3, articles=8, pairs_per_van=6)
    gm = group_model_of(pairs, capacities, parents, supply, "D0")
    phase1 = gm.problem.with_values(gm.critical_values)
    best_critical = solve_exact(phase1, solver="cbc").objective
    best_total = solve_lexicographic(gm.problem, gm.critical_values, solver="cbc").objective
    plan = solve_groups(pairs, capacities, parents, supply, strategy="criticite_hybride", gap_tolerance=0.0)
    group = plan.group_summary.row(0, named=True)
    assert group["critical_value"] == pytest.approx(best_critical, rel=1e-7, abs=1e-9)
    assert group["status"] == "OPTIMAL"
    assert group["objective"] == pytest.approx(best_total, rel=1e-7, abs=1e-9)


# ---- no scarcity: exactly the per-site path ------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_group_without_scarcity_gets_exactly_the_per_site_plans(strategy):
    pairs, capacities, parents, supply = random_groups(7, depots=2, vans=4, articles=12, pairs_per_van=9, scarce_share=0.0)
    plan = solve_groups(pairs, capacities, parents, supply, strategy=strategy)
    allocation, summary = solve_sites(pairs, capacities, strategy=strategy, solver="bnb")
    assert plan.group_summary["articles_scarce"].to_list() == [0, 0]
    columns = ["site_id", "article_id", "lots_hi", "lots_lo", "lots", "quantity", "value", "status"]
    assert plan.allocation.select(columns).sort("site_id", "article_id").equals(allocation.select(columns))
    same = ["site_id", "objective", "status", "volume_used", "capacity_total", "n_pairs", "n_items", "category_use"]
    assert plan.site_summary.select(same).sort("site_id").equals(summary.select(same))


# ---- edges: fallback, time limit, inputs ---------------------------------------------------


def test_a_solver_failure_falls_back_to_the_group_greedy_plan(monkeypatch):
    pairs, capacities, parents, supply = two_vans_one_scarce_article()

    def broken(*args, **kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(group_strategies, "maximise_group", broken)
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact")
    group = plan.group_summary.row(0, named=True)
    assert group["status"] == "FALLBACK_GREEDY" and "solver crashed" in group["detail"]
    assert group["bound"] is None
    assert lots_of(plan.allocation)[("V1", "A")] + lots_of(plan.allocation)[("V2", "A")] == 4


def test_a_time_limit_too_short_for_any_step_still_gives_a_plan_within_supply():
    pairs, capacities, parents, supply = random_groups(3, vans=4, articles=10, pairs_per_van=8)
    plan = solve_groups(pairs, capacities, parents, supply, strategy="exact", time_limit_s=1e-6)
    group = plan.group_summary.row(0, named=True)
    assert group["status"] in ("OPTIMAL", "TIME_LIMIT_FEASIBLE")
    assert group["bound"] >= group["objective"]
    shipped = shipped_per_depot_article(plan, parents)
    joined = shipped.join(supply, left_on=["depot", "article_id"], right_on=["site_id", "article_id"], how="left")
    assert (joined["shipped"] <= joined["supply"].fill_null(0)).all()


def test_supply_is_the_depot_stock_above_its_minimum():
    on_hand = pl.DataFrame({"site_id": ["DEP", "DEP", "DEP"], "article_id": ["A", "B", "C"], "on_hand": [10, 2, 4]})
    articles = pl.DataFrame({"article_id": ["A", "B", "C"], "stock_min": [4, 4, 4]})
    assert supply_from_stock(on_hand, articles)["supply"].to_list() == [6, 0, 0]


def test_van_parents_reads_the_optional_column():
    assert van_parents(pl.DataFrame({"site_id": ["V1"], "site_type": ["VAN"]})) == {}
    sites = pl.DataFrame({"site_id": ["DEP", "V1", "V2", "V3"], "parent_site_id": [None, "DEP", "", None]})
    assert van_parents(sites) == {"V1": "DEP"}


def test_vans_without_a_parent_are_refused_by_solve_groups():
    pairs, capacities, _, supply = two_vans_one_scarce_article()
    with pytest.raises(KeyError, match="without a parent"):
        solve_groups(pairs, capacities, {"V1": "DEP"}, supply)


def test_solve_sourced_plans_depots_per_site_and_vans_per_group():
    pairs, capacities, parents, supply = two_vans_one_scarce_article()
    depot = build_site_frame(
        {"site_id": "DEP", "article_id": "A", "u_total": 0.6, "stock_min": 10, "stock_max": 12},
    )
    capacities = {**capacities, "DEP": WIDE}
    plan = solve_sourced(pl.concat([pairs, depot]), capacities, parents, supply, strategy="exact")
    source = {(s, a): src for s, a, src in plan.allocation.select("site_id", "article_id", "source_site_id").iter_rows()}
    assert source[("DEP", "A")] is None and source[("V1", "A")] == "DEP"
    alone, _ = solve_sites(depot, capacities, strategy="exact", solver="bnb")
    assert lots_of(plan.allocation)[("DEP", "A")] == alone["lots"].item() == 12
    assert plan.allocation["site_id"].to_list() == sorted(plan.allocation["site_id"].to_list())
    assert plan.site_summary["site_id"].to_list() == ["DEP", "V1", "V2"]
    assert plan.group_summary["site_id"].to_list() == ["DEP"]


def test_the_group_solver_leaves_highs_usable_for_the_per_site_path():
    """HiGHS keeps one thread scheduler per process and refuses to run a model asking for
    another thread count: after the group's LP and MILP, a per-site PuLP/HiGHS solve (one
    thread) must still work. In a fresh interpreter, so that the group runs HiGHS first."""
    script = """
from solvers.knapsack import KnapsackProblem
from solvers.knapsack.exact_pulp import solve_exact
from solvers.knapsack.group_milp import solve_lp, solve_milp
p = KnapsackProblem.from_dense([3, 2], [[1, 1]], [1.5], [2, 2])
assert solve_lp(p) is not None and solve_milp(p, 5.0).proven
r = solve_exact(p, solver="highs")
assert r.status == "OPTIMAL", (r.status, r.detail)
print("ok")
"""
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


@pytest.mark.parametrize("strategy", ["exact", "criticite_hybride"])
def test_on_a_group_beyond_the_milp_shortcut_the_lagrangian_bound_still_holds(strategy, monkeypatch):
    """~1,200 items, above SMALL_GROUP_ITEMS (lowered to 1,000 here so the reference stays
    quick to compute): the search stops at the tolerance on its Lagrangian bound (with phase
    1's per-van holds for criticite_hybride); HiGHS on the full group model says where the
    optimum is."""
    monkeypatch.setattr("solvers.knapsack.group_exact.SMALL_GROUP_ITEMS", 1_000)
    from solvers.knapsack.group_exact import SMALL_GROUP_ITEMS

    pairs, capacities, parents, supply = random_groups(0, vans=30, articles=40, pairs_per_van=30)
    gm = group_model_of(pairs, capacities, parents, supply, "D0")
    assert gm.n_items > SMALL_GROUP_ITEMS and gm.coupled.size > 10
    if strategy == "exact":
        reference = solve_exact(gm.problem, solver="highs", time_limit_s=60)
    else:
        reference = solve_lexicographic(gm.problem, gm.critical_values, solver="highs", time_limit_s=60)
    assert reference.status == "OPTIMAL"
    group = solve_groups(pairs, capacities, parents, supply, strategy=strategy).group_summary.row(0, named=True)
    assert group["objective"] <= reference.objective + 1e-9
    assert group["bound"] >= reference.objective - 1e-9
    assert group["gap"] <= 1e-3


def test_a_cap_on_an_article_goes_to_the_high_tier_first():
    """P needs 2 lots to reach stock_min and 5 to reach stock_max; Q only tops up (3 lots)."""
    pairs = build_site_frame(
        {"site_id": "V1", "article_id": "P", "stock_min": 2, "stock_max": 5},
        {"site_id": "V1", "article_id": "Q", "stock_min": 0, "stock_max": 3},
    )
    gm = build_group_model("DEP", pair_terms(pairs), {"V1": WIDE}, {})
    assert gm.item_tier.tolist() == [0, 1, 1] and gm.problem.upper.tolist() == [2, 3, 3]
    caps = {"P": 3, "Q": 2}
    assert gm.capped_upper(np.array([caps[a] for a in gm.articles]), 0).tolist() == [2, 1, 2]
    caps = {"P": 1, "Q": 0}
    assert gm.capped_upper(np.array([caps[a] for a in gm.articles]), 0).tolist() == [1, 0, 0]


def test_a_supply_listing_an_article_twice_is_refused():
    pairs, capacities, parents, _ = two_vans_one_scarce_article()
    with pytest.raises(ValueError, match="twice"):
        solve_groups(pairs, capacities, parents, supply_frame(("DEP", "A", 4), ("DEP", "A", 2)))
