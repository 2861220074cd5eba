"""The DuckDB warehouse: one short-lived connection per operation, and the Polars IO manager.

Why our own IO manager rather than dagster-duckdb-polars: every output row must carry its
partition_date and the run_id that wrote it, a partition must be replaced atomically (delete
and insert in one transaction), and a DuckDB file accepts one writing process at a time, so
with Dagster's multiprocess executor (and users running `reassort query`) every open must
wait and retry instead of failing on the file lock. duckdb is also pinned below 2 (see the
README), so dagster-duckdb-polars keeps working for anyone who prefers it.

Concurrency policy: connections are held only for the duration of one read or one write.
A writer that finds the file locked retries with exponential backoff and jitter for up to
`lock_timeout_s` (default 600 s), logging each wait; a reader (`reassort query`) retries for
a few seconds, then reports "warehouse busy, try again".
"""


import contextlib
import logging
import random
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

log = logging.getLogger("reassort.warehouse")


class WarehouseBusyError(RuntimeError):
    """The warehouse file stayed locked by another process for longer than we were willing to wait."""


def _is_lock_error(error: Exception) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


@contextlib.contextmanager
def connect(
    path: Path | str,
    read_only: bool = False,
    lock_timeout_s: float = 600.0,
    on_wait: "callable | None" = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting (backoff with jitter) while another process holds the lock."""
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(
            f"No warehouse at {path}: run `reassort run --date YYYY-MM-DD` first "
            "(or set REASSORT_WAREHOUSE)."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    attempt = 0
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except (duckdb.IOException, duckdb.ConnectionException) as error:
            if not _is_lock_error(error):
                raise
            attempt += 1
            if time.monotonic() + delay > deadline:
                raise WarehouseBusyError(
                    f"The warehouse {path} is locked by another process (a run is writing, or a "
                    f"DuckDB shell holds it open); gave up after {lock_timeout_s:.0f} s. Try again "
                    "in a moment. Detail: " + str(error).splitlines()[0]
                ) from error
            message = f"warehouse locked by another process, retry {attempt} in {delay:.2f} s"
            (on_wait or log.info)(message)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    try:
        yield con
    finally:
        con.close()


def table_name(asset_key: dg.AssetKey) -> str:
    """raw/articles -> raw.articles: the asset key path is the schema.table of SPEC §7."""
    path = asset_key.path
    if len(path) == 1:
        return f"main.{path[0]}"
    return f"{path[-2]}.{path[-1]}"


def _quoted(qualified: str) -> str:
    schema, table = qualified.split(".")
    return f'"{schema}"."{table}"'


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    where_sql: str,
    where_params: Sequence[object] = (),
) -> None:
    """Delete the rows matching `where_sql` and insert `frame`, in one transaction.

    The table is created from the frame's schema on first write; columns the code added
    later are added to the table (nothing is dropped, so older partitions stay readable).
    """
    schema = table.split(".")[0]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.register("incoming_frame", frame.to_arrow())
        con.execute(f"CREATE TABLE IF NOT EXISTS {_quoted(table)} AS SELECT * FROM incoming_frame LIMIT 0")
        existing = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                table.split("."),
            ).fetchall()
        }
        for column in frame.columns:
            if column not in existing:
                sql_type = con.execute(
                    f'SELECT typeof("{column}") FROM incoming_frame LIMIT 1'
                ).fetchone()
                duck_type = sql_type[0] if sql_type else "VARCHAR"
                con.execute(f'ALTER TABLE {_quoted(table)} ADD COLUMN "{column}" {duck_type}')
        con.execute(f"DELETE FROM {_quoted(table)} WHERE {where_sql}", list(where_params))
        con.execute(f"INSERT INTO {_quoted(table)} BY NAME SELECT * FROM incoming_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_frame")


def with_lineage(frame: pl.DataFrame, partition_date: date | None, run_id: str) -> pl.DataFrame:
    """Stamp rows with the partition they belong to and the run that wrote them (SPEC §7)."""
    columns = []
    if partition_date is not None and "partition_date" not in frame.columns:
        columns.append(pl.lit(partition_date, dtype=pl.Date).alias("partition_date"))
    columns.append(pl.lit(run_id, dtype=pl.String).alias("run_id"))
    return frame.with_columns(columns)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file of outputs; every asset reads and writes through it."""

    path: str
    lock_timeout_s: float = 600.0

    @contextlib.contextmanager
    def connection(self, read_only: bool = False, on_wait=None) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.path, read_only=read_only, lock_timeout_s=self.lock_timeout_s, on_wait=on_wait) as con:
            yield con

    def read(self, sql: str, params: Sequence[object] = ()) -> pl.DataFrame:
        with self.connection() as con:
            return con.execute(sql, list(params)).pl()

    def table_exists(self, table: str) -> bool:
        with self.connection() as con:
            return _table_exists(con, table)

    def write_partition(
        self,
        table: str,
        frame: pl.DataFrame,
        partition_dates: Sequence[date],
        run_id: str,
        extra_where: str = "",
        extra_params: Sequence[object] = (),
        on_wait=None,
    ) -> None:
        """Replace exactly the rows of these partitions (and of `extra_where`, if given)."""
        where = "partition_date IN (SELECT UNNEST(?::DATE[]))"
        params: list[object] = [list(partition_dates)]
        if extra_where:
            where = f"{where} AND ({extra_where})"
            params.extend(extra_params)
        stamped = with_lineage(frame, partition_dates[0] if len(partition_dates) == 1 else None, run_id)
        with self.connection(on_wait=on_wait) as con:
            replace_rows(con, table, stamped, where, params)


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _partition_dates(keys: Sequence[str]) -> list[date]:
    return [date.fromisoformat(key) for key in keys]


class PolarsWarehouseIOManager(dg.ConfigurableIOManager):
    """Stores each asset's Polars frame as the DuckDB table schema.table named by its key.

    Partitioned assets replace exactly their partitions' rows; loading one partition returns
    the SPEC columns, loading several (a history window) keeps partition_date so days can be told
    apart. run_id is kept in the warehouse and dropped on load.
    """

    warehouse: dg.ResourceDependency[Warehouse]

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return
        table = table_name(context.asset_key)
        run_id = context.run_id
        if context.has_asset_partitions:
            dates = _partition_dates(context.asset_partition_keys)
            self.warehouse.write_partition(table, obj, dates, run_id, on_wait=context.log.info)
        else:
            with self.warehouse.connection(on_wait=context.log.info) as con:
                replace_rows(con, table, with_lineage(obj, None, run_id), "TRUE")
        context.add_output_metadata({"table": table, "rows": len(obj)})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        table = table_name(context.asset_key)
        with self.warehouse.connection(on_wait=context.log.info) as con:
            if not _table_exists(con, table):
                raise dg.Failure(
                    f"Input table {table} does not exist yet: materialise {context.asset_key.to_user_string()} first."
                )
            if context.has_asset_partitions:
                dates = _partition_dates(context.asset_partition_keys)
                frame = con.execute(
                    f"SELECT * EXCLUDE (run_id) FROM {_quoted(table)} "
                    "WHERE partition_date IN (SELECT UNNEST(?::DATE[]))",
                    [dates],
                ).pl()
                if len(dates) == 1:
                    frame = frame.drop("partition_date")
                return frame
            return con.execute(f"SELECT * EXCLUDE (run_id) FROM {_quoted(table)}").pl()
