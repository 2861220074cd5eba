"""knapsack.allocation.bound_by (docs/domain.md §5.3): a hand-made site for each reason."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from solvers.knapsack import SiteCapacities
from solvers.knapsack.batch import category_use_frame
from solvers.knapsack.shortfall import BOUND_BY_VALUES, with_bound_by
from solvers.knapsack.site_model import allocation_frame, pair_terms
from solvers.knapsack.sourcing import solve_sourced
from tests.solvers.knapsack.conftest import build_site_frame

NO_SUPPLY = pl.DataFrame(schema={"site_id": pl.String, "article_id": pl.String, "supply": pl.Int64})


def pair(site: str, article: str, volume: float, u_total: float, need: int, **more) -> dict:
    """A pair of lot size 1 (weight per lot = volume) needing `need` lots to its minimum and maximum."""
    return {"site_id": site, "article_id": article, "unit_volume": volume, "u_total": u_total,
            "stock_min": need, "stock_max": need, **more}


def explained(pairs: pl.DataFrame, capacities: dict, strategy: str, parents=None, supply=NO_SUPPLY) -> dict:
    """(site, article) -> (lots, bound_by) of the plan of `strategy`."""
    plan = solve_sourced(pairs, capacities, parents or {}, supply, strategy=strategy)
    allocation = with_bound_by(plan.allocation, plan.site_summary, category_use_frame(plan.site_summary), plan.depot_supply)
    assert allocation.drop("bound_by").equals(plan.allocation)  # the lots are the plan's
    return {(s, a): (lots, reason) for s, a, lots, reason in allocation.select("site_id", "article_id", "lots", "bound_by").iter_rows()}


@pytest.mark.parametrize("strategy", ["exact", "greedy", "criticite_hybride"])
def test_each_reason_on_its_own_site(strategy):
    pairs = build_site_frame(
        # CAT: FIBRE limited to 5, the total roomy. F1 (4 a lot, 0.91) gets 1 of 2 lots: the
        # FIBRE room left (0) is too small, and F3 (0.05 a volume) ranks below it.
        pair("CAT", "F1", 4.0, 0.9, 2), pair("CAT", "F3", 1.0, 0.04, 1),
        # TOT: the same two pairs under a total of 5 and no category limit.
        pair("TOT", "F1", 4.0, 0.9, 2, category="CUIVRE"), pair("TOT", "F3", 1.0, 0.04, 1, category="CUIVRE"),
        # LOW: the total (5) holds Q1, worth more per volume than Q2's lot.
        pair("LOW", "Q1", 5.0, 0.9, 1, category="CUIVRE"), pair("LOW", "Q2", 1.0, 0.0, 1, category="CUIVRE"),
        # BIG: one lot is larger than the whole site: capacity, not value.
        pair("BIG", "R1", 6.0, 0.9, 1, category="CUIVRE"),
        # TOP: both minimum needs fit (4 lots of 1), T1's top-up lots (0.051) do not.
        pair("TOP", "T1", 1.0, 0.5, 2, stock_max=4, category="CUIVRE"), pair("TOP", "T2", 1.0, 0.9, 2, category="CUIVRE"),
        # VAN: supplied by DEP, which can ship 1 piece of A; the van has room; B and C are served.
        pair("VAN", "A", 1.0, 0.9, 3), pair("VAN", "B", 1.0, 0.2, 2), pair("VAN", "C", 1.0, 0.2, 0),
    )
    capacities = {
        "CAT": SiteCapacities(100.0, {"FIBRE": 5.0}),
        "TOT": SiteCapacities(5.0), "LOW": SiteCapacities(5.0), "BIG": SiteCapacities(5.0), "TOP": SiteCapacities(4.0),
        "VAN": SiteCapacities(100.0, {"FIBRE": 50.0}),
    }
    supply = pl.DataFrame({"site_id": ["DEP", "DEP"], "article_id": ["A", "B"], "supply": [1, 10]})
    assert explained(pairs, capacities, strategy, {"VAN": "DEP"}, supply) == {
        ("CAT", "F1"): (1, "CATEGORY_CAPACITY"), ("CAT", "F3"): (1, None),
        ("TOT", "F1"): (1, "SITE_CAPACITY_TOTAL"), ("TOT", "F3"): (1, None),
        ("LOW", "Q1"): (1, None), ("LOW", "Q2"): (0, "LOWER_VALUE"),
        ("BIG", "R1"): (0, "SITE_CAPACITY_TOTAL"),
        ("TOP", "T1"): (2, "LOWER_VALUE"), ("TOP", "T2"): (2, None),
        ("VAN", "A"): (1, "DEPOT_SUPPLY"), ("VAN", "B"): (2, None), ("VAN", "C"): (0, None),
    }


def test_criticite_hybride_ranks_the_critical_lots_first():
    """K1 (CRITIQUE level, 0.31 a lot) and N1 (0.91) cannot both fit. criticite_hybride serves
    K1 in its phase 1: N1 lost to a lot ranked above it, not to a lack of room; exact takes N1,
    and K1, worth less per volume, is the one left out."""
    pairs = build_site_frame(
        pair("S", "K1", 5.0, 0.3, 1, level="CRITIQUE", **{"class": "CRITIQUE_A"}), pair("S", "N1", 5.0, 0.9, 1),
    )
    capacities = {"S": SiteCapacities(5.0)}
    assert explained(pairs, capacities, "criticite_hybride") == {("S", "K1"): (1, None), ("S", "N1"): (0, "LOWER_VALUE")}
    assert explained(pairs, capacities, "exact") == {("S", "K1"): (0, "LOWER_VALUE"), ("S", "N1"): (1, None)}


def test_a_lot_left_out_of_a_site_with_room_is_unused_room():
    """No solver here leaves a lot that fits (every value is positive); a plan stopped early
    could. Hand-made: 1 of 2 lots in a site of 10 holding 1."""
    terms = pair_terms(build_site_frame(pair("S", "A", 1.0, 0.5, 2)))
    allocation = allocation_frame(terms, np.array([1]), np.array([0]), "exact", "TIME_LIMIT_FEASIBLE")
    summary = pl.DataFrame({"site_id": ["S"], "capacity_total": [10.0], "volume_used": [1.0]})
    category_use = pl.DataFrame({"site_id": ["S"], "category": ["FIBRE"], "capacity": [None], "used": [1.0]},
                                schema_overrides={"capacity": pl.Float64})
    result = with_bound_by(allocation, summary, category_use, pl.DataFrame())
    assert result["bound_by"].to_list() == ["UNUSED_ROOM"]
    # once the site is full, the same plan reads LOWER_VALUE: nothing below A's lot was taken
    full = summary.with_columns(capacity_total=pl.lit(1.5))
    assert with_bound_by(allocation, full, category_use, pl.DataFrame())["bound_by"].to_list() == ["LOWER_VALUE"]


def test_an_empty_plan_gets_an_empty_column():
    result = with_bound_by(pl.DataFrame({"site_id": []}, schema={"site_id": pl.String}), pl.DataFrame(), pl.DataFrame(), pl.DataFrame())
    assert result.schema["bound_by"] == pl.String and result.height == 0


def test_the_vocabulary_has_five_values():
    assert len(set(BOUND_BY_VALUES)) == 5
