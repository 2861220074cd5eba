"""Clean daily extracts: keys, dates, quantities and references as SPEC section 2 asks."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import polars as pl
import pytest

KEYS = {
    "stock_levels": ("site_id", "article_id"),
    "purchase_orders": ("order_id",),
    "planned_interventions": ("date", "technician_id", "intervention_type"),
}
QUANTITY = {"stock_levels": "quantity_on_hand", "movements": "quantity",
            "purchase_orders": "quantity_open", "planned_interventions": "count"}


@pytest.mark.parametrize("table", sorted(KEYS))
def test_keys_are_unique_every_day_without_bad_rows(small_run, table):
    for day in small_run.days:
        assert not small_run.extract(table, day).select(KEYS[table]).is_duplicated().any(), (table, day)


def test_stocked_pairs_are_the_same_every_day(tiny_run):
    first = tiny_run.extract("stock_levels", tiny_run.days[0]).select("site_id", "article_id")
    for day in tiny_run.days[1:]:
        assert tiny_run.extract("stock_levels", day).select("site_id", "article_id").equals(first)


def test_row_counts_are_plausible_for_the_network(small_run):
    pairs = small_run.summary.stocked_pairs
    days = small_run.summary.days
    rows = small_run.summary.rows
    assert rows["stock_levels"] == pairs * days
    assert 0.005 * pairs * days < rows["movements"] < 0.2 * pairs * days
    assert 0.02 * pairs * days < rows["purchase_orders"] < 0.6 * pairs * days
    assert rows["planned_interventions"] > 0


def test_quantities_are_positive_and_stock_never_negative(small_run):
    for table, column in QUANTITY.items():
        values = small_run.all_days(table)[column].cast(pl.Int64)
        if table in ("movements", "purchase_orders"):
            assert (values > 0).all(), table
        else:
            assert (values >= 0).all(), table
    counts = small_run.all_days("planned_interventions")["count"].cast(pl.Int64)
    assert (counts == 0).any(), "some planned rows have a count of 0"


def test_movements_are_dated_on_their_extract_day(small_run):
    movements = small_run.all_days("movements")
    assert (movements["date"].str.to_date() == movements["extract_day"]).all()


def test_plan_covers_the_next_fourteen_days_on_workdays_only(small_run):
    plan = small_run.all_days("planned_interventions").with_columns(pl.col("date").str.to_date())
    ahead = (plan["date"] - plan["extract_day"]).dt.total_days()
    assert ahead.min() >= 1 and ahead.max() <= 14
    assert (plan["date"].dt.weekday() <= 5).all()


def test_plan_includes_inactive_technicians(small_run):
    inactive = small_run.reference("technicians").filter(pl.col("active") == "false")["technician_id"]
    plan = small_run.extract("planned_interventions", small_run.days[0])
    assert plan["technician_id"].is_in(inactive.implode()).any()


def test_extract_ids_all_exist_in_the_reference_tables(small_run):
    articles = small_run.reference("articles")["article_id"].implode()
    sites = small_run.reference("sites")["site_id"].implode()
    technicians = small_run.reference("technicians")["technician_id"].implode()
    types = small_run.reference("bom")["intervention_type"].implode()
    for table in ("stock_levels", "movements", "purchase_orders"):
        frame = small_run.all_days(table)
        assert frame["article_id"].is_in(articles).all() and frame["site_id"].is_in(sites).all(), table
    assert small_run.all_days("movements")["technician_id"].drop_nulls().is_in(technicians).all()
    plan = small_run.all_days("planned_interventions")
    assert plan["technician_id"].is_in(technicians).all() and plan["intervention_type"].is_in(types).all()


def test_van_consumptions_name_an_active_technician_of_the_van(small_run):
    technicians = small_run.reference("technicians").filter(pl.col("active") == "true")
    consumption = small_run.all_days("movements").filter(pl.col("movement_type") == "CONSUMPTION")
    vans = consumption.filter(pl.col("site_id").str.starts_with("VAN"))
    matched = vans.join(technicians, on=["technician_id", "site_id"], how="semi")
    assert matched.height == vans.height > 0
    assert consumption.filter(pl.col("site_id").str.starts_with("DEP"))["technician_id"].is_null().all()


def test_every_movement_type_occurs(small_run):
    types = set(small_run.all_days("movements")["movement_type"])
    assert types == {"CONSUMPTION", "RECEIPT", "TRANSFER", "ADJUSTMENT"}


def test_an_order_leaves_the_open_list_only_with_a_receipt_of_its_pair(small_run):
    orders = small_run.all_days("purchase_orders")
    movements = small_run.all_days("movements")
    for before, after in pairwise(small_run.days):
        gone = orders.filter(pl.col("extract_day") == before).join(
            orders.filter(pl.col("extract_day") == after), on="order_id", how="anti")
        receipts = movements.filter((pl.col("extract_day") == after) & (pl.col("movement_type") == "RECEIPT"))
        received = gone.join(receipts.rename({"quantity": "quantity_open"}),
                             on=["site_id", "article_id", "quantity_open"], how="semi")
        assert received.height == gone.height, after


def test_orders_persist_across_days_and_about_a_tenth_are_overdue(small_run):
    orders = small_run.all_days("purchase_orders").with_columns(pl.col("expected_date").str.to_date())
    assert orders["order_id"].n_unique() < orders.height  # the same order is open on several days
    overdue = (orders["expected_date"] <= orders["extract_day"]).mean()
    assert 0.04 < overdue < 0.2


def test_a_day_without_interventions_still_writes_a_plan(tiny_run):
    saturday = next(day for day in tiny_run.days if day.weekday() == 5)
    plan = tiny_run.extract("planned_interventions", saturday)
    assert plan.height > 0
    assert plan["date"].str.to_date().min() == saturday + dt.timedelta(days=2)
