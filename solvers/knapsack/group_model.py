"""The group problem of SPEC §5.2: the vans of one depot, coupled by the depot's supply.

A group is the §5 site models of its vans side by side, plus one constraint per article:
sum over the vans v of lot(a) x lots(a, v) <= supply(a) (pieces). Items keep the site
model's meaning (a pair's high tier, then its top-up tier), numbered van after van
(``item_start``), so that a van's plan is a slice of the group's plan and every van is
still solved by the site solvers of this package (laminar_bnb.py).

Only the articles whose request exceeds the supply (requested = sum of u x lot over the
vans) can bind: for the others every plan within the bounds u fits. Those "coupled"
articles alone get a supply row in ``problem``; a group without any is a set of
independent site problems.

A cap on the lots of one article in one van (what the depot can still give it) is a
bound on the pair's two items: the high tier takes the cap first. That loses nothing:
both tiers weigh the same and use the same supply, and a high-tier lot is worth at least
a top-up lot (v_lo = topup_ratio x v_hi, topup_ratio <= 1), in value and in critical
value, so any plan can move its lots to the high tier first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from solvers.knapsack.laminar_bnb import LaminarStructure, laminar_structure
from solvers.knapsack.problem import KnapsackProblem
from solvers.knapsack.site_model import SiteCapacities, SiteModel, site_model_from_terms


@dataclass(frozen=True)
class GroupModel:
    """One depot's group: its vans' site models and the group MKP.

    Item arrays are over the group's items (van after van, as each van's model lists
    them). ``item_row`` is the row of ``terms`` behind an item, ``item_article`` its
    article's index in ``articles`` (sorted ids), ``item_lot`` the pieces per lot.
    Per article: ``supply`` and ``requested`` in pieces, ``usable`` the supply rounded
    down to whole lots; ``coupled`` lists the articles with requested > usable, whose
    supply rows (capacity ``usable``) close ``problem`` (after the vans' rows,
    ``van_row_start`` giving each van's first row).
    """

    depot_id: str
    terms: pl.DataFrame
    van_ids: tuple[str, ...]
    vans: tuple[SiteModel, ...]
    structures: tuple[LaminarStructure | None, ...]
    item_start: np.ndarray
    item_van: np.ndarray
    item_row: np.ndarray
    item_tier: np.ndarray
    item_article: np.ndarray
    item_lot: np.ndarray
    values: np.ndarray
    critical_values: np.ndarray
    weight: np.ndarray
    priority: np.ndarray
    order_key: np.ndarray
    articles: np.ndarray
    supply: np.ndarray
    usable: np.ndarray
    requested: np.ndarray
    coupled: np.ndarray
    problem: KnapsackProblem
    van_row_start: np.ndarray

    @property
    def n_vans(self) -> int:
        return len(self.van_ids)

    @property
    def n_items(self) -> int:
        return int(self.values.shape[0])

    def van_slice(self, k: int) -> slice:
        return slice(int(self.item_start[k]), int(self.item_start[k + 1]))

    def shipped(self, x: np.ndarray) -> np.ndarray:
        """Pieces of every article that plan ``x`` takes out of the depot."""
        return np.bincount(self.item_article, weights=x * self.item_lot, minlength=self.articles.shape[0])

    def within_supply(self, x: np.ndarray, tolerance: float = 1e-9) -> bool:
        return bool(np.all(self.shipped(x) <= self.supply + tolerance))

    def van_problem(self, k: int, values: np.ndarray, upper: np.ndarray) -> KnapsackProblem:
        """Van k's site problem with other values / bounds (same constraints)."""
        p = self.vans[k].problem
        return KnapsackProblem(
            values=np.ascontiguousarray(values, dtype=np.float64),
            upper=np.ascontiguousarray(upper, dtype=np.int64),
            capacities=p.capacities,
            row_starts=p.row_starts,
            row_items=p.row_items,
            row_weights=p.row_weights,
            constraint_names=p.constraint_names,
        )

    def capped_upper(self, caps_lots: np.ndarray, k: int, upper: np.ndarray | None = None) -> np.ndarray:
        """Van k's item bounds when it may take at most caps_lots[a] lots of article a
        (module docstring: the high tier takes the cap first). ``upper``: the bounds to
        cap (default the model's)."""
        sl = self.van_slice(k)
        base = (self.problem.upper if upper is None else upper)[sl]
        cap = caps_lots[self.item_article[sl]]
        out = np.minimum(base, cap)
        hi = self.item_tier[sl] == 0
        # a top-up item follows its pair's high-tier item (when there is one): it gets
        # what the high tier left of the cap
        row = self.item_row[sl]
        lo_idx = np.flatnonzero(~hi)
        if lo_idx.size:
            prev = lo_idx - 1
            same = (prev >= 0) & (row[np.maximum(prev, 0)] == row[lo_idx]) & hi[np.maximum(prev, 0)]
            left = cap[lo_idx] - np.where(same, out[np.maximum(prev, 0)], 0)
            out[lo_idx] = np.minimum(base[lo_idx], np.maximum(left, 0))
        return np.maximum(out, 0).astype(np.int64)


def build_group_model(
    depot_id: str,
    terms: pl.DataFrame,
    capacities: Mapping[object, SiteCapacities],
    supply: Mapping[str, float],
) -> GroupModel:
    """The group of ``depot_id`` from its vans' ``pair_terms`` rows (sorted by site_id,
    article_id) and the depot's supply in pieces per article (absent: 0)."""
    site_ids = terms["site_id"].to_numpy()
    n_rows = terms.height
    cuts = np.concatenate([[0], np.flatnonzero(site_ids[1:] != site_ids[:-1]) + 1, [n_rows]]) if n_rows else np.array([0])
    van_ids = tuple(str(site_ids[a]) for a in cuts[:-1])
    vans = tuple(site_model_from_terms(terms.slice(a, b - a), capacities[v]) for v, a, b in zip(van_ids, cuts[:-1], cuts[1:]))
    counts = np.array([m.problem.n_items for m in vans], dtype=np.int64)
    item_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    item_van = np.repeat(np.arange(len(vans), dtype=np.int64), counts)
    item_row = np.concatenate([m.item_pair + a for m, a in zip(vans, cuts[:-1])]) if vans else np.zeros(0, np.int64)
    item_tier = np.concatenate([m.item_tier for m in vans]) if vans else np.zeros(0, np.int64)

    articles, pair_article = np.unique(terms["article_id"].to_numpy().astype(str), return_inverse=True)
    lot = terms["lot_size"].to_numpy().astype(np.float64)
    u = terms["u"].to_numpy().astype(np.float64)
    n_art = articles.shape[0]
    requested = np.bincount(pair_article, weights=u * lot, minlength=n_art)
    supply_arr = np.array([float(supply.get(a, 0.0)) for a in articles.tolist()], dtype=np.float64)
    if np.any(supply_arr < 0) or not np.all(np.isfinite(supply_arr)):
        raise ValueError(f"depot {depot_id}: supply must be finite and >= 0")
    # integer plans ship whole lots: the supply that can be shipped is rounded down to a
    # multiple of the lot size (of the gcd of the article's lot sizes, were they to differ),
    # which tightens the LP and the Lagrangian bound (a fraction of a lot of every scarce
    # article otherwise: ~5 of ~14,500 on the benchmark group, most of the gap)
    lot_gcd = np.zeros(n_art, dtype=np.int64)
    np.gcd.at(lot_gcd, pair_article, terms["lot_size"].to_numpy().astype(np.int64))
    usable = np.where(lot_gcd > 0, np.floor(supply_arr / np.maximum(lot_gcd, 1) + 1e-9) * lot_gcd, supply_arr)
    coupled = np.flatnonzero(requested > usable + 1e-9)

    item_article = pair_article[item_row].astype(np.int64)
    item_lot = lot[item_row]
    values = np.concatenate([m.problem.values for m in vans]) if vans else np.zeros(0)
    upper = np.concatenate([m.problem.upper for m in vans]) if vans else np.zeros(0, np.int64)
    critical = np.concatenate([m.critical_values for m in vans]) if vans else np.zeros(0)
    weight = np.concatenate([m.item_weight for m in vans]) if vans else np.zeros(0)
    priority = np.concatenate([m.priority for m in vans]) if vans else np.zeros(0, np.int64)
    # SPEC §5.2 greedy ties: article_id, then site_id (van order), then high tier first
    order_key = (item_article * max(1, len(vans)) + item_van) * 2 + item_tier

    rows, caps, names, van_row_start = [], [], [], [0]
    for k, m in enumerate(vans):
        p = m.problem
        for i in range(p.n_constraints):
            s, e = p.row_starts[i], p.row_starts[i + 1]
            rows.append((p.row_items[s:e] + item_start[k], p.row_weights[s:e]))
            caps.append(float(p.capacities[i]))
            names.append(f"{van_ids[k]}:{p.constraint_names[i] if p.constraint_names else i}")
        van_row_start.append(len(rows))
    if coupled.size:
        order = np.argsort(item_article, kind="stable")
        bounds = np.searchsorted(item_article[order], np.stack([coupled, coupled + 1]))
        for a, s, e in zip(coupled.tolist(), bounds[0].tolist(), bounds[1].tolist()):
            its = np.sort(order[s:e])
            rows.append((its, item_lot[its]))
            caps.append(float(usable[a]))
            names.append(f"supply:{articles[a]}")
    problem = KnapsackProblem.from_rows(values, upper, rows, caps, names)
    return GroupModel(
        depot_id=depot_id,
        terms=terms,
        van_ids=van_ids,
        vans=vans,
        structures=tuple(laminar_structure(m.problem) for m in vans),
        item_start=item_start,
        item_van=item_van,
        item_row=item_row.astype(np.int64),
        item_tier=item_tier.astype(np.int64),
        item_article=item_article,
        item_lot=item_lot,
        values=values,
        critical_values=critical,
        weight=weight,
        priority=priority.astype(np.int64),
        order_key=order_key.astype(np.int64),
        articles=articles,
        supply=supply_arr,
        usable=usable,
        requested=requested,
        coupled=coupled.astype(np.int64),
        problem=problem,
        van_row_start=np.asarray(van_row_start, dtype=np.int64),
    )
