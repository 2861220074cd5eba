"""The LP relaxation of the site structure in closed form, and what is read from it.

One total + disjoint category limits, every item with the same coefficient in its rows:
the LP over a box lo <= x <= hi is solved by the fractional greedy in value-per-weight
order (laminar_bnb.py's docstring says why), in O(items). The branch and bound bounds
its nodes with it; reduced-cost fixing and the Lagrangian duals of the core DP
(core_dp.py) read it at the root. Items are always given in the greedy's order.

The kernels here are the ones other modules call (laminar_bnb.py, core_dp.py,
group_exact.py), hence public names: ``lp_greedy``, ``lp_greedy_in_order``,
``child_bound``, ``reduced_cost_fixing``, ``lp_duals``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def lp_greedy(v, w, lo, hi, group, rem_total, rem_group, scratch, take):
    """LP optimum of v over the free ranges hi - lo under the remaining capacities: the
    fractional greedy in item order. take[j] gets the lots of j above lo[j] (fractional
    for at most one item per tight constraint). Items with v <= 0 stay out.

    The same greedy as ``lp_greedy_in_order`` over all items, written out: it runs at every node
    of the search (and twice per item in strong branching and reduced-cost fixing), and
    the shared version costs 2x here (125 items: 126 ns -> 240 ns with an order array,
    330 ns when that array is allocated per call)."""
    for g in range(rem_group.shape[0]):
        scratch[g] = rem_group[g]
    n = v.shape[0]
    for i in range(n):
        take[i] = 0.0
    b = 0.0
    rt = rem_total
    for i in range(n):
        if rt <= 0.0:
            break
        r = hi[i] - lo[i]
        if r <= 0 or v[i] <= 0.0:
            continue
        g = group[i]
        room = rt
        if g >= 0 and scratch[g] < room:
            room = scratch[g]
        if room <= 0.0:
            continue
        vol = r * w[i]
        if vol > room:
            vol = room
            t = room / w[i]
        else:
            t = float(r)
        take[i] = t
        b += t * v[i]
        rt -= vol
        if g >= 0:
            scratch[g] -= vol
    return b


@numba.njit(cache=True)
def lp_greedy_in_order(v, w, lo, hi, group, order, rem_total, rem_group, scratch, take):
    """``lp_greedy`` over the items ``order`` lists, in that order (value-per-weight descending
    for the values v given), e.g. the primary items of the lexicographic search in
    primary-value order; take[j] is reset for the listed items only."""
    for g in range(rem_group.shape[0]):
        scratch[g] = rem_group[g]
    for k in range(order.shape[0]):
        take[order[k]] = 0.0
    b = 0.0
    rt = rem_total
    for k in range(order.shape[0]):
        if rt <= 0.0:
            break
        i = order[k]
        r = hi[i] - lo[i]
        if r <= 0 or v[i] <= 0.0:
            continue
        g = group[i]
        room = rt
        if g >= 0 and scratch[g] < room:
            room = scratch[g]
        if room <= 0.0:
            continue
        vol = r * w[i]
        if vol > room:
            vol = room
            t = room / w[i]
        else:
            t = float(r)
        take[i] = t
        b += t * v[i]
        rt -= vol
        if g >= 0:
            scratch[g] -= vol
    return b


@numba.njit(cache=True)
def child_bound(v, w, lo, hi, group, rem_total, rem_group, scratch, take, base_val, i, new_lo, new_hi):
    """LP bound of the node with item i's box set to [new_lo, new_hi] (-inf: infeasible)."""
    d = new_lo - lo[i]
    vol = d * w[i]
    g = group[i]
    if rem_total - vol < 0.0 or (g >= 0 and rem_group[g] - vol < 0.0):
        return -np.inf
    old_lo = lo[i]
    old_hi = hi[i]
    lo[i] = new_lo
    hi[i] = new_hi
    if g >= 0:
        rem_group[g] -= vol
    b = base_val + d * v[i] + lp_greedy(v, w, lo, hi, group, rem_total - vol, rem_group, scratch, take)
    if g >= 0:
        rem_group[g] += vol
    lo[i] = old_lo
    hi[i] = old_hi
    return b


@numba.njit(cache=True)
def reduced_cost_fixing(v, w, u, group, total_cap, group_cap, cut):
    """Box [lo, hi] holding every plan of value > cut: for each item, the LP bound of the
    root with that item pushed one lot above (below) its LP count; when it is <= cut, the
    item cannot go there in a plan above cut (the LP value is concave in one item's
    count), so its box shrinks to the LP side. Items in v-per-weight order."""
    n = v.shape[0]
    lo = np.zeros(n, dtype=np.int64)
    hi = u.copy()
    m = group_cap.shape[0]
    scratch = np.empty(m)
    take = np.zeros(n)
    take2 = np.zeros(n)
    rem_group = group_cap.copy()
    lp_greedy(v, w, lo, hi, group, total_cap, rem_group, scratch, take)
    new_lo = lo.copy()
    new_hi = hi.copy()
    for i in range(n):
        f = np.int64(np.floor(take[i]))
        frac = take[i] > f
        if f + 1 <= u[i]:
            b = child_bound(v, w, lo, hi, group, total_cap, rem_group, scratch, take2, 0.0, i, f + 1, u[i])
            if b <= cut:
                new_hi[i] = f
        top = f if frac else f - 1
        if top >= 0:
            b = child_bound(v, w, lo, hi, group, total_cap, rem_group, scratch, take2, 0.0, i, 0, top)
            if b <= cut:
                new_lo[i] = top + 1
    return new_lo, new_hi


@numba.njit(cache=True)
def lp_duals(v, w, u, group, total, group_cap):
    """Duals of the LP max v.x, 0 <= x <= u, under the laminar capacities, read from its
    fractional greedy: lam is the ratio of the item that exhausts the total (0 if none
    does), mu_g the ratio of the item that exhausts category g minus lam (0 if g is not
    exhausted). With them every item of reduced cost v - (lam + mu_g) w > 0 is at u in
    the greedy plan and every one < 0 at 0: complementary slackness, so they are optimal."""
    m = group_cap.shape[0]
    rem = group_cap.copy()
    full = np.zeros(m, dtype=np.bool_)
    rho = np.zeros(m)
    rt = total
    lam = 0.0
    for i in range(v.shape[0]):
        if u[i] <= 0 or v[i] <= 0.0:
            continue
        g = group[i]
        if g >= 0 and full[g]:
            continue
        room = rt
        by_group = False
        if g >= 0 and rem[g] < room:
            room = rem[g]
            by_group = True
        vol = u[i] * w[i]
        if vol < room:
            rt -= vol
            if g >= 0:
                rem[g] -= vol
            continue
        if by_group:
            rt -= room
            rem[g] = 0.0
            full[g] = True
            rho[g] = v[i] / w[i]
        else:
            lam = v[i] / w[i]
            break
    mu = np.zeros(m)
    for g in range(m):
        if full[g] and rho[g] > lam:
            mu[g] = rho[g] - lam
    return lam, mu
