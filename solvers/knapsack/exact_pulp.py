"""Exact MKP through PuLP: CBC by default, HiGHS selectable (SPEC §5 `exact`).

This is the general path and the reference the other methods are checked against.

Solver choices, and why:
- CBC is called as ``pulp.COIN_CMD`` on the CBC binary bundled with PuLP 3.3 (the very
  binary and code path of ``PULP_CBC_CMD``, which 3.3 deprecates and 4.0 removes); a
  ``cbc`` on PATH wins if present, so the call survives the PuLP 4 upgrade.
- HiGHS is ``pulp.HiGHS`` (the in-process highspy API; ``HiGHS_CMD`` would need a
  ``highs`` executable, which the highspy wheel does not ship).
- Both run with a zero relative gap and a 1e-9 absolute gap: HiGHS's default
  ``mip_rel_gap`` of 1e-4 would stop before taking small top-up lots (values ~1e-3) and
  call the plan optimal.
- CBC gets ``increment 1e-9`` only when some value is fractional (``needs_increment``),
  which every site problem has: there CBC otherwise cuts off nodes that do not beat the
  incumbent by its default increment (1e-5) and may end up to ~1e-5 short of the
  optimum while saying "Optimal" (2 of 1,000 benchmark sites, 6e-6 and 1e-5 short; ~9 %
  slower). When every value is an integer, two plans differ by at least 1 and CBC
  derives that increment itself (its log: "Cutoff increment increased from 1e-05 to
  0.9999"): forcing 1e-9 there can only prune less (measured: no difference on the
  problems of docs/benchmarks.md, "PuLP/CBC cutoff increment"; issue 20 saw 0.18 pt of
  gap on hidden ones). CBC also finds decimal steps (0.0999 on mknap1 problem 2), but the
  rule stays "integers only": it is certain, and keeps every site solve as it was.

Statuses: PuLP reports a solve stopped at the time limit *with* an incumbent as
``LpStatusOptimal`` + ``LpSolutionIntegerFeasible``; only ``LpSolutionOptimal`` means
proven optimal. We map that to TIME_LIMIT_FEASIBLE and read the best bound:
- HiGHS: ``Highs.getInfo().mip_dual_bound`` (negated: PuLP hands HiGHS the minimisation
  of -v).
- CBC: PuLP does not expose it, so the CBC log is written to a temporary file
  (``logPath``) and its ``Upper bound:`` line is parsed. CBC prints it rounded to a few
  decimals, so the bound is raised to at least the objective; if the line is missing the
  bound is NaN and so is the gap.
When the status is OPTIMAL, bound = objective and gap = 0 exactly (no solver noise).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pulp

from solvers.knapsack.problem import (
    KnapsackProblem,
    KnapsackResult,
    SolveStatus,
    relative_gap,
)

ExactSolver = Literal["cbc", "highs"]

#: Feasibility slack when checking the solver's (rounded) plan; CBC/HiGHS work to 1e-6
#: to 1e-7 primal tolerance and our weights have at most a few decimals.
_CHECK_TOLERANCE = 1e-6
_BOUND_LINE = re.compile(r"^(?:Upper|Lower) bound:\s*([-+0-9.eE]+)", re.MULTILINE)

#: A "hold" constraint coef . x >= rhs (used by the lexicographic second phase).
MinConstraint = tuple[np.ndarray, float]


def _cbc_path() -> str:
    return shutil.which("cbc") or pulp.PULP_CBC_CMD.pulp_cbc_path


def build_model(
    problem: KnapsackProblem, min_constraints: Sequence[MinConstraint] = ()
) -> tuple[pulp.LpProblem, list[pulp.LpVariable | None]]:
    """The PuLP model, built in bulk: one LpAffineExpression per row from (var, coef) pairs.

    Items with u_j = 0 get no variable (x_j = 0); constraints left empty are skipped.
    """
    prob = pulp.LpProblem("mkp", pulp.LpMaximize)
    upper = problem.upper
    variables: list[pulp.LpVariable | None] = [None] * problem.n_items
    active = np.flatnonzero(upper > 0)
    for j in active.tolist():
        variables[j] = prob.add_variable(f"x{j}", 0, int(upper[j]), cat=pulp.LpInteger)
    values = problem.values
    prob.setObjective(
        pulp.LpAffineExpression(
            [(variables[j], float(values[j])) for j in active.tolist() if values[j] != 0]
        )
    )
    starts = problem.row_starts
    for i in range(problem.n_constraints):
        items = problem.row_items[starts[i] : starts[i + 1]]
        weights = problem.row_weights[starts[i] : starts[i + 1]]
        terms = [
            (variables[j], w)
            for j, w in zip(items.tolist(), weights.tolist())
            if variables[j] is not None and w != 0
        ]
        if terms:
            prob.addConstraint(
                pulp.LpConstraint(
                    pulp.LpAffineExpression(terms),
                    sense=pulp.LpConstraintLE,
                    rhs=float(problem.capacities[i]),
                    name=f"c{i}",
                )
            )
    for k, (coef, rhs) in enumerate(min_constraints):
        terms = [
            (variables[j], float(coef[j]))
            for j in np.flatnonzero(coef).tolist()
            if variables[j] is not None
        ]
        prob.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression(terms),
                sense=pulp.LpConstraintGE,
                rhs=float(rhs),
                name=f"hold{k}",
            )
        )
    return prob, variables


def needs_increment(problem: KnapsackProblem) -> bool:
    """Whether CBC must be told ``increment 1e-9``: some item that can be taken has a
    fractional value (module docstring). With integer values CBC's own increment is exact."""
    values = problem.values[problem.upper > 0]
    return not bool(np.all(values == np.rint(values)))


def _make_solver(
    solver: ExactSolver, time_limit_s: float, log_path: str | None, threads: int, increment: bool = True
):
    if solver == "cbc":
        return pulp.COIN_CMD(
            path=_cbc_path(),
            msg=False,
            timeLimit=time_limit_s,
            gapRel=0.0,
            gapAbs=1e-9,
            logPath=log_path,
            options=["increment 1e-9"] if increment else [],
        )
    if solver == "highs":
        return pulp.HiGHS(
            msg=False, timeLimit=time_limit_s, gapRel=0.0, gapAbs=1e-9, threads=threads
        )
    raise ValueError(f"unknown exact solver {solver!r} (expected 'cbc' or 'highs')")


def _read_cbc_bound(log_path: str) -> float:
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return float("nan")
    found = _BOUND_LINE.findall(text)
    return float(found[-1]) if found else float("nan")


def _read_highs_bound(prob: pulp.LpProblem) -> float:
    try:
        return -float(prob.solverModel.getInfo().mip_dual_bound)
    except Exception:  # the bound is a nicety: never fail a solve over it
        return float("nan")


def _no_plan(
    status: SolveStatus, solver: str, build_ms: float, solve_ms: float, detail: str, n_items: int
) -> KnapsackResult:
    """A solve without a plan (SOLVER_ERROR, NO_SOLUTION): x = 0, bound and gap unknown."""
    return KnapsackResult(
        x=np.zeros(n_items, dtype=np.int64), objective=0.0, bound=float("nan"), gap=float("nan"),
        status=status, solver=solver, build_ms=build_ms, solve_ms=solve_ms, detail=detail,
    )


def solve_exact(
    problem: KnapsackProblem,
    solver: ExactSolver = "cbc",
    time_limit_s: float = 10.0,
    min_constraints: Sequence[MinConstraint] = (),
    threads: int = 1,
) -> KnapsackResult:
    """Solve the MKP to optimality, or to the time limit.

    Never raises on a solver failure: returns SOLVER_ERROR (detail = the error) or
    NO_SOLUTION with x = 0, and the caller decides on a fallback.
    """
    t0 = time.perf_counter()
    if solver not in ("cbc", "highs"):
        raise ValueError(f"unknown exact solver {solver!r} (expected 'cbc' or 'highs')")
    if not np.any(problem.upper > 0):
        x = np.zeros(problem.n_items, dtype=np.int64)
        return KnapsackResult(
            x=x, objective=0.0, bound=0.0, gap=0.0, status=SolveStatus.OPTIMAL, solver=solver,
            build_ms=0.0, solve_ms=0.0,
        )
    prob, variables = build_model(problem, min_constraints)
    t1 = time.perf_counter()
    build_ms = (t1 - t0) * 1e3
    log_path = None
    if solver == "cbc":
        fd, log_path = tempfile.mkstemp(prefix="reassort_cbc_", suffix=".log")
        os.close(fd)
    try:
        try:
            prob.solve(_make_solver(solver, time_limit_s, log_path, threads, needs_increment(problem)))
        except Exception as exc:  # PulpSolverError, OSError, a killed subprocess...
            return _no_plan(
                SolveStatus.SOLVER_ERROR, solver, build_ms, (time.perf_counter() - t1) * 1e3, repr(exc),
                problem.n_items,
            )
        sol_status = prob.sol_status
        bound = float("nan")
        if sol_status == pulp.LpSolutionIntegerFeasible:
            bound = _read_cbc_bound(log_path) if log_path is not None else _read_highs_bound(prob)  # cbc: a log
    finally:
        if log_path is not None:
            try:
                os.unlink(log_path)
            except OSError:
                pass
    solve_ms = (time.perf_counter() - t1) * 1e3

    if sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        status = (
            SolveStatus.SOLVER_ERROR
            if prob.status == pulp.LpStatusInfeasible
            else SolveStatus.NO_SOLUTION
        )
        detail = f"pulp status {pulp.LpStatus[prob.status]}, solution {pulp.LpSolution[sol_status]}"
        return _no_plan(status, solver, build_ms, solve_ms, detail, problem.n_items)

    x = np.array(
        [0 if v is None or v.varValue is None else round(v.varValue) for v in variables],
        dtype=np.int64,
    )
    x = np.clip(x, 0, problem.upper)
    holds = all(
        float(np.dot(coef, x)) >= rhs - _CHECK_TOLERANCE * max(1.0, abs(rhs))
        for coef, rhs in min_constraints
    )
    if not (problem.is_feasible(x, _CHECK_TOLERANCE) and holds):
        return _no_plan(
            SolveStatus.SOLVER_ERROR, solver, build_ms, solve_ms,
            "solver plan infeasible after rounding", problem.n_items,
        )
    objective = problem.objective(x)
    if sol_status == pulp.LpSolutionOptimal:
        return KnapsackResult(
            x=x, objective=objective, bound=objective, gap=0.0, status=SolveStatus.OPTIMAL,
            solver=solver, build_ms=build_ms, solve_ms=solve_ms,
        )
    if math.isfinite(bound):
        bound = max(bound, objective)
    return KnapsackResult(
        x=x, objective=objective, bound=bound, gap=relative_gap(objective, bound),
        status=SolveStatus.TIME_LIMIT_FEASIBLE, solver=solver, build_ms=build_ms, solve_ms=solve_ms,
    )
