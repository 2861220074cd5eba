"""Compare the published tables of one partition in two warehouses, table by table, to check
that a refactor keeps the pipeline's output (issue 20: "the same tables on the large partition
before and after").

Each side is a warehouse folder (``<data>/warehouse``); the tables compared are the ones its
``_published/<date>.json`` names (the official plan, never a scenario's). A table made of
several files (validation.check_results, validation.rejected_rows) is all its files together.

Per table:
- tables or columns present on one side only are listed (a new column is not a difference of
  the common columns, but it is said);
- ``--drop`` columns are not compared at all (run_id always: it names the run);
- ``--mask TABLE.COLUMN=REGEX`` blanks what REGEX matches in a text column on both sides
  before comparing (a timing written inside a detail text), so the rest of the text is still
  compared;
- rows are matched on the table's key (KEYS, or ``--key``) when it is unique on both sides,
  else both sides are sorted on every compared column and matched by position;
- strings, integers, dates and booleans must be equal (nulls equal nulls); floats must satisfy
  |a - b| <= rtol * max(|a|, |b|) (NaN equals NaN);
- ``--expect TABLE.COLUMN`` reports that column's differences as expected (they are shown
  with a count, not hidden); ``--expect-change TABLE.COLUMN=OLD->NEW`` does so only for rows
  whose value went from OLD to NEW (any other change of that column is a finding).

The exit status is 1 when something other than an expected difference is found. Needs only
Polars (run it with either worktree's venv):

    .venv/bin/python bench/compare_partitions.py BEFORE/warehouse AFTER/warehouse 2026-01-08 \\
        --expect knapsack.site_summary.build_ms --expect knapsack.site_summary.solve_ms \\
        --mask 'knapsack.group_summary.detail=LP [0-9.]+ s' \\
        --expect-change 'knapsack.site_summary.status=NO_SOLUTION->NODE_LIMIT_FEASIBLE'

(the full command of the issue 20 check is in docs/benchmarks.md).
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

# Row keys of the pipeline's tables (unique within one partition); a table left out, or
# whose key is not unique on a side, is compared row by row after a full sort.
KEYS: dict[str, list[str]] = {
    "raw.articles": ["article_id"],
    "raw.bom": ["intervention_type", "article_id"],
    "raw.planned_interventions": ["date", "technician_id", "intervention_type"],
    "raw.site_capacities": ["site_id", "category"],
    "raw.sites": ["site_id"],
    "raw.stock_levels": ["site_id", "article_id"],
    "raw.technicians": ["technician_id"],
    "stock.consumption_forecast": ["site_id", "article_id"],
    "stock.stock_initial": ["site_id", "article_id"],
    "stock.stock_projection": ["site_id", "article_id"],
    "urgence.abc_classification": ["article_id"],
    "urgence.urgency_classification": ["site_id", "article_id"],
    "urgence.urgency_quantitative": ["site_id", "article_id"],
    "urgence.urgency_temporal": ["site_id", "article_id"],
    "urgence.urgency_total": ["site_id", "article_id"],
    "knapsack.allocation": ["site_id", "article_id"],
    "knapsack.category_use": ["site_id", "category"],
    "knapsack.depot_supply": ["site_id", "article_id"],
    "knapsack.group_summary": ["site_id"],
    "knapsack.site_summary": ["site_id"],
    "validation.check_results": ["asset", "check_name"],
    "validation.rejected_rows": ["source", "row"],
}
EXAMPLES = 5


def published_tables(warehouse: Path, day: str) -> dict[str, pl.DataFrame]:
    """table name -> its published rows on `day` (every file of a multi-file table)."""
    manifest = json.loads((warehouse / "_published" / f"{day}.json").read_text())["entries"]
    files: dict[str, list[str]] = defaultdict(list)
    for entry_key, entry in manifest.items():
        files[entry_key.split("/")[0]].append(entry["file"])
    return {
        table: pl.concat([pl.read_parquet(warehouse / f) for f in sorted(paths)], how="diagonal_relaxed")
        for table, paths in sorted(files.items())
    }


@dataclass
class TableReport:
    """What one table's comparison found; `findings` are the unexpected differences."""

    table: str
    rows: tuple[int, int]
    matched_on: str = ""
    only_before: list[str] = field(default_factory=list)
    only_after: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verdict = "DIFFERENT" if self.findings else ("equal except expected" if self.expected else "equal")
        out = [f"{self.table}: {verdict} ({self.rows[0]:,} / {self.rows[1]:,} rows, matched on {self.matched_on})"]
        if self.only_before:
            out.append(f"  columns only before: {', '.join(self.only_before)}")
        if self.only_after:
            out.append(f"  columns only after: {', '.join(self.only_after)}")
        out += [f"  expected: {line}" for line in self.expected]
        out += [f"  FINDING: {line}" for line in self.findings]
        return out


def _is_float(dtype: pl.DataType) -> bool:
    return dtype in (pl.Float32, pl.Float64)


def _differs(column: str, dtype: pl.DataType, rtol: float) -> pl.Expr:
    """True where the before (`column`) and after (`column`__after) values differ."""
    a, b = pl.col(column), pl.col(f"{column}__after")
    if _is_float(dtype):
        both_nan = a.is_nan() & b.is_nan()
        close = (a - b).abs() <= rtol * pl.max_horizontal(a.abs(), b.abs())
        same = pl.when(a.is_null() | b.is_null()).then(a.is_null() & b.is_null()).otherwise(both_nan | close | (a == b))
        return ~same
    return ~a.eq_missing(b)


def _matched(before: pl.DataFrame, after: pl.DataFrame, key: list[str], report: TableReport) -> pl.DataFrame:
    """Rows of both sides side by side (after's columns suffixed __after); rows of one side
    only are findings."""
    usable = bool(key) and all(c in before.columns and c in after.columns for c in key)
    if usable and not before.select(key).is_duplicated().any() and not after.select(key).is_duplicated().any():
        report.matched_on = "key " + ", ".join(key)
        for name, left, right in (("before", before, after), ("after", after, before)):
            alone = left.join(right.select(key), on=key, how="anti", nulls_equal=True)
            if alone.height:
                report.findings.append(
                    f"{alone.height:,} rows only {name}, e.g. {alone.select(key).head(EXAMPLES).rows()}"
                )
        return before.join(after, on=key, how="inner", suffix="__after", nulls_equal=True)
    columns = sorted(before.columns, key=lambda c: (_is_float(before.schema[c]), c))
    report.matched_on = "position after sorting on every column"
    if before.height != after.height:
        report.findings.append(f"row counts differ: {before.height:,} before, {after.height:,} after")
        return pl.DataFrame()
    left = before.sort(columns, nulls_last=True)
    right = after.select(columns).sort(columns, nulls_last=True)
    return pl.concat([left, right.rename({c: f"{c}__after" for c in columns})], how="horizontal")


def compare_table(
    table: str, before: pl.DataFrame, after: pl.DataFrame, *, drop: set[str], expect: set[str],
    expect_change: dict[str, set[tuple[str, str]]], key: list[str], rtol: float,
    masks: dict[str, list[str]] | None = None,
) -> TableReport:
    """Compare one table's two sides column by column (see the module docstring)."""
    report = TableReport(table, (before.height, after.height))
    for label, patterns in (masks or {}).items():
        owner, column = label.rsplit(".", 1)
        if owner != table or column not in before.columns or column not in after.columns:
            continue
        masked = pl.col(column)
        for pattern in patterns:
            masked = masked.str.replace_all(pattern, "<masked>")
        before, after = before.with_columns(masked), after.with_columns(masked)
        report.expected.append(f"{column}: compared with {patterns} masked")
    dropped = {c for c in drop if "." not in c} | {c.rsplit(".", 1)[1] for c in drop if c.rsplit(".", 1)[0] == table}
    report.only_before = [c for c in before.columns if c not in after.columns and c not in dropped]
    report.only_after = [c for c in after.columns if c not in before.columns and c not in dropped]
    common = [c for c in before.columns if c in after.columns and c not in dropped]
    for column in common:
        if before.schema[column] != after.schema[column]:
            report.findings.append(f"{column}: type {before.schema[column]} before, {after.schema[column]} after")
    common = [c for c in common if before.schema[c] == after.schema[c]]
    key = [c for c in key if c in common]
    both = _matched(before.select(common), after.select(common), key, report)
    if both.is_empty():
        return report
    for column in (c for c in common if c not in key or not report.matched_on.startswith("key")):
        dtype = before.schema[column]
        diff = both.filter(_differs(column, dtype, rtol))
        if diff.is_empty():
            continue
        label = f"{table}.{column}"
        shown = [*key, column, f"{column}__after"] if report.matched_on.startswith("key") else [column, f"{column}__after"]
        examples = diff.select(shown).head(EXAMPLES).rows()
        if label in expect or column in expect:
            report.expected.append(f"{column}: {diff.height:,} rows differ, e.g. {examples}")
            continue
        allowed = expect_change.get(label, set())
        if allowed:
            changes = diff.group_by(
                pl.col(column).cast(pl.String).alias("old"), pl.col(f"{column}__after").cast(pl.String).alias("new")
            ).len().sort("len", descending=True)
            for old, new, n in changes.iter_rows():
                line = f"{column}: {old} -> {new} on {n:,} rows"
                (report.expected if (str(old), str(new)) in allowed else report.findings).append(line)
            continue
        report.findings.append(f"{column}: {diff.height:,} rows differ, e.g. {examples}")
    return report


def compare(
    before_dir: Path, after_dir: Path, day: str, *, drop: set[str], expect: set[str],
    expect_change: dict[str, set[tuple[str, str]]], expect_tables: set[str], keys: dict[str, list[str]],
    rtol: float, masks: dict[str, list[str]] | None = None,
) -> tuple[list[str], bool]:
    """Report lines for every table of either side, and whether anything unexpected differs."""
    before, after = published_tables(before_dir, day), published_tables(after_dir, day)
    lines, unexpected = [], False
    for table in sorted(set(before) | set(after)):
        if table not in after or table not in before:
            side = "before" if table in before else "after"
            note = "expected" if table in expect_tables else "FINDING"
            unexpected |= note == "FINDING"
            lines.append(f"{table}: only {side} ({note})")
            continue
        report = compare_table(
            table, before[table], after[table], drop=drop, expect=expect, expect_change=expect_change,
            key=keys.get(table, []), rtol=rtol, masks=masks,
        )
        unexpected |= bool(report.findings)
        lines += report.lines()
    return lines, unexpected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="warehouse folder of the old code")
    parser.add_argument("after", type=Path, help="warehouse folder of the new code")
    parser.add_argument("date", help="partition YYYY-MM-DD")
    parser.add_argument("--drop", action="append", default=[], metavar="[TABLE.]COLUMN",
                        help="column not compared (run_id always is)")
    parser.add_argument("--expect", action="append", default=[], metavar="[TABLE.]COLUMN",
                        help="differences of this column are expected (still reported)")
    parser.add_argument("--expect-change", action="append", default=[], metavar="TABLE.COLUMN=OLD->NEW",
                        help="rows whose value went from OLD to NEW are expected")
    parser.add_argument("--expect-table", action="append", default=[], metavar="TABLE",
                        help="a table present on one side only is expected")
    parser.add_argument("--mask", action="append", default=[], metavar="TABLE.COLUMN=REGEX",
                        help="blank REGEX's matches in a text column on both sides before comparing")
    parser.add_argument("--key", action="append", default=[], metavar="TABLE=COL,COL",
                        help="row key of a table (overrides KEYS)")
    parser.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance for floats")
    args = parser.parse_args(argv)
    expect_change: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for item in args.expect_change:
        label, change = item.split("=", 1)
        old, new = change.split("->", 1)
        expect_change[label].add((old, new))
    masks: dict[str, list[str]] = defaultdict(list)
    for item in args.mask:
        label, pattern = item.split("=", 1)
        masks[label].append(pattern)
    keys = dict(KEYS)
    for item in args.key:
        table, columns = item.split("=", 1)
        keys[table] = columns.split(",")
    lines, unexpected = compare(
        args.before, args.after, args.date, drop={"run_id", *args.drop}, expect=set(args.expect),
        expect_change=dict(expect_change), expect_tables=set(args.expect_table), keys=keys, rtol=args.rtol,
        masks=dict(masks),
    )
    print("\n".join(lines))
    print("\nresult:", "UNEXPECTED DIFFERENCES" if unexpected else "same tables (expected differences listed)")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
