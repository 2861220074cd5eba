"""The MKP core against the OR-Library mknap1 optima (0/1 problems: u_j = 1)."""

from __future__ import annotations

import pytest

from solvers.knapsack import SolveStatus, solve_exact, solve_greedy


def test_the_fixture_holds_the_seven_listed_problems(mknap1):
    assert [(i.number, i.problem.n_items, i.problem.n_constraints) for i in mknap1] == [
        (1, 6, 10), (2, 10, 10), (3, 15, 10), (4, 20, 10), (5, 28, 10), (6, 39, 5), (7, 50, 5),
    ]


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_exact_solver_reaches_every_listed_mknap1_optimum(mknap1, solver):
    for inst in mknap1:
        res = solve_exact(inst.problem, solver=solver, time_limit_s=30)
        assert res.status == SolveStatus.OPTIMAL, inst.number
        assert res.objective == pytest.approx(inst.optimum, abs=1e-6), inst.number
        assert inst.problem.is_feasible(res.x)
        assert set(res.x.tolist()) <= {0, 1}
        assert res.bound == res.objective and res.gap == 0.0


def test_greedy_gap_to_each_mknap1_optimum_is_recorded(mknap1, record_property):
    """Not an equality: greedy is a heuristic. The gaps are printed and recorded."""
    gaps = {}
    for inst in mknap1:
        res = solve_greedy(inst.problem)
        assert inst.problem.is_feasible(res.x)
        assert res.objective <= inst.optimum + 1e-9
        gaps[inst.number] = (inst.optimum - res.objective) / inst.optimum
    record_property("greedy_gap_mknap1", gaps)
    print("greedy relative gap to the mknap1 optima:", {k: f"{v:.2%}" for k, v in gaps.items()})
