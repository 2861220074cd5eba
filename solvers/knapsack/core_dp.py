"""Exact DP on the core of a large site, for when the branch and bound runs out of nodes.

Why: on a depot (~8,000 items, total capacity in the thousands) the optimum sits within
~0.001 of the LP bound, less than the value of one top-up lot; thousands of lots are
then worth less than the gap, reduced-cost fixing leaves them free, the search cannot
close and a DP over the whole capacity (300,000 cells x thousands of items, then
convolutions of such profiles) is out of reach. But the LP duals price every unit of
unused capacity, so a plan better than the incumbent z leaves little slack anywhere:
that confines each constraint's used volume to a narrow window, and the DP only has to
cover the items left free, up to their capacities, and combine the windows.

Steps, all exact (a plan better than the incumbent survives each one):

1. Grid: weights and capacities as integer cells (laminar_dp.py's grid, 0.01 or 0.001).
2. Lexicographic phase 2 (criticite_hybride), reduced to a plain maximisation: with
   opt1 the proven critical optimum, every plan reaching it reaches, in each component
   (the items of no limited category, and each category), that component's own maximum
   of critical value, provided those maxima fit in the total together (checked: the
   sum must equal opt1). In a component whose critical lots all fit under its limit,
   that means every critical high-tier lot is taken: they are pinned. A category whose
   critical lots exceed its limit ("saturated": FIBRE 50 with 115 of critical volume)
   keeps its choice; its exact profile (max value at each volume, among the packings
   reaching its critical maximum) comes from a lexicographic DP over its capacity.
   This is the hold opt1 exactly, inside the hold opt1 - 1e-7 x max(1, opt1) PuLP states.
3. Reduced-cost fixing on the LP of what is left (a saturated category enters it as
   the segments of its profile's concave hull, which only bound it from above).
4. Windows from Lagrangian duals (lam on the total, mu_g on each category, read from
   the LP's fractional greedy; any non-negative duals are valid, these are the tight
   ones): for every plan x, with D the dual bound,
       D - value(x) = sum_j |rc_j| |x_j - x*_j| + lam slack_total + sum_g mu_g slack_g
                      + (per saturated category: its hull term at its volume),
   every term >= 0; so a plan above z has slack_g < (D - z) / mu_g in each category,
   and a saturated category's volume only where its term is < D - z. (Measured on the
   depots: D - z ~ 0.001, so a category binding at mu ~ 4e-6 per 0.01 of volume keeps
   ~300 cells of its ~60,000.)
5. DP: items of equal (weight, value) in a component are merged (their bounds summed),
   split in binary lots, and each component's profile is computed up to what it can use;
   the categories' profiles are combined over their windows only, then with the profile
   of the items of no category at the total.

Steps 3-5 run for the plans above a target t (z itself, or first a t just below D, which
costs less: ``core_dp``). Their result is the best plan over a set holding every plan
above t (and only feasible plans): if it reaches t it is optimal, else no plan is above
t; with t = z, max(it, incumbent) is optimal. ``core_dp`` returns None when a step does not
apply (weights off the grid, a negative value, phase 2 without the decomposition, an
incumbent outside the reduced problem) or the DP would exceed ``work_limit`` cell
updates (per run; TARGETS_WORK_FACTOR x that for the targets together): the caller then
goes on to the next fallback. Time is bounded by that work (~1 ns a cell update).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from solvers.knapsack.laminar_dp import binary_split, dp_profile, reconstruct, weight_grid
from solvers.knapsack.laminar_lp import lp_duals, reduced_cost_fixing

#: Default cap on DP cell updates (profiles + window combinations), ~0.5 s.
CORE_WORK_LIMIT = 400_000_000
#: The targets below the bound may spend this many times ``work_limit`` together (each
#: within ``work_limit``): ~1.5 s at most per site.
TARGETS_WORK_FACTOR = 3
#: Relative tolerance on critical values when checking the phase-2 decomposition.
CRITICAL_TOLERANCE = 1e-9


@numba.njit(cache=True)
def _window_sum(h, f):
    """(max, +) of two profiles over windows: out[k] = max over i + j = k of h[i] + f[j]
    (-inf entries allowed); returns (out, j of the max)."""
    nh = h.shape[0]
    nf = f.shape[0]
    out = np.full(nh + nf - 1, -np.inf)
    arg = np.zeros(nh + nf - 1, dtype=np.int64)
    for j in range(nf):
        fj = f[j]
        if fj == -np.inf:
            continue
        for i in range(nh):
            val = h[i] + fj
            if val > out[i + j]:
                out[i + j] = val
                arg[i + j] = j
    return out, arg


def _upper_hull_segments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (length, gain) of the upper concave hull of (e, values[e]) from e = 0,
    finite points only, positive gains only (a segment of slope <= 0 is never worth
    volume); slopes decrease, so they behave as LP items in ratio order."""
    xs = np.flatnonzero(np.isfinite(values))
    hull: list[int] = []
    for e in xs:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b when it lies on or below the chord a -> e
            if (values[b] - values[a]) * (e - a) <= (values[e] - values[a]) * (b - a):
                hull.pop()
            else:
                break
        hull.append(int(e))
    pts = np.asarray(hull, dtype=np.int64)
    lengths = np.diff(pts).astype(np.float64)
    gains = np.diff(values[pts])
    keep = gains > 0
    return lengths[keep], gains[keep]


class _Component:
    """The free items of one component, merged by (weight, value) and split in binary lots,
    with the profile of their best value at each volume up to ``cap`` cells."""

    def __init__(self, items: np.ndarray, W: np.ndarray, values: np.ndarray, free: np.ndarray, cap: int):
        self.items = items
        key = np.stack([W[items].astype(np.float64), values[items]])
        if items.size:
            _, first, inverse = np.unique(key, axis=1, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
        else:
            first, inverse = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self.class_of = inverse
        bounds = np.bincount(inverse, weights=free[items], minlength=first.size).astype(np.int64)
        split_class, self.split_lots = binary_split(bounds)
        self.split_class = split_class
        self.split_weight = W[items[first[split_class]]] * self.split_lots
        self.split_value = values[items[first[split_class]]] * self.split_lots
        self.cap = int(min(cap, int(np.sum(W[items] * free[items]))))
        self.free = free
        self.profile: np.ndarray  # set by solve()
        self.take: np.ndarray  # set by solve()

    @property
    def work(self) -> int:
        return int(self.split_weight.size) * (self.cap + 1)

    def solve(self) -> None:
        zeros = np.zeros(self.split_weight.size)
        _, self.profile, self.take = dp_profile(
            self.split_weight.astype(np.int64), zeros, self.split_value.astype(np.float64), self.cap, 0.0
        )

    def lots(self, volume: int) -> np.ndarray:
        """Per item (of ``items``) the lots of the profile's plan at ``volume`` cells; a
        class's lots go to its items in item order (equal items: a tie either way)."""
        chosen = reconstruct(self.take, self.split_weight, volume)
        per_class = np.bincount(self.split_class[chosen], weights=self.split_lots[chosen],
                                minlength=int(self.class_of.max(initial=-1)) + 1).astype(np.int64)
        out = np.zeros(self.items.size, dtype=np.int64)
        for k in np.flatnonzero(per_class):
            members = np.flatnonzero(self.class_of == k)
            bounds = self.free[self.items[members]]
            cum = np.cumsum(bounds) - bounds
            out[members] = np.clip(per_class[k] - cum, 0, bounds)
        return out


class _Saturated:
    """A saturated category in phase 2: the exact lexicographic profile of all its items
    (critical value first) over its capacity; ``extra`` is the value at each volume above
    the least volume reaching its critical maximum (-inf where it is not reached)."""

    def __init__(self, items: np.ndarray, W: np.ndarray, p: np.ndarray, q: np.ndarray,
                 upper: np.ndarray, cap: int, tol: float):
        self.items = items
        split_item, self.split_lots = binary_split(upper[items])
        self.split_item = split_item
        self.split_weight = W[items[split_item]] * self.split_lots
        self.cap = int(min(cap, int(np.sum(W[items] * upper[items]))))
        self.work = int(split_item.size) * (self.cap + 1)
        self.tol = tol
        self.p_split = p[items[split_item]] * self.split_lots
        self.q_split = q[items[split_item]] * self.split_lots

    def solve(self) -> None:
        pp, qq, self.take = dp_profile(self.split_weight.astype(np.int64), self.p_split, self.q_split, self.cap, self.tol)
        self.p_max = float(pp[-1])
        reach = pp >= self.p_max - self.tol
        self.c_min = int(np.argmax(reach))
        q = np.where(reach, qq, -np.inf)
        self.q_min = float(q[self.c_min])
        self.extra = q[self.c_min:] - self.q_min
        self.hull = _upper_hull_segments(self.extra)

    def lots(self, volume: int) -> np.ndarray:
        chosen = reconstruct(self.take, self.split_weight, volume)
        return np.bincount(self.split_item[chosen], weights=self.split_lots[chosen],
                           minlength=self.items.size).astype(np.int64)


@dataclass
class _Reduced:
    """The problem after step 2, in grid cells: items ``cand`` free in [lo, u] (the rest
    fixed at lo), the saturated categories as profiles (``rest`` gives the capacities
    left by lo and by the saturated categories' least volumes); lp_*: the LP items of
    step 3 in ratio order (``order`` maps them back: < cand.size, a candidate; else a
    hull segment)."""

    values: np.ndarray
    W: np.ndarray
    group: np.ndarray
    u: np.ndarray
    lo: np.ndarray
    cand: np.ndarray
    saturated: dict[int, _Saturated]
    sat_items: np.ndarray
    in_group: list[np.ndarray]
    t_full: int
    caps: np.ndarray
    lp_v: np.ndarray
    lp_w: np.ndarray
    lp_u: np.ndarray
    lp_g: np.ndarray
    order: np.ndarray

    def lp_caps(self, c_rest: np.ndarray) -> np.ndarray:
        caps = c_rest.astype(np.float64)
        for g in self.saturated:
            caps[g] = np.inf
        return caps

    def rest(self, lo: np.ndarray) -> tuple[int, np.ndarray, float]:
        """Capacities left and value fixed by ``lo`` (+ the saturated least volumes)."""
        used = self.W * lo
        sats = self.saturated.values()
        t = self.t_full - int(used[~self.sat_items].sum()) - sum(s.c_min for s in sats)
        c = np.array([self.caps[g] - int(used[self.in_group[g]].sum()) for g in range(self.caps.size)], dtype=np.int64)
        base = float(np.dot(self.values[~self.sat_items], lo[~self.sat_items])) + sum(s.q_min for s in sats)
        return t, c, base

    def dual_bound(self, lp_u: np.ndarray, t_rest: int, c_rest: np.ndarray, base: float):
        """(D, lam, mu): the Lagrangian bound of step 4 with the LP's duals."""
        lam, mu = lp_duals(self.lp_v, self.lp_w, lp_u, self.lp_g, float(t_rest), self.lp_caps(c_rest))
        mu_all = np.concatenate([[0.0], mu])
        rc = self.lp_v - (lam + mu_all[self.lp_g + 1]) * self.lp_w
        bound = base + float(np.sum(np.maximum(rc, 0.0) * lp_u)) + lam * t_rest + float(
            sum(mu[g] * c_rest[g] for g in range(c_rest.size) if g not in self.saturated)
        )
        return bound, lam, mu


def core_dp(
    values: np.ndarray,
    upper: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    group_capacity: np.ndarray,
    total_capacity: float,
    x_inc: np.ndarray,
    primary: np.ndarray | None = None,
    opt1: float | None = None,
    improve: Callable[..., np.ndarray] | None = None,
    work_limit: int = CORE_WORK_LIMIT,
) -> tuple[np.ndarray, str] | None:
    """The optimum (module docstring) as (plan, how), or None when it does not apply.

    Maximises values.x over the laminar plans (weights ``weight``, categories ``group``,
    -1: none); with ``primary``, the lexicographic phase 2: (primary.x, values.x) with
    primary.x = opt1, the proven phase-1 optimum. ``x_inc`` is a feasible plan (meeting
    opt1 in phase 2). ``improve(values, upper, weight, group, group_capacity, total)``,
    if given, returns a good plan of a plain laminar problem (the branch and bound with a
    small budget): in phase 2 it is run on the reduced problem, whose incumbent the
    hold-bound search rarely gets close to, and a better incumbent narrows every window.

    Targets: the windows and the fixing are only as narrow as the gap to the incumbent.
    The DP is first asked for the plans above the incumbent; when that is beyond the work
    limit (a poor incumbent: wide windows, little fixed), for the plans above targets just
    below the LP bound D (D - eps, eps = 1e-7 x |D|, then x 8 ...) while they stay above
    the incumbent, then the incumbent again if those runs improved it. If the best plan of
    a target's DP reaches the target, it is optimal (every better plan was in its set); if
    not, no plan is above the target, the plan becomes the incumbent if better and the
    next target is lower.
    """
    n = values.shape[0]
    m = group_capacity.shape[0]
    p = np.zeros(n) if primary is None else np.asarray(primary, dtype=np.float64)
    if primary is not None and opt1 is None:
        raise ValueError("phase 2 needs opt1")
    if np.any(weight <= 0) or np.any((values < 0) & (upper > 0)) or np.any(p < 0):
        return None
    worth = ((values > 0) | (p > 0)) & (upper > 0)
    if np.any(values[worth] <= 0):
        return None
    idx = np.flatnonzero(worth)
    grid = weight_grid(weight[idx], [float(total_capacity), *map(float, group_capacity)])
    if grid is None:
        return None
    W = np.zeros(n, dtype=np.int64)
    W[idx] = grid[0]
    u = np.where(worth, upper, 0).astype(np.int64)
    T = grid[1][0] if grid[1][0] >= 0 else int(np.sum(W * u)) + 1
    caps = np.array(grid[1][1:], dtype=np.int64)
    in_group = [group == g for g in range(m)]

    # 2. phase 2: pin the critical lots of unsaturated components, profile the saturated ones
    lo = np.zeros(n, dtype=np.int64)
    saturated: dict[int, _Saturated] = {}
    how = []
    if primary is not None:
        assert opt1 is not None  # checked above
        tol = CRITICAL_TOLERANCE * max(1.0, abs(opt1))
        crit = worth & (p > 0)
        for g in range(m):
            sel = crit & in_group[g]
            if int(np.sum(W[sel] * u[sel])) > caps[g]:
                saturated[g] = _Saturated(np.flatnonzero(worth & in_group[g]), W, p, values, u, int(caps[g]), tol)
        if sum(s.work for s in saturated.values()) > work_limit:
            return None
        pin = crit.copy()
        for g in saturated:
            pin &= ~in_group[g]
        lo[pin] = u[pin]
        for sat in saturated.values():
            sat.solve()
        reached = float(np.dot(p, lo)) + sum(sat.p_max for sat in saturated.values())
        if abs(reached - opt1) > tol or int(np.sum(W * lo)) + sum(s.c_min for s in saturated.values()) > T:
            return None  # the critical optimum does not decompose by component
        if float(np.dot(p, x_inc)) < opt1 - tol or np.any(x_inc[pin] < u[pin]):
            return None  # the incumbent is not a plan of the reduced problem
        how.append(f"{int(pin.sum())} critical items pinned" + (f", {len(saturated)} saturated" if saturated else ""))
    sat_items = np.zeros(n, dtype=np.bool_)
    for g in saturated:
        sat_items |= in_group[g]

    # 3. the LP of the rest: candidates + hull segments of the saturated categories
    cand = np.flatnonzero(worth & ~sat_items & (u > lo))
    seg_len = np.concatenate([np.zeros(0), *[s.hull[0] for s in saturated.values()]])
    seg_gain = np.concatenate([np.zeros(0), *[s.hull[1] for s in saturated.values()]])
    lp_v = np.concatenate([values[cand], seg_gain])
    lp_w = np.concatenate([W[cand].astype(np.float64), seg_len])
    lp_u = np.concatenate([u[cand] - lo[cand], np.ones(seg_len.size, dtype=np.int64)])
    lp_g = np.concatenate([group[cand], np.full(seg_len.size, -1, dtype=np.int64)]).astype(np.int64)
    order = np.lexsort((np.arange(lp_v.size), -lp_v / lp_w))
    red = _Reduced(values, W, group, u, lo, cand, saturated, sat_items, in_group, T, caps,
                   lp_v[order], lp_w[order], lp_u[order], lp_g[order], order)
    t_rest, c_rest, base = red.rest(lo)
    if t_rest < 0 or np.any(c_rest < 0):
        return None

    z = float(np.dot(values, x_inc))
    if improve is not None and primary is not None:
        x_better = _improved_incumbent(improve, red, t_rest, c_rest)
        if float(np.dot(values, x_better)) > z:
            x_inc, z = x_better, float(np.dot(values, x_better))
            how.append("incumbent improved")
    found = _dp_above(red, z, work_limit)
    if found is not None:  # the plain run fits the budget
        x, note, _ = found
        if x is not None and float(np.dot(values, x)) > z:
            x_inc = x
        return x_inc, "; ".join([*how, note])
    bound, _, _ = red.dual_bound(red.lp_u, t_rest, c_rest, base)
    scale = max(1.0, abs(bound))
    eps = 1e-7 * scale
    tried = z
    budget = TARGETS_WORK_FACTOR * work_limit
    while True:
        target = bound - eps
        last = target <= z
        if last:
            if z == tried:
                return None  # the incumbent's run is beyond the work limit
            target = z  # a better incumbent since: its run may fit now
        found = _dp_above(red, target, min(work_limit, budget))
        if found is None:
            return None
        x, note, spent = found
        budget -= spent
        value = float(np.dot(values, x)) if x is not None else -np.inf
        if x is not None and value > z:
            x_inc, z = x, value
        if last or value >= target - 1e-12 * scale:
            return x_inc, "; ".join([*how, note, f"target {bound - target:.1e} below the bound"])
        eps *= 8


def _dp_above(red: _Reduced, target: float, work_limit: int) -> tuple[np.ndarray | None, str, int] | None:
    """Steps 3-5 for the plans of value > target: the best plan of a set holding all of
    them (None: the set is empty), how it went and the DP work done; None when the DP
    would exceed ``work_limit`` (then nothing is done)."""
    n_c = red.cand.size
    t_rest, c_rest, base = red.rest(red.lo)
    scale = max(1.0, abs(target))
    cut = target - base + 1e-11 * scale
    f_lo, f_hi = reduced_cost_fixing(red.lp_v, red.lp_w, red.lp_u, red.lp_g, float(t_rest), red.lp_caps(c_rest), cut)
    real = red.order < n_c
    if np.any(f_lo[real] > f_hi[real]):
        return None, "reduced-cost fixing", 0
    box_lo = np.zeros(n_c, dtype=np.int64)
    box_hi = np.zeros(n_c, dtype=np.int64)
    box_lo[red.order[real]] = f_lo[real]
    box_hi[red.order[real]] = f_hi[real]
    lo = red.lo.copy()
    lo[red.cand] += box_lo
    free = np.zeros(lo.size, dtype=np.int64)
    free[red.cand] = box_hi - box_lo
    t_rest, c_rest, base = red.rest(lo)
    if t_rest < 0 or np.any(c_rest < 0):
        return None, "reduced-cost fixing", 0
    note = f"reduced-cost fixing, DP on {int(np.sum(free > 0))} items"

    # 4. windows from the duals of the fixed problem
    lp_u = red.lp_u.copy()
    lp_u[real] = (box_hi - box_lo)[red.order[real]]
    bound, lam, mu = red.dual_bound(lp_u, t_rest, c_rest, base)
    delta = bound - target + 1e-9 * scale
    if delta < 0:
        return None, "dual bound", 0

    # 5. components: the items of no category (+ categories that cannot bind), each
    # binding category over its window, each saturated category over its window
    W, group = red.W, red.group
    m = c_rest.size
    comp_items = {g: np.flatnonzero((free > 0) & red.in_group[g]) for g in range(m) if g not in red.saturated}
    loose = [g for g, it in comp_items.items() if int(np.sum(W[it] * free[it])) <= c_rest[g]]
    zero_items = np.flatnonzero((free > 0) & (group < 0))
    zero_items = np.concatenate([zero_items, *[comp_items.pop(g) for g in loose]]).astype(np.int64)
    windows: list[tuple[_Component | _Saturated, int, int]] = []  # (component, lo cell, hi cell)
    for g, it in comp_items.items():
        component = _Component(it, W, red.values, free, int(c_rest[g]))
        a = 0
        if mu[g] > 0:
            a = max(0, int(np.ceil(c_rest[g] - delta / mu[g])) - 1)
        windows.append((component, min(a, component.cap), component.cap))
    for sat in red.saturated.values():
        hull_max = float(np.sum(np.maximum(sat.hull[1] - lam * sat.hull[0], 0.0)))
        loss = hull_max - (sat.extra - lam * np.arange(sat.extra.size))
        ok = np.flatnonzero(np.isfinite(sat.extra) & (loss <= delta))
        if ok.size == 0:
            return None, "windows empty", 0
        windows.append((sat, int(ok[0]), int(ok[-1])))
    a_sum = sum(w_[1] for w_ in windows)
    zero_demand = int(np.sum(W[zero_items] * free[zero_items]))
    # the items of no category all fit whatever the categories take: no DP for them
    zero_all = zero_demand <= t_rest - sum(w_[2] for w_ in windows)
    zero = _Component(zero_items, W, red.values, free, 0 if zero_all else max(0, t_rest - a_sum))
    work = (0 if zero_all else zero.work) + sum(w_[0].work for w_ in windows if isinstance(w_[0], _Component))
    span = 1
    for w_ in windows:
        work += span * (w_[2] - w_[1] + 1)
        span += w_[2] - w_[1]
    if work > work_limit:
        return None
    if not zero_all:
        zero.solve()
    for comp, _, _ in windows:
        if isinstance(comp, _Component):
            comp.solve()

    h = np.zeros(1)
    args = []
    for comp, a, b in windows:
        f = comp.profile[a : b + 1] if isinstance(comp, _Component) else comp.extra[a : b + 1]
        h, arg = _window_sum(h, np.ascontiguousarray(f))
        args.append(arg)
    best, best_k = -np.inf, -1
    for k in range(h.size):
        room = t_rest - (a_sum + k)
        if room < 0:
            break
        val = h[k] + (0.0 if zero_all else zero.profile[min(room, zero.cap)])
        if val > best:
            best, best_k = val, k
    if best_k < 0:
        return None, "no plan in the windows", work

    x = lo.copy()
    k = best_k
    for (comp, a, _), arg in zip(reversed(windows), reversed(args)):
        j = int(arg[k])
        k -= j
        if isinstance(comp, _Component):
            x[comp.items] += comp.lots(a + j)
        else:
            x[comp.items] = comp.lots(comp.c_min + a + j)
    if zero_all:
        x[zero.items] += free[zero.items]
    else:
        x[zero.items] += zero.lots(min(t_rest - (a_sum + best_k), zero.cap))
    return x, note, work


def _improved_incumbent(improve, red: _Reduced, t_rest: int, c_rest: np.ndarray) -> np.ndarray:
    """A plan of the reduced phase-2 problem: each saturated category at the volume its
    LP term prefers (its hull at the total's dual), the other items by ``improve``."""
    lam, _ = lp_duals(red.lp_v, red.lp_w, red.lp_u, red.lp_g, float(t_rest), red.lp_caps(c_rest))
    x = red.lo.copy()
    room = t_rest
    for sat in red.saturated.values():
        gain = np.where(np.isfinite(sat.extra), sat.extra - lam * np.arange(sat.extra.size), -np.inf)
        e = int(np.argmax(gain))
        x[sat.items] = sat.lots(sat.c_min + e)
        room -= e
    c = red.cand
    x[c] += improve(red.values[c], red.u[c] - red.lo[c], red.W[c].astype(np.float64), red.group[c],
                    red.lp_caps(c_rest), float(room))
    return x
