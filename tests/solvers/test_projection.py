"""Receipts and stock projection of SPEC §3: hand cases through the public functions,
then the numba kernel against a straightforward pure-Python reference."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.planned_demand import PLANNED_SCHEMA, PlannedDemand, planned_demand
from solvers.projection import project_stock, projection_series, stock_initial
from solvers.receipts import RECEIPTS_SCHEMA, receipts

D = date(2024, 6, 30)
H = 10

TECHNICIANS = pl.DataFrame(
    {
        "technician_id": ["T1", "T2", "T9"],
        "site_id": ["V1", "V2", "V3"],
        "efficiency_factor": [1.0, 1.0, 1.0],
        "active": [True, True, False],
    }
)
BOM = pl.DataFrame({"intervention_type": ["RACCO"], "article_id": ["PTO"], "quantity": [2.0]})


def pair_frame(*rows: tuple) -> pl.DataFrame:
    """(site, article, on_hand, stock_min, lead_time_days, rate) rows."""
    return pl.DataFrame(
        rows,
        schema={
            "site_id": pl.String,
            "article_id": pl.String,
            "on_hand": pl.Float64,
            "stock_min": pl.Int64,
            "lead_time_days": pl.Int64,
            "rate": pl.Float64,
        },
        orient="row",
    )


def plan(*rows: tuple[int, str, int]) -> PlannedDemand:
    """(days after D, technician, RACCO count) rows, through planned_demand."""
    frame = pl.DataFrame(
        [(D + timedelta(days=d), t, "RACCO", c) for d, t, c in rows],
        schema={
            "date": pl.Date,
            "technician_id": pl.String,
            "intervention_type": pl.String,
            "count": pl.Int64,
        },
        orient="row",
    )
    return planned_demand(frame, TECHNICIANS, BOM, D)


def orders(*rows: tuple[str, str, int, float]) -> pl.DataFrame:
    """(site, article, expected days after D, quantity_open) rows as D's purchase orders."""
    return pl.DataFrame(
        [(f"PO{i}", s, a, D + timedelta(days=d), q) for i, (s, a, d, q) in enumerate(rows)],
        schema={
            "order_id": pl.String,
            "site_id": pl.String,
            "article_id": pl.String,
            "expected_date": pl.Date,
            "quantity_open": pl.Float64,
        },
        orient="row",
    )


NO_RECEIPTS = pl.DataFrame(schema=RECEIPTS_SCHEMA)


def curve(pairs, planned=None, recs=NO_RECEIPTS, horizon=H, site="V1", article="PTO") -> list[float]:
    series = projection_series(
        pairs,
        planned or PlannedDemand.empty(),
        recs,
        horizon,
        subset=pl.DataFrame({"site_id": [site], "article_id": [article]}),
    )
    return series.get_column("stock").to_list()


def summary(pairs, planned=None, recs=NO_RECEIPTS, horizon=H) -> dict:
    out = project_stock(pairs, planned or PlannedDemand.empty(), recs, horizon)
    return {(r["site_id"], r["article_id"]): r for r in out.iter_rows(named=True)}


# --- receipts ------------------------------------------------------------------------


def test_overdue_orders_arrive_on_day_one():
    recs = receipts(orders(("V1", "PTO", -3, 4.0), ("V1", "PTO", 0, 1.0), ("V1", "PTO", 1, 2.0)), D, H)
    assert recs.rows() == [("V1", "PTO", 1, 7.0)]


def test_order_beyond_the_horizon_is_ignored():
    recs = receipts(orders(("V1", "PTO", H, 4.0), ("V1", "PTO", H + 1, 9.0)), D, H)
    assert recs.rows() == [("V1", "PTO", H, 4.0)]


def test_receipts_raise_the_stock_from_their_day_on():
    pairs = pair_frame(("V1", "PTO", 0.0, 0, 0, 0.0))
    recs = receipts(orders(("V1", "PTO", 3, 5.0)), D, H)
    assert curve(pairs, recs=recs, horizon=4) == [0.0, 0.0, 0.0, 5.0, 5.0]


# --- demand: plan or rate ------------------------------------------------------------


def test_plan_shorter_than_horizon_switches_to_rate_after_plan_end():
    # plan: 2 RACCO on day 2 -> 4 PTO; plan_end = 2; rate 0.5 from day 3.
    pairs = pair_frame(("V1", "PTO", 10.0, 0, 0, 0.5))
    assert curve(pairs, plan((2, "T1", 2)), horizon=4) == [10.0, 10.0, 6.0, 5.5, 5.0]


def test_van_with_no_plan_uses_the_rate():
    pairs = pair_frame(("V1", "PTO", 10.0, 0, 0, 0.5), ("V2", "PTO", 10.0, 0, 0, 0.5))
    assert curve(pairs, plan((3, "T1", 1)), horizon=3, site="V2") == [10.0, 9.5, 9.0, 8.5]


def test_depot_uses_the_rate():
    pairs = pair_frame(("DEPOT", "PTO", 10.0, 0, 0, 1.0))
    assert curve(pairs, plan((3, "T1", 1)), horizon=3, site="DEPOT") == [10.0, 9.0, 8.0, 7.0]


def test_planned_site_article_absent_from_plan_has_zero_demand_until_plan_end():
    pairs = pair_frame(("V1", "CABLE", 10.0, 0, 0, 1.0), ("V1", "PTO", 10.0, 0, 0, 1.0))
    assert curve(pairs, plan((2, "T1", 1)), horizon=4, article="CABLE") == [10.0, 10.0, 10.0, 9.0, 8.0]


def test_plan_end_of_another_van_applies_to_every_planned_van():
    # V1 plans day 1 only, V2 plans day 3: plan_end = 3, so V1 has demand 0 on days 2-3.
    pairs = pair_frame(("V1", "PTO", 10.0, 0, 0, 1.0))
    planned = plan((1, "T1", 1), (3, "T2", 1))
    assert curve(pairs, planned, horizon=4) == [10.0, 8.0, 8.0, 8.0, 7.0]


def test_count_zero_row_makes_the_site_planned():
    pairs = pair_frame(("V1", "PTO", 10.0, 0, 0, 1.0))
    assert curve(pairs, plan((2, "T1", 0)), horizon=3) == [10.0, 10.0, 10.0, 9.0]
    assert summary(pairs, plan((2, "T1", 0)), horizon=3)[("V1", "PTO")]["planned_days"] == 2


def test_inactive_technician_leaves_the_van_on_its_rate():
    pairs = pair_frame(("V3", "PTO", 10.0, 0, 0, 1.0))
    result = summary(pairs, plan((2, "T9", 5)), horizon=3)[("V3", "PTO")]
    assert result["end_projected"] == 7.0
    assert result["planned_days"] == 0


def test_planned_days_is_capped_by_the_horizon():
    pairs = pair_frame(("V1", "PTO", 10.0, 0, 0, 1.0), ("DEPOT", "PTO", 10.0, 0, 0, 1.0))
    out = summary(pairs, plan((H + 5, "T1", 1)), horizon=H)
    assert out[("V1", "PTO")]["planned_days"] == H
    assert out[("V1", "PTO")]["end_projected"] == 10.0
    assert out[("DEPOT", "PTO")]["planned_days"] == 0


# --- summary columns -----------------------------------------------------------------


def test_days_to_min_is_zero_when_on_hand_is_below_stock_min():
    out = summary(pair_frame(("V1", "PTO", 2.0, 3, 0, 0.0)))
    assert out[("V1", "PTO")]["days_to_min"] == 0


def test_days_to_min_needs_strictly_less_than_stock_min():
    # S: 5, 4, 3, 2 with stock_min 3: S_2 = 3 is not below, S_3 = 2 is.
    out = summary(pair_frame(("V1", "PTO", 5.0, 3, 0, 1.0)), horizon=3)
    assert out[("V1", "PTO")]["days_to_min"] == 3


def test_stockout_is_null_when_stock_never_goes_negative():
    out = summary(pair_frame(("V1", "PTO", 3.0, 5, 0, 0.25)))  # S_10 = 0.5
    assert out[("V1", "PTO")]["days_to_stockout"] is None
    assert out[("V1", "PTO")]["days_to_min"] == 0


def test_stock_exactly_zero_is_not_a_stockout():
    out = summary(pair_frame(("V1", "PTO", 5.0, 0, 0, 0.5)))  # S_10 = 0.0
    assert out[("V1", "PTO")]["days_to_stockout"] is None
    assert out[("V1", "PTO")]["end_projected"] == 0.0


def test_days_to_stockout_is_the_first_negative_day():
    out = summary(pair_frame(("V1", "PTO", 3.0, 5, 0, 1.0)))
    assert out[("V1", "PTO")]["days_to_stockout"] == 4


def test_min_projected_sees_a_dip_before_a_receipt():
    pairs = pair_frame(("V1", "PTO", 2.0, 0, 0, 1.0))
    recs = receipts(orders(("V1", "PTO", 4, 10.0)), D, H)
    row = summary(pairs, recs=recs, horizon=5)[("V1", "PTO")]
    assert (row["min_projected"], row["days_to_stockout"], row["end_projected"]) == (-1.0, 3, 7.0)


def test_projected_at_lead_time_beyond_the_horizon_is_the_end_of_the_horizon():
    row = summary(pair_frame(("V1", "PTO", 10.0, 0, H + 20, 1.0)))[("V1", "PTO")]
    assert row["projected_at_lead_time"] == row["end_projected"] == 0.0


def test_projected_at_lead_time_zero_is_on_hand():
    row = summary(pair_frame(("V1", "PTO", 10.0, 0, 0, 1.0)))[("V1", "PTO")]
    assert row["projected_at_lead_time"] == 10.0


def test_projection_schema_and_order():
    out = project_stock(
        pair_frame(("V2", "B", 1.0, 0, 0, 0.0), ("DEPOT", "Z", 1.0, 0, 0, 0.0), ("V2", "A", 1.0, 0, 0, 0.0)),
        PlannedDemand.empty(),
        NO_RECEIPTS,
        H,
    )
    assert out.schema == pl.Schema(
        {
            "site_id": pl.String,
            "article_id": pl.String,
            "on_hand": pl.Float64,
            "stock_min": pl.Int64,
            "lead_time_days": pl.Int64,
            "days_to_min": pl.Int64,
            "days_to_stockout": pl.Int64,
            "min_projected": pl.Float64,
            "end_projected": pl.Float64,
            "projected_at_lead_time": pl.Float64,
            "planned_days": pl.Int64,
        }
    )
    assert out.select("site_id", "article_id").rows() == [("DEPOT", "Z"), ("V2", "A"), ("V2", "B")]


def test_series_summed_per_article_adds_the_sites():
    pairs = pair_frame(("V1", "PTO", 10.0, 0, 0, 1.0), ("V2", "PTO", 5.0, 0, 0, 2.0))
    out = projection_series(pairs, PlannedDemand.empty(), NO_RECEIPTS, 2, by_article=True)
    assert out.rows() == [("PTO", 0, 15.0), ("PTO", 1, 12.0), ("PTO", 2, 9.0)]


def test_stock_initial_keeps_active_articles_with_their_parameters():
    levels = pl.DataFrame(
        {"site_id": ["V1", "V1"], "article_id": ["OLD", "PTO"], "quantity_on_hand": [3.0, 4.0]}
    )
    articles = pl.DataFrame(
        {
            "article_id": ["OLD", "PTO"],
            "stock_min": [1, 2],
            "stock_max": [5, 6],
            "lead_time_days": [3, 4],
            "lot_size": [1, 10],
            "active": [False, True],
        }
    )
    assert stock_initial(levels, articles).rows() == [("V1", "PTO", 4.0, 2, 6, 4, 10)]


# --- the kernel against a pure-Python reference ---------------------------------------


def reference_projection(pairs, planned_qty, plan_end, planned_sites, receipt_qty, horizon):
    """SPEC §3 projection written as plainly as possible, one pair and one day at a time."""
    rows = {}
    for site, article, on_hand, stock_min, lead_time, rate in pairs:
        planned_site = site in planned_sites and plan_end is not None
        stock = [on_hand]
        for d in range(1, horizon + 1):
            if planned_site and d <= plan_end:
                demand = planned_qty.get((site, article, d), 0.0)
            else:
                demand = rate
            stock.append(stock[-1] + receipt_qty.get((site, article, d), 0.0) - demand)
        below_min = [d for d in range(horizon + 1) if stock[d] < stock_min]
        negative = [d for d in range(horizon + 1) if stock[d] < 0]
        rows[(site, article)] = {
            "days_to_min": below_min[0] if below_min else None,
            "days_to_stockout": negative[0] if negative else None,
            "min_projected": min(stock),
            "end_projected": stock[horizon],
            "projected_at_lead_time": stock[min(lead_time, horizon)],
            "planned_days": min(plan_end, horizon) if planned_site else 0,
        }
    return rows


SITES = ["DEPOT", "V1", "V2", "V3"]
ARTICLES = ["A", "B", "C"]
amount = st.floats(min_value=0.0, max_value=20.0, allow_nan=False)


@settings(max_examples=120, deadline=None)
@given(
    horizon=st.integers(min_value=0, max_value=12),
    pair_values=st.dictionaries(
        st.tuples(st.sampled_from(SITES), st.sampled_from(ARTICLES)),
        st.tuples(amount, st.integers(0, 10), st.integers(0, 15), amount.map(lambda r: r / 4)),
        min_size=1,
        max_size=12,
    ),
    planned_qty=st.dictionaries(
        st.tuples(st.sampled_from(SITES), st.sampled_from(ARTICLES), st.integers(1, 14)),
        amount,
        max_size=15,
    ),
    plan_end=st.one_of(st.none(), st.integers(1, 14)),
    planned_sites=st.sets(st.sampled_from(SITES)),
    receipt_qty=st.dictionaries(
        st.tuples(st.sampled_from(SITES), st.sampled_from(ARTICLES), st.integers(1, 14)),
        amount,
        max_size=15,
    ),
)
def test_projection_matches_the_reference_on_random_cases(
    horizon, pair_values, planned_qty, plan_end, planned_sites, receipt_qty
):
    if plan_end is None:
        planned_sites, planned_qty = set(), {}
    else:  # a plan row lies within plan_end by construction of planned_demand
        planned_qty = {k: q for k, q in planned_qty.items() if k[2] <= plan_end}
    pairs = [(s, a, *values) for (s, a), values in pair_values.items()]
    planned = PlannedDemand(
        pl.DataFrame(
            [(*k, q) for k, q in planned_qty.items()], schema=PLANNED_SCHEMA, orient="row"
        ),
        plan_end,
        frozenset(planned_sites),
    )
    recs = pl.DataFrame([(*k, q) for k, q in receipt_qty.items()], schema=RECEIPTS_SCHEMA, orient="row")
    # receipts() drops days beyond H; the projection must too if handed a longer table.
    expected = reference_projection(
        pairs, planned_qty, plan_end, planned_sites, receipt_qty, horizon
    )

    out = project_stock(pair_frame(*pairs), planned, recs, horizon)

    got = {
        (r.pop("site_id"), r.pop("article_id")): r
        for r in out.drop("on_hand", "stock_min", "lead_time_days").iter_rows(named=True)
    }
    assert got == expected
    assert out.select("site_id", "article_id").rows() == sorted(expected)


def test_pairs_with_missing_rate_are_rejected():
    pairs = pair_frame(("V1", "PTO", 1.0, 0, 0, None))
    with pytest.raises(ValueError, match="nulls"):
        project_stock(pairs, PlannedDemand.empty(), NO_RECEIPTS, H)
