"""The suites' rules evaluated in Polars: the pipeline's checks, with GX's verdicts.

Each rule of `expectation_rules(suite)` (a GX expectation kind with its kwargs, the same
list gx_rules.py builds its GX suites from) becomes a Polars expression, and every row rule
of a table is counted in one `select` over the frame; only a failing rule reads the frame
again, for its example values and sample rows. A rule gives what GX gives on the same frame
(gx_rules.py, the reference; tests/orchestrator_assets/test_validation_engines.py holds the
two side by side): the same failing rows per rule, the same examples, sample and order of
rules in the detail. What that means, rule by rule, as GX evaluates an Arrow-backed pandas
frame:

- a null is never checked by a value rule (range, label set, uniqueness, pairs): only the
  not-null rule sees it; NaN is a value, not a null, and it is never within a range nor
  greater or equal to anything (Polars orders NaN above +inf, so NaN is tested for);
- a column's type is the Python type of its Arrow dtype: every integer width is `int`,
  both float widths `float`, a categorical column is not `str`;
- a key is unique over its non-null values; a compound key ignores the rows whose key
  columns are all null, and compares nulls as equal values (and floats by their bits);
- a rule GX cannot evaluate fails on every row and is reported first, before the rules in
  the suite's order grouped by column (GX's order): a rule on a missing column, a range on
  non-numeric values (strings, dates; nothing to compare when every value is null), a label
  set on a non-string column, a pair of columns that cannot be compared.

The wording of a note differs from GX's only where GX's is its own: GX says "observed None"
for a missing column or a rule it could not evaluate, and "list index out of range" for the
type of a missing column; here the note says what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from orchestrator_assets.defs.validation.check_results import CheckOutcome
from orchestrator_assets.defs.validation.rule_verdicts import (
    NA,
    RuleVerdict,
    check_outcomes,
    examples_note,
    sample_of,
)
from orchestrator_assets.defs.validation.suites import TableSuite, expectation_rules

NO_COLUMN = "_nocolumn"


def type_name(dtype: pl.DataType) -> str:
    """The name GX observes for a Polars column: the Python type of its Arrow dtype in pandas."""
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.String:
        return "str"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return "CategoricalDtypeType"
    if isinstance(dtype, pl.Decimal):
        return "Decimal"
    if dtype == pl.Null:
        return "DataType"
    return str(dtype)


def _is_number(dtype: pl.DataType) -> bool:
    """Python compares these with a numeric bound (bool as 0 / 1)."""
    return dtype.is_numeric() or dtype == pl.Boolean


def _as_number(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        return pl.col(name).cast(pl.Int8)
    if isinstance(dtype, pl.Decimal):
        return pl.col(name).cast(pl.Float64)
    return pl.col(name)


def _family(dtype: pl.DataType) -> str:
    """What Arrow compares a column's values as, in pandas' `A >= B` on Arrow arrays."""
    if dtype.is_numeric():
        return "number"
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "str"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    return type_name(dtype)


def _comparable(high: pl.DataType, low: pl.DataType) -> bool:
    """Whether the pair can be compared: values of one family, or one column of nulls only
    (every row then has a missing value, and none is compared; two such columns are not)."""
    if (high == pl.Null) != (low == pl.Null):
        return True
    return high != pl.Null and _family(high) == _family(low)


def _ordered_value(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.col(name).cast(pl.String)
    if isinstance(dtype, pl.Decimal):
        return pl.col(name).cast(pl.Float64)
    return pl.col(name)


def _not_nan(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return ~expr.is_nan() if dtype.is_float() else pl.lit(True)


@dataclass(frozen=True)
class _Rule:
    """One rule of the suite, as GX would run it: its place in GX's order, and how it ends."""

    check: str
    label: str
    group: str
    kind: str
    kwargs: dict[str, Any]
    #: a row rule: the expression true on every failing row
    failing: pl.Expr | None = None
    #: what the values shown in the detail are (a column, a dict of columns, a pair)
    shown: pl.Expr | None = None
    #: a table-level verdict: the note (None: passed)
    note: str | None = None
    #: GX could not compute the rule's metric: it fails on every row and is reported first
    error: str | None = None


def evaluate_rules(suite: TableSuite, frame: pl.DataFrame, sample_rows: int = 10) -> list[CheckOutcome]:
    """Evaluate every rule of `suite` on one partition's rows; one outcome per check."""
    rules = _plan(suite, frame)
    row_rules = [rule for rule in rules if rule.failing is not None]
    counts = (
        frame.select(rule.failing.fill_null(False).sum().alias(str(index)) for index, rule in enumerate(row_rules))  # type: ignore[union-attr]
        .row(0)
        if row_rules
        else ()
    )
    count_of = {id(rule): int(count or 0) for rule, count in zip(row_rules, counts, strict=True)}
    verdicts = []
    for rule in _gx_order(rules):
        if rule.error is not None:
            verdicts.append(RuleVerdict(rule.check, rule.label, frame.height, f"could not be evaluated ({rule.error})"))
        elif rule.note is not None:
            verdicts.append(RuleVerdict(rule.check, rule.label, frame.height, rule.note))
        elif rule.failing is not None and count_of[id(rule)]:
            count = count_of[id(rule)]
            rows = frame.filter(rule.failing.fill_null(False))
            # GX lists at most sample_rows values, of which the detail shows 3
            shown = rows.head(min(3, sample_rows)).select(rule.shown).to_series().to_list()  # type: ignore[arg-type]
            examples = [_shown(value, rule.kind) for value in shown]
            verdicts.append(
                RuleVerdict(rule.check, rule.label, count, examples_note(count, examples),
                            sample_of(rule.label, rows.head(sample_rows)))
            )
    return check_outcomes(suite, verdicts, frame.height, sample_rows)


def _gx_order(rules: list[_Rule]) -> Iterator[_Rule]:
    """GX's order of results: the rules it could not evaluate first, then every rule grouped
    by the column it names (in the order each column first appears), rules naming no single
    column forming one group."""
    groups: dict[str, list[_Rule]] = {}
    for rule in rules:
        groups.setdefault(rule.group, []).append(rule)
    ordered = [rule for group in groups.values() for rule in group]
    yield from (rule for rule in ordered if rule.error is not None)
    yield from (rule for rule in ordered if rule.error is None)


def _plan(suite: TableSuite, frame: pl.DataFrame) -> list[_Rule]:
    """Every rule of the suite, with how it ends on this frame; grouped as GX groups them,
    by the one column a rule names (`column`), the others together."""
    rules = []
    for check, label, (kind, kwargs) in expectation_rules(suite):
        column = kwargs.get("column")
        group = column if isinstance(column, str) else NO_COLUMN
        rules.append(_rule(_Rule(check, label, group, kind, kwargs), frame))
    return rules


def _rule(rule: _Rule, frame: pl.DataFrame) -> _Rule:  # noqa: PLR0911, C901
    """The rule with how it ends on this frame: a row expression, a table-level note or an error."""
    kind, kwargs, schema = rule.kind, rule.kwargs, frame.schema
    missing = [name for name in _columns_of(kind, kwargs) if name not in schema]
    if kind == "ExpectTableColumnsToMatchSet":
        expected, present = set(kwargs["column_set"]), set(schema.names())
        if expected == present:
            return rule
        mismatched = {}
        if present - expected:
            mismatched["unexpected"] = sorted(present - expected)
        if expected - present:
            mismatched["missing"] = sorted(expected - present)
        return _with(rule, note=f"observed {mismatched}")
    if kind == "ExpectColumnToExist":
        return _with(rule, note="missing") if missing else rule
    if kind == "ExpectColumnValuesToBeOfType":
        if missing:
            return _with(rule, note=f"could not be evaluated (no column {missing[0]})")
        observed = type_name(schema[kwargs["column"]])
        return rule if observed == kwargs["type_"] else _with(rule, note=f"observed {observed}")
    if missing:
        return _with(rule, error=f"no column {missing[0]}")
    if kind == "ExpectColumnValuesToNotBeNull":
        name = kwargs["column"]
        return _with(rule, failing=pl.col(name).is_null(), shown=pl.col(name))
    if kind == "ExpectColumnValuesToBeUnique":
        name = kwargs["column"]
        return _with(rule, failing=pl.col(name).is_not_null() & pl.col(name).is_duplicated(), shown=pl.col(name))
    if kind == "ExpectCompoundColumnsToBeUnique":
        names = kwargs["column_list"]
        key = pl.struct(_key_column(frame, name) for name in names)
        all_null = pl.all_horizontal(pl.col(name).is_null() for name in names)
        return _with(rule, failing=~all_null & key.is_duplicated(), shown=pl.struct(names))
    if kind == "ExpectColumnValuesToBeBetween":
        return _between(rule, schema[kwargs["column"]], frame)
    if kind == "ExpectColumnValuesToBeInSet":
        name, dtype = kwargs["column"], schema[kwargs["column"]]
        if isinstance(dtype, pl.Categorical | pl.Enum):
            values = pl.col(name).cast(pl.String)
        elif dtype == pl.String:
            values = pl.col(name)
        else:
            return _with(rule, error=f"{type_name(dtype)} values against a set of labels")
        return _with(rule, failing=values.is_not_null() & ~values.is_in(kwargs["value_set"]), shown=pl.col(name))
    if kind == "ExpectColumnPairValuesAToBeGreaterThanB":
        high, low = kwargs["column_A"], kwargs["column_B"]
        if not _comparable(schema[high], schema[low]):
            return _with(rule, error=f"cannot compare {type_name(schema[high])} with {type_name(schema[low])}")
        a, b = _ordered_value(high, schema[high]), _ordered_value(low, schema[low])
        ordered = (a >= b) & _not_nan(a, schema[high]) & _not_nan(b, schema[low])
        failing = pl.col(high).is_not_null() & pl.col(low).is_not_null() & ~ordered
        return _with(rule, failing=failing, shown=pl.struct(high, low))
    raise ValueError(f"no Polars evaluation of {kind}: add it to polars_rules.py")


def _between(rule: _Rule, dtype: pl.DataType, frame: pl.DataFrame) -> _Rule:
    kwargs = rule.kwargs
    name = kwargs["column"]
    if not _is_number(dtype):
        if frame.get_column(name).null_count() == frame.height:
            return rule  # nothing to compare
        return _with(rule, error=f"{type_name(dtype)} values against numeric bounds")
    value = _as_number(name, dtype)
    inside = _not_nan(value, dtype)
    if kwargs["min_value"] is not None:
        inside &= value > kwargs["min_value"] if kwargs["strict_min"] else value >= kwargs["min_value"]
    if kwargs["max_value"] is not None:
        inside &= value <= kwargs["max_value"]
    return _with(rule, failing=pl.col(name).is_not_null() & ~inside, shown=pl.col(name))


def _key_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A column of a compound key as pandas compares its rows: a float by its bits (0.0 and
    -0.0, or NaNs of different bits, are different keys there, though one value for a
    single-column key). Polars would compare the values: no suite has a float key, this is
    for a key column of the wrong type."""
    dtype = frame.schema[name]
    if not dtype.is_float():
        return pl.col(name)
    import pyarrow as pa

    bits = frame.get_column(name).to_arrow().view(pa.int64() if dtype == pl.Float64 else pa.int32())
    return pl.lit(pl.Series(name, bits)).alias(name)


def _columns_of(kind: str, kwargs: dict[str, Any]) -> list[str]:
    if kind == "ExpectTableColumnsToMatchSet":
        return []
    if kind == "ExpectCompoundColumnsToBeUnique":
        return list(kwargs["column_list"])
    if kind == "ExpectColumnPairValuesAToBeGreaterThanB":
        return [kwargs["column_A"], kwargs["column_B"]]
    return [kwargs["column"]]


def _with(rule: _Rule, **changes: Any) -> _Rule:
    return dataclasses.replace(rule, **changes)


def _shown(value: object, kind: str = "") -> object:
    """An example value as GX lists it: a null as pandas' NA (but None within a compound
    key's dict of columns), a pair of columns as a tuple."""
    if value is None:
        return NA
    if isinstance(value, dict):
        return tuple(value.values()) if kind == "ExpectColumnPairValuesAToBeGreaterThanB" else value
    return value
