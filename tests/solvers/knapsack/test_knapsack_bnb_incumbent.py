"""solve_lexicographic_structured keeps the branch and bound's phase-2 incumbent when the
PuLP phase 2 behind it stops with a worse plan (or none: then it hands back phase 1's
plan). Depots (~7,700 items) hit this: the search runs out of nodes, CBC finds no plan
within its time limit, and phase 1's bare plan (critical lots only) was kept instead of
the incumbent, which meets the hold and is worth more."""

from __future__ import annotations

import numpy as np

from solvers.knapsack import laminar_bnb
from solvers.knapsack.laminar_bnb import solve_lexicographic_bnb, solve_lexicographic_structured
from solvers.knapsack.problem import KnapsackProblem, KnapsackResult, SolveStatus


def _problem() -> tuple[KnapsackProblem, np.ndarray]:
    # one critical item, five fillers of mixed sizes: the root LP is fractional
    weights = np.array([2.0, 3.0, 3.0, 2.5, 1.5, 4.0])
    values = np.array([3.0, 3.1, 2.9, 2.4, 1.3, 3.9])
    primary = np.array([3.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    n = weights.size
    problem = KnapsackProblem.from_rows(
        values, np.full(n, 2), [(np.arange(n), weights), ([1, 2, 3], weights[1:4])], [12.3, 5.7],
        ("total", "CAT"),
    )
    return problem, primary


def _pulp_without_plan(problem, primary_values, phase1_plan=None, **_):
    x1 = np.asarray(phase1_plan, dtype=np.int64)
    return KnapsackResult(
        x=x1, objective=problem.objective(x1), bound=float("nan"), gap=float("nan"),
        status=SolveStatus.TIME_LIMIT_FEASIBLE, solver="cbc", build_ms=0.0, solve_ms=0.0,
        detail="phase 2 gave no plan (NO_SOLUTION); phase 1 plan kept",
    )


def test_the_bnb_incumbent_beats_phase_one_plan_when_pulp_gives_none(monkeypatch):
    monkeypatch.setattr(laminar_bnb, "DP_WORK_LIMIT", -1)  # DP fallbacks off
    problem, primary = _problem()
    first, second = solve_lexicographic_bnb(problem, primary, node_limit=1)
    assert first.status == SolveStatus.OPTIMAL
    # the incumbent only: its own status, with a plan but no bound
    assert second is not None and second.status == SolveStatus.NODE_LIMIT_FEASIBLE
    assert second.has_plan and np.isnan(second.bound) and second.detail == "node limit 1 reached"
    assert second.objective > problem.objective(first.x)

    monkeypatch.setattr(laminar_bnb, "solve_lexicographic", _pulp_without_plan)
    res = solve_lexicographic_structured(problem, primary, node_limit=1)
    assert res.status == SolveStatus.TIME_LIMIT_FEASIBLE
    assert res.detail.endswith("bnb incumbent kept")
    np.testing.assert_array_equal(res.x, second.x)
    assert res.objective == second.objective > problem.objective(first.x)
    assert problem.is_feasible(res.x)
    assert np.dot(primary, res.x) >= np.dot(primary, first.x) - 1e-9
