"""What-if scenarios, kept apart from the official plan ('base').

A scenario run is a run of the daily job's modules tagged `reassort/scenario=NAME`
(`reassort run --scenario NAME`, a workflow's `scenario:`, or the tag set in the UI's
launchpad; the UI lists, filters and re-executes such runs like any other). Its module
tables (stock, urgence, knapsack, validation.check_results, report files) are written
into their own warehouse folder, `<warehouse>/_scenarios/NAME/`, with the same layout
(files per table and partition, manifests, journals): a what-if can never replace a file
of the official plan, and dropping a scenario is deleting its folder. The inputs are
shared: raw tables (and the rows rejected at ingestion) live in the base warehouse only,
so a scenario reads the official extracts of the day.

Inside a scenario run, a table is read from the scenario where the scenario has it for
that partition, else from the base (a what-if that re-runs only the knapsack reads the
official urgency classes). Every module row carries `scenario` ('base' in the official
plan), so rows of two scenarios put side by side stay told apart.

Why run tags and not a dynamic partition dimension (date x scenario): a second dimension
would change the partitions of every module asset, so every schedule, backfill, sensor,
freshness rule and partition mapping from the daily raw tables would have to change with
it, and the official plan's asset pages would mix with every planner's experiments; a tag
leaves the official pipeline as it is, and a scenario stays visible (run tags, filters)
and re-runnable (re-execution keeps the tags) in the UI. Materialisations of scenario runs
do appear in the asset's history; they are marked with `scenario` metadata, and the
freshness rule (partition_deadline.py) counts official runs only.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg

SCENARIO_TAG = "reassort/scenario"
BASE = "base"
SCENARIOS_DIR = "_scenarios"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
#: tables every scenario shares with the official plan: the day's inputs
SHARED_SCHEMAS = frozenset({"raw"})
SHARED_TABLES = frozenset({"validation.rejected_rows"})


def check_scenario_name(name: str) -> str:
    """A scenario name: a letter, then letters, digits or '_' (40 at most); never 'base'."""
    if not _NAME.fullmatch(name or ""):
        raise ValueError(
            f"scenario name {name!r}: a letter, then letters, digits or '_' (at most 40 characters)"
        )
    if name.lower() == BASE:
        raise ValueError("'base' is the official plan, not a scenario: run without --scenario to replace it")
    return name


def is_shared(table: str) -> bool:
    """Tables a scenario reads from the official warehouse and never writes."""
    return table in SHARED_TABLES or table.split(".", 1)[0] in SHARED_SCHEMAS


def scenario_root(root: Path, name: str) -> Path:
    return root / SCENARIOS_DIR / check_scenario_name(name)


def scenario_of(run: dg.DagsterRun | None) -> str | None:
    """The run's scenario, None for the official plan (no tag, or 'base'). A malformed tag
    fails the run at once (it would otherwise write where nobody looks)."""
    if run is None:
        return None
    name = run.tags.get(SCENARIO_TAG, "").strip()
    if not name or name == BASE:
        return None
    return check_scenario_name(name)


def list_scenarios(root: Path) -> list[str]:
    folder = root / SCENARIOS_DIR
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.iterdir() if path.is_dir() and _NAME.fullmatch(path.name))


def drop_scenario(root: Path, name: str) -> Path:
    """Delete a scenario's tables (its whole folder). The official plan cannot be named."""
    folder = scenario_root(root, name)
    if not folder.is_dir():
        known = ", ".join(list_scenarios(root)) or "none"
        raise FileNotFoundError(f"no scenario {name!r} in {root} (scenarios: {known})")
    shutil.rmtree(folder)
    return folder
