"""Everything that stays fixed across days: catalogue, network, BOM, stocked pairs, demand.

Built once per run from the seed, in a fixed order of draws, so that the same
(profile, seed) always gives the same world whatever the dates, format or bad-row rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from data_generation.catalogue import (
    BillOfMaterials,
    Catalogue,
    articles_frame,
    draw_bill_of_materials,
    draw_catalogue,
)
from data_generation.demand import UnplannedDemand, draw_unplanned_demand
from data_generation.intervention_plan import InterventionPlan
from data_generation.network import DEPOT, Network, draw_network
from data_generation.profiles import Profile
from data_generation.replenishment import depot_stock_limits, size_stock_limits
from data_generation.stocked_pairs import StockedPairs, draw_stocked_pairs

_WORKDAYS_PER_DAY = 5.0 / 7.0
SIZING_QUANTILE = 0.75
UNSTOCKED_DAILY_DEMAND = 0.02  # limits of articles no site stocks (never used by the simulation)


@dataclass
class World:
    profile: Profile
    catalogue: Catalogue
    bom: BillOfMaterials
    network: Network
    pairs: StockedPairs
    demand: UnplannedDemand
    plan: InterventionPlan
    stock_min: np.ndarray  # per article
    stock_max: np.ndarray  # per article
    pair_stock_min: np.ndarray  # per pair, what the simulation replenishes to (depots: + reserve)
    pair_stock_max: np.ndarray

    def reference_frames(self) -> dict[str, pl.DataFrame]:
        """The five reference tables, in SPEC section 2 column order."""
        return {
            "articles": articles_frame(self.catalogue, self.stock_min, self.stock_max),
            "sites": self.network.sites_frame(),
            "site_capacities": self.network.capacities,
            "technicians": self.network.technicians_frame(),
            "bom": self.bom.frame(self.catalogue),
        }


def build_world(profile: Profile, world_rng: np.random.Generator, plan_rng: np.random.Generator) -> World:
    catalogue = draw_catalogue(profile.articles, world_rng)
    bom = draw_bill_of_materials(profile.intervention_types, catalogue, world_rng)
    network = draw_network(profile, bom, world_rng)
    pairs = draw_stocked_pairs(profile, network, bom, world_rng)
    demand = draw_unplanned_demand(catalogue, bom, network, pairs, world_rng)
    plan = InterventionPlan(network, bom, pairs, plan_rng)

    # Limits are per article but demand differs between its pairs (vans carry planned
    # bill-of-materials use, some vans do a type much more than others): size on the
    # upper quartile of the article's pair demand, so most of its pairs are covered.
    pair_daily = (demand.mean_per_workday() + plan.expected_pair_rates()) * _WORKDAYS_PER_DAY
    upper = (pl.DataFrame({"article": pairs.article, "daily": pair_daily})
             .group_by("article").agg(pl.col("daily").quantile(SIZING_QUANTILE, "linear")))
    article_daily = np.full(catalogue.size, UNSTOCKED_DAILY_DEMAND)
    article_daily[upper["article"].to_numpy()] = upper["daily"].to_numpy()
    stock_min, stock_max = size_stock_limits(article_daily, catalogue.lead_time_days,
                                             catalogue.lot_size, world_rng)
    # drawn last, so that every draw above is the same as before depots held a reserve
    pair_stock_min, pair_stock_max = depot_stock_limits(
        pairs.site, pairs.article, pairs.depot_pair, network.site_type == DEPOT, stock_min, stock_max,
        pair_daily, world_rng)
    return World(profile, catalogue, bom, network, pairs, demand, plan, stock_min, stock_max,
                 pair_stock_min, pair_stock_max)
