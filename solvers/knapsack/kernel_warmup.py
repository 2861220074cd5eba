"""The knapsack's numba kernels compiled ahead of a partition's solve, on a synthetic partition.

On a machine whose numba cache is cold (a fresh clone, an edited solver), a `large` day's
first run spent 12 s compiling the knapsack's kernels when the knapsack step began, after
the stock and urgency steps (19 s of compilation in all, profiled; the run took 26.1 s
against 15.4 s with a warm cache, and 20.9 s with this warm-up). A run therefore starts ``warm_up`` in a process of its own as it begins
(orchestrator_assets/kernel_warmup_process.py): the kernels compile on the other core while
the first steps run, and the knapsack step finds them in numba's cache.

What it solves: a small partition built here (one depot's vans, which the sourcing solves
as a group, and a site supplied from outside, which it solves alone), through the same
``solve_sourced`` as the pipeline with its defaults, then that site's two exact phases with
a node limit of one, which sends the search down its fallbacks (the core DP, the DP), as
the hardest sites of a real day do, and the DP once more with a total that binds. The
kernels' argument types come from the solvers' own array building, not from the frames, so
a synthetic partition compiles the same signatures as a real one (tested: after a warm-up,
another partition compiles nothing).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from solvers.knapsack import laminar_bnb
from solvers.knapsack.laminar_bnb import laminar_structure, solve_laminar_bnb, solve_lexicographic_bnb
from solvers.knapsack.laminar_dp import lexicographic_dp
from solvers.knapsack.site_model import SiteCapacities, pair_terms, site_model_from_terms
from solvers.knapsack.sourcing import solve_sourced

#: the kernel whose cache entry tells whether a warm-up is worth it: the dearest to compile
#: (the search, 7.9 s of the knapsack's 12 s); the warm-up compiles it with all the others
SENTINEL = laminar_bnb._branch_and_bound

_CATEGORIES = ("FIBRE", "CUIVRE", "OUTILLAGE")
_IMPORTANCES = ("CRITIQUE", "IMPORTANT", "STANDARD")
_LEVELS = ("CRITIQUE", "URGENT", "SURVEILLANCE", "NORMAL")
_CAPACITY = SiteCapacities(total=12.0, categories={"FIBRE": 5.0, "CUIVRE": 4.0})


def synthetic_articles(rng: np.random.Generator, articles: int) -> tuple[np.ndarray, ...]:
    """(ids, category, importance, lot size, unit volume, stock_min, stock_max) of ``articles``
    random articles, in this order of draws (the sourcing tests' random groups draw theirs
    here too)."""
    ids = np.array([f"A{k:03d}" for k in range(articles)])
    category = rng.choice(np.array(_CATEGORIES), articles)
    importance = rng.choice(np.array(_IMPORTANCES), articles)
    lot = rng.choice(np.array([1, 1, 2, 3, 5]), articles)
    volume = np.round(rng.uniform(0.05, 1.5, articles), 3)
    stock_min = rng.integers(0, 6, articles)
    stock_max = stock_min + rng.integers(0, 8, articles)
    return ids, category, importance, lot, volume, stock_min, stock_max


def warmup_partition(
    vans: int = 6, articles: int = 40, pairs_per_site: int = 25, seed: int = 0
) -> tuple[pl.DataFrame, dict[object, SiteCapacities], dict[str, str], pl.DataFrame]:
    """(pairs, capacities, parents, supply): ``vans`` vans of depot DEP and one site OUT
    without a parent, in the columns of the pipeline's knapsack pairs; the depot holds half
    of what the vans would take, so that the group shares a scarce supply."""
    rng = np.random.default_rng(seed)
    ids, category, importance, lot, volume, stock_min, stock_max = synthetic_articles(rng, articles)
    sites = [f"VAN{v:02d}" for v in range(vans)] + ["OUT"]
    frames = []
    for site in sites:
        idx = np.sort(rng.choice(articles, pairs_per_site, replace=False))
        n = idx.size
        frames.append(pl.DataFrame({
            "site_id": site, "article_id": ids[idx], "u_total": np.round(rng.uniform(0, 1, n), 4),
            "level": rng.choice(_LEVELS, n), "class": "X",
            "min_projected": np.round(stock_max[idx] - rng.uniform(-2, 12, n), 2), "stock_min": stock_min[idx],
            "category": category[idx], "importance": importance[idx], "stock_max": stock_max[idx],
            "lot_size": lot[idx], "unit_volume": volume[idx], "unit_cost": np.round(rng.uniform(1, 50, n), 2),
        }))
    pairs = pl.concat(frames)
    parents = {site: "DEP" for site in sites if site != "OUT"}
    requested = (
        pair_terms(pairs.filter(pl.col("site_id") != "OUT"))
        .group_by("article_id")
        .agg(pl.col("u").sum())
        .sort("article_id")
    )
    supply = requested.select(
        site_id=pl.lit("DEP"), article_id="article_id", supply=(pl.col("u") // 2).cast(pl.Int64)
    )
    capacities: dict[object, SiteCapacities] = {site: _CAPACITY for site in sites}
    return pairs, capacities, parents, supply


def warm_up() -> None:
    """Compile (or load) every knapsack kernel a partition's default solve uses."""
    pairs, capacities, parents, supply = warmup_partition()
    solve_sourced(pairs, capacities, parents, supply)
    model = site_model_from_terms(pair_terms(pairs.filter(pl.col("site_id") == "OUT")), capacities["OUT"])
    solve_lexicographic_bnb(model.problem, model.critical_values, node_limit=1)
    solve_laminar_bnb(model.problem, node_limit=1)
    s = laminar_structure(model.problem)
    if s is not None:  # the DP's other branch: a total that binds across the categories
        lexicographic_dp(s.weight, s.group, s.group_capacity, s.total_capacity / 4, model.problem.upper,
                         model.critical_values, model.problem.values)
