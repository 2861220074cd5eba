"""Where Réassort keeps its data, its warehouse and its Dagster instance.

One place reads the environment so that the CLI, the code location and the tests agree:
REASSORT_DATA_DIR (default ./data), REASSORT_WAREHOUSE (default <data>/warehouse, a folder of table files)
and DAGSTER_HOME (default ./.dagster_home, git-ignored).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data folder: reference/, extracts/YYYY-MM-DD/ and reports/ live under it."""
    return Path(os.environ.get("REASSORT_DATA_DIR", PROJECT_ROOT / "data")).resolve()


def warehouse_path() -> Path:
    """The folder of table files every asset writes to and every query reads."""
    explicit = os.environ.get("REASSORT_WAREHOUSE")
    return Path(explicit).resolve() if explicit else data_dir() / "warehouse"


def legacy_warehouse_file() -> Path:
    """Where the single DuckDB file of earlier versions lived (`reassort migrate` reads it)."""
    return data_dir() / "warehouse.duckdb"


#: the instance of a new DAGSTER_HOME: default storage in the folder; run monitoring so that
#: the daemon (`reassort ui` starts one) marks failed a run whose worker process died
#: (kill -9): its tables were never published (CLI runs: orphan_runs.py at the next start);
#: Dagster's telemetry off (set `enabled: true` to send Dagster its anonymous usage data).
INSTANCE_HEADER = "# Dagster instance of Réassort: default storage in this folder."
TELEMETRY_OFF = """telemetry:
  enabled: false
"""
INSTANCE_CONFIG = f"""{INSTANCE_HEADER}
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
{TELEMETRY_OFF}"""


def event_log_config(home: Path) -> str:
    """The event log of a local instance: Dagster's SQLite files, in Dagster's default folder,
    through local_event_storage.py (its connections kept open: issue 14)."""
    return (
        "event_log_storage:\n"
        "  module: orchestrator_assets.local_event_storage\n"
        "  class: PooledSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {json.dumps(str(home / 'history' / 'runs'))}\n"
    )


def dagster_home() -> Path:
    """Dagster's instance folder (run history, event logs); created on first use."""
    home = Path(os.environ.get("DAGSTER_HOME", PROJECT_ROOT / ".dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # Dagster's default storage, without its warning on every command
        config.write_text(INSTANCE_CONFIG + event_log_config(home))
    else:
        text = original = config.read_text()
        # a home this project created earlier: telemetry off and the event log of a new one;
        # its runs' event logs stay where they are (the same folder, the same files).
        # A dagster.yaml the operator wrote is left alone.
        if text.startswith(INSTANCE_HEADER):
            if "\ntelemetry:" not in text:
                text = text.rstrip("\n") + "\n" + TELEMETRY_OFF
            if "\nevent_log_storage:" not in text:
                text = text.rstrip("\n") + "\n" + event_log_config(home)
            if text != original:
                config.write_text(text)
    return home


def reference_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "reference"


def extracts_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "extracts"
