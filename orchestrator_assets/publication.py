"""Which run's file of each table readers see, per partition: the publication manifests.

A run writes its files (table_files.py) where nobody reads them. When it ends with every
step succeeded (so every blocking check passed), the executor publishes it
(publishing_executor.py): for each partition it wrote, one small JSON manifest
`_published/<key>.json` maps every table (or table slice) to the file readers must use, and
is replaced in one `os.replace`. Readers therefore see, per partition, every table from one
successful run (the newest), or the previous one; a failed or killed run leaves nothing
visible but what is published on write on purpose (rejected rows, check results).

Updating a manifest is a read-modify-write, serialised per partition by an advisory file
lock (fcntl), held for a few milliseconds; writers of different partitions never meet.

Files no manifest names any more are deleted after a grace period (`GRACE_S`), so that a
reader that listed them just before a publication can still open them.

A table written in slices that every run adds to (validation.check_results: one slice per
asset and run) would gather a file per slice in its partition, and every publication and
every reader of the partition would pay for them (a `large` day re-run ~20 times: ~1.5 s
more per run, in manifest rewrites and reads of the history). `compact` folds the slices
of other runs published more than `COMPACT_AFTER_S` ago into one file, in the same atomic
manifest switch: a reader sees the slices or the folded file, never both, never neither,
and the rows are the same.

A publication that brings a table the DuckDB catalog file lacks rewrites that file
(warehouse_catalog.py); its views read the manifests, so new partitions need nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from orchestrator_assets.manifests import (  # noqa: F401  (the read side, re-exported)
    manifest_path,
    published_files,
    published_partitions,
    read_manifest,
)
from orchestrator_assets.table_files import (
    PUBLISHED_DIR,
    TMP_PREFIX,
    UnitFile,
    check_partition,
    ensure_layout_marker,
    exclusive_lock,
    write_unit_file,
)
from orchestrator_assets.warehouse_catalog import ensure_catalog

#: how long a file no manifest names is kept (a reader may have listed it; a long run may
#: not be published yet). Six hours is far beyond any daily run (about a minute).
GRACE_S = 6 * 3600.0
#: how many old slices of a table's partition `compact` waits for before folding them
COMPACT_FROM_SLICES = 50
#: how old a slice must be to be folded: a run writes its check-result slice at the end of
#: the step that checks (a step retried later writes it again, and must not find its rows
#: folded already); ten minutes is far beyond a retry's delay
COMPACT_AFTER_S = 600.0
COMPACTED = "compacted"


def _partition_lock(root: Path, key: str) -> contextlib.AbstractContextManager[None]:
    return exclusive_lock(root / PUBLISHED_DIR / f"{check_partition(key)}.lock")


def _write_manifest(root: Path, key: str, entries: dict[str, dict[str, str]]) -> None:
    path = manifest_path(root, key)
    temporary = path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}.json"
    with open(temporary, "w") as handle:
        json.dump({"partition": key, "entries": entries}, handle, sort_keys=True, indent=0)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _manifest_entry(unit_file: UnitFile, stamp: str) -> dict[str, str]:
    """What a manifest says of the file readers must use for a slice (manifests.py)."""
    return {"run_id": unit_file.run_id, "file": unit_file.relative_path(), "published_at": stamp}


def publish(root: Path, files: Iterable[UnitFile], clean: bool = True) -> list[str]:
    """Make these files the ones readers see, one atomic manifest switch per partition.

    Later files of the same slice win (a retried step, a re-execution's own write). Returns
    the partitions switched. `clean` then removes the partitions' files past their grace
    (`remove_unreferenced`): the run's own publication does; the journal slices a run
    publishes on write (rejected rows, check results: ten a day) do not, since scanning the
    partition's folders for each cost ~0.1 s a slice on a day re-run often."""
    by_partition: dict[str, dict[str, UnitFile]] = defaultdict(dict)
    for unit_file in files:
        by_partition[unit_file.partition][unit_file.entry] = unit_file
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for key, chosen in sorted(by_partition.items()):
        with _partition_lock(root, key):
            entries = read_manifest(root, key)
            for entry, unit_file in chosen.items():
                entries[entry] = _manifest_entry(unit_file, stamp)
            _write_manifest(root, key, entries)
        if clean:
            remove_unreferenced(root, key)
    if by_partition:  # one stat each unless the marker is missing or a table is new to the catalog
        ensure_layout_marker(root)
        ensure_catalog(root, {unit_file.table for chosen in by_partition.values() for unit_file in chosen.values()})
    return sorted(by_partition)


def remove_unreferenced(root: Path, key: str, grace_s: float = GRACE_S) -> int:
    """Delete files of partition `key` that its manifest does not name, older than the grace."""
    referenced = {value["file"] for value in read_manifest(root, key).values()}
    now = time.time()
    removed = 0
    partition = f"partition_date={key}"
    # os.scandir, not pathlib: a partition folder holds a file per check-result slice until
    # the grace ends (~1,000 on a day re-run all afternoon), and this runs at each publication
    for schema_dir in os.scandir(root):
        # "_" folders are the warehouse's own (manifests, journals, alert ledger, scenarios:
        # a scenario cleans its own folder when it publishes), "." ones are temporary
        if schema_dir.name.startswith(("_", ".")) or not schema_dir.is_dir():
            continue
        for table_dir in os.scandir(schema_dir.path):
            folder = os.path.join(table_dir.path, partition)
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            prefix = f"{schema_dir.name}/{table_dir.name}/{partition}/"
            for file in entries:
                if prefix + file.name in referenced:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if now - file.stat().st_mtime > grace_s:
                        os.unlink(file.path)
                        removed += 1
    return removed


def compact(
    root: Path,
    table: str,
    key: str,
    keep_run: str | None = None,
    min_slices: int = COMPACT_FROM_SLICES,
    now: datetime | None = None,
) -> int:
    """Fold the slices of `table` in partition `key` published more than `COMPACT_AFTER_S`
    ago, but for `keep_run`'s (the caller's own run, whose steps may still write theirs
    again), into one new file (a slice of its own, `compacted_<id>`), once there are at least
    `min_slices` of them; the folded files are left to `remove_unreferenced`. Returns how
    many slices were folded. Under the partition's lock, as a publication, so a slice
    published meanwhile is never lost."""
    moment = now or datetime.now(UTC)

    def age_s(value: dict[str, str]) -> float:
        try:
            return (moment - datetime.fromisoformat(value["published_at"])).total_seconds()
        except (KeyError, TypeError, ValueError):  # not a stamp we wrote: never folded
            return 0.0

    def old_slices(entries: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return {
            entry: value
            for entry, value in entries.items()
            if entry.startswith(f"{table}/") and value.get("run_id") != keep_run and age_s(value) > COMPACT_AFTER_S
        }

    if len(old_slices(read_manifest(root, key))) < min_slices:  # the common case: no lock taken
        return 0
    with _partition_lock(root, key):
        entries = read_manifest(root, key)
        folded = old_slices(entries)
        if len(folded) < min_slices:
            return 0
        rows = pl.concat([pl.read_parquet(root / value["file"]) for value in folded.values()], how="diagonal_relaxed")
        identifier = uuid.uuid4().hex
        unit_file = UnitFile(table, key, identifier, f"{COMPACTED}_{identifier}")
        write_unit_file(root, unit_file, rows)
        for entry in folded:
            del entries[entry]
        entries[unit_file.entry] = _manifest_entry(unit_file, datetime.now(UTC).isoformat(timespec="seconds"))
        _write_manifest(root, key, entries)
    return len(folded)
