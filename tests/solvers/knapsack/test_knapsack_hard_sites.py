"""Sites the LP branch and bound alone cannot prove (laminar_bnb.py runs out of nodes on
near-equal value-per-weight plateaus): the exact DP of laminar_dp.py behind it must
prove them without CBC and agree with CBC.

Fixture: three real sites of the generated `large` partition (VAN0003, VAN0004,
VAN0008: their pairs frames and capacities), which hit NODE_LIMIT in phase 2.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from solvers.knapsack import SiteCapacities, build_site_model
from solvers.knapsack.laminar_bnb import (
    laminar_structure,
    solve_laminar_bnb,
    solve_lexicographic_bnb,
    solve_lexicographic_structured,
)
from solvers.knapsack.laminar_dp import lexicographic_dp
from solvers.knapsack.lexicographic import solve_lexicographic
from solvers.knapsack.site_model import solve_model

from .conftest import FIXTURES
from .test_knapsack_properties import sites

PAIRS = FIXTURES / "hard_sites_pairs.parquet"
CAPACITIES = FIXTURES / "hard_sites_capacities.json"


def _hard_sites() -> list[tuple[str, pl.DataFrame, SiteCapacities]]:
    pairs = pl.read_parquet(PAIRS)
    caps = json.loads(CAPACITIES.read_text())
    return [
        (sid, pairs.filter(pl.col("site_id") == sid),
         SiteCapacities(total=c["total"], categories=c["categories"]))
        for sid, c in sorted(caps.items())
    ]


@pytest.mark.parametrize("site", _hard_sites(), ids=lambda s: s[0])
def test_real_hard_sites_are_proven_without_cbc_and_match_cbc(site):
    _, pairs, caps = site
    model = build_site_model(pairs, caps)
    bnb = solve_lexicographic_structured(model.problem, model.critical_values)
    assert bnb.solver == "bnb" and bnb.status == "OPTIMAL"
    assert "node limit" in bnb.detail  # the plain search alone does not close them
    assert model.problem.is_feasible(bnb.x)
    cbc = solve_lexicographic(model.problem, model.critical_values, solver="cbc")
    assert cbc.status == "OPTIMAL"
    assert bnb.objective == pytest.approx(cbc.objective, rel=1e-7, abs=1e-9)
    crit = float(np.dot(model.critical_values, bnb.x))
    assert crit == pytest.approx(float(np.dot(model.critical_values, cbc.x)), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("site", _hard_sites()[:1], ids=lambda s: s[0])
def test_real_hard_site_exact_strategy_is_proven_and_matches_cbc(site):
    _, pairs, caps = site
    model = build_site_model(pairs, caps)
    bnb = solve_laminar_bnb(model.problem, node_limit=50)
    assert bnb.status == "OPTIMAL"
    cbc = solve_model(model, "exact", solver="cbc")
    assert bnb.objective == pytest.approx(cbc.objective, rel=1e-7, abs=1e-9)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(sites(max_pairs=30))
def test_the_dp_fallbacks_agree_with_pulp_on_random_sites(site):
    """node_limit=1: the searches stop at once, so the DP paths do the proving."""
    pairs, caps = site
    model = build_site_model(pairs, caps)
    p = model.problem
    exact = solve_laminar_bnb(p, node_limit=1)
    cbc = solve_model(model, "exact", solver="cbc")
    assert exact.status == "OPTIMAL" and p.is_feasible(exact.x)
    assert exact.objective == pytest.approx(cbc.objective, rel=1e-7, abs=1e-9)
    first, second = solve_lexicographic_bnb(p, model.critical_values, node_limit=1)
    assert first.status == "OPTIMAL" and second is not None and second.status == "OPTIMAL"
    assert p.is_feasible(second.x)
    two_phase = solve_model(model, "criticite_hybride", solver="cbc")
    assert second.objective == pytest.approx(two_phase.objective, rel=1e-7, abs=1e-9)
    assert float(np.dot(model.critical_values, second.x)) == pytest.approx(
        float(np.dot(model.critical_values, two_phase.x)), rel=1e-7, abs=1e-9
    )


def test_lexicographic_dp_matches_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(1, 6))
        weight = rng.choice([0.05, 0.1, 0.25, 0.5, 1.0], size=n)
        group = rng.integers(-1, 2, size=n)
        gcap = np.array([float(rng.integers(0, 3)), float(rng.integers(0, 3))])
        total = float(rng.integers(0, 4))
        upper = rng.integers(0, 4, size=n)
        p = np.where(rng.random(n) < 0.5, rng.random(n), 0.0)
        q = rng.random(n)
        x = lexicographic_dp(weight, group, gcap, total, upper, p, q)
        assert x is not None
        best = None
        for combo in np.ndindex(*(upper + 1)):
            y = np.array(combo)
            vol = weight * y
            if vol.sum() > total + 1e-9 or any(vol[group == g].sum() > gcap[g] + 1e-9 for g in range(2)):
                continue
            key = (round(float(p @ y), 9), round(float(q @ y), 9))
            best = key if best is None or key > best else best
        assert (weight * x).sum() <= total + 1e-9
        assert (round(float(p @ x), 9), round(float(q @ x), 9)) == best


def test_laminar_structure_of_the_fixture_sites():
    for _, pairs, caps in _hard_sites():
        assert laminar_structure(build_site_model(pairs, caps).problem) is not None
