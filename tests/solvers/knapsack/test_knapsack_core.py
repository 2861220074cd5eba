"""The general MKP core: problem checks, greedy semantics, exact statuses, lexicographic."""

from __future__ import annotations

import numpy as np
import pulp
import pytest

from solvers.knapsack import (
    KnapsackProblem,
    SolveStatus,
    laminar_bnb,
    solve,
    solve_exact,
    solve_greedy,
    solve_lexicographic,
)
from solvers.knapsack.exact_pulp import needs_increment
from solvers.knapsack.laminar_bnb import (
    laminar_structure,
    solve_exact_structured,
    solve_laminar_bnb,
    solve_lexicographic_structured,
)


def hard_mkp(n: int = 120, m: int = 10, seed: int = 0) -> KnapsackProblem:
    """A correlated 0/1 MKP that CBC and HiGHS do not close in a fraction of a second."""
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 1000, (m, n)).astype(float)
    v = w.sum(0) / m + rng.integers(0, 500, n) + 0.3
    return KnapsackProblem.from_dense(v, w, w.sum(1) * 0.5)


def test_sparse_rows_and_dense_matrix_build_the_same_problem():
    dense = KnapsackProblem.from_dense([3, 2, 1], [[1, 0, 2], [0, 4, 0]], [5, 6], upper=[2, 1, 3])
    sparse = KnapsackProblem.from_rows([3, 2, 1], [2, 1, 3], [([0, 2], [1, 2]), ([1], [4])], [5, 6])
    for a, b in zip(
        (dense.row_starts, dense.row_items, dense.row_weights),
        (sparse.row_starts, sparse.row_items, sparse.row_weights),
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(dense.loads(np.array([1, 1, 1])), [3.0, 4.0])


def test_negative_weights_are_rejected_because_zero_must_stay_feasible():
    with pytest.raises(ValueError, match=">= 0"):
        KnapsackProblem.from_rows([1.0], [1], [([0], [-1.0])], [1.0])


@pytest.mark.parametrize("rows, constraint", [
    ([([0, 1, 0], [1.0, 1.0, 1.0]), ([2], [1.0])], 0),
    ([([0], [1.0]), ([1, 2], [1.0, 1.0]), ([2, 1, 2], [1.0, 1.0, 1.0])], 2),
])
def test_an_item_listed_twice_in_a_constraint_is_refused_naming_the_constraint(rows, constraint):
    with pytest.raises(ValueError, match=f"constraint {constraint} lists an item twice"):
        KnapsackProblem.from_rows([1.0, 1.0, 1.0], [1, 1, 1], rows, [1.0] * len(rows))


def test_the_same_item_in_different_constraints_is_allowed():
    problem = KnapsackProblem.from_rows([1.0, 2.0], [1, 1], [([0, 1], [1.0, 1.0]), ([1, 0], [2.0, 1.0]), ([], [])], [3, 3, 0])
    assert problem.n_constraints == 3


def test_greedy_takes_as_many_lots_as_fit_then_moves_to_the_next_item():
    # ratios 2.0, 1.5, 1.0; capacity 10: 3 lots of item 0 (weight 3) fill 9,
    # item 1 (weight 2) no longer fits, item 2 (weight 1) takes the last unit.
    p = KnapsackProblem.from_rows([6.0, 3.0, 1.0], [5, 5, 5], [([0, 1, 2], [3.0, 2.0, 1.0])], [10.0])
    res = solve_greedy(p, ratio_weights=np.array([3.0, 2.0, 1.0]))
    assert res.x.tolist() == [3, 0, 1]
    assert res.status == SolveStatus.HEURISTIC and np.isnan(res.bound)


def test_greedy_breaks_ratio_ties_by_priority_then_by_order_key():
    p = KnapsackProblem.from_rows([1.0, 1.0, 1.0], [1, 1, 1], [([0, 1, 2], [1.0, 1.0, 1.0])], [1.0])
    w = np.ones(3)
    assert solve_greedy(p, w, priority=np.array([1, 2, 1])).x.tolist() == [0, 1, 0]
    assert solve_greedy(p, w, priority=np.array([1, 1, 1]), order_key=np.array([5, 9, 2])).x.tolist() == [0, 0, 1]


def test_greedy_counts_float_noise_as_fitting():
    # 10 lots of 0.3 weigh 3.0000000000000004 in floats: they fit a capacity of 3.
    p = KnapsackProblem.from_rows([1.0], [20], [([0], [0.3])], [3.0])
    assert solve_greedy(p).x.tolist() == [10]


def test_exact_at_the_time_limit_keeps_its_plan_and_reports_bound_and_gap():
    p = hard_mkp()
    for solver in ("cbc", "highs"):
        res = solve_exact(p, solver=solver, time_limit_s=0.3)
        assert res.status == SolveStatus.TIME_LIMIT_FEASIBLE, solver
        assert p.is_feasible(res.x) and res.objective > 0
        assert res.bound >= res.objective and res.gap > 0, solver


def test_exact_solver_crash_is_reported_not_raised(monkeypatch):
    def crash(self, lp, **kwargs):
        raise pulp.PulpSolverError("cbc died")

    monkeypatch.setattr(pulp.COIN_CMD, "actualSolve", crash)
    res = solve_exact(hard_mkp(20, 3))
    assert res.status == SolveStatus.SOLVER_ERROR and "cbc died" in res.detail
    assert not res.has_plan


def test_problem_without_free_variable_is_solved_without_a_solver():
    p = KnapsackProblem.from_rows([1.0, 2.0], [0, 0], [([0, 1], [1.0, 1.0])], [1.0])
    res = solve_exact(p)
    assert res.status == SolveStatus.OPTIMAL and res.x.tolist() == [0, 0]


def test_lexicographic_holds_the_primary_optimum_then_maximises_the_total():
    # capacity 10. Item 0 (primary value 1, total value 1, weight 10) is the only
    # primary item; items 1 and 2 (weight 5, value 3 each) would be worth more.
    p = KnapsackProblem.from_rows([1.0, 3.0, 3.0], [1, 1, 1], [([0, 1, 2], [10.0, 5.0, 5.0])], [10.0])
    plain = solve_exact(p)
    lex = solve_lexicographic(p, np.array([1.0, 0.0, 0.0]))
    assert plain.x.tolist() == [0, 1, 1]
    assert lex.x.tolist() == [1, 0, 0] and lex.status == SolveStatus.OPTIMAL


def test_lexicographic_without_primary_value_is_plain_exact():
    p = KnapsackProblem.from_rows([1.0, 3.0, 3.0], [1, 1, 1], [([0, 1, 2], [10.0, 5.0, 5.0])], [10.0])
    lex = solve_lexicographic(p, np.zeros(3))
    assert lex.objective == pytest.approx(solve_exact(p).objective)


def test_branch_and_bound_refuses_problems_without_the_site_structure(mknap1):
    assert laminar_structure(mknap1[0].problem) is None


def test_branch_and_bound_matches_cbc_on_a_laminar_problem():
    rng = np.random.default_rng(3)
    n = 40
    w = np.round(rng.uniform(0.01, 3, n), 3)
    group = rng.integers(0, 3, n)  # group 2: only in the total
    rows = [(np.arange(n), w)] + [(np.flatnonzero(group == g), w[group == g]) for g in (0, 1)]
    p = KnapsackProblem.from_rows(rng.uniform(0.01, 3, n), rng.integers(0, 5, n), rows, [20.0, 8.0, 6.0])
    bnb, cbc = solve_laminar_bnb(p), solve_exact(p)
    assert bnb.status == SolveStatus.OPTIMAL and p.is_feasible(bnb.x)
    assert bnb.objective == pytest.approx(cbc.objective, rel=1e-9, abs=1e-9)


def test_a_search_out_of_nodes_keeps_its_incumbent_under_its_own_status(monkeypatch):
    """NODE_LIMIT_FEASIBLE, not NO_SOLUTION: the plan is there, only the proof is missing;
    the structured solve then hands the problem to CBC and says why."""
    monkeypatch.setattr(laminar_bnb, "DP_WORK_LIMIT", -1)  # no DP behind the search
    p = KnapsackProblem.from_rows([2.0, 2.0, 1.0], [1, 1, 1], [([0, 1, 2], [6.0, 6.0, 4.0])], [10.0])
    res = solve_laminar_bnb(p, node_limit=1)
    assert res.status == SolveStatus.NODE_LIMIT_FEASIBLE and res.has_plan
    assert p.is_feasible(res.x) and res.objective == p.objective(res.x) > 0
    assert np.isnan(res.bound) and np.isnan(res.gap) and res.detail == "node limit 1 reached"
    handed = solve_exact_structured(p, node_limit=1)
    assert handed.solver == "bnb->cbc" and handed.status == SolveStatus.OPTIMAL
    assert handed.detail.startswith("bnb: node limit 1 reached")
    assert handed.objective == pytest.approx(3.0)


def test_cbc_is_told_the_cutoff_increment_only_for_fractional_values(monkeypatch, mknap1):
    """With integer values CBC derives an exact increment itself (~1); 1e-9 is forced
    only where some value is fractional (every site problem; mknap1 problem 2)."""
    assert [needs_increment(i.problem) for i in mknap1] == [False, True, False, False, False, False, False]
    seen: list[list[str]] = []
    real = pulp.COIN_CMD.actualSolve

    def spy(self, lp, **kwargs):
        seen.append(list(self.options))
        return real(self, lp, **kwargs)

    monkeypatch.setattr(pulp.COIN_CMD, "actualSolve", spy)
    for inst in mknap1[:2]:
        res = solve_exact(inst.problem, solver="cbc")
        assert res.status == SolveStatus.OPTIMAL
        assert res.objective == pytest.approx(inst.optimum, abs=1e-6)
    assert seen == [[], ["increment 1e-9"]]
    # a value taken nowhere (upper 0) does not count
    p = KnapsackProblem.from_rows([2.0, 0.5], [1, 0], [([0, 1], [1.0, 1.0])], [1.0])
    assert not needs_increment(p)


def test_every_method_answers_through_the_one_entry_point(mknap1):
    p = mknap1[1].problem
    for method in ("exact", "greedy", "structured"):
        assert p.is_feasible(solve(p, method).x)
    for method in ("lexicographic", "structured_lexicographic"):
        lex = solve(p, method, primary_values=np.ones(p.n_items))
        assert p.is_feasible(lex.x)
        with pytest.raises(ValueError, match="primary_values"):
            solve(p, method)


# ---- the structured lexicographic solve (branch and bound, PuLP behind it) ----------
def _critical_first_problem() -> tuple[KnapsackProblem, np.ndarray]:
    """Capacity 10: the primary item 0 (weight 10) against items 1 and 2 (weight 5, value 3)."""
    p = KnapsackProblem.from_rows([1.0, 3.0, 3.0], [1, 1, 1], [([0, 1, 2], [10.0, 5.0, 5.0])], [10.0])
    return p, np.array([1.0, 0.0, 0.0])


def test_structured_lexicographic_holds_the_primary_optimum_by_branch_and_bound_alone():
    p, primary = _critical_first_problem()
    res = solve_lexicographic_structured(p, primary)
    assert res.x.tolist() == [1, 0, 0] and res.status == SolveStatus.OPTIMAL
    assert res.solver == "bnb" and res.detail.startswith("phase 1 bnb") and "phase 2 bnb" in res.detail


def test_structured_hold_allows_the_same_float_slack_as_the_pulp_hold():
    # item 1 is worth 1e-8 less in the primary objective than item 0: within the hold
    # tolerance (1e-7), so both paths may swap it in and add item 2.
    p = KnapsackProblem.from_rows(
        [1.0, 1.0 - 1e-8, 3.0], [1, 1, 1], [([0, 1, 2], [10.0, 5.0, 5.0])], [10.0]
    )
    primary = np.array([1.0, 1.0 - 1e-8, 0.0])
    bnb, cbc = solve_lexicographic_structured(p, primary), solve_lexicographic(p, primary)
    assert bnb.x.tolist() == cbc.x.tolist() == [0, 1, 1]


def test_structured_lexicographic_hands_phase_two_to_cbc_when_it_runs_out_of_nodes(monkeypatch):
    monkeypatch.setattr(laminar_bnb, "DP_WORK_LIMIT", -1)  # no DP behind the search
    p, primary = _critical_first_problem()
    res = solve_lexicographic_structured(p, primary, node_limit=1)
    assert res.solver == "bnb->cbc" and res.status == SolveStatus.OPTIMAL
    assert "phase 1 bnb" in res.detail and "phase 2 cbc" in res.detail
    assert res.x.tolist() == [1, 0, 0]


def test_structured_lexicographic_hands_both_phases_to_cbc_when_phase_one_runs_out_of_nodes(monkeypatch):
    monkeypatch.setattr(laminar_bnb, "DP_WORK_LIMIT", -1)  # no DP behind the search
    # two primary items of weight 6 for a capacity of 10: the LP takes 1.67 of them
    p = KnapsackProblem.from_rows([2.0, 2.0, 1.0], [1, 1, 1], [([0, 1, 2], [6.0, 6.0, 4.0])], [10.0])
    primary = np.array([2.0, 2.0, 0.0])
    res = solve_lexicographic_structured(p, primary, node_limit=1)
    assert res.solver == "bnb->cbc" and "phases 1 and 2 cbc" in res.detail
    assert res.objective == pytest.approx(solve_lexicographic(p, primary).objective)


def test_structured_lexicographic_without_the_site_structure_is_the_pulp_solve(mknap1):
    p = mknap1[3].problem
    primary = np.where(np.arange(p.n_items) % 3 == 0, p.values, 0.0)
    res = solve(p, "structured_lexicographic", primary_values=primary)
    assert res.solver == "bnb->cbc" and "no site structure" in res.detail
    assert res.objective == pytest.approx(solve_lexicographic(p, primary).objective, abs=1e-9)
