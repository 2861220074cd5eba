"""Whether a partition's plan may leave Réassort, and the published plan it would export.

A plan leaves only when it is the one readers see (published, SPEC §8: its run succeeded)
and nothing found since says the partition is wrong: the latest result of every check of
the partition, among the runs at least as recent as the allocation's run, must not be a
failed blocking check. That catches a later run of the same day that stopped on bad data
(its tables were not published, so the older allocation is still visible, but the day is
now known to be wrong) and a check re-executed alone from the UI that fails.

How "at least as recent" is measured: run ids are not ordered, so a run's time is the
earliest `checked_at` of its rows in validation.check_results (checks run right after the
tables they check); an allocation run with no check rows is dated by its publication.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from orchestrator_assets.defs.export.export_files import ExportPlan
from orchestrator_assets.defs.validation.check_results import CHECK_RESULTS_TABLE
from orchestrator_assets.publication import read_manifest
from orchestrator_assets.warehouse import Warehouse

ALLOCATION_TABLE = "knapsack.allocation"
ARTICLES_TABLE = "raw.articles"
ARTICLE_COLUMNS = "article_id, designation, unit_cost, unit_volume, lot_size, lead_time_days"
SCENARIOS = ("base",)


class ExportRefused(Exception):
    """The partition's plan must not leave (message says why and what to do)."""


@dataclass(frozen=True)
class PublishedPlan:
    plan: ExportPlan
    allocation: pl.DataFrame
    articles: pl.DataFrame


def check_scenario(scenario: str) -> str:
    """Scenarios (issue 16) do not exist yet: only the base plan can be exported."""
    if scenario not in SCENARIOS:
        raise ExportRefused(
            f"unknown scenario {scenario!r}: only 'base' (the published plan) exists; scenarios are not built yet"
        )
    return scenario


def failed_blocking_checks(check_results: pl.DataFrame, run_id: str, since: datetime | None) -> pl.DataFrame:
    """The latest result of each (asset, check) among the rows of `run_id` and the rows
    checked at or after `since`, where that result is a failed blocking check."""
    recent = pl.col("run_id") == run_id
    if since is not None:
        recent = recent | (pl.col("checked_at") >= since)
    latest = (
        check_results.filter(recent)
        .sort("checked_at")
        .group_by("asset", "check_name", maintain_order=True)
        .last()
    )
    return latest.filter(pl.col("blocking") & ~pl.col("passed")).sort("asset", "check_name")


def describe_failures(failures: pl.DataFrame) -> str:
    lines = []
    for row in failures.iter_rows(named=True):
        detail = (row.get("detail") or "").replace("\n", " ")
        detail = detail if len(detail) <= 160 else detail[:157] + "..."
        rows = row.get("failing_rows")
        lines.append(
            f"  {row['asset']} {row['check_name']} (run {str(row['run_id'])[:8]}"
            + (f", {rows} failing rows" if rows is not None else "")
            + (f": {detail}" if detail else "")
            + ")"
        )
    return "\n".join(lines)


def _published_at(root: Path, key: str, run_id: str) -> datetime | None:
    entry = read_manifest(root, key).get(ALLOCATION_TABLE)
    if entry is None or entry.get("run_id") != run_id:
        return None
    return datetime.fromisoformat(entry["published_at"])


def check_gate(warehouse: Warehouse, partition_date: date, allocation_run: str) -> None:
    """Raise ExportRefused naming the failed blocking check(s) of the partition since the
    allocation's run (see the module docstring)."""
    if not warehouse.table_exists(CHECK_RESULTS_TABLE):
        return
    results = warehouse.read_partition(CHECK_RESULTS_TABLE, partition_date).select(
        "asset", "check_name", "blocking", "passed", "failing_rows", "detail", "checked_at", "run_id"
    )
    own = results.filter(pl.col("run_id") == allocation_run)
    since = own["checked_at"].min() if own.height else _published_at(warehouse.root, partition_date.isoformat(), allocation_run)
    failures = failed_blocking_checks(results, allocation_run, since)
    if failures.height:
        names = ", ".join(f"{a} {c}" for a, c in failures.select("asset", "check_name").iter_rows())
        raise ExportRefused(
            f"{partition_date}: blocking check(s) failed since the plan's run {allocation_run[:8]}: {names}\n"
            f"{describe_failures(failures)}\n"
            f"Fix the data and re-run the partition (reassort run --date {partition_date}), then export again."
        )


def strategy_of(allocation: pl.DataFrame) -> str:
    strategies = sorted(str(s) for s in allocation["strategy"].unique().to_list() if s is not None) if allocation.height else []
    return ",".join(strategies) or "none"


def published_plan(root: Path, partition_date: date, scenario: str = "base") -> PublishedPlan:
    """The published allocation of the partition and its articles, once the gate is passed."""
    check_scenario(scenario)
    published = read_manifest(root, partition_date.isoformat())
    entry = published.get(ALLOCATION_TABLE)
    if entry is None:
        raise ExportRefused(
            f"{partition_date}: no published allocation in {root}: run the partition first "
            f"(reassort run --date {partition_date}); a failed run publishes nothing"
        )
    run_id = entry["run_id"]
    warehouse = Warehouse(path=str(root))
    check_gate(warehouse, partition_date, run_id)
    allocation = warehouse.read(f"SELECT * FROM {ALLOCATION_TABLE} WHERE partition_date = ?", [partition_date])
    if ARTICLES_TABLE not in published:
        raise ExportRefused(f"{partition_date}: raw.articles is not published: run the partition first")
    articles = warehouse.read(f"SELECT {ARTICLE_COLUMNS} FROM {ARTICLES_TABLE} WHERE partition_date = ?", [partition_date])
    plan = ExportPlan(partition_date, run_id, strategy_of(allocation), scenario)
    return PublishedPlan(plan, allocation.drop("partition_date", "run_id", strict=False), articles)
