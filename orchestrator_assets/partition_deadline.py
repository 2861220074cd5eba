"""When a daily partition is late: partition D is due on D+1 by a deadline (default 08:00
Europe/Paris), two hours after the 06:00 schedule that runs it.

A partition is *done* when every deliverable asset (the urgency classes and the shipping
plan, DELIVERABLE_KEYS) has a materialisation for it in the Dagster instance. At any time,
the partition expected is the latest one whose deadline has passed; it is *late* when it is
not done. The freshness sensor (a failed check in the UI, a `partition_late` event),
`reassort health` and the metrics all ask this module, so they agree.

Why not Dagster's `build_time_partition_freshness_checks`: it takes the expected partition
from the partitions definition, whose end reaches the last extract folder (a data set
generated ahead of today ends in the future), so it would expect partitions that are not
due; and it evaluates only in runs its own sensor launches. Here the rule is the SPEC's
(D is due on D+1) and the evaluation is a plain function of the instance and the clock.

Configuration: REASSORT_FRESHNESS_DEADLINE ("HH:MM", local time on D+1) and
REASSORT_FRESHNESS_TIMEZONE (an IANA name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from orchestrator_assets.partitions import TIMEZONE

DEADLINE_ENV = "REASSORT_FRESHNESS_DEADLINE"
TIMEZONE_ENV = "REASSORT_FRESHNESS_TIMEZONE"
DEFAULT_DEADLINE = "08:00"
#: a partition is done when each of these has a materialisation for it
DELIVERABLE_KEYS = (dg.AssetKey(["urgence", "urgency_classification"]), dg.AssetKey(["knapsack", "allocation"]))
#: the check that shows freshness in the UI, on the shipping plan (defs/automation/alert_sensors.py);
#: jobs leave it out of their runs: a backfill of an old day must not fail because yesterday is late
FRESHNESS_CHECK_KEY = dg.AssetCheckKey(DELIVERABLE_KEYS[-1], "partition_on_time")


@dataclass(frozen=True)
class Deadline:
    """Partition D is due at `at` (local time in `timezone`) on D+1."""

    at: time
    timezone: str = TIMEZONE

    @classmethod
    def from_env(cls) -> Deadline:
        """The configured deadline; a malformed value is a ValueError naming the variable."""
        text = os.environ.get(DEADLINE_ENV, DEFAULT_DEADLINE).strip()
        try:
            hours, minutes = (int(part) for part in text.split(":"))
            at = time(hours, minutes)
        except ValueError as error:
            raise ValueError(f"{DEADLINE_ENV}={text!r}: expected HH:MM, e.g. 08:00") from error
        zone = os.environ.get(TIMEZONE_ENV, TIMEZONE).strip()
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{TIMEZONE_ENV}={zone!r}: not a known time zone (e.g. Europe/Paris)") from error
        return cls(at, zone)

    def due_at(self, partition: date) -> datetime:
        """When partition D must be done: D+1 at the deadline, local time (aware)."""
        return datetime.combine(partition + timedelta(days=1), self.at, tzinfo=ZoneInfo(self.timezone))

    def expected_partition(self, now: datetime) -> date:
        """The latest partition whose deadline has passed at `now` (an aware datetime)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        day = local.date() - timedelta(days=1)
        return day if self.due_at(day) <= local else day - timedelta(days=1)

    @property
    def cron(self) -> str:
        return f"{self.at.minute} {self.at.hour} * * *"


@dataclass(frozen=True)
class Freshness:
    """The state of the expected partition at `checked_at`."""

    expected: date
    due_at: datetime
    done_at: datetime | None
    last_done: date | None
    checked_at: datetime

    @property
    def late(self) -> bool:
        return self.done_at is None

    def describe(self) -> str:
        if not self.late:
            return f"partition {self.expected} done at {self.done_at:%Y-%m-%d %H:%M %Z} (due {self.due_at:%Y-%m-%d %H:%M %Z})"
        last = f"last done partition: {self.last_done}" if self.last_done else "no partition done yet"
        return f"partition {self.expected} is late: due {self.due_at:%Y-%m-%d %H:%M %Z}, not materialised ({last})"


def _official(record: dg.EventLogRecord) -> bool:
    """A materialisation of the official plan, not of a what-if scenario (scenarios.py)."""
    metadata = record.asset_materialization.metadata if record.asset_materialization else {}
    return "scenario" not in metadata or metadata["scenario"].value == "base"


def done_at(instance: dg.DagsterInstance, partition: date) -> datetime | None:
    """When the partition was last made whole by official runs: the latest of its
    deliverables' latest official materialisations; None while a deliverable has none."""
    stamps = []
    for key in DELIVERABLE_KEYS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition.isoformat()]), limit=50, ascending=False
        ).records
        official = [record for record in records if _official(record)]
        if not official:
            return None
        stamps.append(official[0].timestamp)
    return datetime.fromtimestamp(max(stamps), tz=UTC)


#: how many of the latest materialised partitions last_done_partition looks at for an official one
_LOOKBACK = 62


def last_done_partition(instance: dg.DagsterInstance) -> date | None:
    """The latest partition every deliverable has been materialised for by an official run."""
    common: set[str] | None = None
    for key in DELIVERABLE_KEYS:
        keys = set(instance.get_materialized_partitions(key))
        common = keys if common is None else common & keys
    for day in sorted((date.fromisoformat(key) for key in common or ()), reverse=True)[:_LOOKBACK]:
        if done_at(instance, day) is not None:
            return day
    return None


def freshness(instance: dg.DagsterInstance, now: datetime | None = None, deadline: Deadline | None = None) -> Freshness:
    """Is the expected partition done? (`now` defaults to the clock.)"""
    deadline = deadline or Deadline.from_env()
    now = now or datetime.now(UTC)
    expected = deadline.expected_partition(now)
    return Freshness(
        expected=expected,
        due_at=deadline.due_at(expected),
        done_at=done_at(instance, expected),
        last_done=last_done_partition(instance),
        checked_at=now,
    )
