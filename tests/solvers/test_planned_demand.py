"""Planned demand of SPEC §3: count x efficiency_factor x bom quantity per van and day,
with plan_end and planned_sites taken over the counted rows only."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from solvers.planned_demand import PlannedDemand, plan_extent, planned_demand

D = date(2024, 6, 30)

TECHNICIANS = pl.DataFrame(
    {
        "technician_id": ["T1", "T2", "T3", "T9"],
        "site_id": ["V1", "V1", "V2", "V3"],
        "efficiency_factor": [1.5, 1.0, 0.5, 2.0],
        "active": [True, True, True, False],
    }
)
BOM = pl.DataFrame(
    {
        "intervention_type": ["RACCO", "RACCO", "DEPANNAGE"],
        "article_id": ["PTO", "CABLE", "PTO"],
        "quantity": [1.0, 2.0, 4.0],
    }
)


def plan(*rows: tuple[int, str, str, int]) -> pl.DataFrame:
    """(days after D, technician, intervention type, count) rows as D's plan."""
    return pl.DataFrame(
        [(D + timedelta(days=d), t, i, c) for d, t, i, c in rows],
        schema={
            "date": pl.Date,
            "technician_id": pl.String,
            "intervention_type": pl.String,
            "count": pl.Int64,
        },
        orient="row",
    )


def quantities(result: PlannedDemand) -> dict[tuple[str, str, int], float]:
    return {(s, a, d): q for s, a, d, q in result.quantities.rows()}


def test_quantity_is_count_times_efficiency_times_bom_quantity():
    result = planned_demand(plan((2, "T1", "RACCO", 3)), TECHNICIANS, BOM, D)
    assert quantities(result) == {("V1", "CABLE", 2): 9.0, ("V1", "PTO", 2): 4.5}


def test_rows_of_one_van_day_and_article_are_summed():
    # T1 (x1.5) and T2 (x1.0) share van V1; RACCO and DEPANNAGE both use PTO.
    result = planned_demand(
        plan((1, "T1", "RACCO", 2), (1, "T2", "DEPANNAGE", 1), (1, "T2", "RACCO", 1)),
        TECHNICIANS,
        BOM,
        D,
    )
    assert quantities(result)[("V1", "PTO", 1)] == 2 * 1.5 * 1 + 1 * 1.0 * 4 + 1 * 1.0 * 1


def test_days_are_counted_after_the_partition_date():
    result = planned_demand(plan((1, "T3", "DEPANNAGE", 1), (7, "T3", "DEPANNAGE", 1)), TECHNICIANS, BOM, D)
    assert sorted(d for _, _, d in quantities(result)) == [1, 7]


def test_inactive_technician_rows_are_ignored():
    result = planned_demand(plan((9, "T9", "RACCO", 5), (2, "T3", "RACCO", 1)), TECHNICIANS, BOM, D)
    assert result.planned_sites == frozenset({"V2"})
    assert result.plan_end == 2
    assert all(s == "V2" for s, _, _ in quantities(result))


def test_unknown_technician_rows_are_ignored():
    result = planned_demand(plan((3, "GHOST", "RACCO", 5)), TECHNICIANS, BOM, D)
    assert result.plan_end is None
    assert result.planned_sites == frozenset()


def test_count_zero_row_makes_the_site_planned_and_sets_plan_end():
    result = planned_demand(plan((4, "T3", "RACCO", 0)), TECHNICIANS, BOM, D)
    assert result.planned_sites == frozenset({"V2"})
    assert result.plan_end == 4
    assert set(quantities(result).values()) == {0.0}


def test_plan_end_is_the_last_day_over_all_sites():
    result = planned_demand(plan((3, "T1", "RACCO", 1), (12, "T3", "RACCO", 1)), TECHNICIANS, BOM, D)
    assert result.plan_end == 12
    assert result.planned_sites == frozenset({"V1", "V2"})


def test_intervention_type_without_bom_still_counts_for_the_plan():
    result = planned_demand(plan((5, "T3", "AUDIT", 2)), TECHNICIANS, BOM, D)
    assert result.quantities.height == 0
    assert result.plan_end == 5
    assert result.planned_sites == frozenset({"V2"})


def test_empty_plan_gives_no_plan_end():
    result = planned_demand(plan(), TECHNICIANS, BOM, D)
    assert result.plan_end is None
    assert result.planned_sites == frozenset()
    assert result.quantities.schema == PlannedDemand.empty().quantities.schema


def test_output_schema_and_order():
    result = planned_demand(
        plan((2, "T3", "RACCO", 1), (1, "T1", "RACCO", 1), (1, "T3", "RACCO", 1)), TECHNICIANS, BOM, D
    )
    assert result.quantities.schema == pl.Schema(
        {"site_id": pl.String, "article_id": pl.String, "d": pl.Int64, "quantity": pl.Float64}
    )
    keys = [(s, a, d) for s, a, d, _ in result.quantities.rows()]
    assert keys == sorted(keys)


def test_plan_dated_on_or_before_d_is_a_contract_violation():
    with pytest.raises(ValueError, match="after the partition date"):
        planned_demand(plan((0, "T1", "RACCO", 1)), TECHNICIANS, BOM, D)


def test_planned_quantities_are_the_same_to_the_last_bit_on_every_run():
    import random
    from datetime import date as _date
    from datetime import timedelta as _timedelta

    import polars as _pl

    from solvers.planned_demand import planned_demand as _planned

    rng = random.Random(7)
    day = _date(2026, 3, 2)
    technicians = _pl.DataFrame(
        {"technician_id": [f"T{i}" for i in range(40)], "site_id": [f"V{i % 8}" for i in range(40)],
         "efficiency_factor": [rng.uniform(0.7, 1.4) for _ in range(40)], "active": [True] * 40}
    )
    bom = _pl.DataFrame(
        {"intervention_type": [f"I{i % 6}" for i in range(60)], "article_id": [f"A{i}" for i in range(60)],
         "quantity": [rng.choice([0.5, 1.0, 1.3, 2.0]) for _ in range(60)]}
    )
    plan = _pl.DataFrame(
        {"date": [day + _timedelta(days=rng.randint(1, 5)) for _ in range(3000)],
         "technician_id": [f"T{rng.randrange(40)}" for _ in range(3000)],
         "intervention_type": [f"I{rng.randrange(6)}" for _ in range(3000)],
         "count": [rng.randint(0, 3) for _ in range(3000)]}
    ).unique(["date", "technician_id", "intervention_type"])
    first = _planned(plan, technicians, bom, day).quantities
    for _ in range(10):
        assert _planned(plan.sample(fraction=1.0, shuffle=True, seed=_), technicians, bom, day).quantities.equals(first)


@pytest.mark.parametrize(
    "rows",
    [
        (),
        ((9, "T9", "RACCO", 5), (2, "T3", "RACCO", 1)),  # inactive technician ignored
        ((3, "GHOST", "RACCO", 5),),  # unknown technician ignored
        ((4, "T3", "RACCO", 0),),  # count 0 plans the van
        ((5, "T3", "AUDIT", 2), (3, "T1", "RACCO", 1)),  # a type without BOM still counts
        ((3, "T1", "RACCO", 1), (12, "T3", "DEPANNAGE", 1), (1, "T2", "RACCO", 2)),
    ],
)
def test_plan_extent_is_the_extent_planned_demand_reports(rows):
    # the forecast's planned_days come from plan_extent, the projection's demand from
    # planned_demand: both must see the same plan_end and planned sites
    extent = plan_extent(plan(*rows), TECHNICIANS, D)
    full = planned_demand(plan(*rows), TECHNICIANS, BOM, D)
    assert (extent.plan_end, extent.planned_sites) == (full.plan_end, full.planned_sites)


def test_plan_extent_refuses_a_plan_dated_on_or_before_d():
    with pytest.raises(ValueError, match="after the partition date"):
        plan_extent(plan((0, "T1", "RACCO", 1)), TECHNICIANS, D)
