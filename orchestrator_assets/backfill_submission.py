"""`reassort run --from D1 --to D2 --submit`: the range as a Dagster backfill, followed to its end.

Without --submit, `reassort run` executes every partition in its own process. With it, the
CLI only records a backfill of the daily job in the instance, the way the UI's "Launch
backfill" does (a job backfill: one run per day), and the daemon turns it into queued runs
that the run launcher starts: in cluster mode on the Celery workers, several days at once;
in local mode in run workers of the local daemon. The CLI then follows the runs, with a
progress bar on stderr and one line per day as it ends (the worker that ran it, the failed
steps' own messages), and exits 1 if a day failed. Interrupting the CLI leaves the backfill
running: it belongs to the instance, not to the command.

The backfill names the code location as the daemon's workspace (workspace.yaml) does; no
code server is started here, the daemon resolves the location by that name.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_origin import RemotePartitionSetOrigin, RemoteRepositoryOrigin
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG, WILL_RETRY_TAG
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load import location_origins_from_yaml_paths
from tqdm import tqdm

from orchestrator_assets.jobs import DAILY_JOB_NAME
from orchestrator_assets.project_paths import PROJECT_ROOT
from orchestrator_assets.run_progress import bar_stream
from orchestrator_assets.step_failures import step_failure_message

WORKSPACE = PROJECT_ROOT / "workspace.yaml"
#: Definitions objects load as this repository
REPOSITORY_NAME = "__repository__"
#: the daemon that turns a backfill into runs (dagster._daemon.daemon.BackfillDaemon)
BACKFILL_DAEMON = "BACKFILL"
#: with no daemon heartbeat by then, say that nothing will start the runs
DAEMON_GRACE_S = 60.0
BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} days |{bar:20}| {elapsed} elapsed, ETA {remaining}"
_FINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def partition_set_origin(job_name: str = DAILY_JOB_NAME) -> RemotePartitionSetOrigin:
    """The daily job's partition set in the code location of workspace.yaml, by name."""
    origins = location_origins_from_yaml_paths([str(WORKSPACE)])
    if len(origins) != 1:
        raise RuntimeError(f"{WORKSPACE}: expected one code location, found {len(origins)}")
    repository = RemoteRepositoryOrigin(code_location_origin=origins[0], repository_name=REPOSITORY_NAME)
    return RemotePartitionSetOrigin(repository_origin=repository, partition_set_name=f"{job_name}_partition_set")


def submit_backfill(
    instance: dg.DagsterInstance, days: Sequence[date], run_config: dict, tags: dict[str, str] | None = None
) -> str:
    """Record a job backfill of the daily job for `days`; the daemon does the rest. Its id."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill(
            backfill_id=backfill_id,
            partition_set_origin=partition_set_origin(),
            status=BulkActionStatus.REQUESTED,
            partition_names=[day.isoformat() for day in days],
            from_failure=False,
            reexecution_steps=None,
            tags=tags or {},
            backfill_timestamp=time.time(),
            run_config=run_config,
            title=f"reassort run --submit {days[0]} .. {days[-1]}",
        )
    )
    return backfill_id


@dataclass(frozen=True)
class DayOutcome:
    day: str
    run_id: str
    status: dg.DagsterRunStatus
    seconds: float | None
    worker: str | None


def latest_runs(instance: dg.DagsterInstance, backfill_id: str) -> dict[str, dg.DagsterRun]:
    """The newest run of each partition of the backfill (a retry replaces the run it retries)."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))  # newest first
    latest: dict[str, dg.DagsterRun] = {}
    for run in runs:
        latest.setdefault(run.tags.get(PARTITION_NAME_TAG, "?"), run)
    return latest


def final(run: dg.DagsterRun) -> bool:
    """Ended, and not about to be retried by the daemon (run_retries)."""
    return run.status in _FINAL and run.tags.get(WILL_RETRY_TAG) != "true"


def outcome(instance: dg.DagsterInstance, run: dg.DagsterRun) -> DayOutcome:
    from orchestrator_assets.celery_worker import WORKER_TAG

    record = instance.get_run_record_by_id(run.run_id)
    seconds = record.end_time - record.start_time if record and record.start_time and record.end_time else None
    return DayOutcome(run.tags.get(PARTITION_NAME_TAG, "?"), run.run_id, run.status, seconds, run.tags.get(WORKER_TAG))


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    return [
        f"step {record.event_log_entry.dagster_event.step_key}: "
        f"{step_failure_message(record.event_log_entry.dagster_event.step_failure_data)}"
        for record in records
        if record.event_log_entry.dagster_event is not None
    ]


def daemon_alive(instance: dg.DagsterInstance, max_age_s: float = DAEMON_GRACE_S) -> bool:
    beat = instance.get_daemon_heartbeats().get(BACKFILL_DAEMON)
    return beat is not None and time.time() - beat.timestamp < max_age_s


def follow_backfill(
    instance: dg.DagsterInstance, backfill_id: str, days: Sequence[date], poll_s: float = 2.0, timeout_s: float | None = None
) -> list[DayOutcome]:
    """Wait for every day of the backfill to end, one line per day as it does, a bar on
    stderr; returns the outcomes in day order. Raises TimeoutError after `timeout_s`."""
    wanted = [day.isoformat() for day in days]
    done: dict[str, DayOutcome] = {}
    started = time.monotonic()
    warned = False
    stream, interactive = bar_stream()
    with tqdm(
        total=len(wanted), desc="backfill", file=stream, bar_format=BAR_FORMAT,
        mininterval=0.5 if interactive else 30.0, ascii=not interactive, disable=len(wanted) < 2,
    ) as bar:
        while len(done) < len(wanted):
            backfill = instance.get_backfill(backfill_id)
            if backfill is not None and backfill.status in (BulkActionStatus.FAILED, BulkActionStatus.CANCELED):
                error = backfill.error.message.strip() if backfill.error else ""
                raise RuntimeError(f"backfill {backfill_id} {backfill.status.value.lower()}{': ' + error if error else ''}")
            for day, run in latest_runs(instance, backfill_id).items():
                if day in wanted and day not in done and final(run):
                    done[day] = outcome(instance, run)
                    bar.update(1)
                    bar.clear()
                    print(describe(done[day], len(done), len(wanted)), flush=True)
                    if run.status != dg.DagsterRunStatus.SUCCESS:
                        for line in step_failures(instance, run.run_id):
                            print(f"    {line}", file=sys.stderr, flush=True)
            if len(done) == len(wanted):
                break
            elapsed = time.monotonic() - started
            if not warned and elapsed > DAEMON_GRACE_S / 2 and not daemon_alive(instance):
                warned = True
                print(
                    "no Dagster daemon is running for this instance: nothing will start these runs until one does "
                    "(reassort serve daemon); the backfill waits in the instance",
                    file=sys.stderr, flush=True,
                )
            if timeout_s is not None and elapsed > timeout_s:
                raise TimeoutError(f"backfill {backfill_id}: {len(done)} of {len(wanted)} days ended after {elapsed:.0f} s")
            time.sleep(poll_s)
    return [done[day] for day in wanted]


def describe(day: DayOutcome, index: int, total: int) -> str:
    took = f" in {day.seconds:.1f} s" if day.seconds is not None else ""
    where = f" on {day.worker}" if day.worker else ""
    state = "ok" if day.status == dg.DagsterRunStatus.SUCCESS else day.status.value
    return f"[{index}/{total}] {day.day}: {state}{took}{where} (run {day.run_id})"
