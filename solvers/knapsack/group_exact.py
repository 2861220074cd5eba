"""Maximising over a group (SPEC §5.2): Lagrangian bounds on the supply, van-by-van plans,
and a MILP to close what is left.

Why not one MILP: a `large` group couples ~100 vans (~12,000 integer variables). Each
van alone is a site problem whose LP bound is above its optimum by a fraction of a lot;
a MILP solver has to prove all of those together in one tree (HiGHS, measured on a
synthetic group: 8 s and still 0.14 % from its bound, 20 s for 0.01 %). But only the
supply rows couple the vans, and only for the articles whose request exceeds the supply
("coupled" articles, group_model.py). Relaxing those rows with prices lam_a >= 0 (per
piece) leaves one independent site problem per van, which the site branch and bound
(laminar_bnb.py) solves exactly in ~2 ms:

    L(lam, mu) = sum_v max { (values + mu primary - lam lot) . x_v : x_v a plan of van v }
                 + lam . supply - mu hold

is an upper bound on the group optimum for any lam, mu >= 0 (mu: the price of the
criticite_hybride hold primary . x >= hold), exact on every van's integrality, which an
LP bound is not. A van whose search runs out of nodes adds its LP bound instead (still
a bound). Steps, each one skipped once the plan is within ``gap_tolerance`` of the bound
or the time is up:

1. lam = 0: every van on its own. If these plans ship no more than the supply, they are
   optimal and the group is done (skipped under a group hold: they never meet it).
   Steps 2 and 3 run whatever the gap (unless it is 0 or the time is up), steps 4 and 5
   only while it is above the tolerance.
2. The LP relaxation of the whole group (HiGHS, group_milp.py): a bound, and its row
   duals are the prices at which the LP-priced bound is least, a good start for L.
   L at those prices (only the vans with a priced item are solved again).
3. A plan from the LP: its plan rounded down (feasible: all coefficients are >= 0), then
   improved van by van ("ascent": each van re-solved for the true values, given the
   others' plans, with at most its own lots plus what is left of each coupled article;
   under a hold each van keeps its own share of it). Under a hold (phase 2), rounding
   down may break the hold, so the ascent starts from the phase-1 plan instead, each van
   first allowed up to its LP lots of the coupled articles, then whatever is left.
   Measured on a synthetic `large` group: greedy 14,471.6, LP rounded down 14,434.1,
   after the ascent 14,479.7; L 14,485.9; HiGHS alone after 20 s 14,479.0.
4. Subgradient steps on the prices (Polyak step towards the best plan) while time allows.
5. The MILP of the whole group (HiGHS) from the best plan, for the time left; on a
   small group (``SMALL_GROUP_ITEMS``) to the proof, whatever the tolerance.

The bound is the least of the bounds met (L at every price tried, the LP optimum, the
MILP's dual bound); gap = (bound - objective) / objective. Status: OPTIMAL when the plan
meets its bound (within 1e-9, as relative_gap says); GAP_LIMIT_FEASIBLE when the search
stopped within ``gap_tolerance`` of it; otherwise TIME_LIMIT_FEASIBLE (the time limit
stopped it). The greedy plan is always offered too, so a plan exists whatever fails.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from solvers.knapsack.greedy import solve_greedy
from solvers.knapsack.group_milp import solve_lp, solve_milp
from solvers.knapsack.group_model import GroupModel
from solvers.knapsack.laminar_bnb import LaminarStructure, laminar_search
from solvers.knapsack.laminar_lp import lp_greedy
from solvers.knapsack.problem import CAPACITY_TOLERANCE, KnapsackProblem, SolveStatus, relative_gap

#: Default relative gap at which a group stops searching: 0.1 %, the target of issue 15
#: (a `large` group typically stops at ~0.01-0.03 % after steps 1-3, ~1-2 s; asking
#: for 1e-4 sends criticite_hybride's phase 2 to the time limit). 0: search until the
#: plan is proven optimal or the time is up.
GAP_TOLERANCE = 1e-3
#: Node budget of a van's search inside the group steps (beyond it: the incumbent, and
#: the van's LP bound in L).
VAN_NODE_LIMIT = 2_000
#: Subgradient steps on the prices (step 4) at most.
PRICE_STEPS = 4
#: Up to this many items, the MILP (step 5) runs whatever the tolerance, to the proof:
#: HiGHS closes such groups in milliseconds, and the bound of the hold (phase 2 of
#: criticite_hybride) would otherwise stay a hair above the plan (its 1e-7 slack).
#: Measured on the `small` profile (groups of 24 vans, ~6,800 items): both groups proven
#: OPTIMAL in 0.04-0.06 s each, where the tolerance alone stopped one at a 1.4e-6 gap; the
#: groups of `large` (~28,000 items) keep the tolerance (10 groups in ~12 s).
SMALL_GROUP_ITEMS = 10_000
#: Below this many seconds left, the MILP (step 5) is not started.
MIN_MILP_SECONDS = 0.05
#: Slack of a van's share of the hold in the ascent (float noise only).
VAN_HOLD_TOLERANCE = 1e-12
_NO_CAP = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class GroupResult:
    """One group solve: the plan over the group's items and what is known of its optimum."""

    x: np.ndarray
    objective: float
    bound: float
    gap: float
    status: SolveStatus
    solver: str
    solve_ms: float
    detail: str = ""
    #: the prices (per piece, per article) of the least L met, L there and each van's term
    #: of it (None: no L computed, e.g. the greedy strategy)
    prices: np.ndarray | None = None
    lagrangian_bound: float = float("nan")
    van_bounds: np.ndarray | None = None


@dataclass(frozen=True)
class Hold:
    """primary . x >= rhs over the whole group (criticite_hybride's phase 2)."""

    primary: np.ndarray
    rhs: float


@dataclass(frozen=True)
class VanHolds:
    """primary . x_v >= rhs[v] for every van v (over the group's items; primary >= 0),
    met by ``start``. Implied by the group hold in criticite_hybride's phase 2
    (group_strategies.py derives them from phase 1's prices), they stay inside each van's
    problem when the supply and the group hold are priced out, which is what makes L
    tight there."""

    primary: np.ndarray
    rhs: np.ndarray
    start: np.ndarray


# ---- one van -------------------------------------------------------------------------


def _van_lp_bound(values: np.ndarray, upper: np.ndarray, s: LaminarStructure) -> float:
    """The van's LP optimum (the fractional greedy of laminar_lp.py): a bound on it."""
    worth = (values > 0) & (upper > 0)
    weightless = worth & (s.weight == 0)
    bound = float(np.dot(values[weightless], upper[weightless]))
    cand = np.flatnonzero(worth & (s.weight > 0))
    if cand.size == 0:
        return bound
    cand = cand[np.argsort(-values[cand] / s.weight[cand], kind="stable")]
    total = (s.total_capacity if np.isfinite(s.total_capacity) else 1e300) + CAPACITY_TOLERANCE
    caps = s.group_capacity.astype(np.float64) + CAPACITY_TOLERANCE
    return bound + float(
        lp_greedy(values[cand], s.weight[cand], np.zeros(cand.size, np.int64), upper[cand].astype(np.int64),
            s.group[cand], float(total), caps, np.empty(caps.shape[0]), np.zeros(cand.size))
    )


def _van_lp_bound_with_hold(
    values: np.ndarray, upper: np.ndarray, s: LaminarStructure, primary: np.ndarray, rhs: float, steps: int = 40
) -> float:
    """A bound on the van's optimum under primary . x >= rhs: the hold priced out,
    min over nu >= 0 of LP(values + nu primary) - nu rhs (any nu gives a bound; the
    function is convex in nu, so a ternary search finds the least, to ~1e-7 of the range).
    Much tighter than the LP without the hold when the hold pins the van's critical lots."""
    def f(nu: float) -> float:
        return _van_lp_bound(values + nu * primary, upper, s) - nu * rhs

    positive = primary[(primary > 0) & (upper > 0)]
    if positive.size == 0 or rhs <= 0:
        return f(0.0)
    hi = 1e3 * max(1.0, float(np.max(np.abs(values)))) / float(positive.min())
    lo, best = 0.0, f(0.0)
    for _ in range(steps):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        fa, fb = f(a), f(b)
        best = min(best, fa, fb)
        if fa <= fb:
            hi = b
        else:
            lo = a
    return best


def solve_van(
    gm: GroupModel, k: int, values: np.ndarray, upper: np.ndarray,
    primary: np.ndarray | None = None, rhs: float | None = None, x_start: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """(plan, bound) of max values . x over van k's plans within ``upper`` (van-local
    arrays), items of value <= 0 left at 0.

    With ``primary`` (>= 0), the plan also keeps primary . x >= rhs (default: the van's
    share primary . x_start); ``x_start`` must be within ``upper`` and meet it. The bound
    is the plan's value when the search proved it, else the van's LP bound (with the hold
    priced in, ``_van_lp_bound_with_hold``)."""
    s = gm.structures[k]
    vals = np.maximum(values, 0.0)
    up = upper.astype(np.int64)
    if primary is None and not np.any((vals > 0) & (up > 0)):
        return np.zeros(values.shape[0], dtype=np.int64), 0.0
    if s is None:  # a site model's rows (total, then one per category) are always laminar
        raise ValueError(f"van {gm.van_ids[k]}: its site model has no laminar structure")
    if primary is None:
        found = laminar_search(vals, up, s, VAN_NODE_LIMIT)
    else:
        if x_start is None:
            raise ValueError("a hold (primary) needs x_start")
        own = float(np.dot(primary, x_start)) if rhs is None else float(rhs)
        hold = own - VAN_HOLD_TOLERANCE * max(1.0, abs(own)) if own > 0 else -np.inf
        found = laminar_search(vals, up, s, VAN_NODE_LIMIT, primary, hold, x_start.astype(np.int64))
        if not found.proven:
            value = float(np.dot(vals, found.x))
            return found.x, max(value, _van_lp_bound_with_hold(vals, up, s, primary, hold))
    value = float(np.dot(vals, found.x))
    return found.x, value if found.proven else max(value, _van_lp_bound(vals, up, s))


_WARM = False


def warm_up() -> None:
    """Load the numba kernels of the search once per process (~2-5 s the first time: they
    are cached on disk but loading them imports numba's numpy support), so that the load
    is not charged to the first group's time limit."""
    global _WARM
    if _WARM:
        return
    problem = KnapsackProblem.from_rows([2.0, 1.0], [2, 2], [(np.array([0, 1]), np.array([1.0, 1.0]))], [3.0])
    solve_greedy(problem)
    s = LaminarStructure(weight=np.array([1.0, 1.0]), group=np.array([-1, -1]), group_capacity=np.zeros(0), total_capacity=3.0)
    laminar_search(problem.values, problem.upper, s, 10)
    laminar_search(problem.values, problem.upper, s, 10, np.array([1.0, 0.0]), 1.0, np.array([1, 0]))
    _van_lp_bound(problem.values, problem.upper, s)
    _WARM = True


# ---- the search ----------------------------------------------------------------------


class GroupSearch:
    """The state of one maximisation over a group (module docstring)."""

    def __init__(
        self, gm: GroupModel, values: np.ndarray, upper: np.ndarray, hold: Hold | None,
        deadline: float, gap_tolerance: float, van_holds: VanHolds | None = None,
    ) -> None:
        self.gm = gm
        self.van_holds = van_holds
        self.values = np.ascontiguousarray(values, dtype=np.float64)
        self.upper = np.ascontiguousarray(upper, dtype=np.int64)
        self.hold = hold
        self.deadline = deadline
        self.gap_tolerance = gap_tolerance
        self.problem = KnapsackProblem(
            values=self.values, upper=self.upper, capacities=gm.problem.capacities,
            row_starts=gm.problem.row_starts, row_items=gm.problem.row_items,
            row_weights=gm.problem.row_weights, constraint_names=gm.problem.constraint_names,
        )
        self.best_x = np.zeros(gm.n_items, dtype=np.int64)
        self.best = -math.inf
        self.best_how = "none"
        self.bound = math.inf
        self.steps: list[str] = []
        self.coupled_mask = np.zeros(gm.articles.shape[0], dtype=bool)
        self.coupled_mask[gm.coupled] = True
        # per van: the penalties of its last Lagrangian solve, its plan and bound there
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        # the least L met: value, prices, hold price, each van's term
        self.best_L = math.inf
        self.best_lam = np.zeros(gm.articles.shape[0])
        self.best_mu = 0.0
        self.best_terms: np.ndarray | None = None

    # -- bookkeeping
    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def gap(self) -> float:
        return relative_gap(self.best, self.bound) if math.isfinite(self.best) else math.inf

    def done(self) -> bool:
        return self.gap() <= self.gap_tolerance or self.time_left() <= 0

    def feasible(self, x: np.ndarray) -> bool:
        if not (self.problem.is_feasible(x) and self.gm.within_supply(x)):
            return False
        return self.hold is None or float(np.dot(self.hold.primary, x)) >= self.hold.rhs

    def offer(self, x: np.ndarray, how: str) -> None:
        """Keep x if it is feasible and better than the best plan so far."""
        if self.feasible(x):
            value = self.problem.objective(x)
            if not math.isfinite(self.best) or value > self.best + 1e-12 * max(1.0, abs(self.best)):
                self.best, self.best_x, self.best_how = value, x.copy(), how

    def tighten(self, bound: float) -> None:
        if math.isfinite(bound):
            self.bound = min(self.bound, bound)

    # -- Lagrangian
    def lagrangian(self, lam: np.ndarray, mu: float) -> tuple[float, np.ndarray]:
        """L(lam, mu) and the priced plans (lam per piece over every article, 0 off the
        coupled ones); the van holds, if any, stay in the vans' problems. Vans whose
        penalties did not change since their last solve are not solved again. Tightens
        the bound and records the least L met."""
        gm = self.gm
        x = np.zeros(gm.n_items, dtype=np.int64)
        terms = np.zeros(gm.n_vans)
        total = float(np.dot(lam, gm.usable))
        if self.hold is not None:
            total -= mu * self.hold.rhs
        penalty_all = lam[gm.item_article] * gm.item_lot
        if self.hold is not None and mu > 0:
            penalty_all = penalty_all - mu * self.hold.primary
        vh = self.van_holds
        for k in range(gm.n_vans):
            sl = gm.van_slice(k)
            penalty = penalty_all[sl]
            cached = self._cache.get(k)
            if cached is not None and np.array_equal(cached[0], penalty):
                xk, zk = cached[1], cached[2]
            else:
                if vh is None or vh.rhs[k] <= 0:
                    xk, zk = solve_van(gm, k, self.values[sl] - penalty, self.upper[sl])
                else:
                    xk, zk = solve_van(gm, k, self.values[sl] - penalty, self.upper[sl],
                                       vh.primary[sl], float(vh.rhs[k]), vh.start[sl])
                self._cache[k] = (penalty, xk, zk)
            x[sl] = xk
            terms[k] = zk
        total += float(terms.sum())
        self.tighten(total)
        if total < self.best_L:
            self.best_L, self.best_lam, self.best_mu, self.best_terms = total, lam.copy(), mu, terms
        return total, x

    # -- plans
    def ascent(self, x: np.ndarray, vans: np.ndarray, guide: np.ndarray | None = None) -> np.ndarray:
        """Each van of ``vans`` in turn re-solved for the true values given the others'
        plans: at most its own lots plus what is left of each coupled article (with
        ``guide``, lots per item: at most max(own, guide) lots of it); under a hold,
        keeping its own share of it. A van's plan is replaced only by a better one."""
        gm = self.gm
        x = x.copy()
        n_art = gm.articles.shape[0]
        left = gm.supply - gm.shipped(x)
        caps = np.full(n_art, _NO_CAP, dtype=np.int64)
        for k in vans.tolist():
            if self.time_left() <= 0:
                break
            sl = gm.van_slice(k)
            arts, lots, xk = gm.item_article[sl], gm.item_lot[sl], x[sl]
            mine = np.unique(arts[self.coupled_mask[arts]])
            if mine.size:
                own = np.bincount(arts, weights=xk, minlength=n_art)[mine].astype(np.int64)
                lot_of = np.zeros(n_art)
                lot_of[arts] = lots
                more = np.floor(np.maximum(left[mine], 0.0) / lot_of[mine] + 1e-9).astype(np.int64)
                if guide is not None:
                    target = np.bincount(arts, weights=guide[sl], minlength=n_art)[mine].astype(np.int64)
                    more = np.minimum(more, np.maximum(target - own, 0))
                caps[mine] = own + more
            upper = gm.capped_upper(caps, k, self.upper)
            caps[mine] = _NO_CAP
            if self.hold is not None:
                new, _ = solve_van(gm, k, self.values[sl], upper, self.hold.primary[sl], x_start=xk)
            else:
                new, _ = solve_van(gm, k, self.values[sl], upper)
            if float(np.dot(self.values[sl], new)) > float(np.dot(self.values[sl], xk)) + 1e-12:
                left += np.bincount(arts, weights=(xk - new) * lots, minlength=n_art)
                x[sl] = new
        return x


def maximise_group(
    gm: GroupModel,
    values: np.ndarray,
    upper: np.ndarray | None = None,
    hold: Hold | None = None,
    start: np.ndarray | None = None,
    time_limit_s: float = 10.0,
    gap_tolerance: float = GAP_TOLERANCE,
    van_holds: VanHolds | None = None,
    want_prices: bool = False,
) -> GroupResult:
    """max values . x over the group's plans (bounds ``upper``, default the model's),
    with ``hold`` and ``van_holds`` if given; ``start``: a feasible plan (meeting the
    holds; required with one) to begin from. Steps in the module docstring.
    ``want_prices``: evaluate L at the LP prices even when the LP already proves the plan
    (phase 1 of criticite_hybride hands its prices to phase 2)."""
    t0 = time.perf_counter()
    if hold is not None and start is None:
        raise ValueError("a hold needs a start plan that meets it")
    upper = gm.problem.upper if upper is None else np.asarray(upper, dtype=np.int64)
    s = GroupSearch(gm, values, upper, hold, t0 + time_limit_s, gap_tolerance, van_holds)
    all_vans = np.arange(gm.n_vans)
    n_art = gm.articles.shape[0]
    zero = np.zeros(n_art)
    s.offer(np.zeros(gm.n_items, dtype=np.int64) if start is None else np.asarray(start, dtype=np.int64), "start")
    g = solve_greedy(s.problem, ratio_weights=gm.weight, priority=gm.priority, order_key=gm.order_key)
    s.offer(g.x, "greedy")

    # 1. every van on its own (not under a group hold: its per-van plans never meet it,
    # and its L is far above the LP-priced one)
    if hold is None:
        _, x0 = s.lagrangian(zero, 0.0)
        s.offer(x0, "per-van optima")
        s.steps.append("per-van plans")
        if s.gap() <= 0 or s.time_left() <= 0 or gm.coupled.size == 0:
            return _finish(s, t0)

    # 2. LP prices and L there
    holds = []
    if hold is not None:
        nz = np.flatnonzero(hold.primary)
        holds.append((nz, hold.primary[nz], hold.rhs))
    if van_holds is not None:
        for k in range(gm.n_vans):
            rhs = float(van_holds.rhs[k])
            if rhs > 0:
                sl = gm.van_slice(k)
                nz = np.flatnonzero(van_holds.primary[sl]) + sl.start
                holds.append((nz, van_holds.primary[nz], rhs - VAN_HOLD_TOLERANCE * max(1.0, rhs)))
    lp = solve_lp(s.problem, holds)
    if lp is not None:
        s.tighten(lp.bound)
        lam = zero.copy()
        lam[gm.coupled] = lp.row_duals[gm.van_row_start[-1]:]
        mu = float(-lp.hold_duals[0]) if hold is not None and lp.hold_duals.size else 0.0
        s.steps.append(f"LP {lp.seconds:.2f} s")
        if (s.gap() > 0 or want_prices) and s.time_left() > 0:
            s.lagrangian(lam, mu)

    # 3. a plan from the LP (whatever the gap: the greedy plan may already be within the
    # tolerance, and this is the step that makes the plan the best we know how to)
    if s.gap() > 0 and s.time_left() > 0:
        if lp is not None and hold is None:
            floor = np.floor(lp.x + 1e-7).astype(np.int64)
            s.offer(s.ascent(floor, all_vans), "LP rounded down, van ascent")
        elif hold is not None:
            guide = None if lp is None else np.floor(lp.x + 1e-7).astype(np.int64)
            y = s.ascent(np.asarray(start, dtype=np.int64), all_vans, guide=guide)
            if guide is not None:
                y = s.ascent(y, all_vans)
            s.offer(y, "start, van ascent" + ("" if guide is None else " guided by the LP"))

    # 4. subgradient steps on the prices, from the least L met
    scale = 1.0
    for _ in range(PRICE_STEPS):
        if s.done():
            break
        best_L, best_lam, best_mu = s.best_L, s.best_lam, s.best_mu
        _, plans = s.lagrangian(best_lam, best_mu)
        direction = np.zeros(n_art)
        direction[gm.coupled] = (gm.shipped(plans) - gm.usable)[gm.coupled]
        d_mu = 0.0 if hold is None else hold.rhs - float(np.dot(hold.primary, plans))
        norm = float(np.dot(direction, direction) + d_mu * d_mu)
        if norm <= 0:
            break
        step = scale * (best_L - s.best) / norm
        L_try, _ = s.lagrangian(np.maximum(best_lam + step * direction, 0.0), max(best_mu + step * d_mu, 0.0))
        if not L_try < best_L - 1e-9 * max(1.0, abs(best_L)):
            scale /= 2
            if scale < 0.1:
                break
    s.steps.append(f"L {s.best_L:.8g}")

    # 5. the MILP for what is left (on a small group, to the proof whatever the tolerance)
    small = gm.n_items <= SMALL_GROUP_ITEMS
    if (not s.done() or small and s.gap() > 0) and s.time_left() > MIN_MILP_SECONDS:
        out = solve_milp(s.problem, s.time_left(), 0.0 if small else gap_tolerance, s.best_x, holds)
        if out.x is not None:
            s.offer(out.x, "MILP")
        s.tighten(out.bound)
        s.steps.append(f"MILP {out.status} {out.seconds:.2f} s")
    return _finish(s, t0)


def _finish(s: GroupSearch, t0: float) -> GroupResult:
    if not math.isfinite(s.best):
        raise RuntimeError(f"group {s.gm.depot_id}: no feasible plan (the start plan must be feasible)")
    bound = max(s.bound, s.best)
    gap = relative_gap(s.best, bound)
    if gap <= 0.0:
        status, why = SolveStatus.OPTIMAL, ""
    elif gap <= s.gap_tolerance:
        status, why = SolveStatus.GAP_LIMIT_FEASIBLE, "stopped at the gap tolerance"
    else:
        status, why = SolveStatus.TIME_LIMIT_FEASIBLE, "stopped at the time limit"
    detail = "; ".join([*s.steps, f"plan: {s.best_how}", *([why] if why else [])])
    return GroupResult(
        x=s.best_x, objective=s.best, bound=bound, gap=gap, status=status, solver="lagrangian",
        solve_ms=(time.perf_counter() - t0) * 1e3, detail=detail,
        prices=s.best_lam if s.best_terms is not None else None, lagrangian_bound=s.best_L,
        van_bounds=s.best_terms,
    )
