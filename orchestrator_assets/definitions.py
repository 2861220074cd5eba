"""The Réassort code location: one Definitions object, built from the data folder.

`build_definitions()` reads the environment when called (data folder, warehouse path), so
tests can point it at a temporary folder; `defs` is what `dagster dev` / workspace.yaml load.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dagster as dg

from orchestrator_assets import project_paths
from orchestrator_assets.defs.automation.alert_sensors import build_alert_sensors, build_freshness_check
from orchestrator_assets.defs.automation.extract_sensor import build_extract_sensor
from orchestrator_assets.defs.automation.schedules import build_schedules
from orchestrator_assets.defs.automation.workflows import build_workflow_definitions, load_workflows, workflows_path
from orchestrator_assets.defs.export.assets import build_export_assets
from orchestrator_assets.defs.ingest.assets import build_ingest_assets
from orchestrator_assets.defs.ingest.resources import InputFiles
from orchestrator_assets.defs.knapsack.assets import build_knapsack_assets, build_knapsack_checks
from orchestrator_assets.defs.kpi.assets import build_kpi_assets
from orchestrator_assets.defs.report.assets import build_report_assets
from orchestrator_assets.defs.stock.assets import build_stock_assets
from orchestrator_assets.defs.urgence.assets import build_urgence_assets
from orchestrator_assets.defs.validation.config import VALIDATION_RESOURCE, ValidationSettings
from orchestrator_assets.jobs import DAILY_JOB_NAME, MONTHLY_JOB_NAME
from orchestrator_assets.partition_deadline import FRESHNESS_CHECK_KEY
from orchestrator_assets.partitions import daily_partitions, monthly_partitions, partition_bounds
from orchestrator_assets.publishing_executor import publishing_executor
from orchestrator_assets.warehouse import PolarsWarehouseIOManager, Warehouse


def build_definitions(data_root: Path | None = None, warehouse_file: Path | None = None) -> dg.Definitions:
    data_root = data_root or project_paths.data_dir()
    warehouse_file = warehouse_file or (
        project_paths.warehouse_path() if data_root == project_paths.data_dir() else data_root / "warehouse"
    )
    daily = daily_partitions(data_root)
    assets = [
        *build_ingest_assets(daily),
        *build_stock_assets(daily),
        *build_urgence_assets(daily),
        *build_knapsack_assets(daily),
        *build_report_assets(daily),
        *build_export_assets(daily),
    ]
    warehouse = Warehouse(path=str(warehouse_file))
    daily_job = dg.define_asset_job(
        DAILY_JOB_NAME,
        selection=dg.AssetSelection.assets(*assets) - dg.AssetSelection.checks(FRESHNESS_CHECK_KEY),
        partitions_def=daily,
        description="The whole daily pipeline for one partition: ingestion, then the modules built on it.",
    )
    kpi_assets = build_kpi_assets(monthly_partitions(data_root))
    monthly_job = dg.define_asset_job(
        MONTHLY_JOB_NAME,
        selection=dg.AssetSelection.assets(*kpi_assets),
        description="Monthly KPIs from the month's daily partitions.",
    )
    workflow_jobs, workflow_schedules = build_workflow_definitions(load_workflows(), assets, daily)
    return dg.Definitions(
        assets=[*assets, *kpi_assets],
        asset_checks=[*build_knapsack_checks(daily), build_freshness_check()],
        jobs=[daily_job, monthly_job, *workflow_jobs],
        schedules=[*build_schedules(DAILY_JOB_NAME, MONTHLY_JOB_NAME), *workflow_schedules],
        sensors=[build_extract_sensor(DAILY_JOB_NAME, data_root, daily), *build_alert_sensors(Path(warehouse_file))],
        resources={
            "warehouse": warehouse,
            "warehouse_io_manager": PolarsWarehouseIOManager(warehouse=warehouse),
            "input_files": InputFiles(root=str(data_root)),
            VALIDATION_RESOURCE: ValidationSettings(),
        },
        # Default multiprocess (UI launches: independent steps side by side); runs select
        # in_process or multiprocess through run config (see jobs.execution_config). Either
        # way the run's tables are published when it ends with every step succeeded.
        executor=publishing_executor(Path(warehouse_file)),
    )


#: the definitions last built by `current_definitions`, under the key of what they were built from
_CURRENT: dict[tuple, dg.Definitions] = {}


def definitions_key() -> tuple:
    """What `build_definitions()` reads from the environment: the paths and every REASSORT_ /
    DAGSTER_ variable, the partitions the extract folders give today, the workflows file's
    content. Equal keys build equal definitions."""
    data_root = project_paths.data_dir()
    workflows = workflows_path()
    content = workflows.read_bytes() if workflows.is_file() else b""
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("REASSORT_", "DAGSTER_"))))
    return (
        str(data_root), str(project_paths.warehouse_path()), partition_bounds(data_root),
        str(workflows), hashlib.sha256(content).hexdigest(), environment,
    )


def current_definitions() -> dg.Definitions:
    """`build_definitions()` of the environment as it is now, built again only when
    `definitions_key()` changed (e.g. a new extract folder, a new partition).

    A CLI run used to build them three times (the module's `defs`, the run config's check of
    the dates, the job Dagster reconstructs), 0.15 s each on tiny (issue 14)."""
    key = definitions_key()
    defs = _CURRENT.get(key)
    if defs is None:
        defs = build_definitions()
        _CURRENT.clear()
        _CURRENT[key] = defs
    return defs


def daily_job() -> dg.JobDefinition:
    """The daily job, rebuilt from the environment: the reconstructable entry point the CLI
    launches runs through (step processes rebuild the job from it). Dagster reconstructs the
    job from here several times per run (creating the run, executing it, each range's day):
    the definitions are the current ones, built once."""
    return current_definitions().resolve_job_def(DAILY_JOB_NAME)


defs = current_definitions()
