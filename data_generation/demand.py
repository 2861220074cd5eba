"""Unplanned, intermittent consumption of every stocked pair.

Spare parts demand is lumpy: on most pair-days nothing is used. Each pair gets a daily
probability of a consumption event (1-5 % for ordinary articles, 40-70 % for the 1 %
of articles that are fast movers) and a size (1 + Poisson). Planned interventions add
their bill of materials on top for vans (``intervention_plan``). Nothing is consumed
on weekends, and a van none of whose technicians is active consumes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_generation.catalogue import BillOfMaterials, Catalogue
from data_generation.network import DEPOT, Network
from data_generation.stocked_pairs import StockedPairs

FAST_MOVER_ARTICLE_SHARE = 0.01


@dataclass
class UnplannedDemand:
    """Per pair: chance of a consumption event on a workday, and mean units beyond the first."""

    probability: np.ndarray
    extra_units: np.ndarray

    def mean_per_workday(self) -> np.ndarray:
        return self.probability * (1.0 + self.extra_units)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Units demanded per pair on one workday (mostly zeros)."""
        demand = np.zeros(len(self.probability), dtype=np.int64)
        hits = np.flatnonzero(rng.random(len(self.probability)) < self.probability)
        demand[hits] = 1 + rng.poisson(self.extra_units[hits])
        return demand


def draw_unplanned_demand(catalogue: Catalogue, bom: BillOfMaterials, network: Network,
                          pairs: StockedPairs, rng: np.random.Generator) -> UnplannedDemand:
    n_articles = catalogue.size
    in_bom = np.zeros(n_articles, dtype=bool)
    in_bom[bom.bom_article] = True
    candidates = np.flatnonzero(~in_bom & catalogue.active)
    n_fast = max(1, round(FAST_MOVER_ARTICLE_SHARE * n_articles))
    fast = np.zeros(n_articles, dtype=bool)
    fast[rng.choice(candidates, size=min(n_fast, len(candidates)), replace=False)] = True

    probability = np.where(fast, rng.uniform(0.40, 0.70, n_articles), rng.uniform(0.01, 0.05, n_articles))
    probability = np.where(in_bom, 0.5 * probability, probability)  # their use is mostly planned
    extra_units = np.where(fast, rng.uniform(1.0, 5.0, n_articles), rng.uniform(0.0, 0.8, n_articles))

    site_factor = np.where(network.site_type == DEPOT, 1.3, 1.0)
    staffed = np.bincount(network.technician_site, weights=network.technician_active,
                          minlength=network.n_sites) > 0
    site_factor = np.where((network.site_type == DEPOT) | staffed, site_factor, 0.0)
    jitter = rng.uniform(0.6, 1.2, pairs.size)
    pair_probability = np.minimum(probability[pairs.article] * site_factor[pairs.site] * jitter, 0.9)
    return UnplannedDemand(pair_probability, extra_units[pairs.article])
