"""validation.check_results: every run's results are appended; a retried step of the same
run replaces only its own rows."""

from datetime import date

from orchestrator_assets.defs.validation.check_results import (
    CHECK_RESULTS_TABLE,
    CheckOutcome,
    append_check_results,
    check_results_frame,
)
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
