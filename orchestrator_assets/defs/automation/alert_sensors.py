"""Alerts: a failed run, and a partition with CRITIQUE_A pairs, become webhook events.

The CRITIQUE_A alert reads the AssetObservation that urgency_classification logs when a
partition has CRITIQUE_A pairs (see defs/urgence/assets.py); the cursor is the storage id
of the last observation handled, so each partition's alert is sent once per materialisation.
"""

import dagster as dg

from orchestrator_assets.defs.automation.webhook import post_alert, run_url
from orchestrator_assets.defs.urgence.assets import ALERT_CLASS, CLASSIFICATION_KEY


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
    @dg.sensor(
        name="critique_a_alert",
        minimum_interval_seconds=60,
        description="Posts a JSON event to REASSORT_ALERT_WEBHOOK for each partition with CRITIQUE_A pairs.",
    )
    def critique_a_alert(context: dg.SensorEvaluationContext):
        cursor = int(context.cursor) if context.cursor else 0
        records = context.instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=CLASSIFICATION_KEY, after_storage_id=cursor), limit=100, ascending=True
        ).records
        sent = 0
        for record in records:
            metadata = record.asset_observation.metadata
            if "alert" in metadata and metadata["alert"].value == ALERT_CLASS:
                post_alert(critique_a_payload(record), logger=context.log.info)
                sent += 1
            cursor = max(cursor, record.storage_id)
        context.update_cursor(str(cursor))
        return dg.SkipReason(f"{sent} CRITIQUE_A alert(s) sent") if sent else dg.SkipReason("no new CRITIQUE_A partition")

    @dg.run_failure_sensor(
        name="failed_run_alert",
        minimum_interval_seconds=30,
        description="Posts a JSON event to REASSORT_ALERT_WEBHOOK when a run fails.",
    )
    def failed_run_alert(context: dg.RunFailureSensorContext):
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
