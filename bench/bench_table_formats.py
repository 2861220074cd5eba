"""Delta Lake (delta-rs) against Hive-partitioned Parquet as Réassort's table storage (issue 14, point 1).

Not a test: a script that measures the two candidate layouts for "one table = one folder,
one partition = one unit replaced atomically" on a frame shaped like
``stock.stock_projection`` (SPEC §3, plus ``partition_date`` and ``run_id``):

* **parquet**: ``<table>/partition_date=YYYY-MM-DD/data.parquet``, one file per partition,
  written to a hidden temporary file in the same folder then ``os.replace``-d into place
  (atomic on POSIX; readers glob ``*/*.parquet`` so they never see the temporary file);
* **delta**: one Delta table partitioned by ``partition_date``; a partition is replaced by
  ``write_deltalake(mode="overwrite", predicate="partition_date = 'D'")`` (one commit).

For a 300,000-row frame (the ``large`` profile's pairs) and a 200-row frame (``tiny``) it
times, median of several runs: (1) writing a new partition, (2) replacing an existing one,
(3) reading one partition with Polars, (4) reading a 180-day window with Polars and with
DuckDB. Then, with processes (``multiprocessing``, spawn, never threads): (5) two writers
replacing *different* partitions of one table 20 times each (errors, retries, rows lost),
(6) two writers replacing the *same* partition at once (is the final state exactly one
writer's rows?), (7) a reader looping while a writer replaces the partition it reads (old
or new, never a mix), once with versions of different sizes and once with versions
identical but for run_id in row groups of 1,000 rows (where a mixed read would raise no
error), (8) disk used after 20 replaces (and Delta's ``vacuum``). Last, what
a plain DuckDB client needs to read each layout (``INSTALL delta`` is tried).

The 180-day window uses partitions of ``--window-rows`` rows (10,000 by default, a daily
history table such as raw.movements) and of 200 rows: 180 x 300,000 rows would be 54 M
rows and about 1.5 GB per format, more than a shared 2-core machine should be asked for.
DuckDB is timed twice on the window: materialising every row as a Polars frame (``.pl()``,
dominated by the conversion of 12 columns, not by the layout) and an aggregate over it
(the scan alone, what a ``reassort query`` costs).
The window tables are built by writing their 180 partitions one by one (Delta: 180
commits, as a daily pipeline leaves them), and that build time is reported too.

It is not part of the project's environment (deltalake is not a dependency): run it with
its own virtual environment::

    python3 -m venv /tmp/fmtbench
    /tmp/fmtbench/bin/pip install deltalake polars pyarrow "duckdb<2" psutil numpy
    /tmp/fmtbench/bin/python bench/bench_table_formats.py [--json out.json]

It uses about 3 min of CPU (user + sys); on 2 cores at load average 9-12 the defaults took
6 min 22 s of wall time. ``--rows``, ``--window-rows``, ``--rounds`` and ``--trials`` shrink it.
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

FIRST_DAY = date(2025, 1, 1)
SITES = 1_000
ARTICLES = 20_000

Frame = pl.DataFrame


def projection_frame(rows: int, day: date, run_id: str, seed: int) -> Frame:
    """A frame with the columns and types of stock.stock_projection, random but plausible values.

    days_to_min / days_to_stockout are null for about a third of the pairs (never reached
    within the horizon), as in the real table.
    """
    rng = np.random.default_rng(seed)
    sites = rng.integers(0, SITES, rows)
    articles = rng.integers(0, ARTICLES, rows)
    nulls_min = rng.random(rows) < 0.35
    nulls_out = rng.random(rows) < 0.55
    return pl.DataFrame(
        {
            "site_id": "S" + pl.Series(sites).cast(pl.String).str.zfill(4),
            "article_id": "A" + pl.Series(articles).cast(pl.String).str.zfill(5),
            "on_hand": rng.integers(0, 50, rows),
            "stock_min": rng.integers(0, 10, rows),
            "lead_time_days": rng.integers(1, 15, rows),
            "days_to_min": pl.Series(rng.integers(0, 30, rows)).set(pl.Series(nulls_min), None),
            "days_to_stockout": pl.Series(rng.integers(0, 30, rows)).set(pl.Series(nulls_out), None),
            "min_projected": rng.normal(5, 4, rows),
            "end_projected": rng.normal(3, 4, rows),
            "projected_at_lead_time": rng.normal(4, 4, rows),
        }
    ).with_columns(
        pl.lit(day, dtype=pl.Date).alias("partition_date"),
        pl.lit(run_id, dtype=pl.String).alias("run_id"),
    )


# --------------------------------------------------------------------------- the two layouts


class ParquetTable:
    """One folder per partition holding one file, replaced by write-to-temp then rename."""

    name = "parquet"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.glob = str(root / "*" / "*.parquet")

    def _path(self, day: date) -> Path:
        return self.root / f"partition_date={day.isoformat()}" / "data.parquet"

    def replace(self, frame: Frame, day: date, row_group_rows: int | None = None) -> None:
        """New and existing partitions alike: the rename is the commit."""
        path = self._path(day)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.parent / f".data.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        frame.drop("partition_date").write_parquet(temporary, row_group_size=row_group_rows)
        os.replace(temporary, path)

    def _scan(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.glob, hive_partitioning=True, hive_schema={"partition_date": pl.Date})

    def read_day_polars(self, day: date) -> Frame:
        return self._scan().filter(pl.col("partition_date") == day).collect()

    def read_day_polars_one_handle(self, day: date) -> Frame:
        """The partition's file opened once and read through that handle: it is one inode whatever a rename does."""
        with open(self._path(day), "rb") as handle:
            return pl.read_parquet(handle).with_columns(partition_date=pl.lit(day))

    def read_window_polars(self, first: date, last: date) -> Frame:
        return self._scan().filter(pl.col("partition_date").is_between(first, last)).collect()

    def duckdb_source(self) -> str:
        """A FROM clause any DuckDB reads with its built-in parquet reader; the glob is expanded at each query."""
        return (f"read_parquet('{self.glob}', hive_partitioning = true, "
                "hive_types = {'partition_date': DATE})")

    def duckdb_window(self, first: date, last: date) -> tuple[str, list[object]]:
        """(FROM ... WHERE, parameters) selecting the partitions first..last."""
        return f"{self.duckdb_source()} WHERE partition_date BETWEEN ? AND ?", [first, last]


class DeltaStore:
    """One Delta table partitioned by partition_date; a replace is one overwrite-with-predicate commit."""

    name = "delta"

    def __init__(self, root: Path) -> None:
        self.root = root

    def replace(self, frame: Frame, day: date, row_group_rows: int | None = None) -> None:
        from deltalake import WriterProperties, write_deltalake

        properties = WriterProperties(max_row_group_size=row_group_rows) if row_group_rows else None
        write_deltalake(
            str(self.root), frame.to_arrow(), partition_by=["partition_date"], mode="overwrite",
            predicate=f"partition_date = '{day.isoformat()}'", writer_properties=properties,
        )

    def read_day_polars(self, day: date) -> Frame:
        return pl.scan_delta(str(self.root)).filter(pl.col("partition_date") == day).collect()

    def read_window_polars(self, first: date, last: date) -> Frame:
        return pl.scan_delta(str(self.root)).filter(pl.col("partition_date").is_between(first, last)).collect()

    def _files(self, filters: list[tuple[str, str, str]]) -> list[str]:
        """Live data files of the current snapshot: what a DuckDB without the delta extension must be handed."""
        from deltalake import DeltaTable

        return DeltaTable(str(self.root)).file_uris(file_pruning_predicate=filters)

    def duckdb_window(self, first: date, last: date) -> tuple[str, list[object]]:
        """(FROM ... WHERE, parameters): the snapshot's live files of first..last, listed by delta-rs at each query."""
        files = self._files([("partition_date", ">=", first.isoformat()), ("partition_date", "<=", last.isoformat())])
        return ("read_parquet(?, hive_partitioning = true, hive_types = {'partition_date': DATE}) "
                "WHERE partition_date BETWEEN ? AND ?", [files, first, last])


Store = ParquetTable | DeltaStore


def open_store(kind: str, root: Path) -> Store:
    return ParquetTable(root) if kind == "parquet" else DeltaStore(root)


def read_window_duckdb(store: Store, con: duckdb.DuckDBPyConnection, first: date, last: date) -> Frame:
    """The window materialised as a Polars frame (what an asset reading through DuckDB gets)."""
    source, params = store.duckdb_window(first, last)
    return con.execute(f"SELECT * FROM {source}", params).pl()


def aggregate_window_duckdb(store: Store, con: duckdb.DuckDBPyConnection, first: date, last: date) -> tuple:
    """A scan without materialising rows in Python: what the layout costs a SQL query."""
    source, params = store.duckdb_window(first, last)
    return con.execute(f"SELECT count(*), sum(on_hand), avg(min_projected) FROM {source}", params).fetchone()


def read_day_duckdb(store: Store, con: duckdb.DuckDBPyConnection, day: date) -> Frame:
    return read_window_duckdb(store, con, day, day)


def disk_bytes(root: Path) -> tuple[int, int]:
    """(bytes, files) under root, as allocated on disk."""
    total, count = 0, 0
    for path in root.rglob("*"):
        if path.is_file():
            total += path.stat().st_blocks * 512
            count += 1
    return total, count


def median_seconds(action: Callable[[int], object], runs: int) -> float:
    """Median wall time of action(i) for i in range(runs)."""
    times = []
    for i in range(runs):
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --------------------------------------------------------------------------- (1)-(4) timings


def time_single_table(kind: str, rows: int, workdir: Path, runs: int) -> dict[str, float | int]:
    """(1) new partitions, (2) 20 replaces of one partition, (3) one-partition reads, (8) disk after the replaces."""
    store = open_store(kind, workdir / f"{kind}_{rows}")
    frames = [projection_frame(rows, FIRST_DAY, f"run{i}", seed=i) for i in range(2)]
    store.replace(frames[0], FIRST_DAY)  # the table exists before timing
    one_partition_bytes, _ = disk_bytes(store.root)
    new_days = [FIRST_DAY + timedelta(days=1 + i) for i in range(runs)]
    new = median_seconds(lambda i: store.replace(frames[i % 2].with_columns(partition_date=pl.lit(new_days[i])), new_days[i]), runs)
    replace = median_seconds(lambda i: store.replace(frames[i % 2], FIRST_DAY), 20)
    read = median_seconds(lambda i: store.read_day_polars(FIRST_DAY), runs)
    con = duckdb.connect()
    read_duck = median_seconds(lambda i: read_day_duckdb(store, con, FIRST_DAY), runs)
    assert store.read_day_polars(FIRST_DAY).height == rows
    used, files = disk_bytes(store.root)
    result: dict[str, float | int] = {
        "write_new_s": new, "replace_s": replace, "read_day_polars_s": read, "read_day_duckdb_s": read_duck,
        "partitions": 1 + runs, "disk_after_20_replaces_bytes": used, "files_after_20_replaces": files,
        "disk_one_partition_bytes": one_partition_bytes,
    }
    if kind == "delta":
        from deltalake import DeltaTable

        table = DeltaTable(str(store.root))
        start = time.perf_counter()
        removed = table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        result["vacuum_s"] = time.perf_counter() - start
        result["vacuum_removed_files"] = len(removed)
        result["disk_after_vacuum_bytes"], result["files_after_vacuum"] = disk_bytes(store.root)
        result["delta_versions"] = table.version() + 1
    shutil.rmtree(store.root)
    return result


def time_window(kind: str, rows: int, days: int, workdir: Path, runs: int) -> dict[str, float | int]:
    """(4) a history window: build `days` partitions one by one, then read them all, Polars and DuckDB."""
    store = open_store(kind, workdir / f"{kind}_window_{rows}")
    base = projection_frame(rows, FIRST_DAY, "history", seed=7)
    start = time.perf_counter()
    for i in range(days):
        day = FIRST_DAY + timedelta(days=i)
        store.replace(base.with_columns(partition_date=pl.lit(day)), day)
    build = time.perf_counter() - start
    last = FIRST_DAY + timedelta(days=days - 1)
    polars_read = median_seconds(lambda i: store.read_window_polars(FIRST_DAY, last), runs)
    con = duckdb.connect()
    duck_read = median_seconds(lambda i: read_window_duckdb(store, con, FIRST_DAY, last), runs)
    duck_aggregate = median_seconds(lambda i: aggregate_window_duckdb(store, con, FIRST_DAY, last), runs)
    assert store.read_window_polars(FIRST_DAY, last).height == rows * days
    assert read_window_duckdb(store, con, FIRST_DAY, last).height == rows * days
    assert aggregate_window_duckdb(store, con, FIRST_DAY, last)[0] == rows * days
    used, files = disk_bytes(store.root)
    result: dict[str, float | int] = {
        "build_s": build, "read_window_polars_s": polars_read, "read_window_duckdb_s": duck_read,
        "aggregate_window_duckdb_s": duck_aggregate,
        "disk_bytes": used, "files": files,
    }
    if kind == "delta":
        log = store.root / "_delta_log"
        result["log_files"] = sum(1 for _ in log.iterdir())
        result["log_checkpoints"] = sum(1 for p in log.iterdir() if "checkpoint" in p.name)
    shutil.rmtree(store.root)
    return result


# --------------------------------------------------------------------------- (5)-(7) processes


def _with_retries(action: Callable[[], None], attempts: int) -> tuple[int, list[str]]:
    """Run action, retrying after an exception; returns (retries used, error names). Raises after `attempts`."""
    errors: list[str] = []
    for attempt in range(attempts):
        try:
            action()
            return attempt, errors
        except Exception as error:  # noqa: BLE001 - every failure is a figure here
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
            time.sleep(0.01 * (attempt + 1))
    raise RuntimeError(f"gave up after {attempts} attempts: {errors[-1]}")


def different_partition_writer(kind: str, root: str, rows: int, writer: int, day: date, rounds: int,
                               barrier, queue) -> None:
    """(5) One of two processes: replace `day` `rounds` times, each with a new run_id."""
    store = open_store(kind, Path(root))
    frame = projection_frame(rows, day, "x", seed=100 + writer)
    barrier.wait()
    retries, errors, failed = 0, [], 0
    start = time.perf_counter()
    for i in range(rounds):
        try:
            used, seen = _with_retries(lambda i=i: store.replace(frame.with_columns(run_id=pl.lit(f"w{writer}-{i}")), day), 10)
            retries += used
            errors += seen
        except RuntimeError as error:
            failed += 1
            errors.append(str(error))
    queue.put({"writer": writer, "retries": retries, "errors": errors, "failed": failed,
               "seconds": time.perf_counter() - start})


def same_partition_writer(kind: str, root: str, rows: int, writer: int, day: date, trials: int,
                          start_barrier, done_barrier, queue) -> None:
    """(6) One of two processes: at each trial, replace `day` once (no retry), at the same moment as the other."""
    store = open_store(kind, Path(root))
    frame = projection_frame(rows - 7 * writer, day, "x", seed=200 + writer)  # sizes differ: a mix shows
    outcomes = []
    for trial in range(trials):
        start_barrier.wait()
        try:
            store.replace(frame.with_columns(run_id=pl.lit(f"w{writer}-t{trial}")), day)
            outcomes.append("ok")
        except Exception as error:  # noqa: BLE001
            outcomes.append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
        done_barrier.wait()
    queue.put({"writer": writer, "outcomes": outcomes})


def reader_versions(rows: int, day: date, same_size: bool) -> list[Frame]:
    """The two versions (run_id v0, v1) a writer alternates in (7).

    Different sizes (rows, rows - 7, other values): a reader holding one version's footer
    while reading the other's bytes trips on offsets. Same size (identical but for run_id):
    the bytes line up, so such a reader would return rows of both versions without error.
    """
    if same_size:
        base = projection_frame(rows, day, "v0", seed=300)
        return [base.with_columns(run_id=pl.lit(f"v{v}")) for v in range(2)]
    return [projection_frame(rows - 7 * v, day, f"v{v}", seed=300 + v) for v in range(2)]


def replacing_writer(kind: str, root: str, rows: int, day: date, seconds: float, same_size: bool,
                     row_group_rows: int | None, queue) -> None:
    """(7) Replace `day` in a loop, alternating the two versions, for `seconds`."""
    store = open_store(kind, Path(root))
    versions = reader_versions(rows, day, same_size)
    end, count = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        store.replace(versions[count % 2], day, row_group_rows)
        count += 1
    queue.put(count)


def run_different_partitions(ctx, kind: str, rows: int, workdir: Path, rounds: int) -> dict[str, object]:
    root = workdir / f"{kind}_concurrent_{rows}"
    store = open_store(kind, root)
    days = [FIRST_DAY + timedelta(days=i) for i in range(3)]
    for day in days:  # day 0 is nobody's: it must come out untouched
        store.replace(projection_frame(rows, day, "initial", seed=1), day)
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=different_partition_writer,
                           args=(kind, str(root), rows, w, days[w + 1], rounds, barrier, queue)) for w in range(2)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    reports = sorted((queue.get(timeout=600) for _ in workers), key=lambda r: r["writer"])
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    table = store.read_window_polars(days[0], days[-1])
    per_day = {d: table.filter(pl.col("partition_date") == d) for d in days}
    expected = {days[0]: "initial", days[1]: f"w0-{rounds - 1}", days[2]: f"w1-{rounds - 1}"}
    correct = all(per_day[d].height == rows and per_day[d]["run_id"].unique().to_list() == [r]
                  for d, r in expected.items())
    result: dict[str, object] = {
        "rows_expected": 3 * rows, "rows_found": table.height, "each_partition_is_last_write": correct,
        "retries": sum(r["retries"] for r in reports), "failed_writes": sum(r["failed"] for r in reports),
        "errors": sorted({e for r in reports for e in r["errors"]}), "wall_s": wall,
    }
    if kind == "delta":
        from deltalake import DeltaTable

        result["delta_versions"] = DeltaTable(str(root)).version() + 1  # 3 initial + 2 x rounds if all committed
    shutil.rmtree(root)
    return result


def run_same_partition(ctx, kind: str, rows: int, workdir: Path, trials: int) -> dict[str, object]:
    root = workdir / f"{kind}_same_{rows}"
    store = open_store(kind, root)
    day = FIRST_DAY
    store.replace(projection_frame(rows, day, "initial", seed=1), day)
    start_barrier, done_barrier, queue = ctx.Barrier(3), ctx.Barrier(3), ctx.Queue()
    workers = [ctx.Process(target=same_partition_writer,
                           args=(kind, str(root), rows, w, day, trials, start_barrier, done_barrier, queue))
               for w in range(2)]
    for worker in workers:
        worker.start()
    verdicts = []
    for trial in range(trials):
        start_barrier.wait()
        done_barrier.wait()
        found = store.read_day_polars(day)
        run_ids = found["run_id"].unique().to_list()
        one_writer = len(run_ids) == 1 and any(
            run_ids[0] == f"w{w}-t{trial}" and found.height == rows - 7 * w for w in range(2))
        verdicts.append({"rows": found.height, "run_ids": sorted(run_ids), "exactly_one_writer": one_writer})
    reports = sorted((queue.get(timeout=600) for _ in workers), key=lambda r: r["writer"])
    for worker in workers:
        worker.join()
    outcomes = [o for r in reports for o in r["outcomes"]]
    result = {
        "trials": trials, "consistent_trials": sum(v["exactly_one_writer"] for v in verdicts),
        "both_writers_ok": sum(reports[0]["outcomes"][t] == "ok" and reports[1]["outcomes"][t] == "ok"
                               for t in range(trials)),
        "writer_errors": sum(o != "ok" for o in outcomes),
        "errors": sorted({o for o in outcomes if o != "ok"}),
        "bad_trials": [v for v in verdicts if not v["exactly_one_writer"]][:3],
    }
    shutil.rmtree(root)
    return result


def run_reader_during_replace(ctx, kind: str, rows: int, workdir: Path, seconds: float, same_size: bool = False,
                              row_group_rows: int | None = None) -> dict[str, object]:
    """(7) This process reads the partition (Polars, DuckDB) while another one replaces it in a loop.

    A read is good when it returns exactly one version: one run_id and that version's row count.
    """
    root = workdir / f"{kind}_reader_{rows}"
    store = open_store(kind, root)
    day = FIRST_DAY
    versions = reader_versions(rows, day, same_size)
    store.replace(versions[0], day, row_group_rows)
    queue = ctx.Queue()
    writer = ctx.Process(target=replacing_writer,
                         args=(kind, str(root), rows, day, seconds, same_size, row_group_rows, queue))
    writer.start()
    con = duckdb.connect()
    readers: dict[str, Callable[[], Frame]] = {"polars": lambda: store.read_day_polars(day)}
    if isinstance(store, ParquetTable):
        readers["polars_one_handle"] = lambda: store.read_day_polars_one_handle(day)
    readers["duckdb"] = lambda: read_day_duckdb(store, con, day)
    counts = {f"{reader}_{k}": 0 for reader in readers for k in ("reads", "mixed", "errors")}
    examples: list[str] = []
    valid = {version["run_id"][0]: version.height for version in versions}
    while writer.is_alive():
        for reader, read in readers.items():
            try:
                found = read()
            except Exception as error:  # noqa: BLE001
                counts[f"{reader}_errors"] += 1
                if len(examples) < 3:
                    examples.append(f"{reader}: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
                continue
            counts[f"{reader}_reads"] += 1
            run_ids = found["run_id"].unique().to_list()
            if not (len(run_ids) == 1 and valid.get(run_ids[0]) == found.height):
                counts[f"{reader}_mixed"] += 1
                if len(examples) < 3:
                    examples.append(f"{reader}: {found.height} rows, run_ids {sorted(run_ids)[:4]}")
    writer.join()
    result: dict[str, object] = {"replaces": queue.get(timeout=60), **counts, "examples": examples}
    shutil.rmtree(root)
    return result


# --------------------------------------------------------------------------- what a DuckDB client needs


def duckdb_client_needs(workdir: Path) -> dict[str, str]:
    """Try the delta extension (INSTALL needs the extension repository), and a catalog file of views over the Parquet glob."""
    found: dict[str, str] = {}
    con = duckdb.connect()
    try:
        con.execute("INSTALL delta")
        con.execute("LOAD delta")
        found["delta_extension"] = "INSTALL delta + LOAD delta: ok"
    except Exception as error:  # noqa: BLE001
        found["delta_extension"] = f"INSTALL delta failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
    root = workdir / "catalog_parquet"
    store = ParquetTable(root / "stock" / "stock_projection")
    store.replace(projection_frame(200, FIRST_DAY, "r1", seed=1), FIRST_DAY)
    catalog = root / "catalog.duckdb"
    with duckdb.connect(str(catalog)) as writer:
        writer.execute("CREATE SCHEMA stock")
        writer.execute(f"CREATE VIEW stock.stock_projection AS SELECT * FROM {store.duckdb_source()}")
    store.replace(projection_frame(200, FIRST_DAY + timedelta(days=1), "r2", seed=2), FIRST_DAY + timedelta(days=1))
    with duckdb.connect(str(catalog), read_only=True) as reader:
        count = reader.execute("SELECT count(*), count(DISTINCT partition_date) FROM stock.stock_projection").fetchone()
    found["parquet_catalog_view"] = (f"view over the glob in a .duckdb file, opened read-only later: {count[0]} rows, "
                                     f"{count[1]} partitions (the partition added after the view is seen)")
    shutil.rmtree(root)
    return found


# --------------------------------------------------------------------------- report


@dataclass
class Settings:
    rows: int
    tiny_rows: int
    window_rows: int
    window_days: int
    runs: int
    rounds: int
    trials: int
    reader_seconds: float


def versions() -> dict[str, str]:
    import deltalake
    import psutil
    import pyarrow

    return {
        "python": platform.python_version(), "deltalake": deltalake.__version__, "polars": pl.__version__,
        "pyarrow": pyarrow.__version__, "duckdb": duckdb.__version__, "cpus": str(os.cpu_count()),
        "memory_gib": f"{psutil.virtual_memory().total / 2**30:.1f}", "platform": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--tiny-rows", type=int, default=200)
    parser.add_argument("--window-rows", type=int, default=10_000)
    parser.add_argument("--window-days", type=int, default=180)
    parser.add_argument("--runs", type=int, default=5, help="runs per timing (median); replaces always 20")
    parser.add_argument("--rounds", type=int, default=20, help="replaces per writer in (5)")
    parser.add_argument("--trials", type=int, default=10,
                        help="simultaneous same-partition replaces in (6) on the tiny frame (half on the large one)")
    parser.add_argument("--reader-seconds", type=float, default=4.0)
    parser.add_argument("--reader-row-group", type=int, default=1_000,
                        help="row-group size of the same-size versions in (7)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings(args.rows, args.tiny_rows, args.window_rows, args.window_days, args.runs,
                        args.rounds, args.trials, args.reader_seconds)
    ctx = mp.get_context("spawn")  # a fresh interpreter per writer: no tokio runtime or Polars pool inherited by fork
    workdir = Path(tempfile.mkdtemp(prefix="fmtbench-", dir=args.workdir))
    started = time.perf_counter()
    report: dict[str, object] = {"versions": versions(), "settings": settings.__dict__,
                                 "load_average_start": os.getloadavg()}
    results: dict[str, dict[str, object]] = {}

    def step(label: str, compute: Callable[[], object]) -> None:
        t = time.perf_counter()
        results[label] = compute()
        print(f"[{time.perf_counter() - started:6.1f}s] {label} ({time.perf_counter() - t:.1f}s): {results[label]}",
              file=sys.stderr, flush=True)

    try:
        for kind in ("parquet", "delta"):
            for rows in (settings.rows, settings.tiny_rows):
                step(f"{kind}/single/{rows}", partial(time_single_table, kind, rows, workdir, settings.runs))
            for rows in (settings.window_rows, settings.tiny_rows):
                step(f"{kind}/window/{rows}x{settings.window_days}",
                     partial(time_window, kind, rows, settings.window_days, workdir, settings.runs))
            for rows in (settings.rows, settings.tiny_rows):
                step(f"{kind}/different_partitions/{rows}",
                     partial(run_different_partitions, ctx, kind, rows, workdir, settings.rounds))
                trials = settings.trials if rows == settings.tiny_rows else max(2, settings.trials // 2)
                step(f"{kind}/same_partition/{rows}", partial(run_same_partition, ctx, kind, rows, workdir, trials))
                step(f"{kind}/reader_during_replace/{rows}",
                     partial(run_reader_during_replace, ctx, kind, rows, workdir, settings.reader_seconds))
            step(f"{kind}/reader_during_replace_same_size/{settings.window_rows}",
                 partial(run_reader_during_replace, ctx, kind, settings.window_rows, workdir, settings.reader_seconds,
                         same_size=True, row_group_rows=args.reader_row_group))
        step("duckdb_client", lambda: duckdb_client_needs(workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["results"] = results
    report["load_average_end"] = os.getloadavg()
    report["total_s"] = time.perf_counter() - started
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
