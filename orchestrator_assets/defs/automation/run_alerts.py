"""The alerts of a run, sent by the run itself: started, succeeded (with its CRITIQUE_A
partitions) or failed.

The code location's executor (publishing_executor.py) calls these around every run it
executes, whatever launched the run (CLI, UI, schedule, sensor, GraphQL, a worker), so the
alerts need no daemon. The sensors (alert_sensors.py) are the safety net for what a run
cannot say itself (its process was killed, it never started), and claim the same event ids,
so nothing is posted twice (alert_dispatch.emit).

A webhook that is slow costs the run at most the webhook's timeouts per event (webhook.py);
with no webhook set, each event is one log line. An alert never fails its run: an error
while building or sending one is logged (`never_fails`) and the run goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg

from orchestrator_assets.defs.automation import alert_events
from orchestrator_assets.defs.automation.alert_dispatch import emit
from orchestrator_assets.defs.urgence.assets import ALERT_CLASS, CLASSIFICATION_KEY
from orchestrator_assets.scenarios import scenario_of

Say = Callable[[str], None]


def never_fails(hook):
    """The hook's errors are logged through its `say` (last argument), never raised."""

    @functools.wraps(hook)
    def guarded(*args):
        try:
            hook(*args)
        except Exception as error:  # noqa: BLE001 - an alert must never fail the run it reports on
            args[-1](f"alert {hook.__name__} not sent: {type(error).__name__}: {error}")

    return guarded


def critique_a_records(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogRecord]:
    """The run's CRITIQUE_A observations (one per partition with such pairs)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION).records
    return [record for record in records if is_critique_a(record)]


def is_critique_a(record: dg.EventLogRecord) -> bool:
    observation = record.asset_observation
    return (
        observation is not None
        and observation.asset_key == CLASSIFICATION_KEY
        and "alert" in observation.metadata
        and observation.metadata["alert"].value == ALERT_CLASS
    )


@never_fails
def run_started(root: Path, run: dg.DagsterRun, say: Say) -> None:
    emit(root, alert_events.run_started(run), say)


def run_failed(
    root: Path, run: dg.DagsterRun, failed_steps: Sequence[tuple[str, str]], say: Say, message: str | None = None
) -> None:
    """run_failed for failed steps, or with `message` for a run no step failed (a workflow
    run that cannot start, or misses its success criteria: module_gate.py)."""
    _run_failed(root, run, failed_steps, message, say)


@never_fails
def _run_failed(
    root: Path, run: dg.DagsterRun, failed_steps: Sequence[tuple[str, str]], message: str | None, say: Say
) -> None:
    if message is None:
        steps = ", ".join(step for step, _ in failed_steps[:5]) or "none"
        message = f"{len(failed_steps)} step(s) failed ({steps}); the run's tables are not published"
    else:  # no step says it: the run log must
        say(f"run {run.run_id} failed: {message}")
    emit(root, alert_events.run_failed(run, message, failed_steps), say)


@never_fails
def run_succeeded(root: Path, instance: dg.DagsterInstance, run: dg.DagsterRun, duration_seconds: float, say: Say) -> None:
    """After publication: the CRITIQUE_A partitions first (the operator's call to act; not
    for a what-if scenario, which is nobody's plan yet), then the run's summary."""
    if scenario_of(run) is None:
        for record in critique_a_records(instance, run.run_id):
            emit(root, alert_events.critique_a(record), say)
    emit(root, alert_events.run_succeeded(run, instance, duration_seconds), say)
