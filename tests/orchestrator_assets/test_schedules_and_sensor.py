"""Schedules across the DST changes, and the extract-folder sensor."""

import json
import os
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.defs.automation.extract_sensor import folder_is_complete
from orchestrator_assets.defs.automation.schedules import DAILY_CRON, MONTHLY_CRON

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def schedule(defs: dg.Definitions, name: str) -> dg.ScheduleDefinition:
    return next(s for s in defs.schedules if s.name == name)


def ticks(cron: str, start: datetime, count: int) -> list[datetime]:
    iterator = cron_string_iterator(start.timestamp(), cron, "Europe/Paris")
    return [next(iterator) for _ in range(count)]


def evaluate(definition: dg.ScheduleDefinition, when: datetime, defs: dg.Definitions) -> dg.RunRequest:
    """Evaluated with the repository, so Dagster also checks the partition key exists."""
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as context:
        return definition.evaluate_tick(context).run_requests[0]


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(tmp_path_factory.mktemp("empty"), tmp_path_factory.mktemp("wh") / "w.duckdb")


@pytest.mark.parametrize(
    ("start", "expected_utc_hours", "expected_partitions"),
    [
        # last Sunday of March 2026 is the 29th: 06:00 CET = 05:00 UTC, then 06:00 CEST = 04:00 UTC
        (datetime(2026, 3, 27, 12, tzinfo=UTC), [5, 4, 4], ["2026-03-27", "2026-03-28", "2026-03-29"]),
        # last Sunday of October 2026 is the 25th: 06:00 CEST = 04:00 UTC, then 06:00 CET = 05:00 UTC
        (datetime(2026, 10, 23, 12, tzinfo=UTC), [4, 5, 5], ["2026-10-23", "2026-10-24", "2026-10-25"]),
    ],
)
def test_daily_schedule_runs_at_six_paris_for_the_day_before_across_dst(defs, start, expected_utc_hours, expected_partitions):
    daily = schedule(defs, "daily_pipeline_0600_paris")
    assert daily.cron_schedule == DAILY_CRON and daily.execution_timezone == "Europe/Paris"
    times = ticks(DAILY_CRON, start, 3)
    assert [t.astimezone(PARIS).hour for t in times] == [6, 6, 6]
    assert [t.astimezone(UTC).hour for t in times] == expected_utc_hours
    assert [evaluate(daily, t, defs).partition_key for t in times] == expected_partitions


def test_monthly_schedule_runs_the_first_at_seven_for_the_month_before(defs):
    monthly = schedule(defs, "monthly_kpis_0700_paris")
    times = ticks(MONTHLY_CRON, datetime(2026, 1, 15, tzinfo=UTC), 4)
    assert [(t.astimezone(PARIS).day, t.astimezone(PARIS).hour) for t in times] == [(1, 7)] * 4
    # 1 April 2026 is in summer time: 07:00 CEST = 05:00 UTC
    assert [t.astimezone(UTC).hour for t in times] == [6, 6, 5, 5]
    assert [evaluate(monthly, t, defs).partition_key for t in times] == ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]


@pytest.fixture
def three_days(tmp_path):
    data = tmp_path / "data"
    generate("tiny", date(2026, 2, 2), 3, data, seed=9)
    return data


def run_sensor(data, cursor=None, instance=None):
    defs = build_definitions(data, data / "warehouse")
    sensor = next(s for s in defs.sensors if s.name == "new_extract_folder")
    with dg.build_sensor_context(
        instance=instance or dg.DagsterInstance.ephemeral(), cursor=cursor, repository_def=defs.get_repository_def()
    ) as context:
        return sensor.evaluate_tick(context)


def test_sensor_launches_each_complete_folder_once(three_days):
    first = run_sensor(three_days)
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [
        ("2026-02-02", "extract-2026-02-02"), ("2026-02-03", "extract-2026-02-03"), ("2026-02-04", "extract-2026-02-04")
    ]
    assert json.loads(first.cursor)["launched"] == ["2026-02-02", "2026-02-03", "2026-02-04"]
    again = run_sensor(three_days, cursor=first.cursor)
    assert again.run_requests == [] and again.skip_message


def test_folder_without_marker_waits_until_it_stops_changing(three_days, monkeypatch):
    folder = three_days / "extracts" / "2026-02-04"
    (folder / "_SUCCESS").unlink()
    monkeypatch.setenv("REASSORT_SENSOR_STABLE_SECONDS", "3600")
    assert [r.partition_key for r in run_sensor(three_days).run_requests] == ["2026-02-02", "2026-02-03"]
    old = time.time() - 7200
    for path in folder.iterdir():
        os.utime(path, (old, old))
    assert "2026-02-04" in [r.partition_key for r in run_sensor(three_days).run_requests]


def test_folder_missing_an_extract_is_not_complete(three_days):
    folder = three_days / "extracts" / "2026-02-03"
    (folder / "movements.csv").unlink()
    assert not folder_is_complete(folder, stable_seconds=0)
    assert "2026-02-03" not in [r.partition_key for r in run_sensor(three_days).run_requests]
