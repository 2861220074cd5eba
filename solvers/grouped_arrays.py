"""Sparse per-pair events as CSR arrays, the shape the numba kernels read.

The STOCK kernels (SPEC §3) walk, for each (site, article) pair, a short list of
dated events (daily consumption, planned demand, receipts) in day order. Polars does
the grouping and sorting; this module turns the result into three flat arrays:

- ``starts`` (int64, ``n_groups + 1``): events of group ``g`` are ``starts[g]:starts[g+1]``;
- ``keys`` (int64): the day index of each event, increasing within a group;
- ``values`` (float64): the quantity of each event.

Groups without events are empty slices, so a kernel never needs a dense
``n_groups x days`` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class GroupedArrays:
    """Events grouped by a dense group index 0..n_groups-1, sorted by key in each group."""

    starts: np.ndarray
    keys: np.ndarray
    values: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.starts) - 1


def index_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` sorted by (site_id, article_id) with a dense ``pair_idx`` 0..n-1 first.

    Sorting fixes the output order (site_id, article_id) for every STOCK table; the
    index is how the kernels address a pair. Duplicated pairs are an upstream bug
    (SPEC §2 keys), so they raise.
    """
    duplicated = pairs.select("site_id", "article_id").is_duplicated()
    if duplicated.any():
        example = pairs.filter(duplicated).select("site_id", "article_id").row(0)
        raise ValueError(f"duplicated (site_id, article_id) pair, e.g. {example}")
    return pairs.sort("site_id", "article_id").with_row_index("pair_idx")


def group_events(
    events: pl.DataFrame, group: str, key: str, value: str, n_groups: int
) -> GroupedArrays:
    """Group ``events`` by the integer column ``group`` (values in 0..n_groups-1).

    ``events`` must hold at most one row per (group, key): callers aggregate first, so
    that the order in which same-day quantities are added is decided in one place.
    Rows are sorted by (group, key) here; the kernels rely on that order.
    """
    ordered = events.select(
        pl.col(group).cast(pl.Int64),
        pl.col(key).cast(pl.Int64),
        pl.col(value).cast(pl.Float64),
    ).sort(group, key)
    group_idx = kernel_array(ordered.get_column(group), np.int64)
    if len(group_idx) and (group_idx[0] < 0 or group_idx[-1] >= n_groups):
        raise ValueError(f"group index out of range 0..{n_groups - 1}")
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(group_idx, minlength=n_groups), out=starts[1:])
    return GroupedArrays(
        starts=starts,
        keys=kernel_array(ordered.get_column(key), np.int64),
        values=kernel_array(ordered.get_column(value), np.float64),
    )


def kernel_array(column: pl.Series, dtype: type) -> np.ndarray:
    """``column`` as a contiguous, writable NumPy array of ``dtype``.

    Polars hands out read-only zero-copy views when it can and writable copies when it
    must; numba compiles (and caches) one specialisation per flavour, so a kernel fed
    both would compile twice. Normalising here keeps one signature per kernel.
    """
    return np.require(column.to_numpy(), dtype=dtype, requirements=("C", "W"))

