"""VALIDATION_FINALE (SPEC §6): the Dagster asset checks of every input and output table.

This module is the Dagster wiring only: which checks a table has, and how each is evaluated,
is check_registry.py (its suite checks from suites.py, its cross-table checks CROSS_CHECKS).

A table's checks are check specs of the asset that writes it (`table_check_specs`), and they
run in that asset's own step (`with_checks`): the step computes the frame, the IO manager
writes it, then the table's checks are evaluated on the frame still in memory, every result
is appended to validation.check_results, and one Dagster check result is reported per check:

- blocking checks (severity ERROR on failure): Dagster fails the step once its outputs are
  written, naming the asset and the check, so no asset downstream of the table runs in that
  partition; the check's description says why (rules and counts), its metadata holds a
  sample of the failing rows, and the run log has the same in one error line;
- soft checks (severity WARN, never block): the result is recorded and shown as a warning.

Why in the asset's step (issue 14): a separate check op was a step of its own, ~0.1 s of
Dagster overhead on a tiny day, plus the read back of the partition just written (19 check
steps: 2.4 s of a `large` day). In the step, the checks see the very frame the IO manager
wrote (the files add only the lineage columns partition_date, run_id and scenario), and a
cross-table check of the knapsack's tables reads the other tables of its step from memory.
The cost: a check cannot run without its asset (Dagster runs an asset's check specs in the
asset's op); re-running a check means re-materialising its partition, which is idempotent.

One table keeps a check op of its own, `validate_knapsack__alternatives`
(`build_standalone_checks`): knapsack.alternatives is written on request only, and a check
spec of a step must report on every run of the step, while an op of its own is skipped when
the table was not written. That op reads the partition back from the warehouse.

The thresholds and the engine are the `validation` resource (`ValidationSettings`), so that
`--set validation.<name>=…` reaches every step that checks a table.

Partition ranges (the single-run backfills of the raw tables) are checked day by day: one
history row per day and check, one Dagster result per check for the run.

The checks are not partitioned in Dagster (the UI shows each check's latest result, whose
metadata names the partition): Dagster 1.13 marks partitioned asset checks as a preview that
"may have breaking changes in patch releases", and dagster is pinned to 1.13.*. The history
per partition is validation.check_results. `PARTITIONED_CHECKS = True` switches to partitioned
checks once they are stable.
"""

import functools
import inspect
import time
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import date

import dagster as dg
import polars as pl

from orchestrator_assets.defs.knapsack.config import KNAPSACK_OP
from orchestrator_assets.defs.validation.check_inputs import CheckInputs, read_partitions
from orchestrator_assets.defs.validation.check_registry import CheckDeclaration, declarations, evaluate_partition
from orchestrator_assets.defs.validation.check_results import CheckOutcome, append_check_results, check_results_frame
from orchestrator_assets.defs.validation.config import VALIDATION_RESOURCE, ValidationSettings
from orchestrator_assets.defs.validation.suites import TABLE_SUITES, TableSuite
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.warehouse import Warehouse, rows_by_partition

PARTITIONED_CHECKS = False
#: the output of a single-output asset, as Dagster names it
SINGLE_OUTPUT = "result"
DESCRIPTION_LIMIT = 1500


# --------------------------------------------------------------------------- declaring


def table_check_specs(tables: typing.Iterable[str], partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The check specs of these tables (those with a suite), for the asset (or multi-asset)
    that writes them; a check depends on the other tables it reads, outside that step."""
    tables = list(tables)
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=dg.AssetKey(TABLE_SUITES[table].asset_path),
            description=check.description,
            blocking=check.blocking,
            partitions_def=partitions_def if PARTITIONED_CHECKS else None,
            additional_deps=[dg.AssetKey(other.split(".")) for other in check.reads if other not in tables],
            metadata={"severity": check.severity},
        )
        for table in tables
        if table in TABLE_SUITES
        for check in declarations(TABLE_SUITES[table])
    ]


# --------------------------------------------------------------------------- evaluating


def frames_by_day(frame: pl.DataFrame, dates: list[date]) -> dict[date, pl.DataFrame]:
    """One day's rows per partition of the run, without partition_date: a range's frame
    carries it (as the IO manager writes it, one file per day), a single day's does not."""
    if len(dates) == 1:
        return {dates[0]: frame.drop("partition_date", strict=False)}
    return {day: rows.drop("partition_date") for day, rows in rows_by_partition(frame, dates).items()}


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
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    settings: ValidationSettings,
    warehouse: Warehouse,
    suite: TableSuite,
    checks: list[CheckDeclaration],
    step_frames: Mapping[str, Mapping[date, pl.DataFrame]],
) -> Iterator[dg.AssetCheckResult]:
    """One table's `checks` over the run's partition(s): evaluated on the frames the step
    wrote (`step_frames`: table -> day -> rows), appended to the history, logged, and one
    Dagster result each. A cross-table check reads the step's other tables from there, any
    other table from the warehouse."""
    started = time.perf_counter()
    key = dg.AssetKey(suite.asset_path)
    asset = key.to_user_string()
    wanted = {check.name for check in checks}
    frames = step_frames[suite.name]
    per_check: dict[str, list[tuple[date, CheckOutcome, float]]] = {check.name: [] for check in checks}
    history = []
    previous = None
    overrides = capacity_overrides(context.run.run_config)
    for day, frame in frames.items():
        same_step = {(table, day): by_day[day] for table, by_day in step_frames.items()}
        inputs = CheckInputs(warehouse, day, frame, settings, overrides, same_step)
        outcomes, seconds = evaluate_partition(suite, inputs, previous)
        previous = (frame, outcomes[: len(suite.check_names())])
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
    context.log.info(f"{asset}: {len(checks)} checks on {len(frames)} partition(s) in {time.perf_counter() - started:.2f} s")
    for check in checks:
        yield check_result(key, check, per_check[check.name])


def output_check_results(
    context: dg.AssetExecutionContext,
    settings: ValidationSettings,
    warehouse: Warehouse,
    frames: Mapping[str, pl.DataFrame],
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks of every table the step wrote (`frames`: table -> its output)."""
    dates = [date.fromisoformat(partition) for partition in context.partition_keys]
    step_frames = {table: frames_by_day(frame, dates) for table, frame in frames.items()}
    selected = context.selected_asset_check_keys
    for table in frames:
        suite = TABLE_SUITES.get(table)
        if suite is None:
            continue
        key = dg.AssetKey(suite.asset_path)
        checks = [check for check in declarations(suite) if dg.AssetCheckKey(key, check.name) in selected]
        if checks:
            yield from check_table(context, settings, warehouse, suite, checks, step_frames)


# --------------------------------------------------------------------------- Dagster


def with_checks(body: Callable, tables: Mapping[str, str]) -> Callable:
    """`body` (an asset body returning an Output, or yielding Outputs) as a generator that
    yields its outputs, then the check results of the tables they hold (`tables`: output
    name -> table). Its signature is the body's with `context`, `warehouse` and the
    `validation` resource added where missing, so that Dagster provides them."""
    signature = inspect.signature(body)
    hints = typing.get_type_hints(body)
    parameters = [
        parameter.replace(annotation=hints.get(name, parameter.annotation))
        for name, parameter in signature.parameters.items()
    ]
    takes_context = bool(parameters) and parameters[0].name == "context"
    takes_warehouse = "warehouse" in signature.parameters
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if not takes_context:
        parameters.insert(0, inspect.Parameter("context", kind, annotation=dg.AssetExecutionContext))
    if not takes_warehouse:
        parameters.append(inspect.Parameter("warehouse", kind, annotation=Warehouse))
    parameters.append(inspect.Parameter(VALIDATION_RESOURCE, kind, annotation=ValidationSettings))

    @functools.wraps(body)
    def checked(context: dg.AssetExecutionContext, **kwargs) -> Iterator:
        settings = kwargs.pop(VALIDATION_RESOURCE)
        warehouse = kwargs["warehouse"] if takes_warehouse else kwargs.pop("warehouse")
        result = body(context, **kwargs) if takes_context else body(**kwargs)
        outputs = result if inspect.isgenerator(result) else [result if isinstance(result, dg.Output) else dg.Output(result)]
        frames: dict[str, pl.DataFrame] = {}
        for output in outputs:
            yield output
            table = tables.get(output.output_name) if isinstance(output, dg.Output) else None
            if table is not None:
                frames[table] = output.value
        yield from output_check_results(context, settings, warehouse, frames)

    checked.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return checked


def partition_dates(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, table: str) -> list[date]:
    """The run's partition(s); for a run without partition (the check alone, from the UI),
    the table's latest one."""
    if context.has_partition_key or context.has_partition_key_range:
        return [date.fromisoformat(partition) for partition in context.partition_keys]
    if warehouse.table_exists(table):
        latest = warehouse.read(f"SELECT max(partition_date) AS latest FROM {table}")["latest"][0]
        if latest is not None:
            return [latest]
    raise dg.Failure(f"Table {table} has no partition yet: materialise {table.replace('.', '/')} first.")


def build_standalone_checks(table: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """The checks of `table` as an op of their own, `validate_<schema>__<name>`, reading the
    run's partition(s) back: for a table its step writes on request only (module docstring)."""
    suite = TABLE_SUITES[table]

    @dg.multi_asset_check(
        specs=table_check_specs([table], partitions_def),
        name=f"validate_{suite.schema}__{suite.table}",
        description=f"VALIDATION_FINALE checks of {table} (its suite + cross-table checks), when it is written.",
        can_subset=True,
    )
    def _validate(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, validation: ValidationSettings):
        key = dg.AssetKey(suite.asset_path)
        checks = [c for c in declarations(suite) if dg.AssetCheckKey(key, c.name) in context.selected_asset_check_keys]
        frames = read_partitions(warehouse, table, partition_dates(context, warehouse, table))
        yield from check_table(context, validation, warehouse, suite, checks, {table: frames})

    return _validate
