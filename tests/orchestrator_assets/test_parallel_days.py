"""`reassort run --from --to` runs the days of a range side by side (parallel_days.py): the
tables must be those of the same days run one after the other."""

import os
import re
import signal
import subprocess
import sys
import time
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


def test_ctrl_c_stops_the_range_and_leaves_no_process(project_env):
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it): the days
    running fail as interrupted, no other day starts, the command exits 1 and says how many
    days were not run; no day process is left behind."""
    generate("tiny", date(2026, 1, 1), 10, project_env, seed=3)
    proc, out = interrupted_range("2", pause_s=0.0)  # a day is done: the others are running or waiting
    assert proc.returncode == 1, out
    assert "interrupted: the days running stop and fail; no other day starts" in out
    not_run = int(re.search(r"interrupted: (\d+) partition\(s\) not run", out).group(1))
    ended = len(re.findall(r"^\[\d/8\] 2026-01-\d\d: (?:ok|FAILED)", out, flags=re.MULTILINE))
    assert not_run >= 1 and ended + not_run == 8, out
    assert group_gone(proc.pid, within_s=20.0), "a process of the command is still running"


def test_ctrl_c_stops_a_range_run_one_day_after_the_other(project_env):
    """--jobs 1 (and the scenario and workflow ranges, which run their days in turn): Ctrl-C
    fails the day running as interrupted (or comes between two days), no other day starts,
    the command exits 1 and says how many days were not run."""
    generate("tiny", date(2026, 1, 1), 10, project_env, seed=3)
    proc, out = interrupted_range("1", pause_s=1.0)  # the first day is done; the next one starts
    assert proc.returncode == 1, out
    not_run = int(re.search(r"interrupted: no other day starts; (\d+) partition\(s\) not run", out).group(1))
    ended = len(re.findall(r"^\[\d/8\] 2026-01-\d\d: (?:ok|FAILED)", out, flags=re.MULTILINE))
    assert 6 <= not_run <= 7 and ended + not_run == 8, out
    assert group_gone(proc.pid, within_s=20.0), "a process of the command is still running"


def interrupted_range(jobs: str, pause_s: float) -> tuple[subprocess.Popen, str]:
    """`reassort run` of 8 days with `--jobs`, sent SIGINT to its process group (as a
    terminal sends Ctrl-C) `pause_s` after its first day ended; the process and its output."""
    command = [sys.executable, "-m", "orchestrator_assets.cli", "run", "--from", "2026-01-03", "--to", "2026-01-10", "--jobs", jobs]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if ": ok, " in line:
            time.sleep(pause_s)
            os.killpg(proc.pid, signal.SIGINT)
            break
    return proc, "".join(seen) + proc.communicate(timeout=300)[0]


def group_gone(group: int, within_s: float) -> bool:
    """Whether every process of the group ended (helpers such as Dagster's orphan watchers
    notice their parent's end on their next poll, within a second or two)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False
