"""Local mode's event log: Dagster's SQLite storage, keeping its connections open.

Dagster's SqliteEventLogStorage creates a SQLAlchemy engine, opens a connection, commits,
closes it and disposes of the engine for every read or write of the event log (it uses
NullPool). A daily run writes ~550 events and reads the log back ~1,300 times. On this
project's machine, a tiny day's profile (issue 14) showed ~1,300 such connections costing
~4.5 ms each: engine creation, connect, close. That is about a quarter of the run.

This storage is the same class with one change: an engine per database file (the index and
each run's file), kept for the life of the process. SQLAlchemy's pool keeps one connection
open and hands it out again. Every statement still runs in its own transaction, committed
as before (SQLite's journal is WAL, as Dagster sets it). Other processes (the webserver,
the daemon, a run's process) keep sharing the files, as with Dagster's storage: WAL lets
readers read while one writer writes, and the busy timeout is Dagster's.

Dagster also asks, at every asset-check event (two per check, 78 checks a day), whether the
index has the table of check executions: each answer created and disposed of an engine of its
own (`has_table`, 0.31 s of a `large` day's run). Here the question goes through the index's
kept engine, and a table found is remembered for the life of the process: Dagster's schema
migrations add tables, never drop them, except `wipe`, which forgets what was found.

Commits do not wait for the disk (`PRAGMA synchronous=NORMAL`, in WAL mode): a day's run
commits ~500 events one by one, and each fsync'd commit cost ~3 ms on the 2-core machine
(1.2 s of a `tiny` day's run in the profile). In WAL mode this keeps the database consistent
through any crash; only an operating-system crash or a power loss can lose the last
transactions, i.e. the last events of a run, which run monitoring then marks failed (the
table files, fsync'd and published by manifest, are not in this database). A process
killed, even with kill -9, loses nothing.

Engines are kept for the `MAX_ENGINES` files used last (a webserver reads many runs).
`wipe`, which deletes the files, disposes of them first. Local mode only: cluster mode's
event log is PostgreSQL, whose storage already pools its connections.

The project's dagster.yaml names this class (project_paths.INSTANCE_CONFIG). It overrides
one private method of Dagster 1.13's storage, `_connect`, and the public `has_table`; dagster is pinned to 1.13.*, and
tests/orchestrator_assets/test_local_event_storage.py checks it against that version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

MAX_ENGINES = 16


def _relaxed_sync(dbapi_connection, _record) -> None:
    """WAL with `synchronous=NORMAL` (see the module): a commit no longer waits for fsync."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose database files stay connected (see the module)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data)
        # re-entrant: Dagster calls has_table inside `with self.index_connection()`, and both
        # take this lock (it guards the kept engines)
        self._db_lock = threading.RLock()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=4,  # _initdb and reflection open a second connection while one is out
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _relaxed_sync)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > MAX_ENGINES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_found:
            return True
        with self._db_lock:
            engine = self._engine(INDEX_SHARD_NAME)
            with engine.connect() as conn:
                found = bool(engine.dialect.has_table(conn, table_name))
        if found:
            self._tables_found.add(table_name)
        return found

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                _, engine = self._engines.popitem()
                engine.dispose()

    def wipe(self) -> None:
        self._dispose_engines()
        self._tables_found.clear()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
