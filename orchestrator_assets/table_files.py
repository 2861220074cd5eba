"""Where a table's rows live on disk: one folder per table, one Parquet file per run and partition.

Layout under the warehouse folder (REASSORT_WAREHOUSE, default <data>/warehouse):

    <schema>/<table>/partition_date=<key>/<run_id>[__<unit>].parquet   the rows one run wrote
    _published/<key>.json                                              which file readers see
    _runs/<run_id>.jsonl                                               what one run wrote
    _layout.json                                                       {"layout_version": 1}

A file is written under a temporary name in its final folder, flushed, then renamed into
place (`os.replace`, atomic on POSIX), so a reader or a killed writer never leaves half a
file under a real name. A run never overwrites another run's file: two writers of one
partition each write their own file, and the publication (publication.py) decides which
one readers see. That is what lets any number of processes write at once with no lock on
the data (the only lock is a per-partition one around the small manifest update).

`unit` splits a partition of one table between writers that own different slices of it
(the rejected rows of each source table, the check results of each checked asset).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

#: schema and table names, run ids and units: what may become a path component or an SQL
#: identifier. Nothing read from data ever reaches these (they come from asset keys, code
#: constants and Dagster's run ids), and the pattern makes sure of it.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RUN_ID = re.compile(r"[A-Za-z0-9_\-]+")
PARTITION_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")
PUBLISHED_DIR = "_published"
RUNS_DIR = "_runs"
TMP_PREFIX = ".tmp-"
#: the version of this layout; `_layout.json` records it at the first publication, so that
#: `reassort health` can tell a warehouse of another layout (a newer Réassort, or the single
#: DuckDB file of earlier versions, layout 0: `reassort migrate`) from a readable one.
LAYOUT_VERSION = 1
LAYOUT_FILE = "_layout.json"


class StorageError(ValueError):
    """A name that cannot be a table, partition, run or unit of the warehouse."""


def check_table(table: str) -> tuple[str, str]:
    """'schema.table' -> (schema, table), both plain identifiers."""
    parts = table.split(".")
    if len(parts) != 2 or not all(NAME.fullmatch(part) for part in parts):
        raise StorageError(f"not a schema.table name: {table!r}")
    return parts[0], parts[1]


def check_partition(key: str) -> str:
    if not PARTITION_KEY.fullmatch(key):
        raise StorageError(f"not a partition key YYYY-MM-DD: {key!r}")
    return key


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise StorageError(f"not a run id: {run_id!r}")
    return run_id


def unit_name(*parts: object) -> str:
    """A unit from values such as (asset, run_id): joined by "__", every other character
    than a letter, digit or "_" made "_". The check history and its migration name the
    same slice the same way."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "__".join(str(part) for part in parts))


def check_unit(unit: str) -> str:
    if unit and not NAME.fullmatch(unit):
        raise StorageError(f"not a unit name: {unit!r}")
    return unit


@dataclass(frozen=True)
class UnitFile:
    """One file of one table: the rows `run_id` wrote for `unit` of partition `partition`."""

    table: str
    partition: str
    run_id: str
    unit: str = ""

    @property
    def entry(self) -> str:
        """The manifest key: the slice of the partition this file fills."""
        return f"{self.table}/{self.unit}" if self.unit else self.table

    def relative_path(self) -> str:
        schema, name = check_table(self.table)
        stem = check_run_id(self.run_id) + (f"__{check_unit(self.unit)}" if self.unit else "")
        return f"{schema}/{name}/partition_date={check_partition(self.partition)}/{stem}.parquet"

    def to_json(self) -> dict[str, str]:
        return {"table": self.table, "partition": self.partition, "run_id": self.run_id, "unit": self.unit,
                "file": self.relative_path()}

    @staticmethod
    def from_json(data: dict[str, str]) -> UnitFile:
        return UnitFile(data["table"], data["partition"], data["run_id"], data.get("unit", ""))


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An advisory lock on `path` (created if missing), held for a short read-modify-write:
    processes that take it are serialised; readers never take it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def file_rows(path: Path) -> int:
    """A Parquet file's row count, from its footer: no row is read (Polars' `scan(...).len()`
    took 12 times longer on a `large` partition's files)."""
    import pyarrow.parquet as pq  # not with this module: most of its users never count

    return pq.read_metadata(path).num_rows


def write_unit(root: Path, unit_file: UnitFile, frame: pl.DataFrame) -> Path:
    """Write the rows atomically (temporary file, fsync, rename) and journal them under the run."""
    target = write_unit_file(root, unit_file, frame)
    journal(root, unit_file)
    return target


def write_unit_file(root: Path, unit_file: UnitFile, frame: pl.DataFrame) -> Path:
    """Write the rows atomically (temporary file, fsync, rename), unjournaled."""
    target = root / unit_file.relative_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}.parquet"
    try:
        frame.write_parquet(temporary, compression="zstd", statistics=True)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()
    return target


def journal(root: Path, unit_file: UnitFile) -> None:
    """Append the file to its run's journal: one line, one write, O_APPEND (atomic for lines
    this short), so parallel steps of one run never interleave."""
    runs = root / RUNS_DIR
    runs.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(unit_file.to_json(), sort_keys=True) + "\n").encode()
    descriptor = os.open(runs / f"{check_run_id(unit_file.run_id)}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def run_files(root: Path, run_id: str) -> list[UnitFile]:
    """What a run wrote, in order (a retried step's later write of the same slice comes last)."""
    path = root / RUNS_DIR / f"{check_run_id(run_id)}.jsonl"
    if not path.exists():
        return []
    files = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                files.append(UnitFile.from_json(json.loads(line)))
            except (ValueError, KeyError):  # a line cut by a kill: the file it named is not published
                continue
    return files


def ensure_layout_marker(root: Path) -> None:
    """Write `_layout.json` unless it is there (one stat per call); atomic like every file here."""
    marker = root / LAYOUT_FILE
    if marker.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / f"{TMP_PREFIX}{uuid.uuid4().hex}.json"
    temporary.write_text(json.dumps({"layout_version": LAYOUT_VERSION}) + "\n")
    os.replace(temporary, marker)


def layout_version(root: Path) -> tuple[int | None, str]:
    """The warehouse's layout version and where it comes from: ("marker") the `_layout.json`
    file, ("derived") a `_published` folder without marker (warehouses published before the
    marker existed are layout 1), or (None, "none") nothing published yet. A marker that
    cannot be parsed raises ValueError."""
    marker = root / LAYOUT_FILE
    if marker.exists():
        try:
            return int(json.loads(marker.read_text())["layout_version"]), "marker"
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{marker}: not a layout marker ({error})") from error
    if (root / PUBLISHED_DIR).is_dir():
        return LAYOUT_VERSION, "derived"
    return None, "none"
