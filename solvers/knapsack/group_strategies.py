"""The three strategies of SPEC §5.2 on one group, and the group's fallback.

- ``greedy``: the group's lots in order of value per weight descending (ties: higher
  importance, then article_id, then site_id ascending), each lot taken if it fits its
  van's constraints and the article's remaining supply. The greedy kernel of greedy.py
  on the group MKP does exactly that: the supply rows are rows like the vans' (lot size
  per lot, capacity the supply), and the order key is (article, van, tier).
- ``exact``: max of the sum of the vans' values (group_exact.py).
- ``criticite_hybride``: phase 1 maximises the group's critical value (v_hi on the high
  tier of CRITIQUE-level pairs, the other items left out: weights are >= 0, so they can
  stay at 0); phase 2 maximises the total holding it (critical value >= opt1 -
  HOLD_TOLERANCE x max(1, opt1), lexicographic.py's hold), from phase 1's plan. As in
  lexicographic.py: phase 2 gets what phase 1 left of the time, at least
  ``MIN_PHASE_SHARE`` of it; if phase 1 is not proven, the hold is on its plan and the
  status is TIME_LIMIT_FEASIBLE; bound and gap are phase 2's (relative to the hold).

A group without a coupled article (no request above its supply) is its vans' site
problems side by side: each van is then solved by the per-site path itself
(site_model.solve_model), so the plans are exactly those of the per-site batch.

Fallback (SPEC §5): an exception in a solver gives the group's greedy plan, status
FALLBACK_GREEDY, the error in the detail.
"""

from __future__ import annotations

import math
import time

import numpy as np

from solvers.knapsack.greedy import solve_greedy
from solvers.knapsack.group_exact import GAP_TOLERANCE, GroupResult, Hold, VanHolds, maximise_group
from solvers.knapsack.group_model import GroupModel
from solvers.knapsack.lexicographic import HOLD_TOLERANCE
from solvers.knapsack.problem import SolveStatus, relative_gap
from solvers.knapsack.site_model import DEFAULT_SOLVER, STRATEGIES, SiteSolver, Strategy, solve_model

#: Share of the time limit phase 2 of criticite_hybride always gets (lexicographic.py).
MIN_PHASE_SHARE = 0.1


def solve_group_greedy(gm: GroupModel) -> GroupResult:
    """SPEC §5.2 greedy over the whole group (module docstring)."""
    t0 = time.perf_counter()
    res = solve_greedy(gm.problem, ratio_weights=gm.weight, priority=gm.priority, order_key=gm.order_key)
    return GroupResult(
        x=res.x, objective=res.objective, bound=float("nan"), gap=float("nan"),
        status=SolveStatus.HEURISTIC, solver="greedy", solve_ms=(time.perf_counter() - t0) * 1e3,
    )


def _per_van(gm: GroupModel, strategy: Strategy, solver: SiteSolver, time_limit_s: float) -> GroupResult:
    """Each van by the per-site path (no coupled article: the group is separable)."""
    t0 = time.perf_counter()
    results = [solve_model(m, strategy, solver, time_limit_s) for m in gm.vans]
    x = np.concatenate([r.x for r in results]) if results else np.zeros(0, dtype=np.int64)
    objective = float(sum(r.objective for r in results))
    statuses = {r.status for r in results}
    bounds = [r.bound for r in results]
    bound = float(sum(bounds)) if all(math.isfinite(b) for b in bounds) else float("nan")
    if not statuses or statuses == {SolveStatus.OPTIMAL}:
        status = SolveStatus.OPTIMAL
    elif strategy == "greedy":
        status = SolveStatus.HEURISTIC
    elif SolveStatus.FALLBACK_GREEDY in statuses:
        status = SolveStatus.FALLBACK_GREEDY
    else:
        status = SolveStatus.TIME_LIMIT_FEASIBLE
    solvers = sorted({r.solver for r in results})
    return GroupResult(
        x=x, objective=objective, bound=bound, gap=relative_gap(objective, bound), status=status,
        solver="+".join(solvers) if solvers else "none", solve_ms=(time.perf_counter() - t0) * 1e3,
        detail="no coupled article: per-van solves",
    )


def van_holds_from_phase1(gm: GroupModel, first: GroupResult, hold_rhs: float) -> tuple[VanHolds, np.ndarray] | None:
    """Per-van consequences of the group hold, from phase 1's prices (or None).

    With lam the phase-1 prices, pc = critical value - lam x lot per item (negative on
    every lot of a priced article that is not critical), z_v van v's term of phase 1's L
    (its best priced critical value, or a bound on it) and L = sum_v z_v + lam . usable:
    every plan x with critical value >= hold satisfies
        sum_v (z_v - pc . x_v) + lam . (usable - shipped) <= L - hold = delta,
    every term >= 0, so pc . x_v >= z_v - delta in each van. An item with pc < -delta
    cannot be taken at all (dropping it from a plan loses nothing else: weights >= 0);
    one with -delta <= pc < 0 at most floor(delta / -pc) lots, and its pc is counted as 0
    (weaker, still implied). Returns (holds on pc+ with start = phase 1's plan, the item
    bounds) when phase 1's plan meets them, as it must."""
    if first.prices is None or first.van_bounds is None or not math.isfinite(first.lagrangian_bound):
        return None
    pc = gm.critical_values - first.prices[gm.item_article] * gm.item_lot
    delta = max(first.lagrangian_bound - hold_rhs, 0.0) + 1e-9 * max(1.0, abs(hold_rhs))
    upper = gm.problem.upper.copy()
    negative = pc < 0
    cap = np.floor(delta / np.where(negative, -pc, 1.0) + 1e-9)
    upper[negative] = np.minimum(upper[negative], cap[negative].astype(np.int64))
    primary = np.maximum(pc, 0.0)
    rhs = first.van_bounds - delta
    x1 = first.x
    per_van = np.bincount(gm.item_van, weights=primary * x1, minlength=gm.n_vans)
    if np.any(x1 > upper) or np.any(per_van < rhs - 1e-9 * np.maximum(1.0, np.abs(rhs))):
        return None
    return VanHolds(primary=primary, rhs=rhs, start=x1), upper


def _criticite_hybride(gm: GroupModel, time_limit_s: float, gap_tolerance: float) -> GroupResult:
    """The lexicographic solve (module docstring)."""
    t0 = time.perf_counter()
    primary = gm.critical_values
    upper1 = np.where(primary > 0, gm.problem.upper, 0)
    first = maximise_group(
        gm, primary, upper=upper1, time_limit_s=time_limit_s * (1 - MIN_PHASE_SHARE), gap_tolerance=0.0, want_prices=True
    )
    x1 = first.x
    opt1 = float(np.dot(primary, x1))
    remaining = max(time_limit_s - (time.perf_counter() - t0), MIN_PHASE_SHARE * time_limit_s)
    if opt1 > 0:
        hold = Hold(primary, opt1 - HOLD_TOLERANCE * max(1.0, abs(opt1)))
        derived = van_holds_from_phase1(gm, first, hold.rhs)
        van_holds, upper2 = derived if derived is not None else (None, None)
        second = maximise_group(gm, gm.values, upper=upper2, hold=hold, start=x1, time_limit_s=remaining,
                                gap_tolerance=gap_tolerance, van_holds=van_holds)
    else:
        second = maximise_group(gm, gm.values, start=x1, time_limit_s=remaining, gap_tolerance=gap_tolerance)
    status = second.status
    detail = f"phase 1: {first.status} (critical {opt1:.8g}, bound {first.bound:.8g}; {first.detail}) | phase 2: {second.detail}"
    if first.status != SolveStatus.OPTIMAL:
        status = SolveStatus.TIME_LIMIT_FEASIBLE
        detail = "phase 1 not proven, hold on its plan; " + detail
    return GroupResult(
        x=second.x, objective=second.objective, bound=second.bound, gap=second.gap, status=status,
        solver=second.solver, solve_ms=(time.perf_counter() - t0) * 1e3, detail=detail,
    )


def solve_group(
    gm: GroupModel,
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    gap_tolerance: float = GAP_TOLERANCE,
) -> GroupResult:
    """One group by ``strategy`` (module docstring); ``solver`` is the per-site solver
    used for groups without a coupled article."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    if gm.coupled.size == 0:
        return _per_van(gm, strategy, solver, time_limit_s)
    if strategy == "greedy":
        return solve_group_greedy(gm)
    t0 = time.perf_counter()
    try:
        if strategy == "exact":
            return maximise_group(gm, gm.values, time_limit_s=time_limit_s, gap_tolerance=gap_tolerance)
        return _criticite_hybride(gm, time_limit_s, gap_tolerance)
    except Exception as exc:  # a solver failure must not lose the group: SPEC §5 fallback
        g = solve_group_greedy(gm)
        return GroupResult(
            x=g.x, objective=g.objective, bound=float("nan"), gap=float("nan"),
            status=SolveStatus.FALLBACK_GREEDY, solver="lagrangian->greedy",
            solve_ms=(time.perf_counter() - t0) * 1e3, detail=repr(exc),
        )
