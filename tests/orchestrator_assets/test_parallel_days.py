"""`reassort run --from --to` runs the days of a range side by side (parallel_days.py): the
tables must be those of the same days run one after the other."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data_generation.field_service import generate
from orchestrator_assets import project_paths
from orchestrator_assets.cli import main
from orchestrator_assets.parallel_days import DEFAULT_MAX_JOBS, default_jobs
from orchestrator_assets.warehouse import Warehouse
from tests.conftest import point_project_at

#: what a run writes that is not a result: its timings, and texts that hold timings
TIMING_COLUMNS = {"build_ms", "solve_ms", "detail"}


def published_tables() -> dict[str, pl.DataFrame]:
    """Every result table of the warehouse (lineage and timings left out), rows sorted."""
    warehouse = Warehouse(path=str(project_paths.warehouse_path()))
    tables = {}
    for table, files in warehouse.files().items():
        if table.startswith("validation."):
            continue  # journals: check times and run ids
        frame = warehouse.read_files(table, files)
        frame = frame.drop([c for c in frame.columns if c == "run_id" or c in TIMING_COLUMNS])
        tables[table] = frame.sort(frame.columns, nulls_last=True)
    return tables


def run_range(root: Path, monkeypatch: pytest.MonkeyPatch, jobs: str, capsys) -> tuple[dict[str, pl.DataFrame], str]:
    data = point_project_at(root, monkeypatch)
    generate("tiny", date(2026, 1, 1), 4, data, seed=11)
    assert main(["run", "--from", "2026-01-02", "--to", "2026-01-04", "--jobs", jobs]) == 0
    return published_tables(), capsys.readouterr().out


def test_days_side_by_side_write_the_rows_of_days_one_after_the_other(tmp_path, monkeypatch, capsys):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    sequential, sequential_out = run_range(tmp_path / "one", monkeypatch, "1", capsys)
    parallel, parallel_out = run_range(tmp_path / "two", monkeypatch, "2", capsys)

    assert "over 2 processes" in parallel_out and "processes" not in sequential_out
    for index, day in enumerate(("2026-01-02", "2026-01-03", "2026-01-04"), start=1):
        assert f"[{index}/3] {day}: ok" in parallel_out and f"[{index}/3] {day}: ok" in sequential_out
    assert sorted(parallel) == sorted(sequential)
    assert {"knapsack.allocation", "stock.stock_projection", "urgence.urgency_classification"} <= set(parallel)
    for table, frame in sequential.items():
        assert frame.height > 0 or table.startswith("knapsack."), table
        try:
            assert_frame_equal(parallel[table], frame, check_exact=True)
        except AssertionError as error:
            raise AssertionError(f"{table}: {error}") from None
    # each day ran once, in its own run, and every run is in the instance as usual
    partitions = parallel["knapsack.allocation"]["partition_date"].unique().sort().to_list()
    assert [str(day) for day in partitions] == ["2026-01-02", "2026-01-03", "2026-01-04"]


def test_default_is_one_process_per_core_within_bounds(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_jobs(30) == DEFAULT_MAX_JOBS
    assert default_jobs(2) == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_jobs(30) == 1


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_whole_number(jobs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--from", "2026-01-02", "--to", "2026-01-04", "--jobs", jobs])
    assert exit_info.value.code == 2
    assert "not a whole number of at least 1" in capsys.readouterr().err
