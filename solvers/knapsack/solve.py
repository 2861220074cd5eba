"""One entry point over the MKP methods, so callers switch method by name (config, CLI)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from solvers.knapsack.exact_pulp import ExactSolver, solve_exact
from solvers.knapsack.greedy import solve_greedy
from solvers.knapsack.laminar_bnb import solve_exact_structured, solve_lexicographic_structured
from solvers.knapsack.lexicographic import solve_lexicographic
from solvers.knapsack.problem import KnapsackProblem, KnapsackResult

Method = Literal["exact", "greedy", "lexicographic", "structured", "structured_lexicographic"]


def solve(
    problem: KnapsackProblem,
    method: Method = "exact",
    *,
    solver: ExactSolver = "cbc",
    time_limit_s: float = 10.0,
    primary_values: np.ndarray | None = None,
    ratio_weights: np.ndarray | None = None,
    priority: np.ndarray | None = None,
    order_key: np.ndarray | None = None,
) -> KnapsackResult:
    """exact (PuLP), greedy, lexicographic (needs primary_values), structured (branch
    and bound for total + disjoint categories, PuLP behind it) or structured_lexicographic
    (the lexicographic solve, each phase by that branch and bound, PuLP behind it)."""
    if method == "exact":
        return solve_exact(problem, solver=solver, time_limit_s=time_limit_s)
    if method == "greedy":
        return solve_greedy(problem, ratio_weights, priority, order_key)
    if method in ("lexicographic", "structured_lexicographic"):
        if primary_values is None:
            raise ValueError(f"the {method} method needs primary_values")
        if method == "structured_lexicographic":
            return solve_lexicographic_structured(
                problem, primary_values, time_limit_s=time_limit_s, fallback_solver=solver
            )
        return solve_lexicographic(problem, primary_values, solver=solver, time_limit_s=time_limit_s)
    if method == "structured":
        return solve_exact_structured(problem, time_limit_s=time_limit_s, fallback_solver=solver)
    raise ValueError(f"unknown method {method!r}")
