"""Exact branch and bound for the site structure: one total + disjoint category limits.

Why it is exact and fast: when every item has the same coefficient in the total row and
in its (single) category row, the constraints form a laminar family over the volumes
y_j = w_j x_j. {lo_j <= x_j <= hi_j, laminar sums <= capacities} is (a translate of) a
polymatroid, so its LP relaxation is solved exactly by the fractional greedy in
value-per-weight order: the LP bound of a node costs O(n), with no LP solver.

The search is an LP-based branch and bound, as a MILP solver does it, but on this
closed-form LP: a node is a box lo <= x <= hi; its LP optimum has at most one
fractional item per tight constraint (so 1 to 3 on a site); we branch on one of them
(x <= floor / x >= ceil), depth first, the child with the higher LP bound first. The
item is chosen by strong branching: both children's LP bounds are computed for every
fractional item (two more greedy passes each) and the item whose children lower the
bound most (product rule) wins. Each node also rounds its LP plan down and fills it
greedily, which finds the optimum early. Why it matters, on the benchmark sites:
enumerating counts item by item in ratio order (the first version of this module) ran
out of 200,000 nodes on ~11 % of them, where a large lot is fractional at the root;
branching on the fractional item of largest w x min(frac, 1 - frac) proves them all
but leaves a tail (two categories each losing a little to integrality: millions of
nodes on ~0.5 % of the criticite_hybride phase-2 problems); strong branching closes
most of it (2 sites of 5,000 need more than NODE_LIMIT nodes, and go to CBC).

Lexicographic objective (criticite_hybride, SPEC §5): phase 1 is the same search on
the primary items alone (those with a primary value > 0) with the primary values.
Phase 2 is max v.x subject to v1.x >= hold, hold = opt1 - hold_tolerance x max(1, opt1)
exactly as the PuLP path (lexicographic.py) states it. The hold only involves the
primary items, so the search branches on them first: a node is cut when the LP maximum
of v1 over its box (greedy in v1-per-weight order) is below the hold, or when the LP
bound on v (the hold left out: still a valid bound) is not above the incumbent. Once
every primary item is fixed the hold is settled and the node is a plain laminar
problem. The phase-2 search starts from phase 1's plan filled greedily (it meets the
hold), so it always has a plan.

Exact up to float noise: a node is cut when its bound is not above incumbent +
1e-11 x max(1, |incumbent|). Weights stay floats, with no scaling to integers (so no
assumption on their decimals): the capacities are widened by the package's
CAPACITY_TOLERANCE, so that the LP bound covers every plan the tolerance accepts, and
the final plan is checked with ``is_feasible``. Worst-case time is exponential, so the
search stops after ``node_limit`` nodes and says it did not prove optimality.

Behind the search, exact DPs: real sites have plateaus of near-equal value per weight
(U = 0 pairs worth 0.01 x importance weight, top-up lots 0.1 x that, shared
unit_volume x lot_size), where the LP bound exceeds the integer optimum by a fraction
of one small lot while exponentially many fillings tie, so the search proves nothing
within its budget. When a search runs out of nodes: (1) the core DP of core_dp.py
(phase 2: critical lots the hold forces pinned, saturated categories profiled;
reduced-cost fixing; windows from the LP duals; DP on the items left free), which
closes every site of the generated `large` partition, depots (~8,000 items) included;
(2) else the DP of laminar_dp.py on the whole problem; (3) else the result is
NODE_LIMIT_FEASIBLE (the search's incumbent, no bound) and ``solve_exact_structured`` /
``solve_lexicographic_structured`` hand the problem (or the phase that did not close)
to PuLP/CBC, the general path. The search and steps (1)-(2) are ``exact_search``, the
one cascade of the plain solve and of both lexicographic phases. The phase-2 DPs
maximise (critical value, value) lexicographically, i.e. with hold = opt1 exactly,
inside the hold opt1 - 1e-7 x max(1, opt1) that PuLP states; a plan is accepted only
if it meets that hold. ``DP_WORK_LIMIT < 0`` turns the DP fallbacks off. README.md in
this folder draws the whole cascade.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numba
import numpy as np

from solvers.knapsack.core_dp import core_dp
from solvers.knapsack.exact_pulp import ExactSolver, solve_exact
from solvers.knapsack.laminar_dp import WORK_LIMIT as DP_WORK_LIMIT
from solvers.knapsack.laminar_dp import lexicographic_dp
from solvers.knapsack.laminar_lp import child_bound, lp_greedy, lp_greedy_in_order
from solvers.knapsack.lexicographic import HOLD_TOLERANCE, solve_lexicographic
from solvers.knapsack.problem import (
    CAPACITY_TOLERANCE,
    KnapsackProblem,
    KnapsackResult,
    SolveStatus,
    relative_gap,
)

#: Relative objective tolerance of the pruning test.
OBJECTIVE_TOLERANCE = 1e-11
#: Default node budget per search (~1.5 us a node on ~125 items, so ~1.5 ms); beyond it
#: the core DP takes over, then PuLP. Measured on the 1,000 sites of a `large` partition
#: (criticite_hybride, one process): 30,000 nodes 16.6 s (the sites that never close
#: spend the whole budget first), 3,000 7.0 s, 1,000 6.2 s, 300 5.3 s, all proven; 1,000
#: keeps most sites on the search alone (random sites need ~300 nodes at the median).
NODE_LIMIT = 1_000
#: Node budget of the search that finds an incumbent for the core DP's reduced problem.
HEURISTIC_NODES = 500
#: Beyond this many items the node budget shrinks in proportion (see ``laminar_search``).
LARGE_SITE_ITEMS = 1_000


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
    group_caps: list[float] = []
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


# ---- kernels: items in value-per-weight order, weights > 0, a box lo <= x <= hi -------


@numba.njit(cache=True)
def _fill(x, v, w, hi, group, rem_total, rem_group):
    """Greedy completion: in item order, add to x as many lots (up to hi) as fit, items
    with v > 0 only. rem_group is updated in place; returns (value added, rem_total)."""
    added = 0.0
    for i in range(v.shape[0]):
        r = hi[i] - x[i]
        if r <= 0 or v[i] <= 0.0:
            continue
        g = group[i]
        room = rem_total
        if g >= 0 and rem_group[g] < room:
            room = rem_group[g]
        if room < w[i]:
            continue
        k = np.int64(np.floor(room / w[i]))
        if k > r:
            k = r
        while k > 0 and k * w[i] > room:
            k -= 1
        if k > 0:
            x[i] += k
            d = k * w[i]
            rem_total -= d
            if g >= 0:
                rem_group[g] -= d
            added += k * v[i]
    return added, rem_total


@numba.njit(cache=True)
def _branch_and_bound(v, w, u, group, total_cap, group_cap, v1, c_order, hold, x_start,
                      rel_eps, node_limit):
    """Depth-first LP branch and bound (module docstring). Items in v-per-weight order;
    c_order: the primary items (v1 > 0) in v1-per-weight order, branched on first;
    hold: the lower bound on v1.x (-inf: none); x_start: a feasible plan meeting it.
    Returns (best x, best value, nodes, proven)."""
    n = v.shape[0]
    m = group_cap.shape[0]
    nc = c_order.shape[0]
    lo = np.zeros(n, dtype=np.int64)
    hi = u.copy()
    best_x = x_start.copy()
    best = 0.0
    for j in range(n):
        best += best_x[j] * v[j]
    base_val = 0.0
    base_v1 = 0.0
    rem_total = total_cap
    rem_group = group_cap.copy()
    scratch = np.empty(m)
    fill_group = np.empty(m)
    take = np.zeros(n)
    take1 = np.zeros(n)
    take2 = np.zeros(n)
    xr = np.zeros(n, dtype=np.int64)
    hold_cut = hold - 1e-12 * max(1.0, abs(hold))
    size = 256
    st_item = np.empty(size, dtype=np.int64)
    st_split = np.empty(size, dtype=np.int64)
    st_stage = np.empty(size, dtype=np.int64)
    st_lo = np.empty(size, dtype=np.int64)
    st_hi = np.empty(size, dtype=np.int64)
    st_up = np.empty(size, dtype=np.bool_)
    depth = 0
    nodes = 0
    evaluate = True
    while True:
        if evaluate:
            evaluate = False
            nodes += 1
            if nodes > node_limit:
                return best_x, best, nodes, False
            branch = -1
            split = 0
            up_first = True
            alive = rem_total >= 0.0
            for g in range(m):
                if rem_group[g] < 0.0:
                    alive = False
            if alive and nc > 0:
                if base_v1 + lp_greedy_in_order(v1, w, lo, hi, group, c_order, rem_total, rem_group,
                                          scratch, take1) < hold_cut:
                    alive = False
            if alive:
                bound = base_val + lp_greedy(v, w, lo, hi, group, rem_total, rem_group, scratch, take)
                alive = bound > best + rel_eps * max(1.0, abs(best))
            if alive:
                # 1) a free primary item: branch on it (the hold is not settled yet),
                #    the fractional one of largest w x min(frac, 1 - frac) first
                score = -1.0
                first_free = -1
                for k in range(nc):
                    i = c_order[k]
                    if hi[i] > lo[i]:
                        if first_free < 0:
                            first_free = i
                        fr = take1[i] - np.floor(take1[i])
                        if fr > 0.0 and w[i] * min(fr, 1.0 - fr) > score:
                            score = w[i] * min(fr, 1.0 - fr)
                            branch = i
                if branch >= 0:
                    split = lo[branch] + np.int64(np.floor(take1[branch]))
                elif first_free >= 0:
                    # integral primary LP: split next to its count, that side first
                    branch = first_free
                    t = lo[branch] + np.int64(take1[branch])
                    if t < hi[branch]:
                        split = t
                        up_first = False
                    else:
                        split = t - 1
                else:
                    # 2) the hold is settled: round the LP plan down, fill greedily
                    for g in range(m):
                        fill_group[g] = rem_group[g]
                    rt = rem_total
                    val = base_val
                    fractional = False
                    for i in range(n):
                        f = np.floor(take[i])
                        if take[i] > f:
                            fractional = True
                        whole = np.int64(f)
                        xr[i] = lo[i] + whole
                        if whole > 0:
                            rt -= whole * w[i]
                            if group[i] >= 0:
                                fill_group[group[i]] -= whole * w[i]
                            val += whole * v[i]
                    added, rt = _fill(xr, v, w, hi, group, rt, fill_group)
                    val += added
                    if val > best:
                        best = val
                        best_x[:] = xr
                    # an integral LP plan (or no better one) closes the node
                    if fractional and bound > best + rel_eps * max(1.0, abs(best)):
                        branch, split, up_first = _strong_branch(
                            v, w, lo, hi, group, rem_total, rem_group, scratch, take, take2,
                            base_val, bound,
                        )
            if branch >= 0:
                if depth == size:
                    size *= 2
                    st_item = _grown(st_item, size)
                    st_split = _grown(st_split, size)
                    st_stage = _grown(st_stage, size)
                    st_lo = _grown(st_lo, size)
                    st_hi = _grown(st_hi, size)
                    grown_up = np.empty(size, dtype=np.bool_)
                    grown_up[:depth] = st_up[:depth]
                    st_up = grown_up
                st_item[depth] = branch
                st_split[depth] = split
                st_stage[depth] = 0
                st_lo[depth] = lo[branch]
                st_hi[depth] = hi[branch]
                st_up[depth] = up_first
                depth += 1
        if depth == 0:
            return best_x, best, nodes, True
        top = depth - 1
        s = st_item[top]
        d = lo[s] - st_lo[top]  # undo the child's bounds on s
        if d != 0:
            base_val -= d * v[s]
            base_v1 -= d * v1[s]
            rem_total += d * w[s]
            if group[s] >= 0:
                rem_group[group[s]] += d * w[s]
        lo[s] = st_lo[top]
        hi[s] = st_hi[top]
        stage = st_stage[top]
        if stage == 2:
            depth -= 1
            continue
        st_stage[top] = stage + 1
        if (stage == 0) == st_up[top]:
            d = st_split[top] + 1 - lo[s]  # up: x_s >= split + 1
            lo[s] += d
            base_val += d * v[s]
            base_v1 += d * v1[s]
            rem_total -= d * w[s]
            if group[s] >= 0:
                rem_group[group[s]] -= d * w[s]
        else:
            hi[s] = st_split[top]  # down: x_s <= split
        evaluate = True


@numba.njit(cache=True)
def _strong_branch(v, w, lo, hi, group, rem_total, rem_group, scratch, take, take2, base_val, bound):
    """Among the fractional items of the LP plan ``take``, the one whose two children
    lower the bound most (product rule); returns (item, split, up child first)."""
    best_i = -1
    best_score = -1.0
    split = 0
    up_first = True
    for i in range(v.shape[0]):
        f = np.floor(take[i])
        if take[i] - f <= 0.0:
            continue
        s = lo[i] + np.int64(f)
        b_down = child_bound(
            v, w, lo, hi, group, rem_total, rem_group, scratch, take2, base_val, i, lo[i], s
        )
        b_up = child_bound(
            v, w, lo, hi, group, rem_total, rem_group, scratch, take2, base_val, i, s + 1, hi[i]
        )
        score = max(bound - b_down, 1e-12) * max(bound - b_up, 1e-12)
        if score > best_score:
            best_score = score
            best_i = i
            split = s
            up_first = b_up >= b_down
    return best_i, split, up_first


@numba.njit(cache=True)
def _grown(a, size):
    out = np.empty(size, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


# ---- the searches ------------------------------------------------------------------


@dataclass(frozen=True)
class SearchOutcome:
    """One search (or DP) mapped back to the problem's items: the plan, the nodes spent
    and whether the plan is proven optimal (else it is the incumbent at the node limit)."""

    x: np.ndarray
    nodes: int
    proven: bool


def _greedy_start(v, w, u, group, total, group_cap, x0):
    """x0 completed by ``_fill`` (kernel order and capacities)."""
    rem_group = group_cap.copy()
    rem_total = float(total) - float(np.dot(x0, w))
    np.subtract.at(rem_group, group[group >= 0], (x0 * w)[group >= 0])
    x = x0.copy()
    _fill(x, v, w, u, group, rem_total, rem_group)
    return x


def laminar_search(
    values: np.ndarray,
    upper: np.ndarray,
    s: LaminarStructure,
    node_limit: int,
    primary: np.ndarray | None = None,
    hold: float = -np.inf,
    x_start: np.ndarray | None = None,
) -> SearchOutcome:
    """max values.x over the laminar plans (with primary.x >= hold if primary is given),
    by the branch and bound alone (no DP behind it: ``exact_search`` adds them).

    Items with weight 0 are taken in full when worth something (value or primary
    value > 0; the caller has refused weightless primary items of negative value);
    items worth nothing stay at 0; the others go to the kernel in value-per-weight
    order. The search starts from ``x_start`` (problem order; feasible, meeting the
    hold; default 0) completed greedily.
    """
    n = values.shape[0]
    v1_all = np.zeros(n) if primary is None else primary
    x = np.zeros(n, dtype=np.int64)
    worth = (values > 0) | (v1_all > 0)
    free = (s.weight == 0) & worth
    x[free] = upper[free]
    cand = np.flatnonzero((s.weight > 0) & worth & (upper > 0))
    ratio = values[cand] / s.weight[cand]
    cand = cand[np.lexsort((cand, -ratio))]
    v, w, u, g = values[cand], s.weight[cand], upper[cand], s.group[cand]
    v1 = v1_all[cand]
    c_pos = np.flatnonzero(v1 > 0)
    c_order = c_pos[np.lexsort((c_pos, -v1[c_pos] / w[c_pos]))].astype(np.int64)
    # the capacity slack goes into the capacities themselves, so that the LP bound
    # covers every plan the tolerance accepts
    total = (s.total_capacity if np.isfinite(s.total_capacity) else 1e300) + CAPACITY_TOLERANCE
    caps = s.group_capacity.astype(np.float64) + CAPACITY_TOLERANCE
    x0 = np.zeros(cand.size, dtype=np.int64) if x_start is None else x_start[cand]
    start = _greedy_start(v, w, u, g, total, caps, np.ascontiguousarray(x0, dtype=np.int64))
    # a node costs O(items): on large sites (depots, ~8,000 items) the budget is cut in
    # proportion, so that a search that will not close costs about what it does on ~1,000
    if cand.size > LARGE_SITE_ITEMS:
        node_limit = min(node_limit, max(1_000, node_limit * LARGE_SITE_ITEMS // cand.size))
    xs, _, nodes, proven = _branch_and_bound(
        v, w, u, g, float(total), caps, v1, c_order, float(hold), start,
        OBJECTIVE_TOLERANCE, node_limit,
    )
    x[cand] = xs
    return SearchOutcome(x, int(nodes), bool(proven))


def _core_dp(
    values: np.ndarray,
    upper: np.ndarray,
    s: LaminarStructure,
    x_inc: np.ndarray,
    primary: np.ndarray | None = None,
    opt1: float | None = None,
) -> tuple[np.ndarray, str] | None:
    """After a search ran out of nodes with incumbent ``x_inc``: the exact core DP of
    core_dp.py (phase 2: with the critical optimum opt1). Returns (plan, how) or None when
    it does not apply (or when DP_WORK_LIMIT < 0: the DP fallbacks are off, the search
    hands over to PuLP)."""
    if DP_WORK_LIMIT < 0:
        return None
    return core_dp(
        values, upper, s.weight, s.group, s.group_capacity, s.total_capacity, x_inc,
        primary=primary, opt1=opt1, improve=_heuristic_plan,
    )


def _heuristic_plan(values, upper, weight, group, group_capacity, total) -> np.ndarray:
    """A good plan of a plain laminar problem: the search with HEURISTIC_NODES nodes."""
    s = LaminarStructure(weight=weight, group=group, group_capacity=group_capacity, total_capacity=total)
    return laminar_search(values, upper, s, HEURISTIC_NODES).x


def _dp_search(
    p_values: np.ndarray, upper: np.ndarray, s: LaminarStructure, q_values: np.ndarray | None = None
) -> SearchOutcome | None:
    """The exact DP of laminar_dp.py (lexicographic on (p, q)) as a proven search, or
    None when it does not apply (weights off its grid, negative values, too large)."""
    if np.any(s.weight <= 0):
        return None
    q = np.zeros_like(p_values) if q_values is None else q_values
    if np.any((p_values < 0) & (upper > 0)) or np.any((q < 0) & (upper > 0)):
        return None
    x = lexicographic_dp(
        s.weight, s.group, s.group_capacity, s.total_capacity, upper, p_values, q, DP_WORK_LIMIT
    )
    return None if x is None else SearchOutcome(x, 0, True)


def exact_search(
    values: np.ndarray,
    upper: np.ndarray,
    s: LaminarStructure,
    node_limit: int,
    primary: np.ndarray | None = None,
    hold: float = -np.inf,
    x_start: np.ndarray | None = None,
    opt1: float | None = None,
) -> tuple[SearchOutcome, str]:
    """The exact cascade on one laminar problem (module docstring): the search; if it
    runs out of nodes, the core DP; if that does not apply, the DP of laminar_dp.py.

    Returns the outcome and how it ended: "N nodes", "node limit N, then <how>", or
    "node limit N reached" when nothing closed it (then ``proven`` is False and x is the
    search's incumbent). With ``primary`` it is phase 2 of the lexicographic solve:
    max values.x subject to primary.x >= hold, ``opt1`` the proven phase-1 optimum; the
    DPs maximise (primary.x, values.x) lexicographically, and the DP's plan is taken
    only if it meets the hold. One function for the plain solve and both phases, so the
    order of the fallbacks and their acceptance tests are written once.
    """
    found = laminar_search(values, upper, s, node_limit, primary, hold, x_start)
    if found.proven:
        return found, f"{found.nodes} nodes"
    limit = f"node limit {found.nodes - 1}"
    core = _core_dp(values, upper, s, found.x, primary, opt1)
    if core is not None:
        return SearchOutcome(core[0], found.nodes, True), f"{limit}, then {core[1]}"
    if primary is None:
        dp, how = _dp_search(np.maximum(values, 0.0), upper, s), "DP"
    else:
        dp, how = _dp_search(primary, upper, s, values), "lexicographic DP"
        if dp is not None and float(np.dot(primary, dp.x)) < hold:
            dp = None
    if dp is None:
        return found, f"{limit} reached"
    # the DP value is the optimum: keep whichever plan reaches it (float noise)
    better = float(np.dot(values, dp.x)) >= float(np.dot(values, found.x))
    return SearchOutcome(dp.x if better else found.x, found.nodes, True), f"{limit}, then {how}"


def solve_laminar_bnb(
    problem: KnapsackProblem,
    structure: LaminarStructure | None = None,
    node_limit: int = NODE_LIMIT,
) -> KnapsackResult:
    """Exact plan for a laminar problem (``exact_search``): OPTIMAL, or NODE_LIMIT_FEASIBLE
    (the incumbent in x, detail "node limit N reached") when nothing closed it, so that
    callers can hand it to PuLP."""
    t0 = time.perf_counter()
    s = structure if structure is not None else laminar_structure(problem)
    if s is None:
        raise ValueError("problem does not have the total + disjoint categories structure")
    t1 = time.perf_counter()
    found, detail = exact_search(problem.values, problem.upper, s, node_limit)
    t2 = time.perf_counter()
    return _result(problem, found, (t1 - t0) * 1e3, (t2 - t1) * 1e3, detail)


def _result(
    problem: KnapsackProblem, found: SearchOutcome, build_ms: float, solve_ms: float, detail: str
) -> KnapsackResult:
    """OPTIMAL (proven), NODE_LIMIT_FEASIBLE (the incumbent: no bound) or SOLVER_ERROR
    (a plan that fails ``is_feasible``, x = 0)."""
    n = problem.n_items
    if not problem.is_feasible(found.x):
        return KnapsackResult(
            x=np.zeros(n, dtype=np.int64), objective=0.0, bound=float("nan"), gap=float("nan"),
            status=SolveStatus.SOLVER_ERROR, solver="bnb", build_ms=build_ms, solve_ms=solve_ms,
            detail="branch and bound plan infeasible",
        )
    objective = problem.objective(found.x)
    if not found.proven:
        return KnapsackResult(
            x=found.x, objective=objective, bound=float("nan"), gap=float("nan"),
            status=SolveStatus.NODE_LIMIT_FEASIBLE, solver="bnb", build_ms=build_ms,
            solve_ms=solve_ms, detail=detail,
        )
    return KnapsackResult(
        x=found.x, objective=objective, bound=objective, gap=0.0, status=SolveStatus.OPTIMAL,
        solver="bnb", build_ms=build_ms, solve_ms=solve_ms, detail=detail,
    )


def solve_lexicographic_bnb(
    problem: KnapsackProblem,
    primary_values: np.ndarray,
    structure: LaminarStructure | None = None,
    node_limit: int = NODE_LIMIT,
    hold_tolerance: float = HOLD_TOLERANCE,
) -> tuple[KnapsackResult, KnapsackResult | None]:
    """The two phases of the lexicographic solve (module docstring), each by ``exact_search``.

    Returns (phase 1, phase 2). Phase 1 is a result on the full item set (x is 0 off
    the primary items, objective = primary value); phase 2 is None when phase 1 did not
    prove its optimum, since the hold would then be unknown. Each is OPTIMAL,
    NODE_LIMIT_FEASIBLE (incumbent kept in x; in phase 2 it meets the hold) or
    SOLVER_ERROR. Refuses (ValueError) problems without the structure, negative primary
    values and weightless primary items of negative value.
    """
    t0 = time.perf_counter()
    s = structure if structure is not None else laminar_structure(problem)
    primary = np.ascontiguousarray(primary_values, dtype=np.float64)
    if s is None:
        raise ValueError("problem does not have the total + disjoint categories structure")
    if primary.shape != problem.values.shape:
        raise ValueError("primary_values must have one entry per item")
    if np.any(primary < 0) or np.any((primary > 0) & (s.weight == 0) & (problem.values < 0)):
        raise ValueError("the structured lexicographic search needs primary values >= 0")
    keep = (primary > 0) & (problem.upper > 0)
    t1 = time.perf_counter()
    x1 = np.zeros(problem.n_items, dtype=np.int64)
    phase1 = SearchOutcome(x1, 0, True)
    detail1 = "0 nodes"
    if keep.any():
        sub = LaminarStructure(
            weight=s.weight[keep], group=s.group[keep],
            group_capacity=s.group_capacity, total_capacity=s.total_capacity,
        )
        found, detail1 = exact_search(primary[keep], problem.upper[keep], sub, node_limit)
        x1[keep] = found.x
        phase1 = SearchOutcome(x1, found.nodes, found.proven)
    t2 = time.perf_counter()
    first = _result(
        problem.with_values(primary), phase1, (t1 - t0) * 1e3, (t2 - t1) * 1e3, detail1
    )
    if first.status != SolveStatus.OPTIMAL:
        return first, None
    opt1 = float(np.dot(primary, x1))
    hold = opt1 - hold_tolerance * max(1.0, abs(opt1)) if opt1 > 0 else -np.inf
    found, detail2 = exact_search(
        problem.values, problem.upper, s, node_limit, primary, hold, x1, opt1
    )
    t3 = time.perf_counter()
    second = _result(problem, found, 0.0, (t3 - t2) * 1e3, detail2)
    if second.has_plan and opt1 > 0 and float(np.dot(primary, second.x)) < hold - 1e-9 * max(1.0, opt1):
        second = KnapsackResult(
            x=np.zeros(problem.n_items, dtype=np.int64), objective=0.0, bound=float("nan"),
            gap=float("nan"), status=SolveStatus.SOLVER_ERROR, solver="bnb",
            build_ms=second.build_ms, solve_ms=second.solve_ms,
            detail="branch and bound plan misses the hold",
        )
    return first, second


# ---- with PuLP behind them ---------------------------------------------------------


def _relabel(res: KnapsackResult, solver: str, extra_ms: float, detail: str) -> KnapsackResult:
    return replace(res, solver=solver, solve_ms=res.solve_ms + extra_ms, detail=detail)


def solve_exact_structured(
    problem: KnapsackProblem,
    time_limit_s: float = 10.0,
    node_limit: int = NODE_LIMIT,
    fallback_solver: ExactSolver = "cbc",
) -> KnapsackResult:
    """Branch and bound when the problem has the site structure and it proves optimality
    within ``node_limit`` (solver label "bnb"); otherwise the PuLP solve (solver label
    "bnb->cbc", detail saying why)."""
    t0 = time.perf_counter()
    structure = laminar_structure(problem)
    why = "no site structure"
    if structure is not None:
        res = solve_laminar_bnb(problem, structure, node_limit)
        if res.status == SolveStatus.OPTIMAL:
            return res
        why = f"bnb: {res.detail}"
    spent_ms = (time.perf_counter() - t0) * 1e3
    pulp_res = solve_exact(
        problem, solver=fallback_solver, time_limit_s=max(time_limit_s - spent_ms / 1e3, 0.1 * time_limit_s)
    )
    return _relabel(
        pulp_res, f"bnb->{pulp_res.solver}", spent_ms,
        "; ".join(d for d in (why, pulp_res.detail) if d),
    )


def solve_lexicographic_structured(
    problem: KnapsackProblem,
    primary_values: np.ndarray,
    time_limit_s: float = 10.0,
    node_limit: int = NODE_LIMIT,
    fallback_solver: ExactSolver = "cbc",
    hold_tolerance: float = HOLD_TOLERANCE,
    threads: int = 1,
) -> KnapsackResult:
    """The lexicographic solve of lexicographic.py, each phase by branch and bound when
    it proves optimality within ``node_limit``, else by PuLP:

    - both phases by branch and bound: solver "bnb", detail "phase 1 bnb (.. nodes),
      phase 2 bnb (.. nodes)";
    - phase 1 proven, phase 2 out of nodes: phase 2 by PuLP holding phase 1's optimum
      (solver "bnb->cbc", detail "phase 1 bnb ..., phase 2 cbc ..."); if PuLP then stops
      at its time limit with a worse plan, the branch and bound's incumbent (which meets
      the hold) is kept, as TIME_LIMIT_FEASIBLE;
    - phase 1 out of nodes, or no site structure: the whole PuLP two-phase solve
      (solver "bnb->cbc", detail "phase 1 bnb: node limit ...; phases 1 and 2 cbc" or
      "no site structure; phases 1 and 2 cbc").
    """
    t0 = time.perf_counter()
    primary = np.ascontiguousarray(primary_values, dtype=np.float64)
    if primary.shape != problem.values.shape:
        raise ValueError("primary_values must have one entry per item")
    structure = laminar_structure(problem)
    fits = structure is not None and not (
        np.any(primary < 0) or np.any((primary > 0) & (structure.weight == 0) & (problem.values < 0))
    )
    why = "no site structure"
    phase1_plan = None
    if fits:
        first, second = solve_lexicographic_bnb(
            problem, primary, structure, node_limit, hold_tolerance
        )
        done1 = f"phase 1 bnb ({first.detail})"
        if second is None:
            why = f"phase 1 bnb: {first.detail}"
        elif second.status == SolveStatus.OPTIMAL:
            return replace(
                second, build_ms=first.build_ms,
                solve_ms=(time.perf_counter() - t0) * 1e3 - first.build_ms,
                detail=f"{done1}, phase 2 bnb ({second.detail})",
            )
        else:
            phase1_plan = first.x
            why = f"{done1}, phase 2 bnb: {second.detail}"
    spent_ms = (time.perf_counter() - t0) * 1e3
    pulp_res = solve_lexicographic(
        problem, primary, solver=fallback_solver,
        time_limit_s=max(time_limit_s - spent_ms / 1e3, 0.1 * time_limit_s),
        hold_tolerance=hold_tolerance, threads=threads, phase1_plan=phase1_plan,
    )
    phases = "phase 2" if phase1_plan is not None else "phases 1 and 2"
    detail = f"{why}; {phases} {pulp_res.solver}" + (f": {pulp_res.detail}" if pulp_res.detail else "")
    if (
        phase1_plan is not None
        and second is not None  # always, with phase1_plan
        # NODE_LIMIT_FEASIBLE: the incumbent, checked feasible and meeting the hold
        # (SOLVER_ERROR otherwise, which has no plan)
        and second.has_plan
        and pulp_res.status != SolveStatus.OPTIMAL
        and second.objective > pulp_res.objective
    ):
        bound = pulp_res.bound if np.isfinite(pulp_res.bound) else float("nan")
        return KnapsackResult(
            x=second.x, objective=second.objective,
            bound=max(bound, second.objective) if np.isfinite(bound) else bound,
            gap=relative_gap(second.objective, bound), status=SolveStatus.TIME_LIMIT_FEASIBLE,
            solver=f"bnb->{pulp_res.solver}", build_ms=pulp_res.build_ms,
            solve_ms=pulp_res.solve_ms + spent_ms, detail=f"{detail}; bnb incumbent kept",
        )
    return _relabel(pulp_res, f"bnb->{pulp_res.solver}", spent_ms, detail)
