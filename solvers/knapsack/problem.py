"""The bounded multi-dimensional knapsack (MKP) that every solver of this package reads.

maximise sum_j v_j x_j  s.t.  sum_j W[i][j] x_j <= C[i] for every constraint i,
x_j integer in [0, u_j].

W is held sparse, row by row (CSR: ``row_starts``, ``row_items``, ``row_weights``),
because in a site every item sits in the total constraint and in at most one category
constraint: a dense W would be mostly zeros. Weights and capacities are required to be
non-negative, so x = 0 is always feasible; this is what lets every strategy fall back to
greedy and always return a plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

#: Slack allowed on a capacity when checking a plan. Weights are decimal numbers with
#: a few digits (unit_volume x lot_size), so float noise is ~1e-13 and any real
#: violation is >= 1e-3; 1e-9 (the SPEC §5 ceil tolerance) separates the two.
CAPACITY_TOLERANCE = 1e-9


class SolveStatus(StrEnum):
    """What happened in a solve; written verbatim in knapsack.site_summary.status."""

    OPTIMAL = "OPTIMAL"
    #: the solver stopped at its time limit with a feasible plan; bound/gap say how far.
    TIME_LIMIT_FEASIBLE = "TIME_LIMIT_FEASIBLE"
    #: a feasible plan within the gap tolerance of its bound, not proven optimal (the group
    #: search of SPEC §5.2 stops there: knapsack.gap_tolerance); bound/gap say how far.
    GAP_LIMIT_FEASIBLE = "GAP_LIMIT_FEASIBLE"
    #: the site branch and bound (laminar_bnb.py) ran out of nodes, and no DP behind it
    #: closed the problem: x is its incumbent (feasible, meeting the hold in phase 2),
    #: not proven optimal and with no bound (NaN). The structured solves then hand the
    #: problem to PuLP, so this status is internal: it never reaches a table.
    NODE_LIMIT_FEASIBLE = "NODE_LIMIT_FEASIBLE"
    #: the solver stopped without any feasible plan, x = 0 (the caller should fall back).
    NO_SOLUTION = "NO_SOLUTION"
    #: the solver crashed or is unavailable (the caller should fall back).
    SOLVER_ERROR = "SOLVER_ERROR"
    #: a plan from the greedy heuristic, asked for as such (no optimality claim).
    HEURISTIC = "HEURISTIC"
    #: the exact path gave no plan, so the greedy plan was used instead.
    FALLBACK_GREEDY = "FALLBACK_GREEDY"


#: statuses that come with a usable plan x.
STATUSES_WITH_PLAN = frozenset(
    {
        SolveStatus.OPTIMAL,
        SolveStatus.TIME_LIMIT_FEASIBLE,
        SolveStatus.GAP_LIMIT_FEASIBLE,
        SolveStatus.NODE_LIMIT_FEASIBLE,
        SolveStatus.HEURISTIC,
        SolveStatus.FALLBACK_GREEDY,
    }
)


@dataclass(frozen=True)
class KnapsackProblem:
    """A bounded MKP with W stored per constraint (CSR).

    values: (n,) float64 value of one unit (lot) of item j.
    upper: (n,) int64 bound u_j >= 0.
    capacities: (m,) float64 C_i >= 0.
    row_starts: (m+1,) int64; the items of constraint i are
        row_items[row_starts[i]:row_starts[i+1]] with coefficients row_weights[...].
    constraint_names: optional labels (e.g. "total", "FIBRE") used in solver models.
    """

    values: np.ndarray
    upper: np.ndarray
    capacities: np.ndarray
    row_starts: np.ndarray
    row_items: np.ndarray
    row_weights: np.ndarray
    constraint_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = self.values.shape[0]
        m = self.capacities.shape[0]
        if self.upper.shape != (n,):
            raise ValueError(f"upper has shape {self.upper.shape}, expected ({n},)")
        if self.row_starts.shape != (m + 1,) or self.row_starts[0] != 0:
            raise ValueError("row_starts must have m+1 entries starting at 0")
        if self.row_items.shape != self.row_weights.shape or (
            self.row_items.shape[0] != self.row_starts[-1]
        ):
            raise ValueError("row_items / row_weights do not match row_starts")
        if np.any(np.diff(self.row_starts) < 0):
            raise ValueError("row_starts must be non-decreasing")
        if self.row_items.size and (self.row_items.min() < 0 or self.row_items.max() >= n):
            raise ValueError("row_items holds an item index out of range")
        if np.any(self.upper < 0):
            raise ValueError("upper bounds must be >= 0")
        if np.any(self.row_weights < 0) or np.any(self.capacities < 0):
            raise ValueError("weights and capacities must be >= 0 (x = 0 must be feasible)")
        if not (np.all(np.isfinite(self.values)) and np.all(np.isfinite(self.row_weights))):
            raise ValueError("values and weights must be finite")
        if self.constraint_names and len(self.constraint_names) != m:
            raise ValueError("constraint_names must name every constraint")
        if self.row_items.size:
            # one sort over every (constraint, item) entry: a group model has thousands of
            # small rows, and a unique() per row was a tenth of a `large` day's knapsack
            rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.row_starts))
            keys = np.sort(rows * max(n, 1) + self.row_items)
            repeated = np.flatnonzero(keys[1:] == keys[:-1])
            if repeated.size:
                raise ValueError(f"constraint {int(keys[repeated[0]] // max(n, 1))} lists an item twice")

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_rows(
        cls,
        values: Sequence[float] | np.ndarray,
        upper: Sequence[int] | np.ndarray,
        rows: Sequence[tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray]],
        capacities: Sequence[float] | np.ndarray,
        constraint_names: Sequence[str] = (),
    ) -> KnapsackProblem:
        """Build from one (item indices, coefficients) pair per constraint."""
        lengths = [len(items) for items, _ in rows]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        starts[1:] = np.cumsum(lengths)
        items = (
            np.concatenate([np.asarray(i, dtype=np.int64) for i, _ in rows])
            if rows
            else np.zeros(0, dtype=np.int64)
        )
        weights = (
            np.concatenate([np.asarray(w, dtype=np.float64) for _, w in rows])
            if rows
            else np.zeros(0, dtype=np.float64)
        )
        return cls(
            values=np.ascontiguousarray(values, dtype=np.float64),
            upper=np.ascontiguousarray(upper, dtype=np.int64),
            capacities=np.ascontiguousarray(capacities, dtype=np.float64),
            row_starts=starts,
            row_items=items,
            row_weights=weights,
            constraint_names=tuple(constraint_names),
        )

    @classmethod
    def from_dense(
        cls,
        values: Sequence[float] | np.ndarray,
        weights: Sequence[Sequence[float]] | np.ndarray,
        capacities: Sequence[float] | np.ndarray,
        upper: Sequence[int] | np.ndarray | None = None,
    ) -> KnapsackProblem:
        """Build from a dense (m, n) W; zero coefficients are dropped. upper defaults to 1 (0/1 MKP)."""
        w = np.asarray(weights, dtype=np.float64)
        n = w.shape[1]
        u = np.ones(n, dtype=np.int64) if upper is None else np.asarray(upper, dtype=np.int64)
        rows = []
        for i in range(w.shape[0]):
            nz = np.flatnonzero(w[i])
            rows.append((nz, w[i, nz]))
        return cls.from_rows(values, u, rows, capacities)

    # ---- views --------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_constraints(self) -> int:
        return int(self.capacities.shape[0])

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same W per item (CSC: col_starts, col_rows, col_weights), for item-wise kernels."""
        m = self.n_constraints
        row_of_entry = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.row_starts))
        order = np.argsort(self.row_items, kind="stable")
        col_rows = row_of_entry[order]
        col_weights = self.row_weights[order]
        counts = np.bincount(self.row_items, minlength=self.n_items)
        col_starts = np.zeros(self.n_items + 1, dtype=np.int64)
        col_starts[1:] = np.cumsum(counts)
        return col_starts, np.ascontiguousarray(col_rows), np.ascontiguousarray(col_weights)

    def loads(self, x: np.ndarray) -> np.ndarray:
        """sum_j W[i][j] x_j for every constraint i."""
        contrib = self.row_weights * x[self.row_items]
        m = self.n_constraints
        row_of_entry = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.row_starts))
        return np.bincount(row_of_entry, weights=contrib, minlength=m).astype(np.float64)

    def is_feasible(self, x: np.ndarray, tolerance: float = CAPACITY_TOLERANCE) -> bool:
        """Integer, within bounds and within every capacity (up to ``tolerance``)."""
        x = np.asarray(x)
        if x.shape != (self.n_items,) or np.any(x < 0) or np.any(x > self.upper):
            return False
        return bool(np.all(self.loads(x) <= self.capacities + tolerance))

    def objective(self, x: np.ndarray) -> float:
        return float(np.dot(self.values, x))

    def subproblem(self, keep: np.ndarray) -> KnapsackProblem:
        """The same constraints restricted to the items where ``keep`` is True (renumbered)."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        entry_kept = keep[self.row_items]
        m = self.n_constraints
        row_of_entry = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.row_starts))
        counts = np.bincount(row_of_entry[entry_kept], minlength=m)
        starts = np.zeros(m + 1, dtype=np.int64)
        starts[1:] = np.cumsum(counts)
        return KnapsackProblem(
            values=self.values[keep],
            upper=self.upper[keep],
            capacities=self.capacities,
            row_starts=starts,
            row_items=new_index[self.row_items[entry_kept]].astype(np.int64),
            row_weights=self.row_weights[entry_kept],
            constraint_names=self.constraint_names,
        )

    def with_values(self, values: np.ndarray) -> KnapsackProblem:
        """Same constraints, another objective (used by the lexicographic first phase)."""
        return KnapsackProblem(
            values=np.ascontiguousarray(values, dtype=np.float64),
            upper=self.upper,
            capacities=self.capacities,
            row_starts=self.row_starts,
            row_items=self.row_items,
            row_weights=self.row_weights,
            constraint_names=self.constraint_names,
        )


def relative_gap(objective: float, bound: float) -> float:
    """(bound - objective) / |objective| (Gurobi's MIPGap convention for a maximisation).

    0 when the bound is met (within 1e-9), +inf when the objective is 0 and the bound is
    not, NaN when the bound is unknown.
    """
    if not np.isfinite(bound):
        return float("nan")
    diff = bound - objective
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    if objective == 0:
        return float("inf")
    return float(diff / abs(objective))


@dataclass(frozen=True, kw_only=True)
class KnapsackResult:
    """One solve. ``bound`` is a proven upper bound on the optimum (NaN when unknown).

    Keyword-only: nine fields, four of them floats, are too easy to swap by position.
    """

    x: np.ndarray
    objective: float
    bound: float
    gap: float
    status: SolveStatus
    solver: str
    build_ms: float
    solve_ms: float
    detail: str = ""

    @property
    def has_plan(self) -> bool:
        return self.status in STATUSES_WITH_PLAN
