"""The suites of every table the pipeline reads or writes, declared once.

A `TableSuite` lists what a table must look like: its columns with their types, which may be
null, their ranges and label sets, its key, and ordered column pairs. The input suites are
derived from the ingestion contracts (defs/ingest/table_contracts.py, SPEC §2), so a rule is
written in one place; the output suites follow SPEC §7. Each rule belongs to one named
Dagster check (`schema`, `key_unique`, `values_in_range`, `class_labels`,
`projection_consistency`).

`expectation_rules` spells every rule as a great-expectations expectation (kind and kwargs,
plain data). Two engines read that one list: polars_rules.py (the pipeline's, by default)
and gx_rules.py (great-expectations itself, the reference); one evaluation per table and
partition evaluates every rule, and its results are grouped back into those checks
(rule_verdicts.py). `validation.engine` picks the engine of a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator_assets.defs.ingest.table_contracts import ALL_TABLES, TableContract
from solvers.abc import ABC_CLASSES
from solvers.forecasting import FORECAST_METHODS
from solvers.knapsack.problem import SolveStatus
from solvers.knapsack.shortfall import BOUND_BY_VALUES
from solvers.knapsack.site_model import STRATEGIES
from solvers.urgency import LEVELS, URGENCY_CLASSES, URGENCY_REASONS

ColumnType = Literal["str", "int", "float", "date", "bool"]

# The checks the rules are grouped into (Dagster check names).
SCHEMA = "schema"
KEY_UNIQUE = "key_unique"
VALUES_IN_RANGE = "values_in_range"
CLASS_LABELS = "class_labels"
PROJECTION_CONSISTENCY = "projection_consistency"

CHECK_DESCRIPTIONS = {
    SCHEMA: "Columns and types as declared (inputs: exactly the SPEC §2 contract's columns); required columns "
    "have no null.",
    KEY_UNIQUE: "One row per key.",
    VALUES_IN_RANGE: "Values within their SPEC ranges and label sets.",
    CLASS_LABELS: "Every class is one of the 12 SPEC §4 labels (level_ABC), none is null.",
    PROJECTION_CONSISTENCY: "days_to_min <= days_to_stockout when both are set (SPEC §6); the projected minimum "
    "is not above the stock on hand, at the lead time or at the end of the horizon.",
}


@dataclass(frozen=True)
class ColumnRule:
    """A column: its type, whether it may be null, its range or label set.

    `check` names the check its range / label set (and, for a non-nullable column, its
    not-null rule when `null_in_check` is set) belongs to.
    """

    name: str
    type: ColumnType
    nullable: bool = False
    min_value: float | None = None
    strict_min: bool = False
    max_value: float | None = None
    value_set: tuple[str, ...] | None = None
    check: str = VALUES_IN_RANGE
    null_in_check: bool = False


@dataclass(frozen=True)
class PairRule:
    """`high` >= `low` on every row where both are set."""

    high: str
    low: str
    check: str


@dataclass(frozen=True)
class TableSuite:
    schema: str
    table: str
    columns: tuple[ColumnRule, ...]
    key: tuple[str, ...] = ()
    #: inputs: the table has exactly these columns; outputs: at least these.
    exact_columns: bool = False
    pairs: tuple[PairRule, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def asset_path(self) -> list[str]:
        return [self.schema, self.table]

    def check_names(self) -> list[str]:
        """The checks this suite's rules belong to, in a stable order."""
        names = [check for check, _, _ in expectation_rules(self)]
        return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- inputs


def input_suite(contract: TableContract) -> TableSuite:
    """The suite of raw.<stem>, read off its ingestion contract (SPEC §2)."""
    columns = tuple(
        ColumnRule(
            name=column.name,
            type=column.type,
            nullable=column.nullable,
            min_value=column.min_inclusive if column.min_inclusive is not None else column.min_exclusive,
            strict_min=column.min_exclusive is not None,
            max_value=column.max_inclusive,
            value_set=column.domain,
        )
        for column in contract.columns
    )
    pairs = (PairRule(*contract.not_below, check=VALUES_IN_RANGE),) if contract.not_below else ()
    return TableSuite("raw", contract.stem, columns, key=contract.key, exact_columns=True, pairs=pairs)


INPUT_SUITES: tuple[TableSuite, ...] = tuple(input_suite(contract) for contract in ALL_TABLES)

# --------------------------------------------------------------------------- outputs (SPEC §7)

PAIR = ("site_id", "article_id")
_SITE = ColumnRule("site_id", "str")
_ARTICLE = ColumnRule("article_id", "str")
_UNIT = {"min_value": 0.0, "max_value": 1.0}
_CLASS = ColumnRule("class", "str", value_set=URGENCY_CLASSES, check=CLASS_LABELS, null_in_check=True)
_STATUSES = tuple(status.value for status in SolveStatus)

OUTPUT_SUITES: tuple[TableSuite, ...] = (
    TableSuite(
        "stock", "stock_initial",
        (
            _SITE, _ARTICLE,
            ColumnRule("on_hand", "int", min_value=0),
            ColumnRule("stock_min", "int", min_value=0),
            ColumnRule("stock_max", "int", min_value=0),
            ColumnRule("lead_time_days", "int", min_value=0),
            ColumnRule("lot_size", "int", min_value=1),
        ),
        key=PAIR,
        pairs=(PairRule("stock_max", "stock_min", VALUES_IN_RANGE),),
    ),
    TableSuite(
        "stock", "consumption_forecast",
        (
            _SITE, _ARTICLE,
            ColumnRule("method", "str", value_set=FORECAST_METHODS),
            ColumnRule("rate", "float", min_value=0),
            ColumnRule("planned_days", "int", min_value=0),
        ),
        key=PAIR,
    ),
    TableSuite(
        "stock", "forecast_backtest",
        (
            _SITE, _ARTICLE,
            ColumnRule("method", "str", value_set=FORECAST_METHODS),
            ColumnRule("forecast_rate", "float", min_value=0),
            ColumnRule("actual_rate", "float", min_value=0),
            ColumnRule("fitting_mean", "float", min_value=0),
            ColumnRule("best", "bool"),
        ),
        key=(*PAIR, "method"),
    ),
    TableSuite(
        "stock", "stock_projection",
        (
            _SITE, _ARTICLE,
            ColumnRule("on_hand", "float", min_value=0),
            ColumnRule("stock_min", "int", min_value=0),
            ColumnRule("lead_time_days", "int", min_value=0),
            ColumnRule("days_to_min", "int", nullable=True, min_value=0),
            ColumnRule("days_to_stockout", "int", nullable=True, min_value=0),
            ColumnRule("min_projected", "float"),
            ColumnRule("end_projected", "float"),
            ColumnRule("projected_at_lead_time", "float"),
        ),
        key=PAIR,
        pairs=(
            PairRule("days_to_stockout", "days_to_min", PROJECTION_CONSISTENCY),
            PairRule("on_hand", "min_projected", PROJECTION_CONSISTENCY),
            PairRule("end_projected", "min_projected", PROJECTION_CONSISTENCY),
            PairRule("projected_at_lead_time", "min_projected", PROJECTION_CONSISTENCY),
        ),
    ),
    TableSuite("urgence", "urgency_temporal", (_SITE, _ARTICLE, ColumnRule("u_temporal", "float", **_UNIT)), key=PAIR),
    TableSuite(
        "urgence", "urgency_quantitative", (_SITE, _ARTICLE, ColumnRule("u_quantitative", "float", **_UNIT)), key=PAIR
    ),
    # U = w_t U_t + w_q U_q: at least 0; its top depends on the weights, which are parameters.
    TableSuite("urgence", "urgency_total", (_SITE, _ARTICLE, ColumnRule("u_total", "float", min_value=0)), key=PAIR),
    TableSuite(
        "urgence", "abc_classification",
        (
            _ARTICLE,
            ColumnRule("consumption_value", "float", min_value=0),
            ColumnRule("abc", "str", value_set=ABC_CLASSES),
        ),
        key=("article_id",),
    ),
    TableSuite(
        "urgence", "urgency_classification",
        (
            _SITE, _ARTICLE,
            ColumnRule("u_total", "float", min_value=0),
            ColumnRule("level", "str", value_set=LEVELS),
            ColumnRule("reason", "str", value_set=URGENCY_REASONS),
            ColumnRule("abc", "str", value_set=ABC_CLASSES),
            _CLASS,
        ),
        key=PAIR,
    ),
    TableSuite(
        "knapsack", "allocation",
        (
            _SITE, _ARTICLE,
            ColumnRule("category", "str"),
            ColumnRule("level", "str", value_set=LEVELS),
            _CLASS,
            ColumnRule("lots", "int", min_value=0),
            ColumnRule("quantity", "int", min_value=0),
            ColumnRule("volume", "float", min_value=0),
            ColumnRule("value", "float", min_value=0),
            ColumnRule("strategy", "str", value_set=STRATEGIES),
            ColumnRule("status", "str", value_set=_STATUSES),
            # null: the pair got its whole need (lots = u)
            ColumnRule("bound_by", "str", nullable=True, value_set=BOUND_BY_VALUES),
        ),
        key=PAIR,
    ),
    TableSuite(
        "knapsack", "site_summary",
        (
            _SITE,
            ColumnRule("strategy", "str", value_set=STRATEGIES),
            ColumnRule("status", "str", value_set=_STATUSES),
            ColumnRule("objective", "float", min_value=0),
            ColumnRule("bound", "float", nullable=True),
            ColumnRule("gap", "float", nullable=True, min_value=0),
            ColumnRule("volume_used", "float", min_value=0),
            ColumnRule("capacity_total", "float", min_value=0, strict_min=True),
            ColumnRule("solve_ms", "float", min_value=0),
        ),
        key=("site_id",),
    ),
    TableSuite(
        "knapsack", "depot_supply",
        (
            _SITE,
            _ARTICLE,
            ColumnRule("supply", "int", min_value=0),
            ColumnRule("requested", "int", min_value=0),
            ColumnRule("shipped", "int", min_value=0),
            ColumnRule("remaining", "int", min_value=0),
            ColumnRule("critical_short", "int", min_value=0),
        ),
        key=PAIR,
    ),
    TableSuite(
        "knapsack", "group_summary",
        (
            _SITE,
            ColumnRule("strategy", "str", value_set=STRATEGIES),
            ColumnRule("status", "str", value_set=_STATUSES),
            ColumnRule("objective", "float", min_value=0),
            ColumnRule("bound", "float", nullable=True),
            ColumnRule("gap", "float", nullable=True, min_value=0),
            ColumnRule("solve_ms", "float", min_value=0),
            ColumnRule("vans", "int", min_value=1),
            ColumnRule("articles_short", "int", min_value=0),
        ),
        key=("site_id",),
    ),
    TableSuite(
        "knapsack", "category_use",
        (
            _SITE,
            ColumnRule("category", "str"),
            ColumnRule("capacity", "float", nullable=True, min_value=0),
            ColumnRule("used", "float", min_value=0),
        ),
        key=("site_id", "category"),
    ),
    TableSuite(
        "knapsack", "alternatives",
        (
            _SITE,
            ColumnRule("strategy", "str", value_set=STRATEGIES),
            ColumnRule("chosen", "bool"),
            ColumnRule("value", "float", min_value=0),
            ColumnRule("volume", "float", min_value=0),
        ),
        key=("site_id", "strategy"),
    ),
)

TABLE_SUITES: dict[str, TableSuite] = {suite.name: suite for suite in (*INPUT_SUITES, *OUTPUT_SUITES)}


# --------------------------------------------------------------------------- suite -> rules


def expectation_rules(suite: TableSuite) -> Iterator[tuple[str, str, tuple[str, dict[str, Any]]]]:
    """(check, rule label, (GX expectation class name, kwargs)) for every rule of the suite.

    Plain data, so that the rules can be listed (and tested) without importing GX, and so
    that both engines evaluate the same list.
    """
    names = [column.name for column in suite.columns]
    if suite.exact_columns:
        yield SCHEMA, f"columns are exactly {names}", ("ExpectTableColumnsToMatchSet", {"column_set": names, "exact_match": True})
    else:
        for name in names:
            yield SCHEMA, f"column {name} exists", ("ExpectColumnToExist", {"column": name})
    for column in suite.columns:
        yield SCHEMA, f"{column.name} is of type {column.type}", (
            "ExpectColumnValuesToBeOfType", {"column": column.name, "type_": column.type},
        )
        if not column.nullable:
            yield column.check if column.null_in_check else SCHEMA, f"{column.name} is not null", (
                "ExpectColumnValuesToNotBeNull", {"column": column.name},
            )
    if len(suite.key) == 1:
        yield KEY_UNIQUE, f"{suite.key[0]} is unique", ("ExpectColumnValuesToBeUnique", {"column": suite.key[0]})
    elif suite.key:
        yield KEY_UNIQUE, f"({', '.join(suite.key)}) is unique", (
            "ExpectCompoundColumnsToBeUnique", {"column_list": list(suite.key)},
        )
    for column in suite.columns:
        if column.min_value is not None or column.max_value is not None:
            bounds = []
            if column.min_value is not None:
                bounds.append(f"{column.name} {'>' if column.strict_min else '>='} {column.min_value:g}")
            if column.max_value is not None:
                bounds.append(f"{column.name} <= {column.max_value:g}")
            yield column.check, " and ".join(bounds), (
                "ExpectColumnValuesToBeBetween",
                {
                    "column": column.name,
                    "min_value": column.min_value,
                    "max_value": column.max_value,
                    "strict_min": column.strict_min,
                },
            )
        if column.value_set is not None:
            shown = list(column.value_set) if len(column.value_set) <= 6 else f"the {len(column.value_set)} labels"
            yield column.check, f"{column.name} in {shown}", (
                "ExpectColumnValuesToBeInSet", {"column": column.name, "value_set": list(column.value_set)},
            )
    for pair in suite.pairs:
        yield pair.check, f"{pair.high} >= {pair.low} where both are set", (
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": pair.high, "column_B": pair.low, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
        )
