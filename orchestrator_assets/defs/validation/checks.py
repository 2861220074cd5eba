"""VALIDATION_FINALE (SPEC §6): the Dagster asset checks of every input and output table.

One `@multi_asset_check` op per table (`validate_<schema>__<table>`) reads the partition(s)
just written from the warehouse, evaluates the table's GX suite (suites.py) and its
cross-table checks (cross_checks.py), appends every result to validation.check_results,
and reports one Dagster check result per check:

- blocking checks (severity ERROR on failure): the run stops before any asset downstream
  of the table in that partition; the step failure names the asset and the check, the
  check's description says why (rules and counts), its metadata holds a sample of the
  failing rows, and the run log has the same in one error line;
- soft checks (severity WARN, never block): the result is recorded and shown as a warning.

One op per table rather than one per check: a check op is a step, and on the multiprocess
executor a step costs ~2 s of process start-up on 2 cores. One op per table (not per module)
because a check op runs after its table, and a blocking check of stock_initial must not wait
for stock_projection, which is downstream of it.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg
import polars as pl

from orchestrator_assets.defs.validation.check_results import (
    ERROR,
    WARN,
    CheckOutcome,
    append_check_results,
    check_results_frame,
)
from orchestrator_assets.defs.validation.config import ValidationConfig
from orchestrator_assets.defs.validation.cross_checks import (
    capacity_excess,
    critique_count,
    depot_shipped_mismatch,
    depot_supply_excess,
    is_critique_jump,
    quantities_not_in_whole_lots,
    zero_rate_share,
)
from orchestrator_assets.defs.validation.suites import CHECK_DESCRIPTIONS, TABLE_SUITES, TableSuite, validate_frame
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.asset_conventions import CONFIG_TAG
from orchestrator_assets.warehouse import Warehouse

CONFIG_GROUP = "validation"
PARTITIONED_CHECKS = False
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


def read_partitions(warehouse: Warehouse, table: str, dates: Sequence[date]) -> dict[date, pl.DataFrame]:
    """The rows of `table` for each of `dates` (an empty frame for a date without rows),
    without the lineage columns."""
    if not warehouse.table_exists(table):
        raise dg.Failure(f"Table {table} does not exist yet: materialise {table.replace('.', '/')} first.")
    schema, name = table.split(".")
    rows = warehouse.read(
        f'SELECT * EXCLUDE (run_id) FROM "{schema}"."{name}" WHERE partition_date IN (SELECT UNNEST(?::DATE[]))',
        [list(dates)],
    )
    empty = rows.clear().drop("partition_date")
    by_date = {
        key[0]: frame.drop("partition_date")
        for key, frame in rows.partition_by("partition_date", as_dict=True, maintain_order=True).items()
    }
    return {day: by_date.get(day, empty) for day in dates}


@dataclass
class CheckInputs:
    """What a cross-table check sees: its table's rows for one day, the other tables of the
    same day (read on demand, once), the run's thresholds."""

    warehouse: Warehouse
    partition_date: date
    frame: pl.DataFrame
    config: ValidationConfig
    _tables: dict[tuple[str, date], pl.DataFrame] = field(default_factory=dict)

    def table(self, name: str, day: date | None = None) -> pl.DataFrame:
        day = day or self.partition_date
        if (name, day) not in self._tables:
            self._tables[(name, day)] = read_partitions(self.warehouse, name, [day])[day]
        return self._tables[(name, day)]


# --------------------------------------------------------------------------- cross-table checks


@dataclass(frozen=True)
class CrossCheck:
    name: str
    description: str
    blocking: bool
    evaluate: Callable[[CheckInputs], CheckOutcome]
    reads: tuple[str, ...] = ()


def _sample(frame: pl.DataFrame, rows: int) -> pl.DataFrame | None:
    return frame.head(rows) if frame.height else None


def within_capacity(inputs: CheckInputs) -> CheckOutcome:
    over = capacity_excess(
        inputs.frame,
        inputs.table("raw.articles"),
        inputs.table("raw.sites"),
        inputs.table("raw.site_capacities"),
        tolerance=inputs.config.capacity_tolerance,
    )
    sites = inputs.frame["site_id"].n_unique() if inputs.frame.height else 0
    if over.height == 0:
        return CheckOutcome("within_capacity", True, 0, inputs.frame.height, f"ok: {sites} sites within every capacity")
    first = over.row(0, named=True)
    detail = (
        f"{over.height} (site, capacity) pairs exceeded over {over['site_id'].n_unique()} sites; worst: site "
        f"{first['site_id']} {first['scope']} uses {first['used']:.4g} of {first['capacity']} "
        "(volume = quantity x unit_volume of raw.articles; SPEC §2 default capacities)"
    )
    return CheckOutcome(
        "within_capacity", False, over.height, inputs.frame.height, detail, _sample(over, inputs.config.sample_rows),
        rules={f"{scope} exceeded": count for scope, count in over.group_by("scope").len().sort("scope").iter_rows()},
    )


def whole_lots(inputs: CheckInputs) -> CheckOutcome:
    bad = quantities_not_in_whole_lots(inputs.frame, inputs.table("raw.articles"))
    if bad.height == 0:
        return CheckOutcome("whole_lots", True, 0, inputs.frame.height, f"ok: {inputs.frame.height} rows in whole lots")
    reasons = dict(bad.group_by("reason").len().sort("reason").iter_rows())
    first = bad.row(0, named=True)
    detail = (
        f"{bad.height} of {inputs.frame.height} rows not in whole lots: "
        + ", ".join(f"{reason} ({count})" for reason, count in reasons.items())
        + f"; e.g. site {first['site_id']} article {first['article_id']}: quantity {first['quantity']}, "
        f"lots {first['lots']}, lot_size {first['lot_size']}"
    )
    return CheckOutcome(
        "whole_lots", False, bad.height, inputs.frame.height, detail, _sample(bad, inputs.config.sample_rows), reasons
    )


def within_depot_supply(inputs: CheckInputs) -> CheckOutcome:
    over = depot_supply_excess(inputs.frame, inputs.table("raw.articles"), inputs.table("raw.stock_levels"))
    if over.height == 0:
        return CheckOutcome("within_depot_supply", True, 0, inputs.frame.height,
                            "ok: no depot ships more than on hand - stock_min of any article")
    first = over.row(0, named=True)
    detail = (
        f"{over.height} (depot, article) pairs ship more than their supply; worst: depot {first['site_id']} "
        f"article {first['article_id']} ships {first['shipped']:.0f} of {first['supply']:.0f} "
        "(supply = on hand - stock_min, re-derived from raw.stock_levels and raw.articles)"
    )
    return CheckOutcome("within_depot_supply", False, over.height, inputs.frame.height, detail,
                        _sample(over, inputs.config.sample_rows))


def shipped_equals_vans(inputs: CheckInputs) -> CheckOutcome:
    bad = depot_shipped_mismatch(inputs.frame, inputs.table("knapsack.allocation"))
    if bad.height == 0:
        return CheckOutcome("shipped_equals_vans", True, 0, inputs.frame.height,
                            "ok: every depot's shipped = the sum of its vans' quantities")
    first = bad.row(0, named=True)
    detail = (
        f"{bad.height} (depot, article) pairs where shipped differs from the vans' quantities; e.g. depot "
        f"{first['site_id']} article {first['article_id']}: shipped {first['shipped']}, "
        f"allocation {first['from_allocation']}"
    )
    return CheckOutcome("shipped_equals_vans", False, bad.height, inputs.frame.height, detail,
                        _sample(bad, inputs.config.sample_rows))


def zero_rate_share_check(inputs: CheckInputs) -> CheckOutcome:
    share = zero_rate_share(inputs.frame)
    limit = inputs.config.zero_rate_share_max
    zeros = int(round(share * inputs.frame.height))
    passed = share <= limit
    detail = f"{share:.1%} of {inputs.frame.height} pairs have a zero rate ({'within' if passed else 'above'} {limit:.0%})"
    if not passed:
        detail += ": is the consumption history loaded? (raw.movements of the window)"
    return CheckOutcome(
        "zero_rate_share", passed, 0 if passed else zeros, inputs.frame.height, detail,
        observed={"zero_rate_share": round(share, 6), "zero_rate_pairs": zeros, "limit": limit},
    )


def critique_jump_check(inputs: CheckInputs) -> CheckOutcome:
    current = critique_count(inputs.frame)
    previous_day = inputs.partition_date - timedelta(days=1)
    previous_rows = inputs.table("urgence.urgency_classification", previous_day)
    previous = critique_count(previous_rows) if previous_rows.height else None
    ratio, increase = inputs.config.critique_jump_ratio, inputs.config.critique_jump_min_pairs
    jump = is_critique_jump(current, previous, ratio, increase)
    if previous is None:
        detail = f"{current} CRITIQUE pairs; no partition {previous_day} to compare with"
    else:
        detail = (
            f"{current} CRITIQUE pairs against {previous} on {previous_day}"
            + (f": a jump (> {ratio:g}x and > {increase} more)" if jump else f" (no jump: > {ratio:g}x and > {increase} more warns)")
        )
    return CheckOutcome(
        "critique_jump", not jump, current - (previous or 0) if jump else 0, inputs.frame.height, detail,
        observed={"critique_pairs": current, "critique_pairs_previous": previous},
    )


CROSS_CHECKS: dict[str, tuple[CrossCheck, ...]] = {
    "knapsack.allocation": (
        CrossCheck(
            "within_capacity",
            "Every site's allocated volume (quantity x unit_volume) within its total capacity and each category "
            "limit, with the SPEC §2 defaults (total 120 when empty; FIBRE 50 / CUIVRE 40 for a site without "
            "site_capacities rows). Re-derived in Polars, independently of solvers.knapsack.",
            True,
            within_capacity,
            reads=("raw.articles", "raw.sites", "raw.site_capacities"),
        ),
        CrossCheck(
            "whole_lots",
            "Every quantity is lots x lot_size of its article in raw.articles (whole lots).",
            True,
            whole_lots,
            reads=("raw.articles",),
        ),
        CrossCheck(
            "within_depot_supply",
            "SPEC §5.2: no depot ships more of an article than its supply (on hand - stock_min, 0 without a stock "
            "row), re-derived from raw.stock_levels and raw.articles independently of solvers.knapsack.",
            True,
            within_depot_supply,
            reads=("raw.articles", "raw.stock_levels"),
        ),
    ),
    "knapsack.depot_supply": (
        CrossCheck(
            "shipped_equals_vans",
            "Every depot's shipped quantity of an article is the sum of the quantities its vans receive from it "
            "in knapsack.allocation.",
            True,
            shipped_equals_vans,
            reads=("knapsack.allocation",),
        ),
    ),
    "stock.consumption_forecast": (
        CrossCheck(
            "zero_rate_share",
            "Soft: warns when the share of pairs with a zero consumption rate is above validation.zero_rate_share_max.",
            False,
            zero_rate_share_check,
        ),
    ),
    "urgence.urgency_classification": (
        CrossCheck(
            "critique_jump",
            "Soft: warns when the CRITIQUE-level pairs jump against the previous partition (more than "
            "critique_jump_ratio times and more than critique_jump_min_pairs more).",
            False,
            critique_jump_check,
        ),
    ),
}


# --------------------------------------------------------------------------- Dagster


@dataclass(frozen=True)
class CheckDeclaration:
    name: str
    description: str
    blocking: bool
    reads: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        return ERROR if self.blocking else WARN


def declarations(suite: TableSuite) -> list[CheckDeclaration]:
    """Every check of a table: its GX checks (all blocking), then its cross-table checks."""
    gx_checks = [CheckDeclaration(name, CHECK_DESCRIPTIONS[name], True) for name in suite.check_names()]
    cross = [CheckDeclaration(c.name, c.description, c.blocking, c.reads) for c in CROSS_CHECKS.get(suite.name, ())]
    return gx_checks + cross


def evaluate_partition(
    suite: TableSuite, inputs: CheckInputs, same_rows_as: "tuple[pl.DataFrame, list[CheckOutcome]] | None" = None
) -> tuple[list[CheckOutcome], dict[str, float]]:
    """Every check of `suite` on one day's rows; with the seconds each evaluation took.

    `same_rows_as` is a previous day's (rows, GX outcomes): when this day's rows are equal
    (the reference tables, over a range of days), its GX verdict is reused instead of
    validated again (~0.4 s per day for raw.articles of `large`).
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if same_rows_as is not None and inputs.frame.equals(same_rows_as[0]):
        outcomes = list(same_rows_as[1])
    else:
        outcomes = validate_frame(suite, inputs.frame, inputs.config.sample_rows)
    gx_seconds = time.perf_counter() - started
    seconds.update({outcome.check: gx_seconds for outcome in outcomes})
    for cross in CROSS_CHECKS.get(suite.name, ()):
        started = time.perf_counter()
        outcomes.append(cross.evaluate(inputs))
        seconds[cross.name] = time.perf_counter() - started
    return outcomes, seconds


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
        # A table's GX checks share one validation pass: each reports that pass's time.
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


def build_table_checks(suite: TableSuite, partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(suite.asset_path)
    asset = key.to_user_string()
    checks = declarations(suite)
    specs = [
        dg.AssetCheckSpec(
            check.name,
            asset=key,
            description=check.description,
            blocking=check.blocking,
            partitions_def=partitions_def if PARTITIONED_CHECKS else None,
            additional_deps=[dg.AssetKey(table.split(".")) for table in check.reads],
            metadata={"severity": check.severity},
        )
        for check in checks
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"validate_{suite.schema}__{suite.table}",
        description=f"VALIDATION_FINALE checks of {suite.name} (GX suite {suite.name} + cross-table checks).",
        op_tags={CONFIG_TAG: CONFIG_GROUP},
    )
    def _validate(context: dg.AssetCheckExecutionContext, config: ValidationConfig, warehouse: Warehouse):
        started = time.perf_counter()
        dates = partition_dates(context, warehouse, suite.name)
        frames = read_partitions(warehouse, suite.name, dates)
        per_check: dict[str, list[tuple[date, CheckOutcome, float]]] = {check.name: [] for check in checks}
        history = []
        previous = None
        for day in dates:
            inputs = CheckInputs(warehouse, day, frames[day], config)
            outcomes, seconds = evaluate_partition(suite, inputs, previous)
            previous = (frames[day], outcomes[: len(suite.check_names())])
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
        context.log.info(
            f"{asset}: {len(checks)} checks on {len(dates)} partition(s) in {time.perf_counter() - started:.2f} s"
        )
        for check in checks:
            yield check_result(key, check, per_check[check.name])

    return _validate


def build_validation_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """The checks of every raw.* input and every module output (one op per table)."""
    return [build_table_checks(suite, partitions_def) for suite in TABLE_SUITES.values()]
