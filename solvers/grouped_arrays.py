"""Sparse per-pair events as CSR arrays, the shape the numba kernels read.

The STOCK kernels (SPEC §3) walk, for each (site, article) pair, a short list of
dated events (daily consumption, planned demand, receipts) in day order. This module
turns event rows into three flat arrays:

- ``starts`` (int64, ``n_groups + 1``): events of group ``g`` are ``starts[g]:starts[g+1]``;
- ``keys`` (int64): the day index of each event, increasing within a group;
- ``values`` (float64): the quantity of each event.

Groups without events are empty slices, so a kernel never needs a dense
``n_groups x days`` matrix.

Getting there without a string join or a sort (the two costs that dominated on 1.8 M
window rows x 283k pairs): :class:`PairLookup` turns (site_id, article_id) into an
integer pair code with two Enum casts and finds its ``pair_idx`` in a hash table, and
:func:`group_events` sums and orders the rows with counting sorts (one pass when the
rows come in day order, as a window read day by day does), since day indices span a
small range (1..N or 1..H).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
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
    ordered = pairs.sort("site_id", "article_id")

    def same_as_previous_row(column: str) -> pl.Expr:
        return pl.col(column).eq_missing(pl.col(column).shift(1))

    # once sorted, a duplicate sits next to its twin: cheaper than hashing both keys
    repeated = ordered.select(
        (same_as_previous_row("site_id") & same_as_previous_row("article_id")).slice(1).any()
    ).item()
    if repeated:
        duplicated = pairs.select("site_id", "article_id").is_duplicated()
        example = pairs.filter(duplicated).select("site_id", "article_id").row(0)
        raise ValueError(f"duplicated (site_id, article_id) pair, e.g. {example}")
    return ordered.with_row_index("pair_idx")


@dataclass(frozen=True)
class PairLookup:
    """Finds the ``pair_idx`` of (site_id, article_id) rows of another table.

    A row's *pair code* is ``site_code * n_articles + article_code``, the codes being the
    positions of its site and article among the indexed pairs' sites and articles (Enum
    casts, -1 when either is unknown or null); a small open-addressing hash table maps
    the code to ``pair_idx``. Same answer as an inner join on both string keys (nulls
    never match), several times cheaper on large windows.
    """

    sites: pl.Enum
    articles: pl.Enum
    slot_codes: np.ndarray  # pair code held by each slot, -1 when the slot is empty
    slot_pairs: np.ndarray  # pair_idx of that code
    shift: int  # 64 - log2(number of slots)

    @classmethod
    def of(cls, indexed: pl.DataFrame) -> PairLookup:
        """Lookup of ``indexed`` (site_id, article_id, pair_idx; see :func:`index_pairs`)."""
        sites = pl.Enum(indexed.get_column("site_id").drop_nulls().unique().sort())
        articles = pl.Enum(indexed.get_column("article_id").drop_nulls().unique().sort())
        codes = kernel_array(indexed.select(_pair_code(sites, articles)).to_series(), np.int64)
        pair_idx = kernel_array(indexed.get_column("pair_idx"), np.int64)
        bits = max(4, int(np.ceil(np.log2(2 * max(len(codes), 1)))))  # load factor <= 1/2
        slot_codes, slot_pairs = _build_table(codes, pair_idx, bits)
        return cls(sites, articles, slot_codes, slot_pairs, 64 - bits)

    def pair_code(self) -> pl.Expr:
        """Int64 pair code of the row's site_id and article_id, -1 when the pair cannot
        be one of the indexed pairs. Usable inside a lazy query."""
        return _pair_code(self.sites, self.articles)

    def positions(self, pair_codes: pl.Series) -> np.ndarray:
        """``pair_idx`` of each pair code (int64), -1 when it is not an indexed pair."""
        return _probe_table(
            self.slot_codes, self.slot_pairs, self.shift, kernel_array(pair_codes, np.int64)
        )


def _pair_code(sites: pl.Enum, articles: pl.Enum) -> pl.Expr:
    def code(column: str, dtype: pl.Enum) -> pl.Expr:
        return pl.col(column).cast(dtype, strict=False).to_physical().cast(pl.Int64)

    n_articles = len(articles.categories)
    return (
        (code("site_id", sites) * n_articles + code("article_id", articles))
        .fill_null(-1)
        .alias("pair_code")
    )


@numba.njit(cache=True)
def _slot(code: int, shift: int) -> np.int64:
    """Fibonacci hashing: the top bits of code x 2^64/phi."""
    return np.int64((np.uint64(code) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))


@numba.njit(cache=True)
def _build_table(codes: np.ndarray, pair_idx: np.ndarray, bits: int):
    """Open addressing, linear probing; codes < 0 (a null key) are left out."""
    size = 1 << bits
    mask = size - 1
    slot_codes = np.full(size, -1, dtype=np.int64)
    slot_pairs = np.full(size, -1, dtype=np.int64)
    for i in range(len(codes)):
        if codes[i] < 0:
            continue
        h = _slot(codes[i], 64 - bits)
        while slot_codes[h] != -1:
            h = (h + 1) & mask
        slot_codes[h] = codes[i]
        slot_pairs[h] = pair_idx[i]
    return slot_codes, slot_pairs


@numba.njit(cache=True)
def _probe_table(slot_codes, slot_pairs, shift, codes):  # fmt: skip
    mask = len(slot_codes) - 1
    out = np.full(len(codes), -1, dtype=np.int64)
    for i in range(len(codes)):
        code = codes[i]
        if code < 0:
            continue
        h = _slot(code, shift)
        while slot_codes[h] != -1:
            if slot_codes[h] == code:
                out[i] = slot_pairs[h]
                break
            h = (h + 1) & mask
    return out


def group_events(
    group: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    n_groups: int,
    first_key: int,
    last_key: int,
    positive_only: bool = False,
) -> GroupedArrays:
    """Rows (group, key, value) as CSR events: one event per (group, key), sorted by key.

    ``group`` in 0..n_groups-1 (-1 drops the row, e.g. an unknown pair); rows whose key
    is outside ``first_key..last_key`` are dropped too. Values of one (group, key) are
    added in row order, the one place where that order is decided (a thread-partitioned
    group_by would not promise it). ``positive_only`` keeps only sums > 0 (a demand
    day, SPEC §3). Keys span a small range (days), so the rows are ordered by stable
    counting sorts (by key unless they already come in key order, then by group)
    instead of a comparison sort.
    """
    if len(group) and int(group.max()) >= n_groups:
        raise ValueError(f"group index out of range 0..{n_groups - 1}")
    if len(group) >= 2**31:  # the kernel orders rows with int32 indices
        raise ValueError(f"{len(group)} rows: group_events takes fewer than 2**31")
    starts, keys, values = _group_sums(
        _writable(group, np.int64), _writable(key, np.int64), _writable(value, np.float64),
        int(n_groups), int(first_key), int(last_key), bool(positive_only),
    )  # fmt: skip
    return GroupedArrays(starts=starts, keys=keys, values=values)


@numba.njit(cache=True)
def _group_sums(group, key, value, n_groups, first_key, last_key, positive_only):  # fmt: skip
    n_keys = max(last_key - first_key + 1, 0)
    # count the kept rows per key and per group; are they in key order already?
    key_next = np.zeros(n_keys + 1, dtype=np.int64)
    row_starts = np.zeros(n_groups + 1, dtype=np.int64)
    kept = 0
    in_key_order = True
    previous = first_key
    for i in range(len(group)):
        k = key[i]
        if group[i] >= 0 and first_key <= k <= last_key:
            key_next[k - first_key + 1] += 1
            row_starts[group[i] + 1] += 1
            kept += 1
            in_key_order = in_key_order and k >= previous
            previous = k
    for g in range(n_groups):
        row_starts[g + 1] += row_starts[g]
    # stable counting sort by group of the rows in key order: rows end sorted by
    # (group, key, row). A window read day by day is in key order already, which
    # saves the first of the two passes.
    group_next = row_starts[:-1].copy()
    order = np.empty(kept, dtype=np.int32)
    if in_key_order:
        for i in range(len(group)):
            g = group[i]
            if g >= 0 and first_key <= key[i] <= last_key:
                order[group_next[g]] = i
                group_next[g] += 1
    else:
        for j in range(n_keys):
            key_next[j + 1] += key_next[j]
        by_key = np.empty(kept, dtype=np.int32)
        for i in range(len(group)):
            k = key[i]
            if group[i] >= 0 and first_key <= k <= last_key:
                by_key[key_next[k - first_key]] = i
                key_next[k - first_key] += 1
        for j in range(kept):
            i = by_key[j]
            order[group_next[group[i]]] = i
            group_next[group[i]] += 1
    # one event per run of equal (group, key)
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    keys = np.empty(kept, dtype=np.int64)
    values = np.empty(kept, dtype=np.float64)
    m = 0
    for g in range(n_groups):
        j = row_starts[g]
        end = row_starts[g + 1]
        while j < end:
            k = key[order[j]]
            total = 0.0  # as a sum aggregation starts: 0.0 + v == v except for v = -0.0
            while j < end and key[order[j]] == k:
                total += value[order[j]]
                j += 1
            if total > 0.0 or not positive_only:
                keys[m] = k
                values[m] = total
                m += 1
        starts[g + 1] = m
    return starts, keys[:m], values[:m]


def kernel_array(column: pl.Series, dtype: type) -> np.ndarray:
    """``column`` as a contiguous, writable NumPy array of ``dtype``.

    Polars hands out read-only zero-copy views when it can and writable copies when it
    must; numba compiles (and caches) one specialisation per flavour, so a kernel fed
    both would compile twice. Normalising here keeps one signature per kernel.
    """
    return _writable(column.to_numpy(), dtype)


def _writable(array: np.ndarray, dtype: type) -> np.ndarray:
    return np.require(array, dtype=dtype, requirements=("C", "W"))
