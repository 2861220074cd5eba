"""Helpers of the Dagster tests: build the code location on a folder, run partitions in process."""

from pathlib import Path

import dagster as dg
import duckdb

from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.jobs import DAILY_JOB_NAME

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_partition(
    data: Path,
    day: str,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    selection: list[dg.AssetKey] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(data, data / "warehouse.duckdb")
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    return job.execute_in_process(
        partition_key=day,
        instance=instance,
        run_config={**QUIET, **(run_config or {})},
        asset_selection=selection,
        raise_on_error=raise_on_error,
    )


def query(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def frame(data: Path, sql: str, params: list | None = None):
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).pl()
