"""Row-level rejection rules of SPEC §2, as vectorised Polars expressions.

A table arrives as text (every column read as a string, so a bad value never breaks the
read); each row is parsed against its contract and either accepted, typed, or rejected with
the first rule it breaks (`rule`, in the priority order below) and every failure in `detail`.

Rules, in priority order:
  missing_value   a required column is empty
  bad_type        the value does not parse as the column's type (int, float, ISO date, bool)
  bad_identifier  an id or category value longer than 64 characters or with a character
                  outside [A-Za-z0-9_.-] (quotes, spaces, semicolons, unicode, newlines)
  out_of_range    a bound of the SPEC (>=0, >0, >=1, stock_max >= stock_min) or a plausible
                  upper bound of the contract; NaN and infinity are out of every range
  not_in_domain   importance / site_type / movement_type outside its list
  wrong_date      movements.date != D, planned_interventions.date <= D
  unknown_article / unknown_site / unknown_technician
                  an id absent from the accepted rows of its reference table
  duplicate_key   every row of a key that appears more than once (among rows whose key parses)
  bad_parent      sites.parent_site_id that is not an accepted DEPOT row of the same file, or
                  a parent given on a DEPOT (SPEC §5.2); judged after every other rule, since
                  whether a depot is accepted is their verdict
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from orchestrator_assets.defs.ingest.table_contracts import (
    IDENTIFIER_MAX_LENGTH,
    IDENTIFIER_PATTERN,
    Column,
    ParentRule,
    TableContract,
)

_TRUE = ["true", "1", "yes", "y", "t", "vrai", "oui"]
_FALSE = ["false", "0", "no", "n", "f", "faux", "non"]
_POLARS_TYPES = {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "date": pl.Date, "bool": pl.Boolean}

RULES = (
    "missing_value",
    "bad_type",
    "bad_identifier",
    "out_of_range",
    "not_in_domain",
    "wrong_date",
    "unknown_article",
    "unknown_site",
    "unknown_technician",
    "duplicate_key",
    "bad_parent",
)

SHOWN_CHARACTERS = 80  # of a value quoted in a rejection detail

REJECTED_COLUMNS = {"row": pl.Int64, "rule": pl.String, "detail": pl.String, "raw": pl.String}


@dataclass(frozen=True)
class ValidationResult:
    accepted: pl.DataFrame
    rejected: pl.DataFrame  # row (1-based data row of the file), rule, detail, raw (JSON of the row as read)
    rows_read: int

    @property
    def rejected_share(self) -> float:
        return len(self.rejected) / self.rows_read if self.rows_read else 0.0

    def counts_by_rule(self) -> dict[str, int]:
        if self.rejected.is_empty():
            return {}
        counts = self.rejected.group_by("rule").len().sort(["len", "rule"], descending=[True, False])
        return dict(zip(counts["rule"].to_list(), counts["len"].to_list(), strict=True))


def _number(column: Column) -> pl.Expr:
    """The value of a numeric column as a float, NaN, infinities and huge values included:
    what the range rules judge (a value that is no number at all is null here: bad_type)."""
    return pl.col(column.name).str.strip_chars().cast(pl.Float64, strict=False)


def _parsed(column: Column) -> pl.Expr:
    text = pl.col(column.name)
    if column.type == "str":
        # a blank value is no value: an empty parent_site_id or technician_id is null
        return pl.when(text.str.strip_chars() != "").then(text)
    stripped = text.str.strip_chars()
    if column.type == "float":
        value = stripped.cast(pl.Float64, strict=False)
        return pl.when(value.is_finite()).then(value)
    if column.type == "int":
        as_int = stripped.cast(pl.Int64, strict=False)
        as_float = stripped.cast(pl.Float64, strict=False)
        whole = as_float.is_finite() & (as_float == as_float.floor()) & (as_float.abs() < 2**53)
        return pl.when(as_int.is_not_null()).then(as_int).when(whole).then(as_float.cast(pl.Int64))
    if column.type == "date":
        return stripped.str.to_date("%Y-%m-%d", strict=False)
    if column.type == "bool":
        lowered = stripped.str.to_lowercase()
        return pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
    raise ValueError(f"unknown column type {column.type}")


def _shown(name: str) -> pl.Expr:
    # constants go into the template rather than as pl.lit arguments (one column to format);
    # control characters (a newline in a crafted id) become '?' and long values are cut, so a
    # detail stays one readable line in logs and messages (the row's `raw` keeps the value)
    value = pl.col(name).fill_null("").str.replace_all(r"\p{Cc}", "?").str.slice(0, SHOWN_CHARACTERS)
    return pl.format(f"{name}='{{}}'", value)


def _column_failures(column: Column) -> list[tuple[str, pl.Expr, pl.Expr]]:
    raw = pl.col(column.name)
    parsed = pl.col(f"__parsed_{column.name}")
    failures: list[tuple[str, pl.Expr, pl.Expr]] = []
    is_blank = raw.is_null() | (raw.str.strip_chars() == "")
    if not column.nullable:
        failures.append(("missing_value", is_blank, pl.lit(f"{column.name} is empty")))
    numeric = column.type in ("int", "float")
    if numeric:
        # a number that is out of range (NaN, inf, 1e300) is out_of_range, not bad_type:
        # bad_type is left to text that is no number, and to a fraction in an int column
        number = pl.col(f"__number_{column.name}")
        not_a_type = number.is_null()
        if column.type == "int":
            not_a_type = not_a_type | (number.is_finite() & (number != number.floor()))
    else:
        not_a_type = parsed.is_null()
    failures.append(
        (
            "bad_type",
            ~is_blank & not_a_type,
            pl.format(f"{{}} is not a valid {column.type}", _shown(column.name)),
        )
    )
    if column.identifier:
        failures.append(
            (
                "bad_identifier",
                ~is_blank & ((raw.str.len_chars() > IDENTIFIER_MAX_LENGTH) | ~raw.str.contains(IDENTIFIER_PATTERN)),
                pl.format(
                    f"{{}} must be 1 to {IDENTIFIER_MAX_LENGTH} characters among A-Z a-z 0-9 _ . -",
                    _shown(column.name),
                ),
            )
        )
    if numeric:
        number = pl.col(f"__number_{column.name}")
        failures.append(
            ("out_of_range", number.is_nan() | number.is_infinite(), pl.format("{} must be a finite number", _shown(column.name)))
        )
    if column.min_inclusive is not None:
        failures.append(
            (
                "out_of_range",
                pl.col(f"__number_{column.name}") < column.min_inclusive,
                pl.format(f"{{}} must be >= {_bound(column.min_inclusive)}", _shown(column.name)),
            )
        )
    if column.min_exclusive is not None:
        failures.append(
            (
                "out_of_range",
                pl.col(f"__number_{column.name}") <= column.min_exclusive,
                pl.format(f"{{}} must be > {_bound(column.min_exclusive)}", _shown(column.name)),
            )
        )
    if column.max_inclusive is not None:
        failures.append(
            (
                "out_of_range",
                # NaN compares above every number in Polars: only finite values here
                pl.col(f"__number_{column.name}").is_finite() & (pl.col(f"__number_{column.name}") > column.max_inclusive),
                pl.format(f"{{}} must be <= {_bound(column.max_inclusive)}", _shown(column.name)),
            )
        )
    if column.domain is not None:
        failures.append(
            (
                "not_in_domain",
                parsed.is_not_null() & ~parsed.is_in(list(column.domain)),
                pl.format(f"{{}} is not one of {', '.join(column.domain)}", _shown(column.name)),
            )
        )
    return failures


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def validate_table(
    raw: pl.DataFrame,
    contract: TableContract,
    partition_date: date,
    known_ids: Mapping[str, pl.Series] | None = None,
) -> ValidationResult:
    """Split a text table into typed accepted rows and rejected rows with their rule.

    `known_ids` maps a reference table stem (articles, sites, technicians) to its accepted ids;
    references to a table missing from the mapping are not checked.
    """
    missing = [column.name for column in contract.columns if column.name not in raw.columns and not column.optional]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}; expected {', '.join(contract.column_names)}")
    known_ids = known_ids or {}
    frame = raw.select(
        [
            pl.col(column.name).cast(pl.String) if column.name in raw.columns else pl.lit(None, pl.String).alias(column.name)
            for column in contract.columns
        ]
    ).with_row_index("__row", offset=1)
    frame = frame.with_columns(
        [_parsed(column).alias(f"__parsed_{column.name}") for column in contract.columns]
        + [_number(column).alias(f"__number_{column.name}") for column in contract.columns if column.type in ("int", "float")]
    )

    failures: list[tuple[str, pl.Expr, pl.Expr]] = []
    for column in contract.columns:
        failures.extend(_column_failures(column))
    if contract.not_below is not None:
        high, low = contract.not_below
        failures.append(
            (
                "out_of_range",
                pl.col(f"__parsed_{high}") < pl.col(f"__parsed_{low}"),
                pl.format("{} must be >= {}", _shown(high), _shown(low)),
            )
        )
    if contract.date_rule is not None:
        name, relation = contract.date_rule
        parsed = pl.col(f"__parsed_{name}")
        if relation == "equals":
            failures.append(
                ("wrong_date", parsed != partition_date, pl.format(f"{{}} is not the partition date {partition_date}", _shown(name)))
            )
        else:
            failures.append(
                ("wrong_date", parsed <= partition_date, pl.format(f"{{}} is not after the partition date {partition_date}", _shown(name)))
            )
    for reference in contract.references:
        if reference.table not in known_ids:
            continue
        parsed = pl.col(f"__parsed_{reference.column}")
        ids = known_ids[reference.table].cast(pl.String).unique()
        failures.append(
            (
                reference.rule,
                parsed.is_not_null() & ~parsed.is_in(ids),
                pl.format(f"{{}} is not in {reference.table}", _shown(reference.column)),
            )
        )
    if contract.key:
        key_parsed = [pl.col(f"__parsed_{name}") for name in contract.key]
        key_ok = pl.all_horizontal([expr.is_not_null() for expr in key_parsed])
        duplicated = key_ok & (pl.len().over(key_parsed) > 1)
        failures.append(
            ("duplicate_key", duplicated, pl.lit(f"key ({', '.join(contract.key)}) appears more than once"))
        )

    failures.sort(key=lambda failure: RULES.index(failure[0]))  # stable: column order within a rule
    # each rule's verdict is evaluated once, on the whole table, and kept as a column: the
    # duplicate-key rule is a window (pl.len().over(key)) that must see every row, not
    # only the rejected ones the details are built on
    frame = frame.with_columns(
        [condition.fill_null(False).alias(f"__fails_{index}") for index, (_, condition, _) in enumerate(failures)]
    )
    conditions = [pl.col(f"__fails_{index}") for index in range(len(failures))]
    frame = frame.with_columns(_first_rule(failures))
    if contract.parent is not None:
        # the parent must be a row accepted by every other rule: judged on their verdict
        failures.extend(_parent_failures(frame, contract.key[0], contract.parent))
        frame = frame.with_columns(
            [condition.fill_null(False).alias(f"__fails_{index}") for index, (_, condition, _) in enumerate(failures)][len(conditions):]
        )
        conditions = [pl.col(f"__fails_{index}") for index in range(len(failures))]
        frame = frame.with_columns(_first_rule(failures))
    rejected_mask = pl.col("__rule").is_not_null()
    rejected = (
        # rechunk: the rejected rows of a multi-chunk table (a CSV read in parallel) sit in
        # chunks of 0 to n rows, on which Polars 2.1's str.format panics
        frame.filter(rejected_mask)
        .rechunk()
        .with_columns(
            pl.concat_str(
                [pl.when(cond).then(detail) for (_, _, detail), cond in zip(failures, conditions, strict=True)],
                separator="; ",
                ignore_nulls=True,
            ).alias("detail"),
            pl.struct(contract.column_names).struct.json_encode().alias("raw"),
        )
        .select(pl.col("__row").cast(pl.Int64).alias("row"), pl.col("__rule").alias("rule"), "detail", "raw")
    )
    accepted = frame.filter(~rejected_mask).select(
        [
            pl.col(f"__parsed_{column.name}").cast(_POLARS_TYPES[column.type]).alias(column.name)
            for column in contract.columns
        ]
    )
    return ValidationResult(accepted=accepted, rejected=rejected, rows_read=raw.height)


def _first_rule(failures: list[tuple[str, pl.Expr, pl.Expr]]) -> pl.Expr:
    """The rule of the first failure column set on the row (failures are in RULES order)."""
    return pl.coalesce(
        [pl.when(pl.col(f"__fails_{index}")).then(pl.lit(rule)) for index, (rule, _, _) in enumerate(failures)]
    ).alias("__rule")


def _parent_failures(frame: pl.DataFrame, key: str, parent: ParentRule) -> list[tuple[str, pl.Expr, pl.Expr]]:
    """bad_parent (SPEC §5.2): a parent that is not an accepted row of the parent type, or a
    parent given on a row of the parent type itself."""
    parents = frame.filter(
        pl.col("__rule").is_null() & (pl.col(f"__parsed_{parent.type_column}") == parent.parent_type)
    )[f"__parsed_{key}"]
    value = pl.col(f"__parsed_{parent.column}")
    has_parent = value.is_not_null()
    return [
        (
            "bad_parent",
            has_parent & (pl.col(f"__parsed_{parent.type_column}") == parent.parent_type),
            pl.format(f"{{}} given on a {parent.parent_type} (a {parent.parent_type} has no parent)", _shown(parent.column)),
        ),
        (
            "bad_parent",
            has_parent & ~value.is_in(parents),
            pl.format(f"{{}} is not an accepted {parent.parent_type} site", _shown(parent.column)),
        ),
    ]


def empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_COLUMNS)
