"""The alert events posted to the operator's webhook: one JSON shape per event, one schema.

alert_events.schema.json (next to this file) is the contract, documented with an example of
each event in docs/operations.md; the tests validate every event built here against it.
Every event has the same envelope: schema_version, event, event_id (stable, so a copy can be
recognised: the same id is never posted twice, see alert_ledger.py) and occurred_at (UTC).

The module_* events (one per module of a run and stage of its life: started, completed,
failed, skipped with the reason) are opt-in: REASSORT_ALERT_EVENTS must name them.

Modules in run_succeeded are the pipeline's: raw (ingestion), stock, urgence, knapsack,
report, export, kpi, and validation (every `validate_*` check step: VALIDATION_FINALE).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.execution.stats import StepEventStatus

from orchestrator_assets.defs.automation.webhook import run_url
from orchestrator_assets.partition_deadline import Deadline, Freshness
from orchestrator_assets.scenarios import scenario_of

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("alert_events.schema.json")
EVENTS = ("run_started", "run_succeeded", "run_failed", "critique_a", "partition_late")
#: a module's lifecycle in a run (module_events.py): sent only when REASSORT_ALERT_EVENTS names them
MODULE_EVENTS = ("module_started", "module_completed", "module_failed", "module_skipped")
ALL_EVENTS = EVENTS + MODULE_EVENTS
#: the CRITIQUE_A pairs listed in an event (the count is always whole)
PAIRS_LISTED = 10
FAILED_STEPS_LISTED = 20
MESSAGE_CHARS = 2000


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _envelope(event: str, event_id: str, fields: Mapping[str, object]) -> dict:
    return {"schema_version": SCHEMA_VERSION, "event": event, "event_id": event_id, "occurred_at": _now(), **fields}


def run_fields(run: dg.DagsterRun) -> dict:
    """What every run event says of its run: id, job, partition or range, how it was launched, link."""
    tags = run.tags
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": tags.get("dagster/partition"),
        "partition_range": {"start": start, "end": end} if start and end else None,
        "launched_by": tags.get("reassort/launched_by") or _dagster_launcher(tags),
        "run_url": run_url(run.run_id),
        "scenario": scenario_of(run),
    }


def _dagster_launcher(tags: Mapping[str, str]) -> str | None:
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    if "dagster/backfill" in tags:
        return "backfill"
    return None


def run_started(run: dg.DagsterRun) -> dict:
    return _envelope("run_started", f"run_started:{run.run_id}", run_fields(run))


def step_module(step_key: str) -> str:
    """The module a step belongs to: a `validate_*` op (knapsack.alternatives' checks) is
    validation, else the asset's schema (whose step runs its tables' checks too)."""
    if step_key.startswith("validate_"):
        return "validation"
    return step_key.split("__", 1)[0]


def run_succeeded(run: dg.DagsterRun, instance: dg.DagsterInstance, duration_seconds: float) -> dict:
    """The run's per-module step time and rows, read back from the instance's event log."""
    modules: dict[str, dict[str, float | int]] = defaultdict(lambda: {"seconds": 0.0, "steps": 0, "rows": 0})
    for stats in instance.get_run_step_stats(run.run_id):
        if stats.status != StepEventStatus.SUCCESS or stats.start_time is None or stats.end_time is None:
            continue
        module = modules[step_module(stats.step_key)]
        module["seconds"] += max(stats.end_time - stats.start_time, 0.0)
        module["steps"] += 1
    tables: dict[str, int] = {}
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        metadata = record.asset_materialization.metadata
        if "table" in metadata and "rows" in metadata:
            table, rows = str(metadata["table"].value), int(metadata["rows"].value)
            tables[table] = tables.get(table, 0) + rows
            modules[record.asset_key.path[0]]["rows"] += rows
    shaped = {
        name: {"seconds": round(float(m["seconds"]), 3), "steps": int(m["steps"]), "rows": int(m["rows"])}
        for name, m in sorted(modules.items())
    }
    return _envelope(
        "run_succeeded",
        f"run_succeeded:{run.run_id}",
        {**run_fields(run), "duration_seconds": round(max(duration_seconds, 0.0), 3), "modules": shaped, "tables": tables},
    )


def run_failed(run: dg.DagsterRun, message: str, failed_steps: Sequence[tuple[str, str]] = ()) -> dict:
    return _envelope(
        "run_failed",
        f"run_failed:{run.run_id}",
        {
            **run_fields(run),
            "message": message[:MESSAGE_CHARS],
            "failed_steps": [
                {"step": step, "message": text[:MESSAGE_CHARS]} for step, text in list(failed_steps)[:FAILED_STEPS_LISTED]
            ],
        },
    )


def critique_a(record: dg.EventLogRecord) -> dict:
    """From the AssetObservation urgency_classification logs for a partition with CRITIQUE_A pairs."""
    observation = record.asset_observation
    metadata = {key: value.value for key, value in observation.metadata.items()}
    return _envelope(
        "critique_a",
        f"critique_a:{record.run_id}:{observation.partition}",
        {
            "partition": observation.partition,
            "critique_a_count": int(metadata.get("critique_a_count") or 0),
            "counts_per_class": metadata.get("counts_per_class") or {},
            "critique_a_pairs": list(metadata.get("critique_a_pairs") or [])[:PAIRS_LISTED],
            "run_id": record.run_id,
            "run_url": run_url(record.run_id),
        },
    )


def partition_late(state: Freshness, deadline: Deadline) -> dict:
    return _envelope(
        "partition_late",
        f"partition_late:{state.expected.isoformat()}",
        {
            "partition": state.expected.isoformat(),
            "due_at": state.due_at.isoformat(),
            "checked_at": state.checked_at.astimezone(UTC).isoformat(timespec="seconds"),
            "deadline": f"{deadline.at:%H:%M} {deadline.timezone}",
            "last_done_partition": state.last_done.isoformat() if state.last_done else None,
        },
    )


def module_event(event: str, run: dg.DagsterRun, module: str, fields: Mapping[str, object]) -> dict:
    """module_started / module_completed / module_failed / module_skipped of one module in one run."""
    if event not in MODULE_EVENTS:
        raise ValueError(f"not a module event: {event!r}")
    return _envelope(
        event,
        f"{event}:{run.run_id}:{module}",
        {**run_fields(run), "workflow": run.tags.get("reassort/workflow"), "module": module, **fields},
    )
