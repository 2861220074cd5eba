"""VALIDATION_FINALE (SPEC §6): the Dagster asset checks of every input and output table.

This module is the Dagster wiring only: which checks a table has, and how each is evaluated,
is check_registry.py (its suite checks from suites.py, its cross-table checks CROSS_CHECKS).

One `@multi_asset_check` op per table (`validate_<schema>__<table>`), or per step for the
tables one step writes together (`validate_knapsack`: allocation, site_summary, category_use,
depot_supply, group_summary), reads the partition(s) just written from the warehouse,
evaluates the table's checks (check_registry.py), appends every result to
validation.check_results, and reports one Dagster check result per check:

- blocking checks (severity ERROR on failure): the run stops before any asset downstream
  of the table in that partition; the step failure names the asset and the check, the
  check's description says why (rules and counts), its metadata holds a sample of the
  failing rows, and the run log has the same in one error line;
- soft checks (severity WARN, never block): the result is recorded and shown as a warning.

Why not one op per check: a check op is a step, and a step costs ~0.2 s in process (~2 s of
process start-up with the multiprocess executor). Why not one op per module: a check op runs
after every table it checks, and a blocking check of stock_initial must hold back
stock_projection, which is downstream of it; given one op over a chain of tables, Dagster
splits it into nodes named `<op>_2`, `<op>_3`... (measured: 23 tables became 12 nodes), whose
run config paths users cannot guess. Tables written by the same step have no such order
between them, so they share one op (issue 14: 19 check steps instead of 23).

Partition ranges (the single-run backfills of the raw tables) are checked day by day: one
history row per day and check, one Dagster result per check for the run.

The checks are not partitioned in Dagster (the UI shows each check's latest result, whose
metadata names the partition): Dagster 1.13 marks partitioned asset checks as a preview that
"may have breaking changes in patch releases", and dagster is pinned to 1.13.*. The history
per partition is validation.check_results. `PARTITIONED_CHECKS = True` switches to partitioned
checks once they are stable. A check executed alone from the UI (no partition) checks the
table's latest partition.
"""

import time
from collections.abc import Iterator
from datetime import date

import dagster as dg
import polars as pl

from orchestrator_assets.asset_conventions import CONFIG_TAG
from orchestrator_assets.defs.knapsack.config import KNAPSACK_OP
from orchestrator_assets.defs.validation.check_inputs import CheckInputs, read_partitions
from orchestrator_assets.defs.validation.check_registry import CheckDeclaration, declarations, evaluate_partition
from orchestrator_assets.defs.validation.check_results import CheckOutcome, append_check_results, check_results_frame
from orchestrator_assets.defs.validation.config import ValidationConfig
from orchestrator_assets.defs.validation.suites import TABLE_SUITES, TableSuite
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.warehouse import Warehouse

CONFIG_GROUP = "validation"
PARTITIONED_CHECKS = False
#: tables one step writes together (the knapsack multi-asset), checked by one op named after
#: the step; knapsack.alternatives, written on request only, is not among them: an op whose
#: input was not produced is skipped, and would take the other tables' checks with it
CHECKED_TOGETHER = {
    "knapsack": frozenset({
        "knapsack.allocation", "knapsack.site_summary", "knapsack.category_use", "knapsack.depot_supply",
        "knapsack.group_summary",
    }),
}  # fmt: skip
DESCRIPTION_LIMIT = 1500


# --------------------------------------------------------------------------- reading


def partition_dates(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, table: str) -> list[date]:
    """The run's partition(s); for a run without partition, the table's latest one."""
    if context.has_partition_key or context.has_partition_key_range:
        return [date.fromisoformat(partition) for partition in context.partition_keys]
    if warehouse.table_exists(table):
        latest = warehouse.read(f"SELECT max(partition_date) AS latest FROM {table}")["latest"][0]
        if latest is not None:
            return [latest]
    raise dg.Failure(f"Table {table} has no partition yet: materialise {table.replace('.', '/')} first.")


# --------------------------------------------------------------------------- Dagster


def _truncate(text: str) -> str:
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def check_result(
    key: dg.AssetKey,
    declaration: CheckDeclaration,
    per_day: list[tuple[date, CheckOutcome, float]],
) -> dg.AssetCheckResult:
    """One Dagster result for a check over the run's partition(s)."""
    failing = [(day, outcome) for day, outcome, _ in per_day if not outcome.passed]
    if len(per_day) == 1:
        description = per_day[0][1].detail
    elif failing:
        description = f"failed on {len(failing)} of {len(per_day)} partitions: " + "; ".join(
            f"{day}: {outcome.detail}" for day, outcome in failing
        )
    else:
        description = f"passed on {len(per_day)} partitions ({per_day[0][0]} .. {per_day[-1][0]})"
    first_day, last_day = per_day[0][0], per_day[-1][0]
    metadata: dict[str, object] = {
        "partition": dg.MetadataValue.text(str(first_day) if first_day == last_day else f"{first_day} .. {last_day}"),
        "failing_rows": sum(outcome.failing_rows for _, outcome, _ in per_day),
        "rows_checked": sum(outcome.rows_checked for _, outcome, _ in per_day),
        "severity": declaration.severity,
        # A table's suite checks share one evaluation pass: each reports that pass's time.
        "seconds": round(sum(seconds for _, _, seconds in per_day), 3),
    }
    if failing:
        metadata["failing_partitions"] = dg.MetadataValue.text(", ".join(str(day) for day, _ in failing))
        day, first = failing[0]
        if first.sample is not None:
            metadata["failing_sample"] = dg.MetadataValue.md(f"{day}\n\n" + markdown_table(first.sample))
        if first.rules:
            metadata["failing_rules"] = dg.MetadataValue.json(first.rules)
    observed = per_day[-1][1].observed
    for name, value in observed.items():
        metadata[name] = value if value is not None else dg.MetadataValue.text("none")
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=declaration.name,
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR if declaration.blocking else dg.AssetCheckSeverity.WARN,
        description=_truncate(description),
        metadata=metadata,
    )


def capacity_overrides(run_config: dict) -> dict[str, dict[str, float]]:
    """The run's knapsack.capacity overrides, as the knapsack step received them."""
    knapsack = (run_config.get("ops") or {}).get(KNAPSACK_OP) or {}
    return dict((knapsack.get("config") or {}).get("capacity") or {})


def check_table(
    context: dg.AssetCheckExecutionContext,
    config: ValidationConfig,
    warehouse: Warehouse,
    suite: TableSuite,
    checks: list[CheckDeclaration],
) -> Iterator[dg.AssetCheckResult]:
    """One table's `checks` over the run's partition(s): evaluated, appended to the history,
    logged, and one Dagster result each."""
    started = time.perf_counter()
    key = dg.AssetKey(suite.asset_path)
    asset = key.to_user_string()
    wanted = {check.name for check in checks}
    dates = partition_dates(context, warehouse, suite.name)
    frames = read_partitions(warehouse, suite.name, dates)
    per_check: dict[str, list[tuple[date, CheckOutcome, float]]] = {check.name: [] for check in checks}
    history = []
    previous = None
    for day in dates:
        inputs = CheckInputs(warehouse, day, frames[day], config, capacity_overrides(context.run.run_config))
        outcomes, seconds = evaluate_partition(suite, inputs, previous)
        previous = (frames[day], outcomes[: len(suite.check_names())])
        outcomes = [outcome for outcome in outcomes if outcome.check in wanted]
        for outcome in outcomes:
            per_check[outcome.check].append((day, outcome, seconds[outcome.check]))
        history.append(
            check_results_frame(
                day, asset, outcomes,
                severity={check.name: check.severity for check in checks},
                blocking={check.name: check.blocking for check in checks},
            )
        )
    append_check_results(warehouse, pl.concat(history), asset, context.run.run_id)
    for check in checks:
        for day, outcome, _ in per_check[check.name]:
            if not outcome.passed:
                log = context.log.error if check.blocking else context.log.warning
                log(f"{'blocking' if check.blocking else 'soft'} check {asset} {check.name} failed on {day}: "
                    f"{_truncate(outcome.detail)}")
    context.log.info(f"{asset}: {len(checks)} checks on {len(dates)} partition(s) in {time.perf_counter() - started:.2f} s")
    for check in checks:
        yield check_result(key, check, per_check[check.name])


def build_table_checks(name: str, suites: list[TableSuite], partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """The checks of `suites` (one table, or the tables one step writes), as one op `validate_<name>`."""
    specs = [
        dg.AssetCheckSpec(
            check.name,
            asset=dg.AssetKey(suite.asset_path),
            description=check.description,
            blocking=check.blocking,
            partitions_def=partitions_def if PARTITIONED_CHECKS else None,
            additional_deps=[dg.AssetKey(table.split(".")) for table in check.reads],
            metadata={"severity": check.severity},
        )
        for suite in suites
        for check in declarations(suite)
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"validate_{name}",
        description=f"VALIDATION_FINALE checks of {', '.join(suite.name for suite in suites)} (their suites, "
        "evaluated by validation.engine, + cross-table checks).",
        can_subset=True,
        op_tags={CONFIG_TAG: CONFIG_GROUP},
    )
    def _validate(context: dg.AssetCheckExecutionContext, config: ValidationConfig, warehouse: Warehouse):
        selected = context.selected_asset_check_keys
        for suite in suites:
            key = dg.AssetKey(suite.asset_path)
            checks = [check for check in declarations(suite) if dg.AssetCheckKey(key, check.name) in selected]
            if checks:
                yield from check_table(context, config, warehouse, suite, checks)

    return _validate


def build_validation_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """The checks of every raw.* input and every module output: one op per table, or per step
    for the tables a step writes together."""
    ops: dict[str, list[TableSuite]] = {}
    for suite in TABLE_SUITES.values():
        step = next((name for name, tables in CHECKED_TOGETHER.items() if suite.name in tables), None)
        ops.setdefault(step or f"{suite.schema}__{suite.table}", []).append(suite)
    return [build_table_checks(name, suites, partitions_def) for name, suites in ops.items()]
