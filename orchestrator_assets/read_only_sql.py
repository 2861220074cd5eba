"""The read-only SQL path: which statements a user may run, and a connection that reaches
nothing but the warehouse tables even if a statement slipped through (issue 13, point 1).

Two locks, each enough on its own against the attacks of issue 13 (COPY over a warehouse file,
ATTACH … READ_WRITE, read_csv('/etc/passwd'), INSTALL, SET, ';'-chains):

1. `check_statement` asks DuckDB's own parser, never a regular expression over the text:
   exactly one statement, of a reading kind (SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE, or
   EXPLAIN of one of those), whose table functions are all on a short list of pure ones and
   whose table names are not file paths.
2. `open_read_only` gives DuckDB the views' Parquet files through a filesystem of our own,
   `reassort://`, that knows those files only and opens them for reading only; then switches
   external access off with `reassort://` as the only allowed directory, forbids installing
   or loading extensions and locks the configuration. The connection can thus read the view
   files and nothing else, and can write nowhere. DuckDB's allowed_directories alone would not
   do: on DuckDB 1.5.6 they grant writes as well as reads, and `COPY (SELECT 1) TO '<data
   file>' (USE_TMP_FILE false)` overwrote an allowed Parquet file through a locked connection.

`run_query` adds a row limit (rows are fetched, the SQL text is never rewritten) and a timeout.
docs/security.md ("The query path") says what is enforced where.
"""

from __future__ import annotations

import glob
import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import BinaryIO

import duckdb
import fsspec
import polars as pl
import pyarrow as pa

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

READING_KINDS = "SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE, PIVOT, UNPIVOT or EXPLAIN"

# DuckDB parses PRAGMA into a SELECT over a pragma_* function: the first word tells them apart.
_READING_FIRST_WORDS = frozenset(
    {"select", "with", "from", "values", "table", "describe", "desc", "show", "summarize",
     "pivot", "pivot_wider", "unpivot", "pivot_longer", "("}
)

# Table functions a reading query may call: generators, unnesting and catalog listings.
# Everything else is refused, chiefly because it reads files (read_*, glob, parquet_*,
# sniff_csv), runs SQL held in a string (query, json_execute_serialized_sql) or changes the
# session behind lock_configuration's back (enable_logging, checkpoint, ...).
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree",
        "histogram", "histogram_values",
        "show", "show_tables", "show_tables_expanded", "show_databases", "summary", "table_info",
        "duckdb_columns", "duckdb_constraints", "duckdb_databases", "duckdb_dependencies",
        "duckdb_functions", "duckdb_indexes", "duckdb_keywords", "duckdb_schemas",
        "duckdb_settings", "duckdb_tables", "duckdb_types", "duckdb_views",
    }
)

# A table name DuckDB would hand to a file reader (replacement scan): FROM 'x.csv', FROM 's3://…'.
_PATH_LIKE = re.compile(r"[./\\:]")

# Applied in this order, after allowed_directories; lock_configuration last, since it freezes
# every setting before it.
_LOCK_DOWN = (
    "SET python_enable_replacements = false",
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET lock_configuration = true",
)


class QueryRefused(ValueError):
    """The statement is not a single reading statement; the message says why."""


class QueryTimeout(TimeoutError):
    """The query ran longer than its time budget and was interrupted."""


def check_statement(sql: str) -> str:
    """The text of the one reading statement in `sql`, or QueryRefused saying why not.

    Parsing happens on a locked, empty database: DuckDB's parser itself opens files for
    IMPORT DATABASE (it splices in the directory's schema.sql), which an unlocked
    `duckdb.extract_statements` does.
    """
    word = _first_word(sql)
    with _parser() as parser:
        try:
            statements = _parse(parser, sql)
        except QueryRefused as refusal:
            # The parser opens files for IMPORT DATABASE: refused there, say it as a kind.
            if isinstance(refusal.__cause__, duckdb.PermissionException):
                raise _not_reading(word) from None
            raise
        if not statements:
            raise QueryRefused("the query is empty")
        if len(statements) > 1:
            hint = ""
            if word in {"pivot", "pivot_wider"}:
                hint = " (a PIVOT without an explicit IN list creates a type first: write ON column IN (...))"
            raise QueryRefused(f"one statement per query, found {len(statements)}{hint}")
        statement = statements[0]
        _check_reading(parser, statement.query, statement.type, word)
        return statement.query


def open_read_only(
    views: Mapping[str, str | Path | Sequence[str | Path]],
    allowed_dirs: Sequence[Path],
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per "schema.table" (or "table", in main) over
    its Parquet files, locked so that it reads those files and nothing else, and writes nowhere.

    Each view's value is a file, a glob pattern or a list of them, expanded now; every file
    must lie under one of `allowed_dirs` (after resolving links and ".."). A view reads its
    files with read_parquet(union_by_name = true): a column missing from a file reads as null.
    """
    roots = [Path(directory).resolve(strict=True) for directory in allowed_dirs]
    files: dict[str, Path] = {}
    definitions: list[str] = []
    for name, source in views.items():
        schema, table = _qualified_name(name)
        virtual = []
        for index, (root, path) in enumerate(_files(name, source, roots)):
            # The path under its root is kept, so hive-style folders (partition_date=D/)
            # still give their columns, as read_parquet over the real paths would.
            key = f"{schema}.{table}/{index}/{path.relative_to(root).as_posix()}"
            files[key] = path
            virtual.append(_string_literal(f"{_ViewFiles.protocol}://{key}"))
        definitions.append(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}")
        definitions.append(
            f"CREATE OR REPLACE VIEW {_quoted(schema)}.{_quoted(table)} AS "
            f"SELECT * FROM read_parquet([{', '.join(virtual)}], union_by_name = true)"
        )
    con = duckdb.connect()
    try:
        con.register_filesystem(_ViewFiles(files))
        for definition in definitions:
            con.execute(definition)
        _lock_down(con, allowed_prefix=f"{_ViewFiles.protocol}://")
    except BaseException:
        con.close()
        raise
    return con


def run_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    max_rows: int = 10_000,
    timeout_s: float = 30.0,
) -> tuple[pl.DataFrame, bool]:
    """The first `max_rows` rows of a checked reading query, and whether more were left.

    Rows are pulled from DuckDB's stream until one past the limit, so a query over a large
    table stops early and the SQL text is run as written. A timer interrupts the connection
    after `timeout_s` seconds (execution and fetching both count).
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    statement = check_statement(sql)
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    timer.daemon = True
    timer.start()
    try:
        reader = con.execute(statement).to_arrow_reader(min(max_rows + 1, 100_000))
        batches: list[pa.RecordBatch] = []
        fetched = 0
        while fetched <= max_rows:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            batches.append(batch)
            fetched += batch.num_rows
        reader.close()
    except Exception as error:
        # Interrupted while executing (InterruptException) or while the Arrow reader pulled a
        # batch (which may surface as an Arrow error): the timer says which it was.
        if timed_out.is_set():
            raise QueryTimeout(
                f"the query ran longer than {timeout_s:g} s and was stopped; narrow it (WHERE, LIMIT, "
                "fewer joins) or raise the time limit"
            ) from error
        raise
    except KeyboardInterrupt:
        # Ctrl-C between two of DuckDB's own checks (while the reader pulls a batch): the
        # statement still runs in DuckDB's threads, and closing the connection would wait
        # for it to end, minutes later
        con.interrupt()
        raise
    finally:
        timer.cancel()
    frame = pl.from_arrow(pa.Table.from_batches(batches, schema=reader.schema))
    assert isinstance(frame, pl.DataFrame)
    return frame.head(max_rows), frame.height > max_rows


# ---------------------------------------------------------------- checking

_parser_lock = threading.Lock()


@cache
def _parser_database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _lock_down(con)
    return con


def _parser() -> duckdb.DuckDBPyConnection:
    """A fresh cursor (own connection, same locked database) so threads never share one."""
    with _parser_lock:
        return _parser_database().cursor()


def _parse(parser: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        return parser.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryRefused(f"the query does not parse: {error}") from error


def _check_reading(parser: duckdb.DuckDBPyConnection, text: str, kind: duckdb.StatementType, word: str) -> None:
    """`word` is the first word the user wrote: DuckDB hands PRAGMA back rewritten as a SELECT."""
    if kind == duckdb.StatementType.EXPLAIN:
        inner_text = _explained_text(text)
        explained = _parse(parser, inner_text)
        if len(explained) != 1:
            raise QueryRefused("EXPLAIN must wrap exactly one statement")
        try:
            _check_reading(parser, explained[0].query, explained[0].type, _first_word(inner_text))
        except QueryRefused as refusal:
            raise QueryRefused(f"EXPLAIN of a refused statement: {refusal}") from None
        return
    if kind != duckdb.StatementType.SELECT or word not in _READING_FIRST_WORDS:
        raise _not_reading(word or kind.name)
    functions, tables = _references(parser, text)
    refused = sorted(functions - ALLOWED_TABLE_FUNCTIONS)
    if refused:
        raise QueryRefused(
            f"table function {', '.join(refused)} refused: queries read the warehouse views only "
            "(no file, no SQL in strings, no session changes); list them with SHOW ALL TABLES"
        )
    paths = sorted(table for table in tables if _PATH_LIKE.search(table))
    if paths:
        raise QueryRefused(
            f"{', '.join(paths)} is read as a file, not a table: queries read the warehouse views only; "
            "list them with SHOW ALL TABLES"
        )


def _not_reading(word: str) -> QueryRefused:
    return QueryRefused(
        f"{word.upper()} statements are refused: the query path only reads "
        f"({READING_KINDS}); the warehouse is written by runs, not by queries"
    )


def _tokens(text: str) -> list[tuple[int, str]]:
    """(offset, first word or bracket) of each token; comments are not tokens."""
    found = []
    for offset, _kind in duckdb.tokenize(text):
        match = re.match(r"[A-Za-z_][A-Za-z0-9_]*|\S", text[offset:])
        found.append((offset, match.group(0).lower() if match else ""))
    return found


def _first_word(text: str) -> str:
    tokens = _tokens(text)
    return tokens[0][1] if tokens else ""


def _explained_text(text: str) -> str:
    """What `EXPLAIN [ANALYZE] [(options)] <statement>` wraps, found from its tokens."""
    tokens = _tokens(text)
    position = 1  # past EXPLAIN
    if position < len(tokens) and tokens[position][1] in {"analyze", "analyse"}:
        position += 1
    if position < len(tokens) and tokens[position][1] == "(":
        depth = 0
        while position < len(tokens):
            depth += {"(": 1, ")": -1}.get(tokens[position][1], 0)
            position += 1
            if depth == 0:
                break
    if position >= len(tokens):
        raise QueryRefused("EXPLAIN must wrap a statement")
    return text[tokens[position][0]:]


def _references(parser: duckdb.DuckDBPyConnection, text: str) -> tuple[set[str], set[str]]:
    """The table functions the statement's syntax tree calls and the table names it reads,
    at any depth (subqueries, CTEs, joins, expressions)."""
    tree = json.loads(parser.execute("SELECT json_serialize_sql(?)", [text]).fetchone()[0])
    if tree.get("error"):
        raise QueryRefused(f"the statement cannot be inspected: {tree.get('error_message', 'unknown error')}")
    functions: set[str] = set()
    tables: set[str] = set()
    pending: list[object] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
                functions.add(str(node["function"].get("function_name", "")).lower())
            if node.get("type") == "BASE_TABLE":
                tables.add(str(node.get("table_name", "")))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return functions, tables


# ---------------------------------------------------------------- connection


class _ViewFiles(fsspec.AbstractFileSystem):
    """The views' Parquet files, read-only, as reassort://<schema>.<table>/<n>/<path under its root>.

    Every byte the locked connection reads comes through `_open`, which knows these files
    only and refuses any mode but "rb": COPY, ATTACH or EXPORT aimed here fail with
    PermissionError, a path outside the set is FileNotFoundError, whatever ".." it holds.
    """

    protocol = "reassort"
    cachable = False  # one instance per connection, never shared through fsspec's cache

    def __init__(self, files: Mapping[str, Path]):
        super().__init__()
        self._files = dict(files)

    def _real(self, path: str) -> Path:
        try:
            return self._files[self._strip_protocol(path)]
        except KeyError:
            raise FileNotFoundError(f"{path}: not a warehouse view file") from None

    def _open(self, path: str, mode: str = "rb", **kwargs: object) -> BinaryIO:
        if mode != "rb":
            raise PermissionError(f"{path}: the warehouse views are read-only (mode {mode!r} refused)")
        return open(self._real(path), "rb")  # noqa: SIM115 - DuckDB closes the handle

    def info(self, path: str, **kwargs: object) -> dict[str, object]:
        stat = self._real(path).stat()
        return {"name": self._strip_protocol(path), "size": stat.st_size, "type": "file", "mtime": stat.st_mtime}

    def ls(self, path: str, detail: bool = True, **kwargs: object) -> list:
        name = self._strip_protocol(path)
        names = [name] if name in self._files else sorted(n for n in self._files if n.startswith(name.rstrip("/") + "/"))
        return [self.info(n) for n in names] if detail else names

    def modified(self, path: str) -> datetime:
        return datetime.fromtimestamp(self._real(path).stat().st_mtime, tz=UTC)


def _lock_down(con: duckdb.DuckDBPyConnection, allowed_prefix: str | None = None) -> None:
    """Close the connection to the outside. No spill directory: DuckDB would otherwise add
    `.tmp` (in the working directory) to the allowed directories, a place queries could write
    to; a query too big for memory fails instead. `allowed_prefix` must name a registered
    filesystem's protocol, or DuckDB takes it for a relative local path."""
    con.execute("SET temp_directory = ''")
    if allowed_prefix is not None:
        con.execute("SET allowed_directories = ?", [[allowed_prefix]])
    for statement in _LOCK_DOWN:
        con.execute(statement)


def _qualified_name(name: str) -> tuple[str, str]:
    parts = name.split(".")
    if len(parts) == 1:
        parts = ["main", *parts]
    if len(parts) != 2 or not all(IDENTIFIER.match(part) for part in parts):
        raise ValueError(f"view name {name!r} must be schema.table with names matching {IDENTIFIER.pattern}")
    return parts[0], parts[1]


def _quoted(identifier: str) -> str:
    if not IDENTIFIER.match(identifier):
        raise ValueError(f"identifier {identifier!r} does not match {IDENTIFIER.pattern}")
    return '"' + identifier + '"'


def _string_literal(text: str) -> str:
    """A SQL string literal; CREATE VIEW takes no bound parameters. The texts quoted here are
    reassort:// names built from checked identifiers, so the doubling is only a second guard."""
    return "'" + text.replace("'", "''") + "'"


def _files(
    name: str, source: str | Path | Sequence[str | Path], roots: Sequence[Path]
) -> list[tuple[Path, Path]]:
    """(root, file) for each file of a view, resolved and checked to lie under its root."""
    patterns = [source] if isinstance(source, (str, Path)) else list(source)
    files: list[tuple[Path, Path]] = []
    for pattern in patterns:
        text = str(pattern)
        matches = sorted(glob.glob(text, recursive=True)) if any(c in text for c in "*?[") else [text]
        for match in matches:
            path = Path(match).resolve()
            root = next((root for root in roots if path.is_relative_to(root)), None)
            if root is None:
                raise ValueError(f"view {name}: {match} is outside the allowed directories {[str(r) for r in roots]}")
            if not path.is_file():
                raise ValueError(f"view {name}: {match} is not a file")
            files.append((root, path))
    if not files:
        raise ValueError(f"view {name}: no Parquet file matches {patterns}")
    return files
