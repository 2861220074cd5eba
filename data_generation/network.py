"""Sites (depots and vans), their capacities, and the technicians who drive the vans.

Site numbering used everywhere in the generator: depots first (0..depots-1), then vans;
a van's home depot (the one that sends it transfers, written as its parent_site_id) is
``van_number % depots``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from data_generation.catalogue import CATEGORIES, BillOfMaterials
from data_generation.profiles import Profile

DEPOT, VAN = 0, 1
SITE_TYPES = ("DEPOT", "VAN")
TECHNICIAN_ACTIVE_SHARE = 0.93
SITE_CAPACITY_SHARE = 0.30  # share of sites with explicit per-category limits
_SPECIALTIES = ("FIBRE", "CUIVRE", "GENERAL")
_SPECIALTY_SHARES = (0.55, 0.35, 0.10)


@dataclass
class Network:
    """Sites and technicians as arrays; ``slot_*`` is each technician's repertoire.

    A slot is one (technician, intervention type) the technician performs, with the
    mean number of such interventions per workday; the planning system books slots.
    """

    site_id: np.ndarray  # str
    site_type: np.ndarray  # DEPOT / VAN code
    home_depot: np.ndarray  # site number of the van's depot; -1 for depots
    capacity_total: np.ndarray  # float, NaN = empty (default capacity)
    capacities: pl.DataFrame  # site_capacities reference table
    technician_id: np.ndarray  # str
    technician_site: np.ndarray
    efficiency_factor: np.ndarray
    technician_active: np.ndarray
    slot_technician: np.ndarray
    slot_type: np.ndarray
    slot_rate: np.ndarray

    @property
    def n_sites(self) -> int:
        return len(self.site_id)

    def sites_frame(self) -> pl.DataFrame:
        """sites.csv; a van's parent_site_id is its home depot, a depot's is empty (SPEC §5.2)."""
        parent = pl.Series(self.site_id[np.maximum(self.home_depot, 0)].tolist(), dtype=pl.String)
        parent = parent.set(pl.Series(self.home_depot < 0), None)
        return pl.DataFrame({
            "site_id": self.site_id,
            "site_type": np.array(SITE_TYPES, dtype=object)[self.site_type],
            "capacity_total": self.capacity_total,
            "parent_site_id": parent,
        }, schema={"site_id": pl.String, "site_type": pl.String, "capacity_total": pl.Float64,
                   "parent_site_id": pl.String},
            nan_to_null=True)

    def technicians_frame(self) -> pl.DataFrame:
        return pl.DataFrame({
            "technician_id": self.technician_id,
            "site_id": self.site_id[self.technician_site],
            "efficiency_factor": self.efficiency_factor,
            "active": self.technician_active,
        }, schema={"technician_id": pl.String, "site_id": pl.String,
                   "efficiency_factor": pl.Float64, "active": pl.Boolean})


def draw_network(profile: Profile, bom: BillOfMaterials, rng: np.random.Generator) -> Network:
    """Draw sites, capacities and technicians (one per van, a second one in ~15 % of vans)."""
    n_sites = profile.sites
    site_type = np.repeat(np.array([DEPOT, VAN]), [profile.depots, profile.vans])
    site_id = np.array([f"DEP{i:03d}" for i in range(1, profile.depots + 1)]
                       + [f"VAN{i:04d}" for i in range(1, profile.vans + 1)], dtype=object)
    home_depot = np.where(site_type == VAN, (np.arange(n_sites) - profile.depots) % profile.depots, -1)

    capacity_total = np.full(n_sites, np.nan)
    capacity_total[: profile.depots] = 100.0 * rng.integers(15, 51, profile.depots)
    van_sites = np.arange(profile.depots, n_sites)
    van_set = van_sites[rng.random(profile.vans) < 0.2]
    capacity_total[van_set] = rng.choice(np.array([80.0, 100.0, 150.0, 200.0]), size=len(van_set))

    capacities = _draw_site_capacities(site_id, site_type, rng)

    technicians_per_van = 1 + (rng.random(profile.vans) < 0.15)
    technician_site = np.repeat(van_sites, technicians_per_van)
    n_technicians = len(technician_site)
    technician_id = np.array([f"TEC{i:05d}" for i in range(1, n_technicians + 1)], dtype=object)
    efficiency = np.round(np.clip(rng.normal(1.0, 0.15, n_technicians), 0.7, 1.4), 2)
    active = rng.random(n_technicians) < TECHNICIAN_ACTIVE_SHARE

    slot_technician, slot_type, slot_rate = _draw_repertoires(n_technicians, bom, rng)
    return Network(site_id, site_type, home_depot, capacity_total, capacities, technician_id,
                   technician_site, efficiency, active, slot_technician, slot_type, slot_rate)


def _draw_site_capacities(site_id: np.ndarray, site_type: np.ndarray,
                          rng: np.random.Generator) -> pl.DataFrame:
    """Per-category limits for ~30 % of sites: usually FIBRE and/or CUIVRE, sometimes another."""
    n_sites = len(site_id)
    n_with_rows = max(1, round(SITE_CAPACITY_SHARE * n_sites))
    chosen = np.sort(rng.choice(n_sites, size=n_with_rows, replace=False))
    sites, categories, values = [], [], []
    for s in chosen:
        wanted = [c for c, share in (("FIBRE", 0.8), ("CUIVRE", 0.7)) if rng.random() < share]
        if rng.random() < 0.25 or not wanted:
            wanted.append(CATEGORIES[int(rng.integers(2, len(CATEGORIES)))])
        scale = 20.0 if site_type[s] == DEPOT else 1.0
        for category in sorted(set(wanted)):
            low, high = (20, 81) if category in ("FIBRE", "CUIVRE") else (10, 41)
            capacity = 0.0 if rng.random() < 0.03 else float(rng.integers(low, high)) * scale
            sites.append(site_id[s])
            categories.append(category)
            values.append(capacity)
    return pl.DataFrame({"site_id": sites, "category": categories, "capacity": values},
                        schema={"site_id": pl.String, "category": pl.String, "capacity": pl.Float64})


def _draw_repertoires(n_technicians: int, bom: BillOfMaterials,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each technician performs 3-5 types of their specialty (plus general work).

    Returns the slots sorted by (technician, type name) so that the daily plan comes
    out in key order without a sort.
    """
    family = np.array(bom.type_family)
    name_rank = np.argsort(np.argsort(np.array(bom.type_names)))  # rank of each type by name
    specialty = rng.choice(len(_SPECIALTIES), size=n_technicians, p=_SPECIALTY_SHARES)
    slot_technician, slot_type, slot_rate = [], [], []
    for k in range(n_technicians):
        own = _SPECIALTIES[specialty[k]]
        weights = np.where(family == own, 3.0, np.where(family == "GENERAL", 1.0, 0.15))
        size = min(int(rng.integers(3, 6)), len(family))
        types = rng.choice(len(family), size=size, replace=False, p=weights / weights.sum())
        types = types[np.argsort(name_rank[types])]
        daily = rng.uniform(3.0, 6.0)  # interventions per workday
        share = rng.dirichlet(np.full(size, 2.0))
        slot_technician.extend([k] * size)
        slot_type.extend(types.tolist())
        slot_rate.extend((daily * share).tolist())
    return (np.array(slot_technician, dtype=np.int64), np.array(slot_type, dtype=np.int64),
            np.array(slot_rate, dtype=np.float64))
