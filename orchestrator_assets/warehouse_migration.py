"""`reassort migrate`: move a warehouse of earlier versions (one DuckDB file) into table files.

Every table of the old file becomes a table folder; every partition one published file
whose rows keep the run_id that wrote them. Journal tables keep their slices: rejected
rows per source, check results per (asset, run). Re-running is harmless: a partition a
newer run has already published is left as that run published it. The old file is opened
read-only and left in place (delete it once the counts printed match).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from orchestrator_assets.publication import publish, read_manifest
from orchestrator_assets.table_files import (
    StorageError,
    UnitFile,
    check_table,
    unit_name,
    write_unit,
)

#: the run id under which migrated files are written (each row keeps its own run_id column)
MIGRATED_RUN = "migrated"
#: journal tables: their partition is split in slices by these columns
SLICES = {"validation.rejected_rows": ("source",), "validation.check_results": ("asset", "run_id")}


def legacy_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('main', 'information_schema', 'pg_catalog') AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]


def migrate(legacy_file: Path, root: Path, progress: Callable[[str], None] = print) -> dict[str, tuple[int, int]]:
    """Copy every table; returns table -> (rows in the old file, rows now published)."""
    if not legacy_file.is_file():
        raise FileNotFoundError(f"no DuckDB warehouse file at {legacy_file}")
    counts: dict[str, tuple[int, int]] = {}
    with duckdb.connect(str(legacy_file), read_only=True) as con:
        for table in legacy_tables(con):
            try:
                schema, name = check_table(table)
            except StorageError:
                progress(f"  skipped {table!r}: not a Réassort table name")
                continue
            frame = con.execute(f'SELECT * FROM "{schema}"."{name}"').pl()
            if "partition_date" not in frame.columns:
                progress(f"  skipped {table}: no partition_date column")
                continue
            files = []
            slice_columns = [c for c in SLICES.get(table, ()) if c in frame.columns]
            for keys, part in frame.partition_by(["partition_date", *slice_columns], as_dict=True).items():
                day = keys[0]
                if day is None:
                    continue
                unit_file = UnitFile(table, day.isoformat(), MIGRATED_RUN, unit_name(*keys[1:]) if slice_columns else "")
                entry = read_manifest(root, unit_file.partition).get(unit_file.entry)
                if entry and entry["run_id"] != MIGRATED_RUN:
                    continue  # a newer run published this slice already
                if "run_id" not in part.columns:
                    part = part.with_columns(pl.lit(MIGRATED_RUN).alias("run_id"))
                write_unit(root, unit_file, part)
                files.append(unit_file)
            publish(root, files)
            counts[table] = (frame.height, sum(
                pl.scan_parquet(root / f.relative_path()).select(pl.len()).collect().item() for f in files
            ))
            progress(f"  {table:<40} {counts[table][0]:>12,} rows -> {len(files)} files")
    return counts
