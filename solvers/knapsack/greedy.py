"""Greedy for the bounded MKP: lots by value per weight, each taken if it fits (SPEC §5 `greedy`).

It is the `greedy` strategy itself and the fallback of the exact ones, so it must never
fail and must be deterministic: the order is fully specified by (value per weight
descending, priority descending, order key ascending) and the fit test by
``load + lot weight <= capacity + CAPACITY_TOLERANCE``.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from solvers.knapsack.problem import (
    CAPACITY_TOLERANCE,
    KnapsackProblem,
    KnapsackResult,
    SolveStatus,
)


@numba.njit(cache=True)
def _greedy_fill(
    order: np.ndarray,
    upper: np.ndarray,
    capacities: np.ndarray,
    col_starts: np.ndarray,
    col_rows: np.ndarray,
    col_weights: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """Walk items in ``order``; take as many lots of each as fit every constraint.

    Taking k lots at once is the same as offering the item's lots one by one: they are
    consecutive in the order, and once one lot does not fit no later lot of it does.
    """
    n = upper.shape[0]
    load = np.zeros(capacities.shape[0])
    x = np.zeros(n, dtype=np.int64)
    for j in order:
        k = upper[j]
        if k <= 0:
            continue
        for p in range(col_starts[j], col_starts[j + 1]):
            w = col_weights[p]
            if w > 0.0:
                room = capacities[col_rows[p]] + tolerance - load[col_rows[p]]
                if room < w:
                    k = 0
                    break
                fit = np.int64(np.floor(room / w))
                if fit < k:
                    k = fit
        # floor() of a float ratio can overshoot by one lot: recheck with the same
        # inequality as the one-lot-at-a-time rule.
        while k > 0:
            ok = True
            for p in range(col_starts[j], col_starts[j + 1]):
                r = col_rows[p]
                if load[r] + k * col_weights[p] > capacities[r] + tolerance:
                    ok = False
                    break
            if ok:
                break
            k -= 1
        if k > 0:
            x[j] = k
            for p in range(col_starts[j], col_starts[j + 1]):
                load[col_rows[p]] += k * col_weights[p]
    return x


def default_ratio_weights(problem: KnapsackProblem) -> np.ndarray:
    """sum_i W[i][j] / C[i]: the usual scaled weight of MKP greedy heuristics.

    The site model does not use it: it passes the weight per lot (SPEC §5 ordering).
    """
    cap = problem.capacities
    scale = np.where(cap > 0, 1.0 / np.where(cap > 0, cap, 1.0), 1e12)
    m = problem.n_constraints
    row_of_entry = np.repeat(np.arange(m, dtype=np.int64), np.diff(problem.row_starts))
    return np.bincount(
        problem.row_items,
        weights=problem.row_weights * scale[row_of_entry],
        minlength=problem.n_items,
    ).astype(np.float64)


def greedy_order(
    values: np.ndarray,
    ratio_weights: np.ndarray,
    priority: np.ndarray | None = None,
    order_key: np.ndarray | None = None,
) -> np.ndarray:
    """Item indices by value/weight descending, then priority descending, then order key ascending.

    Zero weight with positive value ranks first (ratio +inf); the final tie-break on the
    item index keeps the order total even without an order key.
    """
    n = values.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            ratio_weights > 0,
            values / np.where(ratio_weights > 0, ratio_weights, 1.0),
            np.where(values > 0, np.inf, np.where(values < 0, -np.inf, 0.0)),
        )
    prio = np.zeros(n, dtype=np.int64) if priority is None else np.asarray(priority, np.int64)
    key = np.arange(n, dtype=np.int64) if order_key is None else np.asarray(order_key, np.int64)
    # np.lexsort: the last key is the primary one.
    return np.lexsort((np.arange(n), key, -prio, -ratio)).astype(np.int64)


def solve_greedy(
    problem: KnapsackProblem,
    ratio_weights: np.ndarray | None = None,
    priority: np.ndarray | None = None,
    order_key: np.ndarray | None = None,
    tolerance: float = CAPACITY_TOLERANCE,
) -> KnapsackResult:
    """The greedy plan. Items of negative value are never taken; zero-value lots are
    offered last, like any other lot (SPEC §5 takes every lot that fits).

    ratio_weights: the "weight" of value per weight, per item (default
    :func:`default_ratio_weights`); priority: higher first on ratio ties; order_key:
    ascending on remaining ties (e.g. the rank of article_id).
    """
    t0 = time.perf_counter()
    rw = default_ratio_weights(problem) if ratio_weights is None else np.asarray(ratio_weights, np.float64)
    order = greedy_order(problem.values, rw, priority, order_key)
    order = order[problem.values[order] >= 0]
    col_starts, col_rows, col_weights = problem.columns()
    t1 = time.perf_counter()
    x = _greedy_fill(
        np.ascontiguousarray(order),
        problem.upper,
        problem.capacities,
        col_starts,
        col_rows,
        col_weights,
        tolerance,
    )
    t2 = time.perf_counter()
    return KnapsackResult(
        x=x,
        objective=problem.objective(x),
        bound=float("nan"),
        gap=float("nan"),
        status=SolveStatus.HEURISTIC,
        solver="greedy",
        build_ms=(t1 - t0) * 1e3,
        solve_ms=(t2 - t1) * 1e3,
    )
