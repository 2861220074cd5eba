"""Which (site, article) pairs are stocked: drawn once, fixed for every day.

Depots stock a profile-given share of the catalogue; a van stocks the parts of the
bills of materials of the intervention types its technicians perform (so planned
interventions can consume them), then random other articles up to the profile size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_generation.catalogue import BillOfMaterials
from data_generation.network import DEPOT, Network
from data_generation.profiles import Profile


@dataclass
class StockedPairs:
    """Pairs sorted by (site number, article number), hence by (site_id, article_id)."""

    site: np.ndarray
    article: np.ndarray
    depot_pair: np.ndarray  # for van pairs: pair number of the same article at the home depot, else -1

    @property
    def size(self) -> int:
        return len(self.site)


def draw_stocked_pairs(profile: Profile, network: Network, bom: BillOfMaterials,
                       rng: np.random.Generator) -> StockedPairs:
    n_articles = profile.articles
    sites, articles = [], []
    types_of_site = _types_performed_per_site(network)
    for s in range(network.n_sites):
        if network.site_type[s] == DEPOT:
            stocked = np.flatnonzero(rng.random(n_articles) < profile.depot_article_share)
        else:
            needed = np.unique(bom.bom_article[np.isin(bom.bom_type, types_of_site.get(s, []))])
            wanted = max(min(profile.articles_per_van, n_articles), len(needed))
            extra = rng.choice(n_articles, size=min(wanted, n_articles), replace=False)
            extra = extra[~np.isin(extra, needed)][: wanted - len(needed)]
            stocked = np.sort(np.concatenate([needed, extra]))
        sites.append(np.full(len(stocked), s, dtype=np.int64))
        articles.append(stocked.astype(np.int64))
    site = np.concatenate(sites)
    article = np.concatenate(articles)
    return StockedPairs(site, article, _home_depot_pairs(site, article, network, n_articles))


def _types_performed_per_site(network: Network) -> dict[int, np.ndarray]:
    site_of_slot = network.technician_site[network.slot_technician]
    return {int(s): np.unique(network.slot_type[site_of_slot == s]) for s in np.unique(site_of_slot)}


def _home_depot_pairs(site: np.ndarray, article: np.ndarray, network: Network,
                      n_articles: int) -> np.ndarray:
    """Map each van pair to the pair of the same article at its home depot (-1 if not stocked there)."""
    pair_key = site * n_articles + article  # sorted, since pairs are sorted by (site, article)
    depot = network.home_depot[site]
    wanted = np.where(depot >= 0, depot * n_articles + article, -1)
    position = np.searchsorted(pair_key, wanted)
    position = np.minimum(position, len(pair_key) - 1)
    found = (wanted >= 0) & (pair_key[position] == wanted)
    return np.where(found, position, -1)
