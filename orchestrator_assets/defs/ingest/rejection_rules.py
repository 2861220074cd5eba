"""Row-level rejection rules of SPEC §2, as vectorised Polars expressions.

A table arrives as text (every column read as a string, so a bad value never breaks the
read); each row is parsed against its contract and either accepted, typed, or rejected with
the first rule it breaks (`rule`, in the priority order below) and every failure in `detail`.

Rules, in priority order:
  missing_value   a required column is empty
  bad_type        the value does not parse as the column's type (int, float, ISO date, bool)
  out_of_range    a bound of the SPEC (>=0, >0, >=1, stock_max >= stock_min)
  not_in_domain   importance / site_type / movement_type outside its list
  wrong_date      movements.date != D, planned_interventions.date <= D
  unknown_article / unknown_site / unknown_technician
                  an id absent from the accepted rows of its reference table
  duplicate_key   every row of a key that appears more than once (among rows whose key parses)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from orchestrator_assets.defs.ingest.table_contracts import Column, TableContract

_TRUE = ["true", "1", "yes", "y", "t", "vrai", "oui"]
_FALSE = ["false", "0", "no", "n", "f", "faux", "non"]
_POLARS_TYPES = {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "date": pl.Date, "bool": pl.Boolean}

RULES = (
    "missing_value",
    "bad_type",
    "out_of_range",
    "not_in_domain",
    "wrong_date",
    "unknown_article",
    "unknown_site",
    "unknown_technician",
    "duplicate_key",
)

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


def _parsed(column: Column) -> pl.Expr:
    text = pl.col(column.name)
    if column.type == "str":
        return text
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
    # constants go into the template rather than as pl.lit arguments (one column to format)
    return pl.format(f"{name}='{{}}'", pl.col(name).fill_null(""))


def _column_failures(column: Column) -> list[tuple[str, pl.Expr, pl.Expr]]:
    raw = pl.col(column.name)
    parsed = pl.col(f"__parsed_{column.name}")
    failures: list[tuple[str, pl.Expr, pl.Expr]] = []
    is_blank = raw.is_null() | (raw.str.strip_chars() == "")
    if not column.nullable:
        failures.append(("missing_value", is_blank, pl.lit(f"{column.name} is empty")))
    failures.append(
        (
            "bad_type",
            ~is_blank & parsed.is_null(),
            pl.format(f"{{}} is not a valid {column.type}", _shown(column.name)),
        )
    )
    if column.min_inclusive is not None:
        failures.append(
            (
                "out_of_range",
                parsed < column.min_inclusive,
                pl.format(f"{{}} must be >= {_number(column.min_inclusive)}", _shown(column.name)),
            )
        )
    if column.min_exclusive is not None:
        failures.append(
            (
                "out_of_range",
                parsed <= column.min_exclusive,
                pl.format(f"{{}} must be > {_number(column.min_exclusive)}", _shown(column.name)),
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


def _number(value: float) -> str:
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
    missing = [name for name in contract.column_names if name not in raw.columns]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}; expected {', '.join(contract.column_names)}")
    known_ids = known_ids or {}
    frame = raw.select(
        [pl.col(name).cast(pl.String) for name in contract.column_names]
    ).with_row_index("__row", offset=1)
    frame = frame.with_columns([_parsed(column).alias(f"__parsed_{column.name}") for column in contract.columns])

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
    frame = frame.with_columns(
        pl.coalesce([pl.when(cond).then(pl.lit(rule)) for (rule, _, _), cond in zip(failures, conditions, strict=True)]).alias("__rule"),
    )
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


def empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_COLUMNS)
