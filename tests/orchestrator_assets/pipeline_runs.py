"""Helpers of the Dagster tests: build the code location on a folder, run partitions in process."""

from pathlib import Path

import dagster as dg
import polars as pl

from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.jobs import DAILY_JOB_NAME
from orchestrator_assets.publishing_executor import publish_run
from orchestrator_assets.warehouse import Warehouse

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_partition(
    data: Path,
    day: str,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    selection: list[dg.AssetKey] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(data, warehouse_root(data))
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    result = job.execute_in_process(
        partition_key=day,
        instance=instance,
        run_config={**QUIET, **(run_config or {})},
        asset_selection=selection,
        raise_on_error=raise_on_error,
    )
    return published(data, instance, result)


def published(data: Path, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> dg.ExecuteInProcessResult:
    """execute_in_process swaps the job's executor for its own, so it does not publish: do
    what the code location's executor does at the end of a run (publishing_executor.py;
    the CLI tests cover the executor itself)."""
    if result.success:
        publish_run(warehouse_root(data), instance, result.run_id)
    return result


def warehouse_root(data: Path) -> Path:
    """The tests' warehouse: a folder of table files inside the data folder."""
    return data / "warehouse"


def query(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a statement over the published tables, as users see them."""
    return frame(data, sql, params).rows()


def frame(data: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    return Warehouse(path=str(warehouse_root(data))).read(sql, params or [])
