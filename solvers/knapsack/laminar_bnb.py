"""Exact branch and bound for the site structure: one total + disjoint category limits.

Why it is exact and fast: when every item has the same coefficient in the total row and
in its (single) category row, the constraints form a laminar family over the volumes
y_j = w_j x_j. {0 <= y_j <= w_j u_j, laminar sums <= capacities} is a polymatroid, so
its LP relaxation is solved exactly by the fractional greedy in value-per-weight order.
That gives the LP bound of a node in O(n), with no LP solver. Items are branched in
the same order, largest count first; fixing x_j lower can only lower the bound (the LP
value is concave in x_j and maximal at its largest value), so the first pruned count
prunes all smaller ones.

The search is exact up to float noise: a node is cut when its bound is not above
incumbent + 1e-11 x max(1, |incumbent|). Weights stay floats, with no scaling to
integers (so no assumption on their decimals): capacities are checked with the
package's CAPACITY_TOLERANCE, like greedy. Worst-case time is exponential, so the
search stops after ``node_limit`` nodes and says it did not prove optimality; then
``solve_exact_structured`` hands the problem to PuLP/CBC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np

from solvers.knapsack.exact_pulp import ExactSolver, solve_exact
from solvers.knapsack.greedy import _greedy_fill
from solvers.knapsack.problem import (
    CAPACITY_TOLERANCE,
    KnapsackProblem,
    KnapsackResult,
    SolveStatus,
)

#: Relative objective tolerance of the pruning test.
OBJECTIVE_TOLERANCE = 1e-11
#: Default node budget (~10-20 ms); beyond it the caller falls back to PuLP.
NODE_LIMIT = 200_000


@dataclass(frozen=True)
class LaminarStructure:
    """Per item: its weight and its group (-1: only the total); per group: its capacity."""

    weight: np.ndarray
    group: np.ndarray
    group_capacity: np.ndarray
    total_capacity: float


def laminar_structure(problem: KnapsackProblem) -> LaminarStructure | None:
    """The structure if ``problem`` has it, else None.

    Required: one row (the total) lists every item, every other row's items appear in
    no other non-total row, and each item has the same coefficient in all its rows.
    Without such a total row, disjoint rows alone also qualify (total = +inf). Anything
    else returns None (the caller then uses PuLP).
    """
    n, m = problem.n_items, problem.n_constraints
    starts = problem.row_starts
    weight = np.full(n, np.nan)
    group = np.full(n, -1, dtype=np.int64)
    in_rows = np.zeros(n, dtype=np.int64)
    np.add.at(in_rows, problem.row_items, 1)
    total_row = -1
    for i in range(m):
        if starts[i + 1] - starts[i] == n and n > 0:
            total_row = i
            break
    if np.any(in_rows > (2 if total_row >= 0 else 1)):
        return None
    group_caps = []
    for i in range(m):
        items = problem.row_items[starts[i] : starts[i + 1]]
        coefs = problem.row_weights[starts[i] : starts[i + 1]]
        known = ~np.isnan(weight[items])
        if np.any(np.abs(weight[items][known] - coefs[known]) > 1e-12 * np.maximum(1.0, coefs[known])):
            return None
        weight[items] = coefs
        if i != total_row:
            group[items] = len(group_caps)
            group_caps.append(problem.capacities[i])
    weight = np.where(np.isnan(weight), 0.0, weight)
    return LaminarStructure(
        weight=weight,
        group=group,
        group_capacity=np.asarray(group_caps, dtype=np.float64),
        total_capacity=float(problem.capacities[total_row]) if total_row >= 0 else np.inf,
    )


@numba.njit(cache=True)
def _lp_bound(start, ratio, vol_max, group, rem_total, rem_group, scratch):
    """Fractional greedy over items start.. (already in ratio order): the exact LP value."""
    for g in range(rem_group.shape[0]):
        scratch[g] = rem_group[g]
    b = 0.0
    rt = rem_total
    for i in range(start, ratio.shape[0]):
        if rt <= 0.0:
            break
        room = rt
        g = group[i]
        if g >= 0:
            if scratch[g] < room:
                room = scratch[g]
        if room <= 0.0:
            continue
        take = vol_max[i] if vol_max[i] < room else room
        b += take * ratio[i]
        rt -= take
        if g >= 0:
            scratch[g] -= take
    return b


@numba.njit(cache=True)
def _fit(j, w, u, group, rem_total, rem_group, tol):
    room = rem_total
    g = group[j]
    if g >= 0 and rem_group[g] < room:
        room = rem_group[g]
    if room + tol < w[j]:
        return 0
    k = np.int64(np.floor((room + tol) / w[j]))
    if k > u[j]:
        k = u[j]
    while k > 0 and k * w[j] > room + tol:
        k -= 1
    return k


@numba.njit(cache=True)
def _branch_and_bound(v, w, u, group, total_cap, group_cap, x_start, tol, rel_eps, node_limit):
    """DFS over items in ratio order; returns (best x, best value, nodes, proven)."""
    n = v.shape[0]
    ratio = v / w
    vol_max = u * w
    best_x = x_start.copy()
    best = 0.0
    for j in range(n):
        best += best_x[j] * v[j]
    x = np.zeros(n, dtype=np.int64)
    k = np.zeros(n, dtype=np.int64)
    rem_group = group_cap.copy()
    scratch = np.empty_like(group_cap)
    rem_total = total_cap
    val = 0.0
    nodes = 0
    j = 0
    entering = True
    while j >= 0:
        if entering:
            if j == n:
                if val > best + rel_eps * max(1.0, abs(best)):
                    best = val
                    best_x[:] = x
                j -= 1
                entering = False
                continue
            k[j] = _fit(j, w, u, group, rem_total, rem_group, tol) + 1
            x[j] = 0
        # undo the previous count of item j, then try the next smaller one
        if x[j] > 0:
            d = x[j] * w[j]
            rem_total += d
            if group[j] >= 0:
                rem_group[group[j]] += d
            val -= x[j] * v[j]
            x[j] = 0
        k[j] -= 1
        if k[j] < 0:
            j -= 1
            entering = False
            continue
        c = k[j]
        if c > 0:
            d = c * w[j]
            rem_total -= d
            if group[j] >= 0:
                rem_group[group[j]] -= d
            val += c * v[j]
            x[j] = c
        nodes += 1
        if nodes > node_limit:
            return best_x, best, nodes, False
        bound = val + _lp_bound(j + 1, ratio, vol_max, group, rem_total, rem_group, scratch)
        if bound <= best + rel_eps * max(1.0, abs(best)):
            # smaller counts of item j have smaller bounds: leave this level
            k[j] = 0
            if x[j] > 0:
                d = x[j] * w[j]
                rem_total += d
                if group[j] >= 0:
                    rem_group[group[j]] += d
                val -= x[j] * v[j]
                x[j] = 0
            j -= 1
            entering = False
            continue
        j += 1
        entering = True
    return best_x, best, nodes, True


def solve_laminar_bnb(
    problem: KnapsackProblem,
    structure: LaminarStructure | None = None,
    node_limit: int = NODE_LIMIT,
) -> KnapsackResult:
    """Exact plan for a laminar problem; status NO_SOLUTION (with the incumbent in x,
    detail "node limit") when the node budget runs out, so callers can fall back."""
    t0 = time.perf_counter()
    s = structure if structure is not None else laminar_structure(problem)
    if s is None:
        raise ValueError("problem does not have the total + disjoint categories structure")
    n = problem.n_items
    x = np.zeros(n, dtype=np.int64)
    v, u = problem.values, problem.upper
    free = (s.weight == 0) & (v > 0)  # weightless items: take them all
    x[free] = u[free]
    cand = np.flatnonzero((s.weight > 0) & (v > 0) & (u > 0))
    ratio = v[cand] / s.weight[cand]
    cand = cand[np.lexsort((cand, -ratio))]
    vs, ws, us, gs = v[cand], s.weight[cand], u[cand], s.group[cand]
    total = s.total_capacity if np.isfinite(s.total_capacity) else 1e300
    # incumbent: greedy in the same order (one row per group plus the total)
    m = s.group_capacity.shape[0]
    caps = np.concatenate([s.group_capacity, [total]])
    has_g = gs >= 0
    col_starts = np.zeros(cand.size + 1, dtype=np.int64)
    col_starts[1:] = np.cumsum(1 + has_g)
    col_rows = np.empty(col_starts[-1], dtype=np.int64)
    col_w = np.empty(col_starts[-1], dtype=np.float64)
    col_rows[col_starts[:-1]] = m
    col_w[col_starts[:-1]] = ws
    col_rows[col_starts[:-1][has_g] + 1] = gs[has_g]
    col_w[col_starts[:-1][has_g] + 1] = ws[has_g]
    t1 = time.perf_counter()
    start = _greedy_fill(
        np.arange(cand.size, dtype=np.int64), us, caps, col_starts, col_rows, col_w,
        CAPACITY_TOLERANCE,
    )
    # the capacity slack goes into the capacities themselves, so that the LP bound
    # covers every plan the fit test accepts
    xs, _, nodes, proven = _branch_and_bound(
        vs, ws, us, gs, float(total) + CAPACITY_TOLERANCE,
        s.group_capacity.astype(np.float64) + CAPACITY_TOLERANCE, start,
        0.0, OBJECTIVE_TOLERANCE, node_limit,
    )
    x[cand] = xs
    t2 = time.perf_counter()
    objective = problem.objective(x)
    if not problem.is_feasible(x):
        return KnapsackResult(
            np.zeros(n, dtype=np.int64), 0.0, float("nan"), float("nan"),
            SolveStatus.SOLVER_ERROR, "bnb", (t1 - t0) * 1e3, (t2 - t1) * 1e3,
            detail="branch and bound plan infeasible",
        )
    if not proven:
        return KnapsackResult(
            x, objective, float("nan"), float("nan"), SolveStatus.NO_SOLUTION, "bnb",
            (t1 - t0) * 1e3, (t2 - t1) * 1e3, detail=f"node limit {node_limit} reached",
        )
    return KnapsackResult(
        x, objective, objective, 0.0, SolveStatus.OPTIMAL, "bnb",
        (t1 - t0) * 1e3, (t2 - t1) * 1e3, detail=f"{nodes} nodes",
    )


def solve_exact_structured(
    problem: KnapsackProblem,
    time_limit_s: float = 10.0,
    node_limit: int = NODE_LIMIT,
    fallback_solver: ExactSolver = "cbc",
) -> KnapsackResult:
    """Branch and bound when the problem has the site structure and it proves optimality
    within ``node_limit``; otherwise the PuLP solve (solver label "bnb->cbc")."""
    structure = laminar_structure(problem)
    if structure is not None:
        res = solve_laminar_bnb(problem, structure, node_limit)
        if res.status == SolveStatus.OPTIMAL:
            return res
        spent_ms = res.build_ms + res.solve_ms
    else:
        spent_ms = 0.0
    pulp_res = solve_exact(problem, solver=fallback_solver, time_limit_s=time_limit_s)
    return KnapsackResult(
        pulp_res.x, pulp_res.objective, pulp_res.bound, pulp_res.gap, pulp_res.status,
        f"bnb->{pulp_res.solver}", pulp_res.build_ms, pulp_res.solve_ms + spent_ms,
        pulp_res.detail,
    )
