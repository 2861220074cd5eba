"""The two clocks of SPEC §8, in Europe/Paris: 06:00 daily for the day before, 07:00 on the
1st for the month before.

The partition is derived from the tick's own scheduled time in Paris (not from the
partitions definition), so a tick is right across the DST changes: the 06:00 tick of the
last Sunday of March (04:00 UTC) and of October (05:00 UTC) both run the Saturday.
"""

from datetime import timedelta

import dagster as dg

from orchestrator_assets.partitions import TIMEZONE

DAILY_CRON = "0 6 * * *"
MONTHLY_CRON = "0 7 1 * *"


def previous_day_schedule(
    name: str, cron: str, timezone: str, job_name: str, description: str | None = None
) -> dg.ScheduleDefinition:
    """A schedule whose every tick runs the daily partition of the day before (in `timezone`)."""

    @dg.schedule(
        name=name,
        cron_schedule=cron,
        execution_timezone=timezone,
        job_name=job_name,
        description=description or f"{cron} ({timezone}): {job_name} for the day before.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        local = context.scheduled_execution_time.astimezone(_zone(timezone))
        partition = (local.date() - timedelta(days=1)).isoformat()
        return dg.RunRequest(run_key=f"{name}-{partition}", partition_key=partition, tags={"reassort/launched_by": "schedule"})

    return _schedule


def build_schedules(daily_job_name: str, monthly_job_name: str) -> list[dg.ScheduleDefinition]:
    daily_schedule = previous_day_schedule(
        "daily_pipeline_0600_paris",
        DAILY_CRON,
        TIMEZONE,
        daily_job_name,
        "Every day at 06:00 Europe/Paris: the whole pipeline for the day before.",
    )

    @dg.schedule(
        name="monthly_kpis_0700_paris",
        cron_schedule=MONTHLY_CRON,
        execution_timezone=TIMEZONE,
        job_name=monthly_job_name,
        description="The 1st of each month at 07:00 Europe/Paris: the monthly KPIs of the month before.",
    )
    def monthly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        local = context.scheduled_execution_time.astimezone(_zone(TIMEZONE))
        previous = (local.date().replace(day=1) - timedelta(days=1)).replace(day=1)
        partition = previous.isoformat()
        return dg.RunRequest(run_key=f"monthly-{partition}", partition_key=partition, tags={"reassort/launched_by": "schedule"})

    return [daily_schedule, monthly_schedule]


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
