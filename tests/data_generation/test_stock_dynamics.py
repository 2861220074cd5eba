"""Stock snapshots agree with movements, and demand is intermittent and plan-driven."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl

from data_generation.stock_ledger import on_hand_after


def _typed_stock(run, day) -> pl.DataFrame:
    return run.extract("stock_levels", day).with_columns(pl.col("quantity_on_hand").cast(pl.Int64))


def test_each_snapshot_is_the_previous_one_plus_the_signed_movements_of_the_day(small_run):
    sites = small_run.reference("sites")
    for before, day in pairwise(small_run.days):
        movements = small_run.extract("movements", day).with_columns(pl.col("quantity").cast(pl.Int64))
        expected = on_hand_after(_typed_stock(small_run, before), movements, sites)
        assert expected.equals(_typed_stock(small_run, day)), day


def test_transfers_leave_depots_and_reach_vans_in_equal_amounts(small_run):
    transfers = small_run.all_days("movements").filter(pl.col("movement_type") == "TRANSFER")
    legs = (transfers.with_columns(leg=pl.col("site_id").str.slice(0, 3), quantity=pl.col("quantity").cast(pl.Int64))
            .group_by("extract_day", "article_id").agg(
                pl.col("quantity").filter(pl.col("leg") == "DEP").sum().alias("sent"),
                pl.col("quantity").filter(pl.col("leg") == "VAN").sum().alias("received")))
    assert legs.height > 0
    assert (legs["sent"] == legs["received"]).all()


def test_most_pair_days_have_no_consumption(small_run):
    consumed = (small_run.all_days("movements").filter(pl.col("movement_type") == "CONSUMPTION")
                .select("date", "site_id", "article_id").unique().height)
    pair_days = small_run.summary.stocked_pairs * small_run.summary.days
    assert 1 - consumed / pair_days > 0.9


def test_a_few_pairs_are_fast_movers(small_run):
    workdays = sum(day.weekday() < 5 for day in small_run.days)
    frequency = (small_run.all_days("movements").filter(pl.col("movement_type") == "CONSUMPTION")
                 .group_by("site_id", "article_id").agg((pl.col("date").n_unique() / workdays).alias("share")))
    fast = (frequency["share"] >= 0.3).sum() / small_run.summary.stocked_pairs
    assert 0.005 < fast < 0.08


def test_nothing_is_consumed_on_weekends(small_run):
    consumption = small_run.all_days("movements").filter(pl.col("movement_type") == "CONSUMPTION")
    assert (consumption["date"].str.to_date().dt.weekday() <= 5).all()


def test_van_consumption_follows_the_plan_known_the_day_before(small_run):
    technicians = small_run.reference("technicians").filter(pl.col("active") == "true").with_columns(
        pl.col("efficiency_factor").cast(pl.Float64))
    bom = small_run.reference("bom").with_columns(pl.col("quantity").cast(pl.Float64))
    consumption = small_run.all_days("movements").filter(pl.col("movement_type") == "CONSUMPTION")
    planned_total, actual_total, correlations = 0.0, 0.0, []
    for before, day in pairwise(small_run.days):
        if day.weekday() >= 5:
            continue
        plan = small_run.extract("planned_interventions", before).filter(pl.col("date").str.to_date() == day)
        planned = (plan.with_columns(pl.col("count").cast(pl.Int64))
                   .join(technicians, on="technician_id").join(bom, on="intervention_type")
                   .group_by("site_id", "article_id")
                   .agg((pl.col("count") * pl.col("efficiency_factor") * pl.col("quantity")).sum().alias("planned")))
        actual = (consumption.filter(pl.col("extract_day") == day).group_by("site_id", "article_id")
                  .agg(pl.col("quantity").cast(pl.Int64).sum().alias("actual")))
        both = planned.join(actual, on=["site_id", "article_id"], how="left").fill_null(0)
        planned_total += both["planned"].sum()
        actual_total += both["actual"].sum()
        correlations.append(np.corrcoef(both["planned"], both["actual"])[0, 1])
    assert 0.6 < actual_total / planned_total < 1.2
    assert np.mean(correlations) > 0.5
