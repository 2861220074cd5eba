"""SQL over the table files: an in-memory DuckDB with one view per schema.table.

Nothing here writes. A view lists the files readers may see: per partition, the published
file (publication.py), or, for the code of a run in progress, the file that run (or the
run it re-executes) wrote itself, so a step reads its own run's upstream tables before the
run is published. Views are created only for the tables a statement names (each view binds
its files' footers), and only over the partitions asked for when the caller knows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from orchestrator_assets.publication import published_partitions, read_manifest
from orchestrator_assets.table_files import NAME, check_table, run_files

#: a schema-qualified name in a statement, bare or quoted: "stock"."stock_projection", stock.x
_QUALIFIED = re.compile(r'"?([A-Za-z_][A-Za-z0-9_]*)"?\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*)"?')


def visible_files(
    root: Path,
    overlay_runs: Sequence[str] = (),
    partitions: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
) -> dict[str, list[str]]:
    """table -> relative files readers see, sorted by partition; `overlay_runs` (oldest first)
    take precedence over the publication for the slices they wrote. `tables` (None: all)
    keeps those only: a manifest names ~100 check-result slices besides the tables, and a
    history window reads 182 manifests for one table."""
    wanted = set(partitions) if partitions is not None else None
    only = frozenset(tables) if tables is not None else None
    keys = published_partitions(root) if wanted is None else sorted(wanted)
    chosen: dict[tuple[str, str], str] = {}
    for key in keys:
        for entry, value in read_manifest(root, key).items():
            if only is None or entry.split("/", 1)[0] in only:
                chosen[(key, entry)] = value["file"]
    for run_id in overlay_runs:
        for unit_file in run_files(root, run_id):
            if (wanted is None or unit_file.partition in wanted) and (only is None or unit_file.table in only):
                chosen[(unit_file.partition, unit_file.entry)] = unit_file.relative_path()
    tables: dict[str, list[str]] = {}
    for (_key, entry), file in sorted(chosen.items()):
        tables.setdefault(entry.split("/")[0], []).append(file)
    return tables


def tables_named(sql: str, known: Iterable[str]) -> list[str]:
    """The known schema.table names a statement mentions (a superset is harmless)."""
    known = set(known)
    found = {f"{schema}.{table}" for schema, table in _QUALIFIED.findall(sql)}
    return sorted(found & known)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_views(con: duckdb.DuckDBPyConnection, root: Path, files: dict[str, list[str]], tables: Iterable[str]) -> None:
    """One view per table over its files (relative to `root`)."""
    create_views_over(con, absolute_files(root, files), tables)


def create_views_over(con: duckdb.DuckDBPyConnection, files: dict[str, list[Path]], tables: Iterable[str]) -> None:
    """One view per table over its files. Names are checked identifiers; paths are ours
    (a warehouse root + checked names), quoted as SQL strings since a view cannot take
    parameters."""
    for table in tables:
        if table not in files:
            continue
        schema, name = check_table(table)
        paths = ", ".join(_sql_string(str(file)) for file in files[table])
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.execute(
            f'CREATE OR REPLACE VIEW "{schema}"."{name}" AS '
            f"SELECT * FROM read_parquet([{paths}], union_by_name = true)"
        )


def open_views(
    root: Path,
    tables: Iterable[str] | None = None,
    overlay_runs: Sequence[str] = (),
    partitions: Iterable[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with views for `tables` (None: every table that has files)."""
    files = visible_files(root, overlay_runs, partitions)
    con = duckdb.connect(":memory:")
    create_views(con, root, files, files if tables is None else tables)
    return con


def known_tables(root: Path) -> list[str]:
    """Every schema.table that has a folder under the warehouse (folders starting with '_'
    are the warehouse's own: manifests, journals, scenarios)."""
    if not root.is_dir():
        return []
    return sorted(
        f"{schema.name}.{table.name}"
        for schema in root.iterdir()
        if schema.is_dir() and NAME.fullmatch(schema.name) and not schema.name.startswith("_")
        for table in schema.iterdir()
        if table.is_dir() and NAME.fullmatch(table.name)
    )


def file_partition(path: Path | str) -> str:
    """The partition key of a table file, from its folder `partition_date=YYYY-MM-DD`."""
    return Path(path).parent.name.removeprefix("partition_date=")


def absolute_files(root: Path, files: dict[str, list[str]]) -> dict[str, list[Path]]:
    """The same files as paths under the warehouse folder."""
    return {table: [root / file for file in table_files] for table, table_files in files.items()}
