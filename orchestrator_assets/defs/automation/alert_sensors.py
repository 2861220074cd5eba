"""Alerts: a failed run, and a partition with CRITIQUE_A pairs, become webhook events.

The CRITIQUE_A alert reads the AssetObservation that urgency_classification logs when a
partition has CRITIQUE_A pairs (see defs/urgence/assets.py); the cursor is the storage id
of the last observation handled, so each partition's alert is sent once per materialisation.

The webhook URL is checked when the definitions load (a warning in the code location's log)
and at the start of every tick: a refused URL (not http/https, malformed) makes the tick a
SkipReason that says why, instead of an exception; the CRITIQUE_A cursor then stays where it
is, so those alerts go out once the URL is fixed.

Bounded ticks: a tick posts at most MAX_ALERTS_PER_TICK (5) CRITIQUE_A alerts, and stops at
the first one the webhook does not take (it is down: the next tick tries again); the other
observations wait for the next tick (60 s later). With the webhook's 3 s timeouts a tick
stays well under Dagster's 60 s sensor timeout. The failed-run sensor is a Dagster run
status sensor, which already handles at most 5 failed runs per tick
(DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT, default 5), one alert each.
"""

import dagster as dg

from orchestrator_assets.defs.automation.webhook import configured_webhook, log, post_alert, run_url, webhook_url_problem
from orchestrator_assets.defs.urgence.assets import ALERT_CLASS, CLASSIFICATION_KEY

MAX_ALERTS_PER_TICK = 5


def webhook_refusal() -> str | None:
    """Why the configured webhook URL is refused, or None (no URL, or a usable one)."""
    url = configured_webhook()
    return webhook_url_problem(url) if url else None


def critique_a_payload(record: dg.EventLogRecord) -> dict:
    observation = record.asset_observation
    metadata = {key: value.value for key, value in observation.metadata.items()}
    return {
        "event": "critique_a",
        "partition": observation.partition,
        "critique_a_count": metadata.get("critique_a_count"),
        "counts_per_class": metadata.get("counts_per_class"),
        "critique_a_pairs": (metadata.get("critique_a_pairs") or [])[:10],
        "run_id": record.run_id,
        "run_url": run_url(record.run_id),
    }


def build_alert_sensors() -> list[dg.SensorDefinition]:
    refusal = webhook_refusal()
    if refusal:
        log.warning(refusal)

    @dg.sensor(
        name="critique_a_alert",
        minimum_interval_seconds=60,
        description="Posts a JSON event to REASSORT_ALERT_WEBHOOK for each partition with CRITIQUE_A pairs.",
    )
    def critique_a_alert(context: dg.SensorEvaluationContext):
        refusal = webhook_refusal()
        if refusal:
            context.log.error(refusal)
            return dg.SkipReason(refusal)
        cursor = int(context.cursor) if context.cursor else 0
        records = context.instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=CLASSIFICATION_KEY, after_storage_id=cursor), limit=100, ascending=True
        ).records
        sent, posting, down = 0, bool(configured_webhook()), False
        for record in records:
            metadata = record.asset_observation.metadata
            if "alert" in metadata and metadata["alert"].value == ALERT_CLASS:
                if sent == MAX_ALERTS_PER_TICK or down:
                    break  # the rest waits for the next tick
                delivered = post_alert(critique_a_payload(record), logger=context.log.info)
                sent += 1
                down = posting and not delivered
            cursor = max(cursor, record.storage_id)
        context.update_cursor(str(cursor))
        if down:
            return dg.SkipReason(f"{sent} CRITIQUE_A alert(s) handled; the webhook did not take the last one, the rest waits")
        return dg.SkipReason(f"{sent} CRITIQUE_A alert(s) sent") if sent else dg.SkipReason("no new CRITIQUE_A partition")

    @dg.run_failure_sensor(
        name="failed_run_alert",
        minimum_interval_seconds=30,
        description="Posts a JSON event to REASSORT_ALERT_WEBHOOK when a run fails.",
    )
    def failed_run_alert(context: dg.RunFailureSensorContext):
        refusal = webhook_refusal()
        if refusal:
            context.log.error(refusal)
            return dg.SkipReason(refusal)
        run = context.dagster_run
        post_alert(
            {
                "event": "run_failed",
                "run_id": run.run_id,
                "job": run.job_name,
                "partition": run.tags.get("dagster/partition"),
                "message": context.failure_event.message,
                "run_url": run_url(run.run_id),
            },
            logger=context.log.info,
        )

    return [critique_a_alert, failed_run_alert]
