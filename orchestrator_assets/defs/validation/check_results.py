"""What one check found on one partition, and its history table validation.check_results.

Every result of every run is appended (a re-run adds rows, it replaces nothing but the
same run's own rows of the same asset, so a step retry does not count twice), so the
history answers questions such as "which checks failed last month":

    SELECT partition_date, asset, check_name, failing_rows, detail
    FROM validation.check_results
    WHERE NOT passed AND partition_date >= current_date - INTERVAL 1 MONTH
    ORDER BY partition_date, asset, check_name;

The column is `check_name`, not `check`: CHECK is a reserved word in DuckDB's SQL, so a
column of that name would have to be quoted in every query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import polars as pl

from orchestrator_assets.publication import compact
from orchestrator_assets.table_files import unit_name
from orchestrator_assets.warehouse import Warehouse

CHECK_RESULTS_TABLE = "validation.check_results"
ERROR = "ERROR"
WARN = "WARN"

CHECK_RESULTS_SCHEMA = {
    "partition_date": pl.Date,
    "asset": pl.String,
    "check_name": pl.String,
    "severity": pl.String,
    "blocking": pl.Boolean,
    "passed": pl.Boolean,
    "failing_rows": pl.Int64,
    "rows_checked": pl.Int64,
    "detail": pl.String,
    "checked_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class CheckOutcome:
    """The verdict of one check on one partition of one table.

    `failing_rows` counts rule violations (a row breaking two rules of the same check counts
    twice); a table-level failure (a missing column, a wrong type) counts every row, since
    every row is unusable. `sample` holds a few failing rows with the rule they break.
    """

    check: str
    passed: bool
    failing_rows: int
    rows_checked: int
    detail: str
    sample: pl.DataFrame | None = None
    #: failing rows per rule (rule label -> count), for the failing rules only.
    rules: dict[str, int] = field(default_factory=dict)
    #: numbers a soft check compares (a share, a count and its baseline).
    observed: dict[str, float | int | None] = field(default_factory=dict)


def check_results_frame(
    partition_date: date,
    asset: str,
    outcomes: Sequence[CheckOutcome],
    severity: dict[str, str],
    blocking: dict[str, bool],
    checked_at: datetime | None = None,
) -> pl.DataFrame:
    """One history row per outcome (run_id is stamped by the warehouse on write)."""
    stamp = checked_at or datetime.now(UTC)
    return pl.DataFrame(
        [
            {
                "partition_date": partition_date,
                "asset": asset,
                "check_name": outcome.check,
                "severity": severity[outcome.check],
                "blocking": blocking[outcome.check],
                "passed": outcome.passed,
                "failing_rows": outcome.failing_rows,
                "rows_checked": outcome.rows_checked,
                "detail": outcome.detail,
                "checked_at": stamp,
            }
            for outcome in outcomes
        ],
        schema=CHECK_RESULTS_SCHEMA,
    )


def append_check_results(
    warehouse: Warehouse, frame: pl.DataFrame, asset: str, run_id: str
) -> None:
    """Append these results to the history, visible at once (a failed run keeps its check
    results); only this run's earlier rows for this asset and these partitions are replaced
    (a retried step), every other run's rows stay: the slice is (asset, run)."""
    dates = sorted(set(frame["partition_date"].to_list()))
    if not dates:
        return
    warehouse.write_partition(CHECK_RESULTS_TABLE, frame, dates, run_id, unit=unit_name(asset, run_id), publish_now=True)
    for day in dates:  # one slice per (asset, run): the old ones are folded (publication.compact)
        compact(warehouse.root_for(CHECK_RESULTS_TABLE), CHECK_RESULTS_TABLE, day.isoformat(), keep_run=run_id)
