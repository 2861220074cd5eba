"""The group problem as one MILP (or its LP relaxation), in HiGHS through highspy.

Why highspy and not PuLP: a `large` group has ~12,000 integer variables; PuLP builds
its model one Python object per variable (~1 s) and cannot hand HiGHS a starting plan
or read back the LP duals we price the supply with. Here the model goes to HiGHS as the
problem's sparse columns in one call.

Used twice by group_exact.py: the LP relaxation, whose row duals are the first prices of
the supply (and its optimum a bound); and the MILP, started from the best plan found,
to close what the Lagrangian bound leaves open within the time limit. Like exact_pulp.py,
the plan read back is rounded, clipped and checked against every row (and the hold);
a plan that fails the check is dropped, never returned.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from solvers.knapsack.problem import KnapsackProblem

#: A sparse "at least" row: sum of coefs x x[items] >= rhs (the holds of criticite_hybride).
AtLeast = tuple[np.ndarray, np.ndarray, float]

#: Slack when checking a plan read back from HiGHS (its primal tolerance is 1e-7; our
#: weights have a few decimals, so a real violation is >= 1e-3).
CHECK_TOLERANCE = 1e-6


@dataclass(frozen=True)
class MilpOutcome:
    """x: the best plan HiGHS returned (None: none, or it failed the check); bound: its
    dual bound (+inf when unknown); proven: HiGHS closed the gap (to its tolerance)."""

    x: np.ndarray | None
    objective: float
    bound: float
    proven: bool
    status: str
    seconds: float


@dataclass(frozen=True)
class LpOutcome:
    """The LP relaxation: optimum (a bound on the MILP), plan and row duals (>= 0 on
    the <= rows, prices of their capacity; <= 0 on the hold rows)."""

    bound: float
    x: np.ndarray
    row_duals: np.ndarray
    hold_duals: np.ndarray
    seconds: float


def _silent_highs() -> highspy.Highs:
    """A Highs with its log off. The first Highs of a process prints HiGHS's banner on the C
    stdout before any option can be set; the banner would land in the middle of a
    `reassort run`'s output, so stdout's file descriptor points at /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.setOptionValue("output_flag", False)
    return highs


def meets(x: np.ndarray, rows: Sequence[AtLeast], tolerance: float = CHECK_TOLERANCE) -> bool:
    """Whether plan x meets every "at least" row (up to ``tolerance`` relative)."""
    xf = x.astype(np.float64)
    return all(float(np.dot(coef, xf[items])) >= rhs - tolerance * max(1.0, abs(rhs)) for items, coef, rhs in rows)


def _highs(problem: KnapsackProblem, min_constraints: Sequence[AtLeast], integer: bool) -> highspy.Highs:
    n, m = problem.n_items, problem.n_constraints
    # every coefficient as (row, column, value), the hold rows (coef . x >= rhs) after
    # the <= rows, sorted by column: the CSC arrays HiGHS takes
    row_of = np.repeat(np.arange(m, dtype=np.int64), np.diff(problem.row_starts))
    rows, cols, vals = [row_of], [problem.row_items], [problem.row_weights]
    for k, (items, coef, _) in enumerate(min_constraints):
        rows.append(np.full(len(items), m + k, dtype=np.int64))
        cols.append(np.asarray(items, dtype=np.int64))
        vals.append(np.asarray(coef, dtype=np.float64))
    row, col, val = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    order = np.lexsort((row, col))
    starts = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n))]).astype(np.int32)
    index = row[order].astype(np.int32)
    value = val[order]
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m + len(min_constraints)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = np.ascontiguousarray(problem.values, dtype=np.float64)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = problem.upper.astype(np.float64)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.concatenate([np.full(m, -inf), [float(rhs) for _, _, rhs in min_constraints]])
    lp.row_upper_ = np.concatenate([problem.capacities.astype(np.float64), np.full(len(min_constraints), inf)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = _silent_highs()
    # one thread, as exact_pulp.py runs HiGHS: HiGHS keeps one scheduler per process and
    # refuses to run ("kError") a model whose thread count differs from the one it started
    # with, so a default here would break the per-site HiGHS solves that follow
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    return h


def solve_lp(problem: KnapsackProblem, min_constraints: Sequence[AtLeast] = ()) -> LpOutcome | None:
    """The LP relaxation (None when HiGHS does not reach its optimum)."""
    t0 = time.perf_counter()
    h = _highs(problem, min_constraints, integer=False)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    duals = np.asarray(sol.row_dual, dtype=np.float64)
    m = problem.n_constraints
    return LpOutcome(
        bound=float(h.getInfo().objective_function_value),
        x=np.asarray(sol.col_value, dtype=np.float64),
        row_duals=np.maximum(duals[:m], 0.0),
        hold_duals=np.minimum(duals[m:], 0.0),
        seconds=time.perf_counter() - t0,
    )


def solve_milp(
    problem: KnapsackProblem,
    time_limit_s: float,
    gap_tolerance: float = 0.0,
    start: np.ndarray | None = None,
    min_constraints: Sequence[AtLeast] = (),
) -> MilpOutcome:
    """The MILP from ``start`` (a feasible plan) for at most ``time_limit_s``; relative
    gap tolerance ``gap_tolerance`` (0: to optimality, absolute gap 1e-9 as exact_pulp)."""
    t0 = time.perf_counter()
    h = _highs(problem, min_constraints, integer=True)
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    h.setOptionValue("mip_rel_gap", float(gap_tolerance))
    h.setOptionValue("mip_abs_gap", 1e-9)
    if start is not None:
        idx = np.arange(problem.n_items, dtype=np.int32)
        h.setSolution(problem.n_items, idx, np.asarray(start, dtype=np.float64))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    seconds = time.perf_counter() - t0
    bound = float(info.mip_dual_bound)
    if not math.isfinite(bound):
        bound = math.inf
    x = None
    objective = -math.inf
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        raw = np.asarray(h.getSolution().col_value, dtype=np.float64)
        x = np.clip(np.rint(raw).astype(np.int64), 0, problem.upper)
        if problem.is_feasible(x, CHECK_TOLERANCE) and meets(x, min_constraints):
            objective = problem.objective(x)
        else:
            x = None
    proven = status == highspy.HighsModelStatus.kOptimal and x is not None
    return MilpOutcome(x, objective, bound, proven, h.modelStatusToString(status), seconds)
