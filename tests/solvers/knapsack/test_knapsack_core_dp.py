"""The core DP behind the branch and bound (core_dp.py): exact on brute-forced problems
(plain and lexicographic phase 2, saturated categories, every kind of incumbent), its
pieces on hand-computed cases, and the real depots it exists for.

Fixture: two depots of the generated `large` partition (DEP006: FIBRE 50 / CUIVRE 40
saturated by critical lots, the total binding; DEP009: FIBRE 1260 / CUIVRE 1200 and the
total all binding), ~7,700 items each, with HiGHS's proven optima (fixture README).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import polars as pl
import pytest

from solvers.knapsack import SiteCapacities, build_site_model
from solvers.knapsack.core_dp import _upper_hull_segments, _window_sum, core_dp
from solvers.knapsack.laminar_bnb import _heuristic_plan, laminar_structure
from solvers.knapsack.laminar_dp import binary_split
from solvers.knapsack.laminar_lp import lp_duals
from solvers.knapsack.site_model import solve_model

from .conftest import FIXTURES

DEPOT_PAIRS = FIXTURES / "depot_sites_pairs.parquet"
DEPOTS = json.loads((FIXTURES / "depot_sites.json").read_text())


# ---- pieces ------------------------------------------------------------------------


def test_lp_duals_hand_computed():
    v = np.array([10.0, 8.0, 6.0, 3.0])
    w = np.ones(4)
    u = np.array([2, 2, 2, 2])
    g = np.array([0, 0, -1, -1])
    # category 0 (cap 3) fills at the 2nd item (ratio 8), the total never does
    lam, mu = lp_duals(v, w, u, g, 100.0, np.array([3.0]))
    assert lam == 0.0 and mu.tolist() == [8.0]
    # total 5: category full at 8, total exhausted by the 3rd item (ratio 6)
    lam, mu = lp_duals(v, w, u, g, 5.0, np.array([3.0]))
    assert lam == 6.0 and mu.tolist() == [2.0]
    # an unlimited category prices nothing
    lam, mu = lp_duals(v, w, u, g, 5.0, np.array([np.inf]))
    assert lam == 6.0 and mu.tolist() == [0.0]


def test_binary_split_represents_every_count():
    bounds = np.array([0, 1, 2, 3, 7, 8, 13])
    item, lots = binary_split(bounds)
    for j, b in enumerate(bounds):
        mine = lots[item == j]
        sums = {int(sum(c)) for r in range(len(mine) + 1) for c in itertools.combinations(mine, r)}
        assert sums == set(range(b + 1))


def test_upper_hull_segments():
    # points (0,0) (1,1) (2,1.5) (3,1.6) (4,-inf) (5,3): the hull is 0 -> 1 -> 5
    values = np.array([0.0, 1.0, 1.5, 1.6, -np.inf, 3.0])
    lengths, gains = _upper_hull_segments(values)
    assert lengths.tolist() == [1.0, 4.0] and gains.tolist() == [1.0, 2.0]
    # a decreasing tail is never worth volume
    lengths, gains = _upper_hull_segments(np.array([0.0, 2.0, 1.0]))
    assert lengths.tolist() == [1.0] and gains.tolist() == [2.0]


def test_window_sum_is_max_plus():
    h = np.array([0.0, 1.0, -np.inf])
    f = np.array([5.0, 5.5])
    out, arg = _window_sum(h, f)
    assert out.tolist() == [5.0, 6.0, 6.5, -np.inf]
    assert arg.tolist()[:3] == [0, 0, 1]


# ---- exact on brute-forced problems --------------------------------------------------


def _random_problem(rng):
    n = int(rng.integers(2, 7))
    weight = rng.choice([0.05, 0.1, 0.15, 0.25, 0.5, 1.0], size=n)
    group = rng.integers(-1, 2, size=n)
    gcap = np.array([float(rng.integers(0, 6)) * 0.25, float(rng.integers(0, 6)) * 0.25])
    total = float(rng.integers(0, 10)) * 0.25
    upper = rng.integers(0, 4, size=n)
    q = np.round(rng.random(n) + 0.01, 4)
    p = np.where(rng.random(n) < 0.5, q * 3, 0.0)  # critical items: their value, weighted
    return weight, group, gcap, total, upper, p, q


def _plans(weight, group, gcap, total, upper):
    for combo in np.ndindex(*(upper + 1)):
        y = np.array(combo, dtype=np.int64)
        vol = weight * y
        if vol.sum() > total + 1e-9 or any(vol[group == g].sum() > gcap[g] + 1e-9 for g in range(2)):
            continue
        yield y


def _feasible(x, weight, group, gcap, total, upper):
    vol = weight * x
    return (
        np.all(x >= 0) and np.all(x <= upper) and vol.sum() <= total + 1e-9
        and all(vol[group == g].sum() <= gcap[g] + 1e-9 for g in range(2))
    )


def _incumbents(plans, values, rng):
    """Every kind of starting plan: empty, the optimum, a random one."""
    best = max(plans, key=lambda y: float(values @ y))
    return [plans[0] * 0, best, plans[int(rng.integers(len(plans)))]]


def test_core_dp_plain_matches_brute_force():
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(150):
        weight, group, gcap, total, upper, _, q = _random_problem(rng)
        plans = list(_plans(weight, group, gcap, total, upper))
        optimum = max(float(q @ y) for y in plans)
        for x_inc in _incumbents(plans, q, rng):
            got = core_dp(q, upper, weight, group, gcap, total, x_inc)
            assert got is not None
            x, _ = got
            assert _feasible(x, weight, group, gcap, total, upper)
            assert float(q @ x) == pytest.approx(optimum, abs=1e-9)
            checked += 1
    assert checked == 450


def test_core_dp_targets_below_the_bound_are_exact():
    """A work limit too small for the run above a poor incumbent: the targets just below
    the LP bound take over; whatever they return is the optimum (or None)."""
    rng = np.random.default_rng(3)
    via_targets = 0
    for _ in range(300):
        weight, group, gcap, total, upper, _, q = _random_problem(rng)
        plans = list(_plans(weight, group, gcap, total, upper))
        optimum = max(float(q @ y) for y in plans)
        for limit in (4, 12, 40):
            got = core_dp(q, upper, weight, group, gcap, total, plans[0] * 0, work_limit=limit)
            if got is None:
                continue
            x, how = got
            via_targets += "below the bound" in how
            assert _feasible(x, weight, group, gcap, total, upper)
            assert float(q @ x) == pytest.approx(optimum, abs=1e-9)
    assert via_targets > 20


def test_core_dp_phase_two_matches_brute_force():
    """Lexicographic (critical value, value); saturated categories (critical volume over
    the limit) and pinned ones both occur."""
    rng = np.random.default_rng(5)
    solved = saturated_seen = 0
    for _ in range(300):
        weight, group, gcap, total, upper, p, q = _random_problem(rng)
        plans = list(_plans(weight, group, gcap, total, upper))
        opt1 = max(float(p @ y) for y in plans)
        best = max(plans, key=lambda y: (round(float(p @ y), 9), round(float(q @ y), 9)))
        holders = [y for y in plans if float(p @ y) >= opt1 - 1e-9]
        for x_inc in (holders[0], best):
            got = core_dp(q, upper, weight, group, gcap, total, x_inc, primary=p, opt1=opt1,
                          improve=_heuristic_plan)
            if got is None:  # the critical optimum does not decompose: the caller goes on
                continue
            x, how = got
            solved += 1
            saturated_seen += "saturated" in how
            assert _feasible(x, weight, group, gcap, total, upper)
            assert float(p @ x) == pytest.approx(opt1, abs=1e-9)
            assert float(q @ x) == pytest.approx(float(q @ best), abs=1e-9)
    assert solved > 400 and saturated_seen > 20


def test_core_dp_refuses_what_it_cannot_take():
    weight = np.array([0.333333, 0.5])  # off the 0.01 / 0.001 grid
    got = core_dp(np.array([1.0, 1.0]), np.array([1, 1]), weight, np.array([-1, -1]), np.zeros(0), 1.0,
                  np.zeros(2, dtype=np.int64))
    assert got is None
    with pytest.raises(ValueError, match="opt1"):
        core_dp(np.array([1.0]), np.array([1]), np.array([0.5]), np.array([-1]), np.zeros(0), 1.0,
                np.zeros(1, dtype=np.int64), primary=np.array([1.0]))
    # a work limit too small for the DP: None, the caller falls back
    rng = np.random.default_rng(0)
    n = 40
    weight = np.round(rng.uniform(0.05, 2.0, n), 2)
    values = rng.uniform(0.1, 1.0, n)
    got = core_dp(values, np.full(n, 3), weight, np.full(n, -1), np.zeros(0), 20.0,
                  np.zeros(n, dtype=np.int64), work_limit=10)
    assert got is None


# ---- the depots -----------------------------------------------------------------------


def _depot(site_id: str):
    pairs = pl.read_parquet(DEPOT_PAIRS).filter(pl.col("site_id") == site_id)
    ref = DEPOTS[site_id]
    return build_site_model(pairs, SiteCapacities(total=ref["total"], categories=ref["categories"])), ref


@pytest.mark.parametrize("site_id", sorted(DEPOTS))
def test_depots_are_proven_by_bnb_and_match_highs(site_id):
    model, ref = _depot(site_id)
    assert laminar_structure(model.problem) is not None
    res = solve_model(model, "criticite_hybride", solver="bnb")
    assert (res.status, res.solver) == ("OPTIMAL", "bnb")
    assert "critical items pinned" in res.detail  # the search alone does not close them
    assert model.problem.is_feasible(res.x)
    expected = ref["highs_criticite_hybride"]
    assert res.objective == pytest.approx(expected["objective"], rel=1e-9)
    assert float(model.critical_values @ res.x) == pytest.approx(expected["critical_value"], rel=1e-9)
    exact = solve_model(model, "exact", solver="bnb")
    assert (exact.status, exact.solver) == ("OPTIMAL", "bnb")
    assert exact.objective == pytest.approx(ref["highs_exact"]["objective"], rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("site_id", sorted(DEPOTS))
def test_depot_reference_optima_are_highs_today(site_id):
    """The fixture's reference values, recomputed with HiGHS (a few seconds per depot)."""
    model, ref = _depot(site_id)
    res = solve_model(model, "criticite_hybride", solver="highs", time_limit_s=60)
    assert res.status == "OPTIMAL"
    assert res.objective == pytest.approx(ref["highs_criticite_hybride"]["objective"], rel=1e-9)
