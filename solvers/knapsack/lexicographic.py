"""Lexicographic two-phase MKP (SPEC §5 `criticite_hybride`).

Phase 1 maximises a primary objective v1 (for a site: the value of the high-tier lots of
CRITIQUE-level pairs); phase 2 maximises the full objective while holding
v1 . x >= opt1 - tolerance. The hold is needed because a plain maximisation may trade
one critical lot for several cheaper, denser ones.

- Phase 1 only needs the items with v1 > 0: weights are non-negative, so the others can
  sit at 0 without hurting feasibility. It is solved on that (much smaller) subproblem.
- opt1 is recomputed from phase 1's integer plan (not read from the solver) and the hold
  uses tolerance = hold_tolerance x max(1, |opt1|), absorbing solver float noise only.
- The time limit is the budget of the whole solve: phase 2 gets what phase 1 left,
  but at least ``min_phase_share`` of it.
- Status: OPTIMAL only if both phases are; TIME_LIMIT_FEASIBLE if either stopped at the
  limit (the hold is then on phase 1's incumbent, and bound/gap are phase 2's, i.e.
  relative to that hold). If phase 2 yields nothing, phase 1's plan (which satisfies the
  hold) is returned as TIME_LIMIT_FEASIBLE with an unknown bound. If phase 1 yields
  nothing, its NO_SOLUTION / SOLVER_ERROR is returned for the caller to fall back.
- ``phase1_plan``: a phase-1 optimum proven elsewhere (the structured branch and bound
  of laminar_bnb.py, when only its phase 2 ran out of nodes); phase 1 is then skipped.
"""

from __future__ import annotations

import time

import numpy as np

from solvers.knapsack.exact_pulp import ExactSolver, solve_exact
from solvers.knapsack.problem import KnapsackProblem, KnapsackResult, SolveStatus

#: Relative slack of the phase-2 hold v1.x >= opt1 - HOLD_TOLERANCE x max(1, |opt1|):
#: solver float noise only (the structured path states the very same hold).
HOLD_TOLERANCE = 1e-7


def solve_lexicographic(
    problem: KnapsackProblem,
    primary_values: np.ndarray,
    solver: ExactSolver = "cbc",
    time_limit_s: float = 10.0,
    hold_tolerance: float = HOLD_TOLERANCE,
    min_phase_share: float = 0.1,
    threads: int = 1,
    phase1_plan: np.ndarray | None = None,
) -> KnapsackResult:
    """max v.x over the plans that maximise primary_values.x (see module docstring)."""
    t_start = time.perf_counter()
    primary = np.ascontiguousarray(primary_values, dtype=np.float64)
    if primary.shape != problem.values.shape:
        raise ValueError("primary_values must have one entry per item")
    keep = (primary > 0) & (problem.upper > 0)
    build_ms = solve_ms = 0.0
    phase1_status = SolveStatus.OPTIMAL
    x1 = np.zeros(problem.n_items, dtype=np.int64)
    if phase1_plan is not None:
        x1 = np.asarray(phase1_plan, dtype=np.int64).copy()
        if x1.shape != (problem.n_items,) or not problem.is_feasible(x1):
            raise ValueError("phase1_plan must be a feasible plan over every item")
    elif keep.any():
        first = solve_exact(
            problem.subproblem(keep).with_values(primary[keep]),
            solver=solver,
            time_limit_s=time_limit_s,
            threads=threads,
        )
        build_ms += first.build_ms
        solve_ms += first.solve_ms
        if not first.has_plan:
            return KnapsackResult(
                x=x1, objective=0.0, bound=float("nan"), gap=float("nan"), status=first.status,
                solver=solver, build_ms=build_ms, solve_ms=solve_ms, detail=f"phase 1: {first.detail}",
            )
        phase1_status = first.status
        x1[keep] = first.x
    opt1 = float(np.dot(primary, x1))
    hold = [(primary, opt1 - hold_tolerance * max(1.0, abs(opt1)))] if opt1 > 0 else []

    elapsed = time.perf_counter() - t_start
    remaining = max(time_limit_s - elapsed, min_phase_share * time_limit_s)
    second = solve_exact(
        problem, solver=solver, time_limit_s=remaining, min_constraints=hold, threads=threads
    )
    build_ms += second.build_ms
    solve_ms += second.solve_ms
    if not second.has_plan:
        return KnapsackResult(
            x=x1, objective=problem.objective(x1), bound=float("nan"), gap=float("nan"),
            status=SolveStatus.TIME_LIMIT_FEASIBLE, solver=solver, build_ms=build_ms,
            solve_ms=solve_ms, detail=f"phase 2 gave no plan ({second.status}); phase 1 plan kept",
        )
    status = (
        SolveStatus.OPTIMAL
        if phase1_status == SolveStatus.OPTIMAL and second.status == SolveStatus.OPTIMAL
        else SolveStatus.TIME_LIMIT_FEASIBLE
    )
    return KnapsackResult(
        x=second.x, objective=second.objective, bound=second.bound, gap=second.gap, status=status,
        solver=solver, build_ms=build_ms, solve_ms=solve_ms,
        detail="" if status == second.status else "phase 1 stopped at the time limit",
    )
