"""Daily and monthly partitions (SPEC §8), in Europe/Paris.

Daily partitions start at the first extract folder of the data dir and end at the last one
(or yesterday, whichever is later), so generated data sets in the future or the past are
fully addressable. With no extract at all, REASSORT_PARTITION_START (default 2026-01-01)
is the start. The monthly partitions start with the month of the first daily partition.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestrator_assets.defs.ingest.source_files import available_extract_dates

TIMEZONE = "Europe/Paris"
DEFAULT_START = "2026-01-01"


def partition_bounds(data_root: Path) -> tuple[date, int]:
    """(first partition date, end_offset) for the daily partitions of this data dir."""
    dates = available_extract_dates(data_root)
    start = dates[0] if dates else date.fromisoformat(os.environ.get("REASSORT_PARTITION_START", DEFAULT_START))
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    # By default the last partition is yesterday; reach the last extract when it is later.
    end_offset = max(0, (dates[-1] - today).days + 1) if dates else 0
    return start, end_offset


def daily_partitions(data_root: Path) -> dg.DailyPartitionsDefinition:
    start, end_offset = partition_bounds(data_root)
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(), timezone=TIMEZONE, end_offset=end_offset
    )


def monthly_partitions(data_root: Path) -> dg.MonthlyPartitionsDefinition:
    start, _ = partition_bounds(data_root)
    return dg.MonthlyPartitionsDefinition(start_date=start.replace(day=1).isoformat(), timezone=TIMEZONE)
