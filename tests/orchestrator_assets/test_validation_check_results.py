"""validation.check_results: every run's results are appended; a retried step of the same
run replaces only its own rows; old slices are folded into one file with the same rows."""

import json
import multiprocessing
from datetime import UTC, date, datetime, timedelta

from orchestrator_assets.defs.validation.check_results import (
    CHECK_RESULTS_TABLE,
    CheckOutcome,
    append_check_results,
    check_results_frame,
)
from orchestrator_assets.manifests import read_manifest
from orchestrator_assets.publication import COMPACT_AFTER_S, compact
from orchestrator_assets.warehouse import Warehouse

DAY = date(2026, 3, 2)
SEVERITY = {"schema": "ERROR", "zero_rate_share": "WARN"}
BLOCKING = {"schema": True, "zero_rate_share": False}


def results(passed: bool) -> list[CheckOutcome]:
    return [
        CheckOutcome("schema", passed, 0 if passed else 3, 10, "ok" if passed else "3 failing of 10 rows"),
        CheckOutcome("zero_rate_share", True, 0, 10, "10% of 10 pairs have a zero rate"),
    ]


def rows(warehouse: Warehouse) -> list[tuple]:
    return warehouse.read(
        f"SELECT run_id, asset, check_name, severity, blocking, passed, failing_rows FROM {CHECK_RESULTS_TABLE} ORDER BY ALL"
    ).rows()


def test_results_of_two_runs_are_both_kept(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    append_check_results(warehouse, check_results_frame(DAY, "stock/x", results(False), SEVERITY, BLOCKING), "stock/x", "run-1")
    append_check_results(warehouse, check_results_frame(DAY, "stock/x", results(True), SEVERITY, BLOCKING), "stock/x", "run-2")
    assert rows(warehouse) == [
        ("run-1", "stock/x", "schema", "ERROR", True, False, 3),
        ("run-1", "stock/x", "zero_rate_share", "WARN", False, True, 0),
        ("run-2", "stock/x", "schema", "ERROR", True, True, 0),
        ("run-2", "stock/x", "zero_rate_share", "WARN", False, True, 0),
    ]


def test_a_retried_step_replaces_its_own_rows_only(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    append_check_results(warehouse, check_results_frame(DAY, "stock/x", results(False), SEVERITY, BLOCKING), "stock/x", "run-1")
    append_check_results(warehouse, check_results_frame(DAY, "stock/y", results(True), SEVERITY, BLOCKING), "stock/y", "run-1")
    append_check_results(warehouse, check_results_frame(DAY, "stock/x", results(True), SEVERITY, BLOCKING), "stock/x", "run-1")
    assert [(asset, check, passed) for _, asset, check, _, _, passed, _ in rows(warehouse)] == [
        ("stock/x", "schema", True),
        ("stock/x", "zero_rate_share", True),
        ("stock/y", "schema", True),
        ("stock/y", "zero_rate_share", True),
    ]


def test_failed_checks_of_a_month_are_one_query_away(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    for day, passed in ((date(2026, 2, 27), False), (DAY, False), (date(2026, 3, 3), True)):
        frame = check_results_frame(day, "stock/x", results(passed), SEVERITY, BLOCKING)
        append_check_results(warehouse, frame, "stock/x", f"run-{day}")
    failed = warehouse.read(
        f"SELECT partition_date, asset, check_name, detail FROM {CHECK_RESULTS_TABLE} "
        "WHERE NOT passed AND partition_date >= DATE '2026-03-01' AND partition_date < DATE '2026-04-01'"
    ).rows()
    assert failed == [(DAY, "stock/x", "schema", "3 failing of 10 rows")]


# --------------------------------------------------------------------------- compaction

def later() -> datetime:
    """A moment when every slice written until now is older than the grace."""
    return datetime.now(UTC) + timedelta(seconds=COMPACT_AFTER_S + 60)


def slices(warehouse: Warehouse) -> list[str]:
    return [entry for entry in read_manifest(warehouse.root, DAY.isoformat()) if entry.startswith(CHECK_RESULTS_TABLE + "/")]


def append_runs(warehouse: Warehouse, runs: range, asset: str = "stock/x") -> None:
    for index in runs:
        frame = check_results_frame(DAY, asset, results(index % 2 == 0), SEVERITY, BLOCKING)
        append_check_results(warehouse, frame, asset, f"run-{index}")


def test_old_slices_are_folded_into_one_file_with_the_same_rows(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w"))
    append_runs(warehouse, range(12))
    before = rows(warehouse)
    assert len(slices(warehouse)) == 12  # recent slices: left as they are by every append
    assert compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), min_slices=13, now=later()) == 0
    assert compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), min_slices=12, now=later()) == 12
    assert [entry.split("/")[1].split("_")[0] for entry in slices(warehouse)] == ["compacted"]
    assert rows(warehouse) == before and len(before) == 24
    # A new run's slice is added beside the folded file, as before.
    append_runs(warehouse, range(12, 13))
    assert len(slices(warehouse)) == 2 and len(rows(warehouse)) == 26
    # The folded file and the new slice fold again, later: still the same rows.
    assert compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), min_slices=2, now=later() + timedelta(hours=7)) == 2
    assert len(slices(warehouse)) == 1 and len(rows(warehouse)) == 26


def test_the_callers_own_run_is_never_folded(tmp_path):
    """Its steps may still write their slices again (a retry): its rows must not be folded."""
    warehouse = Warehouse(path=str(tmp_path / "w"))
    append_runs(warehouse, range(3))
    assert compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), keep_run="run-1", min_slices=2, now=later()) == 2
    assert any(entry.endswith("run_1") for entry in slices(warehouse)) and len(slices(warehouse)) == 2
    assert len(rows(warehouse)) == 6


def test_a_stamp_that_is_not_ours_is_never_folded(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w"))
    append_runs(warehouse, range(3))
    manifest = read_manifest(warehouse.root, DAY.isoformat())
    first = slices(warehouse)[0]
    manifest[first] = {key: value for key, value in manifest[first].items() if key != "published_at"}
    (warehouse.root / "_published" / f"{DAY.isoformat()}.json").write_text(
        json.dumps({"partition": DAY.isoformat(), "entries": manifest})
    )
    assert compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), min_slices=2, now=later()) == 2
    assert first in slices(warehouse) and len(slices(warehouse)) == 2 and len(rows(warehouse)) == 6


def _append_in_process(root: str, first: int, count: int) -> None:
    append_runs(Warehouse(path=root), range(first, first + count), asset="urgence/y")


def test_folding_while_other_processes_append_loses_and_doubles_nothing(tmp_path):
    """Writers in other processes publish slices while this one folds, again and again:
    every row is there exactly once at the end."""
    warehouse = Warehouse(path=str(tmp_path / "w"))
    append_runs(warehouse, range(20))
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_in_process, args=(str(warehouse.root), 1000 * (n + 1), 25)) for n in range(3)]
    for writer in writers:
        writer.start()
    folded = 0
    while any(writer.is_alive() for writer in writers):
        folded += compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), min_slices=2, now=later())
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    folded += compact(warehouse.root, CHECK_RESULTS_TABLE, DAY.isoformat(), min_slices=2, now=later())
    assert folded >= 20
    found = rows(warehouse)
    assert len(found) == 2 * (20 + 3 * 25) and len(set(found)) == len(found)
    assert {run for run, *_ in found} == {f"run-{i}" for i in [*range(20), *(1000 * (n + 1) + k for n in range(3) for k in range(25))]}
