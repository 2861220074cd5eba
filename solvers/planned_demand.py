"""Planned demand of each van from D's intervention plan (SPEC §3, "planned demand").

The plan known on D says, per technician and day, how many interventions of each
type are scheduled; the BOM says which parts one intervention uses. Where a plan
exists it replaces the statistical rate in the projection (see
:func:`solvers.projection.project_stock`), so this module also reports *where* and
*until when* the plan applies:

- ``planned_sites``: sites with at least one counted row (a row with count 0 counts:
  the planner looked at that van and scheduled nothing);
- ``plan_end``: the last planned day, in days after D, over all counted rows of all
  sites (one horizon for the whole plan, as the planning system publishes it).

:func:`plan_extent` gives these two alone, for a step that reports where the plan applies
without projecting (the consumption forecast).

Counted rows are those of known, active technicians; rows of inactive technicians are
ignored, not rejected (SPEC §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

PLANNED_SCHEMA = {
    "site_id": pl.String,
    "article_id": pl.String,
    "d": pl.Int64,
    "quantity": pl.Float64,
}


@dataclass(frozen=True)
class PlannedDemand:
    """Planned demand of D.

    ``quantities``: one row per (site_id, article_id, d) with d >= 1 days after D and
    quantity = sum of count x efficiency_factor x bom quantity (Float64), sorted.
    ``plan_end``: last planned day after D over the counted rows, None without any.
    ``planned_sites``: sites with at least one counted row.
    """

    quantities: pl.DataFrame
    plan_end: int | None
    planned_sites: frozenset[str]

    @classmethod
    def empty(cls) -> PlannedDemand:
        """No plan at all: every pair is projected with its rate."""
        return cls(pl.DataFrame(schema=PLANNED_SCHEMA), None, frozenset())


@dataclass(frozen=True)
class PlanExtent:
    """Where and until when D's plan replaces the rate, without the planned quantities.

    ``plan_end`` and ``planned_sites`` as in :class:`PlannedDemand`. The consumption
    forecast reports only these (its ``planned_days``); the quantities are the
    projection's, so the forecast step does not compute them (docs/decisions.md,
    "Plan").
    """

    plan_end: int | None
    planned_sites: frozenset[str]


def _counted_rows(
    planned_interventions: pl.DataFrame, technicians: pl.DataFrame, partition_date: date
) -> pl.DataFrame:
    """D's plan rows of known active technicians, with the technician's site, efficiency
    and d = days after D. A date on or before D means the input was not validated: raises."""
    counted = (
        planned_interventions.lazy()
        .select("date", "technician_id", "intervention_type", "count")
        .join(
            technicians.lazy()
            .filter(pl.col("active"))
            .select("technician_id", "site_id", "efficiency_factor"),
            on="technician_id",
            how="inner",
        )
        .with_columns(d=(pl.col("date") - pl.lit(partition_date)).dt.total_days())
        .collect()
    )
    early = counted.filter(pl.col("d") < 1)
    if early.height:
        raise ValueError(
            "planned_interventions dates must be after the partition date "
            f"{partition_date} (SPEC §2), e.g. {early.row(0, named=True)}"
        )
    return counted


def _extent(counted: pl.DataFrame) -> PlanExtent:
    if counted.height == 0:
        return PlanExtent(None, frozenset())
    return PlanExtent(
        plan_end=int(counted.select(pl.col("d").max()).item()),
        planned_sites=frozenset(counted.get_column("site_id").unique().to_list()),
    )


def plan_extent(
    planned_interventions: pl.DataFrame, technicians: pl.DataFrame, partition_date: date
) -> PlanExtent:
    """plan_end and planned sites of D's plan (SPEC §3), the same as :func:`planned_demand`
    reports, from the counted rows alone (no BOM, no per-day sums)."""
    return _extent(_counted_rows(planned_interventions, technicians, partition_date))


def planned_demand(
    planned_interventions: pl.DataFrame,
    technicians: pl.DataFrame,
    bom: pl.DataFrame,
    partition_date: date,
) -> PlannedDemand:
    """planned(a, s, d) of SPEC §3 from D's plan, technicians and BOM.

    Each counted row contributes ``(count x efficiency_factor) x bom quantity`` to every
    article of its intervention type; contributions of one (site, article, day) are
    summed (count 0 rows contribute 0 but still make the site planned). An
    intervention type absent from the BOM uses no part but its rows still count for
    ``plan_end`` and ``planned_sites``. Plan dates must be after D (SPEC §2); an
    earlier date means the input was not validated, so it raises.
    """
    counted = _counted_rows(planned_interventions, technicians, partition_date)
    if counted.height == 0:
        return PlannedDemand.empty()

    quantities = (
        counted.lazy()
        .join(
            bom.lazy().select("intervention_type", "article_id", bom_quantity="quantity"),
            on="intervention_type",
            how="inner",
        )
        # Sorted first and grouped in order: the sum of a (site, article, day) adds its
        # contributions in one fixed order, so the result is the same to the last bit on
        # every run (a threaded join alone gives a different order each time).
        .sort("site_id", "article_id", "d", "technician_id", "intervention_type")
        .group_by("site_id", "article_id", "d", maintain_order=True)
        .agg(
            quantity=(
                pl.col("count").cast(pl.Float64) * pl.col("efficiency_factor")
            ).mul(pl.col("bom_quantity")).sum()
        )
        .select(
            pl.col("site_id").cast(pl.String),
            pl.col("article_id").cast(pl.String),
            pl.col("d").cast(pl.Int64),
            pl.col("quantity").cast(pl.Float64),
        )
        .sort("site_id", "article_id", "d")
        .collect()
    )
    extent = _extent(counted)
    return PlannedDemand(quantities=quantities, plan_end=extent.plan_end, planned_sites=extent.planned_sites)
