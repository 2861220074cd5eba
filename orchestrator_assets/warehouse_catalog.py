"""A DuckDB file of views over the published tables, for any DuckDB client: `<wh>/catalog.duckdb`.

`reassort query` builds its views in memory at each call (warehouse_views.py). Other tools
(the duckdb CLI, a notebook, a BI tool) want a file to open: this one holds no data, only
one view per schema.table plus `_warehouse.published_files`, and needs nothing beyond the
json and parquet readers built into every standard DuckDB build (no extension to install).

Why the views read the manifests at query time rather than list the published files: a
list would freeze the catalog at the moment it was written, and every publication would
have to rewrite it while clients hold it open. Instead a table view reads every Parquet
file of its folder (`read_parquet(<folder>/*/[!.]*.parquet, union_by_name = true)`) and
keeps the rows of the files the manifests name (`_published/*.json`, read with
`read_json`), so a client sees exactly the published partitions of the moment, including
those published after the catalog was written. DuckDB prunes the files the filter excludes
before reading their rows (an unpublished file costs its footer, read for the schema).
`[!.]` keeps out the temporary files a writer is filling (`.tmp-…`, table_files.py).

The catalog is rewritten only when a table appears that it lacks, or when the warehouse
folder moved (its paths are absolute): by `publish` (publication.py), cheaply, and by
`reassort catalog`. It is written under a temporary name and renamed into place, so a
client that has it open keeps reading its old file. Table names come from checked folder
names (table_files.NAME), paths from the warehouse root: nothing read from data becomes SQL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb

from orchestrator_assets.manifests import published_files
from orchestrator_assets.table_files import NAME, PUBLISHED_DIR, TMP_PREFIX, check_table, exclusive_lock

CATALOG_FILE = "catalog.duckdb"
#: the schema of the catalog's own views; a table schema cannot take it (see `catalog_tables`)
META_SCHEMA = "_warehouse"
#: what a glob may not contain: DuckDB has no escape for its wildcards
_GLOB_CHARACTERS = frozenset("*?[]{}")
_MANIFEST_COLUMNS = (
    "{partition: 'VARCHAR', entries: 'MAP(VARCHAR, STRUCT(run_id VARCHAR, file VARCHAR, published_at VARCHAR))'}"
)
#: the column that carries each row's file name inside a view, never shown
_FILE_COLUMN = "__reassort_file"

log = logging.getLogger(__name__)


class CatalogError(ValueError):
    """A warehouse whose catalog cannot be written (a path DuckDB could not glob)."""


def catalog_path(root: Path) -> Path:
    return root / CATALOG_FILE


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _checked_root(root: Path) -> str:
    """The absolute warehouse path as the views will name it."""
    location = str(root.resolve())
    if _GLOB_CHARACTERS & set(location):
        raise CatalogError(f"the warehouse path {location!r} contains a glob character (one of * ? [ ] {{ }}): "
                           "DuckDB could not list its files; move the warehouse to a plainer path")
    return location


def catalog_tables(root: Path) -> list[str]:
    """Tables with at least one published file and a folder whose name is a checked identifier."""
    tables = []
    for table in published_files(root):
        if not _catalogued(table):  # a manifest key that is no schema.table: never made into SQL
            continue
        schema, name = check_table(table)
        if (root / schema / name).is_dir():
            tables.append(table)
    return sorted(tables)


def catalog_statements(location: str, tables: Iterable[str]) -> list[str]:
    """The SQL that builds the catalog: the published-files view, then one view per table."""
    manifests = _sql_string(f"{location}/{PUBLISHED_DIR}/[!.]*.json")
    statements = [
        f'CREATE SCHEMA "{META_SCHEMA}"',
        # one row per published slice (table or table/unit) of each partition
        f'CREATE VIEW "{META_SCHEMA}".published_files AS '
        "SELECT CAST(manifest.partition AS DATE) AS partition_date, "
        "split_part(manifest.entry.key, '/', 1) AS table_name, "
        "manifest.entry.key AS entry, manifest.entry.value.run_id AS run_id, "
        f"{_sql_string(location + '/')} || manifest.entry.value.file AS file, "
        "manifest.entry.value.published_at AS published_at "
        "FROM (SELECT partition, unnest(map_entries(entries)) AS entry "
        f"FROM read_json({manifests}, columns = {_MANIFEST_COLUMNS})) AS manifest",
        f'CREATE VIEW "{META_SCHEMA}".location AS SELECT {_sql_string(location)} AS warehouse',
    ]
    schemas = set()
    for table in tables:
        schema, name = check_table(table)
        if schema not in schemas:
            statements.append(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            schemas.add(schema)
        files = _sql_string(f"{location}/{schema}/{name}/*/[!.]*.parquet")
        statements.append(
            f'CREATE VIEW "{schema}"."{name}" AS '
            f"SELECT * EXCLUDE ({_FILE_COLUMN}) "
            f"FROM read_parquet({files}, union_by_name = true, filename = '{_FILE_COLUMN}') "
            f'WHERE {_FILE_COLUMN} IN (SELECT file FROM "{META_SCHEMA}".published_files '
            f"WHERE table_name = {_sql_string(table)})"
        )
    return statements


def write_catalog(root: Path) -> Path:
    """(Re)write `<root>/catalog.duckdb` with a view for every published table; returns its path."""
    location = _checked_root(root)
    tables = catalog_tables(root)
    target = catalog_path(root)
    temporary = root / f"{TMP_PREFIX}{uuid.uuid4().hex}.duckdb"
    try:
        con = duckdb.connect(str(temporary))
        try:
            for statement in catalog_statements(location, tables):
                con.execute(statement)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
    _KNOWN[target] = (_stamp(target), (location, frozenset(tables)))
    return target


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


#: what a catalog file holds (its warehouse path, its tables), by the stat it was read at: a
#: catalog is only ever replaced, so an unchanged stat means unchanged content. Keeps the
#: check in `publish` to one stat once the process has looked.
_KNOWN: dict[Path, tuple[tuple[int, int, int] | None, tuple[str, frozenset[str]]]] = {}


def catalog_contents(root: Path) -> tuple[str, frozenset[str]] | None:
    """(warehouse path, tables) of the catalog file as it is, None if there is none or it
    cannot be read (a client holding it open for writing, an older layout)."""
    path = catalog_path(root)
    stamp = _stamp(path)
    if stamp is None:
        return None
    cached = _KNOWN.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            location = con.execute(f'SELECT warehouse FROM "{META_SCHEMA}".location').fetchone()[0]
            views = con.execute(
                "SELECT schema_name || '.' || view_name FROM duckdb_views() "
                f"WHERE NOT internal AND schema_name <> '{META_SCHEMA}'"
            ).fetchall()
        finally:
            con.close()
    except duckdb.Error:
        return None
    contents = (location, frozenset(view for (view,) in views))
    _KNOWN[path] = (stamp, contents)
    return contents


def _catalog_lock(root: Path) -> contextlib.AbstractContextManager[None]:
    """One catalog writer at a time, so that two publications of new tables cannot each
    replace the catalog with one lacking the other's table."""
    return exclusive_lock(root / f"{CATALOG_FILE}.lock")


def _catalogued(table: str) -> bool:
    """Whether a table belongs in the catalog by its name (a schema.table of checked identifiers)."""
    parts = table.split(".")
    return len(parts) == 2 and all(NAME.fullmatch(part) for part in parts) and parts[0] != META_SCHEMA


def catalog_is_current(root: Path, tables: Iterable[str]) -> bool:
    contents = catalog_contents(root)
    if contents is None:
        return False
    location, known = contents
    return location == str(root.resolve()) and set(tables) <= known


def ensure_catalog(root: Path, tables: Iterable[str]) -> bool:
    """Rewrite the catalog if it lacks one of `tables` or names another folder; True if it did.

    Called at every publication, so the usual case is one stat. Never raises: the
    publication it follows has happened, and `reassort catalog` can always redo this."""
    wanted = {table for table in tables if _catalogued(table)}
    try:
        if catalog_is_current(root, wanted):
            return False
        with _catalog_lock(root):
            if catalog_is_current(root, wanted):  # another writer did it while we waited
                return False
            write_catalog(root)
        return True
    except (OSError, duckdb.Error, CatalogError) as error:
        log.warning("the DuckDB catalog %s was not updated (%s); `reassort catalog` rewrites it", catalog_path(root), error)
        return False
