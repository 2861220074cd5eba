"""Random small groups for the sourcing tests: vans of one or more depots sharing articles,
with supplies that make some articles scarce."""

from __future__ import annotations

import numpy as np
import polars as pl

from solvers.knapsack import SiteCapacities
from solvers.knapsack.kernel_warmup import synthetic_articles
from solvers.knapsack.site_model import pair_terms

LEVELS = np.array(["CRITIQUE", "URGENT", "SURVEILLANCE", "NORMAL"])
SMALL = SiteCapacities(total=10.0, categories={"FIBRE": 5.0, "CUIVRE": 4.0})


def random_groups(
    seed: int,
    depots: int = 1,
    vans: int = 3,
    articles: int = 8,
    pairs_per_van: int = 6,
    scarce_share: float = 0.5,
    supply_factor: tuple[float, float] = (0.0, 0.9),
) -> tuple[pl.DataFrame, dict[str, SiteCapacities], dict[str, str], pl.DataFrame]:
    """(pairs, capacities, parents, supply) of ``depots`` depots with ``vans`` vans each.

    Articles have one category, importance, lot size and volume (shared by every van);
    a van holds ``pairs_per_van`` of them with its own urgency and projection. Per depot,
    ``scarce_share`` of the requested articles get a supply of a random share
    (``supply_factor``) of the request, the others more than the request.
    """
    rng = np.random.default_rng(seed)
    ids, category, importance, lot, volume, stock_min, stock_max = synthetic_articles(rng, articles)
    frames, parents = [], {}
    for d in range(depots):
        for v in range(vans):
            site = f"D{d}V{v:02d}"
            parents[site] = f"D{d}"
            idx = np.sort(rng.choice(articles, min(pairs_per_van, articles), replace=False))
            n = idx.size
            u = np.round(rng.uniform(0, 1, n), 4)
            u = np.where(rng.random(n) < 0.2, 1.0, u)
            frames.append(pl.DataFrame({
                "site_id": site, "article_id": ids[idx], "category": category[idx],
                "importance": importance[idx], "u_total": u,
                "min_projected": np.round(stock_max[idx] - rng.uniform(-2, 12, n), 2),
                "stock_min": stock_min[idx], "stock_max": stock_max[idx], "lot_size": lot[idx],
                "unit_volume": volume[idx], "level": rng.choice(LEVELS, n), "class": "X",
            }))
    pairs = pl.concat(frames)
    supply_rows = []
    terms = pair_terms(pairs).with_columns(depot=pl.col("site_id").replace_strict(parents))
    requested = terms.group_by("depot", "article_id").agg(req=(pl.col("u") * pl.col("lot_size")).sum()).sort(
        "depot", "article_id"
    )
    for depot, article, req in requested.iter_rows():
        if rng.random() < scarce_share:
            pieces = int(np.floor(req * rng.uniform(*supply_factor)))
        else:
            pieces = int(req) + int(rng.integers(0, 4))
        supply_rows.append({"site_id": depot, "article_id": article, "supply": pieces})
    supply = pl.DataFrame(supply_rows, schema={"site_id": pl.String, "article_id": pl.String, "supply": pl.Int64})
    capacities = {s: SMALL for s in parents}
    return pairs, capacities, parents, supply
