"""Invariants of every sourced plan (SPEC §5.2), on random small groups."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.knapsack.sourcing import solve_groups
from tests.solvers.knapsack.sourcing_groups import SMALL, random_groups

groups = st.builds(
    random_groups,
    seed=st.integers(0, 2**31 - 1),
    depots=st.integers(1, 2),
    vans=st.integers(1, 4),
    articles=st.integers(2, 9),
    pairs_per_van=st.integers(1, 7),
    scarce_share=st.sampled_from([0.0, 0.5, 1.0]),
    supply_factor=st.sampled_from([(0.0, 0.0), (0.0, 0.5), (0.3, 1.0)]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(group=groups, strategy=st.sampled_from(["exact", "greedy", "criticite_hybride"]))
def test_no_depot_ships_more_than_its_supply_and_every_van_stays_within_its_capacities(group, strategy):
    pairs, capacities, parents, supply = group
    plan = solve_groups(pairs, capacities, parents, supply, strategy=strategy, time_limit_s=5.0)
    allocation = plan.allocation
    assert allocation.height == pairs.height
    # supply, recomputed from the allocation rather than read from depot_supply
    shipped = (
        allocation.with_columns(depot=pl.col("site_id").replace_strict(parents))
        .group_by("depot", "article_id")
        .agg(shipped=pl.col("quantity").sum())
        .join(supply, left_on=["depot", "article_id"], right_on=["site_id", "article_id"], how="left")
        .with_columns(pl.col("supply").fill_null(0))
    )
    assert (shipped["shipped"] <= shipped["supply"]).all()
    # depot_supply says the same
    rows = plan.depot_supply.join(shipped, left_on=["site_id", "article_id"], right_on=["depot", "article_id"])
    assert rows["shipped"].equals(rows["shipped_right"])
    assert (rows["remaining"] == rows["supply"] - rows["shipped"]).all()
    # bounds and capacities of every van
    assert (allocation["lots"] <= allocation["u"]).all() and (allocation["lots"] >= 0).all()
    assert (allocation["lots_hi"] <= allocation["n_min"]).all()
    volume = allocation.group_by("site_id").agg(pl.col("volume").sum())
    assert (volume["volume"] <= SMALL.total + 1e-9).all()
    for category, limit in SMALL.categories.items():
        used = allocation.filter(pl.col("category") == category).group_by("site_id").agg(pl.col("volume").sum())
        assert (used["volume"] <= limit + 1e-9).all()
    # the group's objective is the sum of its vans' values, under its bound
    for row in plan.group_summary.iter_rows(named=True):
        vans = [v for v, d in parents.items() if d == row["site_id"]]
        value = allocation.filter(pl.col("site_id").is_in(vans))["value"].sum()
        assert abs(row["objective"] - value) <= 1e-9 * max(1.0, value)
        if row["bound"] is not None:
            assert row["bound"] >= row["objective"] - 1e-12
