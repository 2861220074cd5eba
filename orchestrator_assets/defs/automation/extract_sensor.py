"""A sensor that launches the daily partition of every newly complete extract folder.

"Complete" means all four extracts are there (stock_levels, movements, purchase_orders,
planned_interventions, as .csv or .parquet) and either
  - the `_SUCCESS` marker is present (the producer writes it last: our generator does), or
  - without a marker, no file of the folder changed for `stable_seconds` (default 120 s:
    a folder still being copied keeps changing).
Each folder is launched once (run_key `extract-YYYY-MM-DD`; the cursor keeps the launched
dates), and a folder whose partition is already materialised is not launched again.
Folders named after a date outside the daily partitions (e.g. tomorrow) wait.
"""

import json
import os
import time
from pathlib import Path

import dagster as dg

from orchestrator_assets.defs.ingest.source_files import EXTRACT_SUFFIXES, available_extract_dates, extract_folder
from orchestrator_assets.defs.ingest.table_contracts import EXTRACT_TABLES

SUCCESS_MARKER = "_SUCCESS"
CURSOR_KEEP = 400
STOCK_LEVELS_KEY = dg.AssetKey(["raw", "stock_levels"])


def folder_is_complete(folder: Path, stable_seconds: float, now: float | None = None) -> bool:
    files = []
    for contract in EXTRACT_TABLES:
        found = [folder / f"{contract.stem}{suffix}" for suffix in EXTRACT_SUFFIXES if (folder / f"{contract.stem}{suffix}").exists()]
        if not found:
            return False
        files.extend(found)
    if (folder / SUCCESS_MARKER).exists():
        return True
    newest = max(path.stat().st_mtime for path in files)
    return (now if now is not None else time.time()) - newest >= stable_seconds


def build_extract_sensor(daily_job_name: str, data_root: Path, partitions_def: dg.PartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="new_extract_folder",
        job_name=daily_job_name,
        minimum_interval_seconds=60,
        description="Launches the daily partition of each newly complete extract folder (all four extracts and "
        "_SUCCESS, or unchanged for REASSORT_SENSOR_STABLE_SECONDS).",
    )
    def new_extract_folder(context: dg.SensorEvaluationContext):
        stable_seconds = float(os.environ.get("REASSORT_SENSOR_STABLE_SECONDS", "120"))
        launched = set(json.loads(context.cursor)["launched"]) if context.cursor else set()
        materialised = context.instance.get_materialized_partitions(STOCK_LEVELS_KEY)
        valid = set(partitions_def.get_partition_keys())
        requests = []
        waiting = []
        for day in available_extract_dates(data_root):
            key = day.isoformat()
            if key in launched or key in materialised:
                continue
            if key not in valid:
                waiting.append(f"{key} (not a partition yet)")
                continue
            if not folder_is_complete(extract_folder(data_root, day), stable_seconds):
                waiting.append(f"{key} (incomplete)")
                continue
            requests.append(dg.RunRequest(run_key=f"extract-{key}", partition_key=key, tags={"reassort/launched_by": "sensor"}))
            launched.add(key)
        if waiting:
            context.log.info("waiting: " + ", ".join(waiting[:20]))
        cursor = json.dumps({"launched": sorted(launched)[-CURSOR_KEEP:]})
        if not requests:
            return dg.SensorResult(skip_reason=dg.SkipReason("no newly complete extract folder"), cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return new_extract_folder
