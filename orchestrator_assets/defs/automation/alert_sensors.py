"""The alert sensors: the daemon's safety net behind the alerts a run sends itself, and the
freshness of the daily partition.

Runs send their own run_started / run_succeeded / run_failed / critique_a events
(run_alerts.py, from the executor), so alerts need no daemon. Where a daemon runs, these
sensors add what a run cannot say itself, claiming the same event ids (alert_ledger.py) so
that nothing reaches the webhook twice:
- failed_run_alert: a run that failed without its executor's end (killed, failed to start,
  marked failed by run monitoring);
- critique_a_alert: CRITIQUE_A observations of successful runs not sent yet (and, each tick,
  events the webhook did not take earlier, up to MAX_ALERTS_PER_TICK);
- partition_freshness: the expected daily partition (partition_deadline.py) is late: a
  failed `partition_on_time` check in the UI and one `partition_late` event per partition.

They are on by default when REASSORT_ALERT_WEBHOOK holds a usable URL when the code location
loads (partition_freshness always: the UI's check needs it). A refused URL (not http/https,
malformed) makes a tick a SkipReason that says why; the CRITIQUE_A cursor then stays where
it is, so those alerts go out once the URL is fixed.

Bounded ticks: at most MAX_ALERTS_PER_TICK posts per tick, stopping at the first one the
webhook does not take (it is down: the next tick tries again). With the webhook's 3 s
timeouts a tick stays well under Dagster's 60 s sensor timeout. The failed-run sensor is a
Dagster run status sensor, which handles at most 5 failed runs per tick
(DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT, default 5).
"""


from pathlib import Path

import dagster as dg

from orchestrator_assets.defs.automation import alert_events
from orchestrator_assets.defs.automation.alert_dispatch import alerts_active, emit, retry_undelivered
from orchestrator_assets.defs.automation.alert_ledger import was_claimed
from orchestrator_assets.defs.automation.run_alerts import is_critique_a
from orchestrator_assets.defs.automation.webhook import configured_webhook, log, webhook_url_problem
from orchestrator_assets.defs.urgence.assets import CLASSIFICATION_KEY
from orchestrator_assets.partition_deadline import FRESHNESS_CHECK_KEY, Deadline, Freshness, freshness
from orchestrator_assets.scenarios import scenario_of

MAX_ALERTS_PER_TICK = 5
FRESHNESS_CHECK_NAME = FRESHNESS_CHECK_KEY.name
FRESHNESS_ASSET = FRESHNESS_CHECK_KEY.asset_key
_FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def webhook_refusal() -> str | None:
    """Why the configured webhook URL is refused, or None (no URL, or a usable one)."""
    url = configured_webhook()
    return webhook_url_problem(url) if url else None


def freshness_evaluation(state: Freshness) -> dg.AssetCheckEvaluation:
    """The freshness state as a check evaluation the UI shows on the plan's asset."""
    return dg.AssetCheckEvaluation(
        asset_key=FRESHNESS_ASSET,
        check_name=FRESHNESS_CHECK_NAME,
        passed=not state.late,
        severity=dg.AssetCheckSeverity.WARN,
        description=state.describe(),
        metadata={
            "expected_partition": state.expected.isoformat(),
            "due_at": dg.MetadataValue.timestamp(state.due_at),
            "last_done_partition": state.last_done.isoformat() if state.last_done else "none",
        },
    )


def build_freshness_check() -> dg.AssetChecksDefinition:
    """The check behind partition_freshness's evaluations, so the UI lists it on the plan's
    asset and a user can run it by hand. Not part of the daily job (see definitions.py): a
    backfill of an old day must not fail because yesterday is late."""

    @dg.asset_check(
        asset=FRESHNESS_ASSET,
        name=FRESHNESS_CHECK_NAME,
        blocking=False,
        description="The expected daily partition (D, due on D+1 by the deadline, default 08:00 Europe/Paris) is "
        "materialised. Evaluated every 5 minutes by the partition_freshness sensor.",
    )
    def partition_on_time(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        evaluation = freshness_evaluation(freshness(context.instance))
        return dg.AssetCheckResult(
            passed=evaluation.passed,
            severity=evaluation.severity,
            description=evaluation.description,
            metadata=evaluation.metadata,
        )

    return partition_on_time


def build_alert_sensors(warehouse_root: Path) -> list[dg.SensorDefinition]:
    refusal = webhook_refusal()
    if refusal:
        log.warning(refusal)
    default = dg.DefaultSensorStatus.RUNNING if alerts_active() else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(
        name="critique_a_alert",
        minimum_interval_seconds=60,
        default_status=default,
        description="Safety net: posts the critique_a events of successful runs not sent yet, and retries events "
        "the webhook did not take (REASSORT_ALERT_WEBHOOK).",
    )
    def critique_a_alert(context: dg.SensorEvaluationContext):
        refusal = webhook_refusal()
        if refusal:
            context.log.error(refusal)
            return dg.SkipReason(refusal)
        retried, _ = retry_undelivered(warehouse_root, MAX_ALERTS_PER_TICK, context.log.info)
        cursor = int(context.cursor) if context.cursor else 0
        records = context.instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=CLASSIFICATION_KEY, after_storage_id=cursor), limit=100, ascending=True
        ).records
        sent, down = 0, False
        for record in records:
            if is_critique_a(record):
                run = context.instance.get_run_by_id(record.run_id) if record.run_id else None
                if run is not None and run.status not in _FINISHED:
                    break  # its run still goes on: it will send the alert itself; look again next tick
                official = run is None or scenario_of(run) is None  # a what-if pages nobody
                if official and (run is None or run.status == dg.DagsterRunStatus.SUCCESS):  # None: reported without a run
                    if sent + retried == MAX_ALERTS_PER_TICK:
                        break  # the rest waits for the next tick
                    outcome = emit(warehouse_root, alert_events.critique_a(record), context.log.info)
                    sent += outcome is not None
                    if outcome is False:  # the webhook is down: the next tick retries it, then goes on
                        down = True
                        cursor = max(cursor, record.storage_id)
                        break
            cursor = max(cursor, record.storage_id)
        context.update_cursor(str(cursor))
        if down:
            return dg.SkipReason(f"{sent} CRITIQUE_A alert(s) handled; the webhook did not take the last one, the rest waits")
        return dg.SkipReason(f"{sent} CRITIQUE_A alert(s) sent, {retried} earlier event(s) retried")

    @dg.run_failure_sensor(
        name="failed_run_alert",
        minimum_interval_seconds=30,
        default_status=default,
        description="Safety net: posts the run_failed event of a run that could not send it itself.",
    )
    def failed_run_alert(context: dg.RunFailureSensorContext):
        refusal = webhook_refusal()
        if refusal:
            context.log.error(refusal)
            return dg.SkipReason(refusal)
        message = context.failure_event.message or "the run failed"
        emit(warehouse_root, alert_events.run_failed(context.dagster_run, message), context.log.info)

    @dg.sensor(
        name="partition_freshness",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Every 5 minutes: is the expected daily partition materialised by its deadline? Records the "
        "partition_on_time check and posts one partition_late event per late partition.",
    )
    def partition_freshness(context: dg.SensorEvaluationContext):
        deadline = Deadline.from_env()
        state = freshness(context.instance, deadline=deadline)
        marker = f"{state.expected.isoformat()}:{'late' if state.late else 'done'}"
        changed = marker != context.cursor
        if changed:  # one check evaluation per change, not one per tick
            context.instance.report_runless_asset_event(freshness_evaluation(state))
            context.update_cursor(marker)
        if state.late:
            event = alert_events.partition_late(state, deadline)
            if changed or not was_claimed(warehouse_root, event["event_id"]):
                emit(warehouse_root, event, context.log.info)
        return dg.SkipReason(state.describe())

    return [critique_a_alert, failed_run_alert, partition_freshness]
