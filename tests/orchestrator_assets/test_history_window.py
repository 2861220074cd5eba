"""The history window counts a day as loaded only when the warehouse shows it.

A run of day D in a backfill spread over workers can start while the run of D-1 has
materialised raw.movements (Dagster records it) but not published it yet; counting D-1 as
loaded then made it a day of zero consumption, and the cluster's forecasts differed from
a local run's (issue 18). The day must be read from its file instead."""

from datetime import date, timedelta

import dagster as dg
import polars as pl

from orchestrator_assets.defs.stock.history_window import MOVEMENTS_KEY, read_history_window
from orchestrator_assets.warehouse import Warehouse
from tests.conftest import write_handmade_dataset
from tests.orchestrator_assets.pipeline_runs import run_partition

DAYS = [date(2026, 3, 1) + timedelta(days=offset) for offset in range(3)]


def test_a_day_materialised_but_not_published_is_read_from_its_file(tmp_path):
    data = write_handmade_dataset(tmp_path / "data", DAYS)
    warehouse = Warehouse(path=str(data / "warehouse"))
    with dg.DagsterInstance.ephemeral() as instance:
        # the reference tables of the last day, published (the window's rows are checked against them)
        references = [dg.AssetKey(["raw", name]) for name in ("articles", "sites", "technicians")]
        assert run_partition(data, DAYS[-1].isoformat(), instance, selection=references).success
        # what another worker's run leaves before it publishes: a materialisation record only
        instance.report_runless_asset_event(dg.AssetMaterialization(MOVEMENTS_KEY, partition=DAYS[0].isoformat()))
        window = read_history_window(instance, warehouse, data, DAYS[-1], 3)
    assert window.days_read_from_files == DAYS
    consumed = window.movements.group_by("date").agg(pl.col("quantity").sum()).sort("date")
    # each handmade day consumes 2 + 1 pieces, the first day included
    assert consumed.rows() == [(day, 3.0) for day in DAYS]
