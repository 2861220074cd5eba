"""Exact dynamic programme for the site structure when the weights sit on a grid.

Why: on real sites many items have nearly equal value per weight (U = 0 pairs are worth
0.01 x importance weight, top-up lots 0.1 x that), so the LP bound of the branch and
bound (laminar_bnb.py) exceeds the integer optimum by a fraction of one small lot while
exponentially many fillings of the last units of capacity tie: the search proves
nothing within its node budget (138 of 1,000 sites of the generated `large` partition).
That last step is a subset-sum problem, which a DP over capacity solves exactly.

Weights are unit_volume x lot_size, decimal numbers with a few digits: when every
weight is an integer multiple of a resolution (1e-2 or 1e-3, up to 1e-6 relative noise),
weights and capacities are scaled to integers (capacities floored after adding
CAPACITY_TOLERANCE, so every plan the tolerance accepts stays in the DP) and:

- each group's items (binary-split bounded knapsack) give f_g(c), the best value with
  group volume <= c, for c <= its capacity; the items of no group give f_0 over the total;
- the total profile is the (max, +) convolution of f_0 with each f_g, capped at the total.

Values are compared lexicographically on (p, q) (p first, up to float noise), so one run
gives the criticite_hybride plan: p = critical values, q = all values; q = 0 gives a
plain maximisation. Cost ~ (sum over split items of their group capacity) + (total x
each group capacity) cell updates; ``lexicographic_dp`` refuses (returns None) beyond
``work_limit`` or when the weights are not on a grid.

The grid (``weight_grid``), the profile DP (``dp_profile``, ``taken``, ``reconstruct``)
and ``binary_split`` are public: the core DP of core_dp.py is built on them.
"""

from __future__ import annotations

import numba
import numpy as np

from solvers.knapsack.problem import CAPACITY_TOLERANCE

#: Resolutions tried for the weight grid.
RESOLUTIONS = (1e-2, 1e-3)
#: Default cap on the DP cell updates (~0.1 s).
WORK_LIMIT = 60_000_000


@numba.njit(cache=True)
def _better(p1, q1, p2, q2, tol):
    if p1 > p2 + tol:
        return True
    if p1 < p2 - tol:
        return False
    return q1 > q2 + tol


@numba.njit(cache=True)
def dp_profile(W, P, Q, cap, tol):
    """0/1 knapsack over split items (weight W, values P/Q) for capacities 0..cap;
    returns (p, q, take) with take a bit matrix: bit c of row k set when split item k is
    taken at capacity c (``taken``). Bits, not booleans: a depot's core (~2,000 split
    items x 100,000 cells) would need 200 MB as booleans, 25 MB as bits."""
    K = W.shape[0]
    p = np.zeros(cap + 1)
    q = np.zeros(cap + 1)
    take = np.zeros((K, (cap >> 3) + 1), dtype=np.uint8)
    for k in range(K):
        wk = W[k]
        pk = P[k]
        qk = Q[k]
        row = take[k]
        for c in range(cap, wk - 1, -1):
            np_ = p[c - wk] + pk
            nq = q[c - wk] + qk
            if _better(np_, nq, p[c], q[c], tol):
                p[c] = np_
                q[c] = nq
                row[c >> 3] |= np.uint8(1 << (c & 7))
    return p, q, take


@numba.njit(cache=True)
def taken(take, k, c):
    """Whether split item k is taken at capacity c in a ``dp_profile`` bit matrix."""
    return (take[k, c >> 3] >> (c & 7)) & 1 == 1


def reconstruct(take: np.ndarray, split_weight: np.ndarray, c: int) -> np.ndarray:
    """The split items of a ``dp_profile`` optimum at capacity c (a boolean per split item)."""
    out = np.zeros(split_weight.shape[0], dtype=np.bool_)
    for s in range(split_weight.shape[0] - 1, -1, -1):
        if taken(take, s, c):
            out[s] = True
            c -= int(split_weight[s])
    return out


@numba.njit(cache=True)
def _convolve(p, q, fp, fq, tol):
    """(max,+) of the profile (p, q) with (fp, fq); returns (p, q, arg: volume given to f)."""
    T = p.shape[0] - 1
    C = fp.shape[0] - 1
    op = p.copy()
    oq = q.copy()
    arg = np.zeros(T + 1, dtype=np.int64)
    # only the volumes where f improves matter (the profiles are non-decreasing)
    steps = np.empty(C + 1, dtype=np.int64)
    ns = 0
    for k in range(1, C + 1):
        if _better(fp[k], fq[k], fp[k - 1], fq[k - 1], tol):
            steps[ns] = k
            ns += 1
    for c in range(T + 1):
        bp = op[c]
        bq = oq[c]
        ba = 0
        for s in range(ns):
            k = steps[s]
            if k > c:
                break
            np_ = p[c - k] + fp[k]
            nq = q[c - k] + fq[k]
            if _better(np_, nq, bp, bq, tol):
                bp = np_
                bq = nq
                ba = k
        op[c] = bp
        oq[c] = bq
        arg[c] = ba
    return op, oq, arg


@numba.njit(cache=True)
def _n_steps(fp, fq, tol):
    ns = 0
    for k in range(1, fp.shape[0]):
        if _better(fp[k], fq[k], fp[k - 1], fq[k - 1], tol):
            ns += 1
    return ns


def binary_split(bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounded items as 0/1 split items: item j with bound u becomes lots 1, 2, 4, ...,
    rest (every count 0..u is a sum of a subset). Returns (item of each split, its lots)."""
    bounds = np.asarray(bounds, dtype=np.int64)
    if bounds.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_splits = np.where(bounds > 0, np.floor(np.log2(np.maximum(bounds, 1))).astype(np.int64) + 1, 0)
    item = np.repeat(np.arange(bounds.size, dtype=np.int64), n_splits)
    start = np.repeat(np.cumsum(n_splits) - n_splits, n_splits)
    power = np.arange(item.size, dtype=np.int64) - start
    lots = np.left_shift(1, power)
    last = np.cumsum(n_splits) - 1
    last = last[n_splits > 0]
    lots[last] = bounds[item[last]] - (np.left_shift(1, n_splits[n_splits > 0] - 1) - 1)
    return item, lots


def weight_grid(weight: np.ndarray, caps: list[float]) -> tuple[np.ndarray, list[int]] | None:
    """Weights as integer cells of the first resolution of RESOLUTIONS they sit on (up to
    1e-6 relative noise, every weight >= 1 cell), and the capacities in cells (floored
    after adding CAPACITY_TOLERANCE, -1 for an infinite one); None when no grid fits.
    Shared with core_dp.py, whose DP runs on the same cells."""
    for res in RESOLUTIONS:
        scaled = weight / res
        W = np.rint(scaled)
        if np.all(np.abs(scaled - W) <= 1e-6 * np.maximum(1.0, scaled)) and np.all(W >= 1):
            ic = [int(np.floor((c + CAPACITY_TOLERANCE) / res + 1e-6)) if np.isfinite(c) else -1 for c in caps]
            return W.astype(np.int64), ic
    return None


def lexicographic_dp(
    weight: np.ndarray,
    group: np.ndarray,
    group_capacity: np.ndarray,
    total_capacity: float,
    upper: np.ndarray,
    p_values: np.ndarray,
    q_values: np.ndarray,
    work_limit: int = WORK_LIMIT,
) -> np.ndarray | None:
    """The plan maximising (p.x, q.x) lexicographically over the laminar plans, or None
    (weights off the grid, zero weights or work beyond ``work_limit``).

    Items of no value (p <= 0 and q <= 0, or upper 0) stay at 0; p, q must be >= 0.
    """
    n = weight.shape[0]
    x = np.zeros(n, dtype=np.int64)
    worth = ((p_values > 0) | (q_values > 0)) & (upper > 0)
    if np.any(p_values[worth] < 0) or np.any(q_values[worth] < 0):
        return None
    idx = np.flatnonzero(worth)
    if idx.size == 0:
        return x
    m = group_capacity.shape[0]
    got = weight_grid(weight[idx], [float(total_capacity), *map(float, group_capacity)])
    if got is None:
        return None
    W_all, icaps = got
    g_all = group[idx]
    u_all = upper[idx]
    # caps actually reachable: no larger than the demand
    demand_total = int(np.sum(W_all * u_all))
    T = demand_total if icaps[0] < 0 else min(icaps[0], demand_total)
    gcaps = []
    for g in range(m):
        d = int(np.sum((W_all * u_all)[g_all == g]))
        if d <= icaps[1 + g]:
            g_all = np.where(g_all == g, -1, g_all)  # a limit that never binds: no group
            gcaps.append(0)
        else:
            gcaps.append(min(icaps[1 + g], T))
    # a total that never binds (its free items plus every group filled to its limit fit):
    # the groups are independent problems
    free_total = int(np.sum((W_all * u_all)[g_all < 0])) + sum(
        gcaps[g] for g in range(m) if np.any(g_all == g)
    ) <= T
    # split items
    sets = []
    work = 0
    for g in range(-1, m):
        sel = np.flatnonzero(g_all == g)
        if sel.size == 0 and g >= 0:
            continue
        if g < 0 and free_total:
            x[idx[sel]] = u_all[sel]
            continue
        cap = T if g < 0 else gcaps[g]
        it, mm = binary_split(u_all[sel])
        it = sel[it]
        ww = W_all[it] * mm
        work += it.size * (cap + 1)
        sets.append((g, it, ww, mm, cap))
    if work > work_limit:
        return None
    pv = p_values[idx]
    qv = q_values[idx]
    tol = 1e-11 * max(1.0, float(np.dot(pv, u_all)), float(np.dot(qv, u_all)))
    if not sets:
        return x
    profiles = []
    for _g, it, ww, mm, cap in sets:
        P = pv[it] * mm if it.size else np.zeros(0)
        Q = qv[it] * mm if it.size else np.zeros(0)
        prof = dp_profile(ww, P.astype(np.float64), Q.astype(np.float64), cap, tol)
        profiles.append(prof)
    if free_total:
        vol = [cap for _, _, _, _, cap in sets]
    else:
        if sets[0][0] >= 0:  # no free item: start from the empty profile
            sets.insert(0, (-1, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), T))
            profiles.insert(0, (np.zeros(T + 1), np.zeros(T + 1), np.zeros((0, (T >> 3) + 1), np.uint8)))
        steps = sum(_n_steps(fp, fq, tol) for fp, fq, _ in profiles[1:])
        if work + steps * (T + 1) > work_limit:
            return None
        p, q, _ = profiles[0]
        args = []
        for k in range(1, len(sets)):
            fp, fq, _ = profiles[k]
            p, q, arg = _convolve(p, q, fp, fq, tol)
            args.append(arg)
        # reconstruction: volumes per group, then items within each profile
        c = T
        vol = [0] * len(sets)
        for k in range(len(sets) - 1, 0, -1):
            vol[k] = int(args[k - 1][c])
            c -= vol[k]
        vol[0] = c
    xs = x[idx].copy()  # the items of a total that never binds are already in
    for k, (_g, it, ww, mm, _cap) in enumerate(sets):
        chosen = reconstruct(profiles[k][2], ww, vol[k])
        np.add.at(xs, it[chosen], mm[chosen])
    x[idx] = xs
    return x
