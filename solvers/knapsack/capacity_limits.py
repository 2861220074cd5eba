"""Each site's capacities with the SPEC §2 defaults applied.

capacity_total 120 where it is empty; a site with no site_capacities row gets the
category limits FIBRE 50 and CUIVRE 40; a site with any row gets exactly the limits of
its rows (other categories unlimited, only the total applies).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from solvers.knapsack.site_model import SiteCapacities

DEFAULT_CAPACITY_TOTAL = 120.0
DEFAULT_CATEGORY_LIMITS: Mapping[str, float] = {"FIBRE": 50.0, "CUIVRE": 40.0}


#: the key of an override that sets the total capacity (any other key is a category)
TOTAL = "total"


def site_capacity_limits(
    sites: pl.DataFrame,
    site_capacities: pl.DataFrame,
    default_total: float = DEFAULT_CAPACITY_TOTAL,
    default_categories: Mapping[str, float] = DEFAULT_CATEGORY_LIMITS,
    overrides: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, SiteCapacities]:
    """site_id -> SiteCapacities for every site of `sites` (SPEC §2 "Default constraints"),
    then a run's `overrides` ({site: {"total": t, category: c}}, a what-if's capacities):
    an overridden total replaces the site's; an overridden category limit replaces that
    category's limit and leaves the others. A site not in `sites` is a ValueError."""
    rows: dict[str, dict[str, float]] = {}
    for site_id, category, capacity in site_capacities.select("site_id", "category", "capacity").iter_rows():
        rows.setdefault(site_id, {})[category] = float(capacity)
    limits = {}
    for site_id, total in sites.select("site_id", "capacity_total").iter_rows():
        limits[site_id] = SiteCapacities(
            total=float(total) if total is not None else float(default_total),
            categories=dict(rows[site_id]) if site_id in rows else dict(default_categories),
        )
    for site_id, values in (overrides or {}).items():
        if site_id not in limits:
            raise ValueError(f"knapsack.capacity: no site {site_id!r} in raw.sites")
        for key, value in values.items():
            if value < 0:
                raise ValueError(f"knapsack.capacity.{site_id}.{key}: a capacity cannot be negative ({value})")
        site = limits[site_id]
        categories = {**site.categories, **{key: float(v) for key, v in values.items() if key != TOTAL}}
        limits[site_id] = SiteCapacities(total=float(values.get(TOTAL, site.total)), categories=categories)
    return limits
