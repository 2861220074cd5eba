"""The `reassort` command, as a user types it."""

import json
import os
import subprocess
import sys
import time
from datetime import date

import duckdb
import pytest

from data_generation.field_service import generate
from orchestrator_assets import run_progress
from orchestrator_assets.cli import main


@pytest.fixture
def tiny_data(project_env):
    generate("tiny", date(2026, 1, 1), 4, project_env, seed=5)
    return project_env


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("generate", "run", "query", "status", "ui", "demo"):
        assert command in out


def test_unknown_parameter_is_refused_before_anything_runs(tiny_data, capsys):
    assert main(["run", "--date", "2026-01-04", "--set", "stock.horizon=14"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'stock.horizon'" in err and "stock.horizon_days" in err
    assert not (tiny_data / "warehouse").exists()


def test_bad_parameter_value_is_refused(tiny_data, capsys):
    assert main(["run", "--date", "2026-01-04", "--set", "stock.forecast_method=holt"]) == 2
    assert "stock.forecast_method" in capsys.readouterr().err


def test_date_outside_the_partitions_is_refused(tiny_data):
    with pytest.raises(SystemExit, match="no daily partition for 2025-12-01"):
        main(["run", "--date", "2025-12-01"])


def test_run_then_query_and_status(tiny_data, capsys):
    assert main(["run", "--date", "2026-01-04", "--set", "stock.forecast_method=tsb", "--set", "stock.horizon_days=14"]) == 0
    out = capsys.readouterr().out
    assert "history window: raw.movements 2026-01-01 .. 2026-01-03 (3 days) loading" in out
    assert "[1/1] 2026-01-04: ok" in out and "stock.stock_projection" in out and "reassort ui" in out
    assert "Rejected input rows: none" in out
    assert "picking lists, purchase proposals" in out  # where the day's export files are

    assert main(["query", "--format", "json", "SELECT DISTINCT method FROM stock.consumption_forecast"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"method": "tsb"}]

    assert main(["query", "--format", "csv", "SELECT count(*) AS n FROM raw.movements WHERE partition_date < '2026-01-04'"]) == 0
    assert int(capsys.readouterr().out.splitlines()[1]) > 0  # the window was loaded first

    assert main(["query", "CREATE TABLE x AS SELECT 1"]) == 2  # read-only
    assert "refused" in capsys.readouterr().err.lower()

    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert "stock/stock_projection" in status and "2026-01-04" in status and "SUCCESS" in status


def test_a_date_range_runs_every_partition(tiny_data, capsys):
    """--from/--to loads the inputs of the range in one run, then runs the modules (the daily
    job's assets only: kpi/monthly is monthly) partition by partition."""
    assert main(["run", "--from", "2026-01-03", "--to", "2026-01-04"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "[1/2] 2026-01-03: ok" in out and "[2/2] 2026-01-04: ok" in out
    # the range's inputs load with a progress bar and an ETA per input table, on stderr
    for table in ("raw.movements", "raw.stock_levels", "raw.articles"):
        assert f"{table}: day 0/2" in captured.err and f"{table}: day 2/2" in captured.err
    assert "ETA" in captured.err and "day 2/2" not in out
    assert run_progress.ENV not in os.environ  # the CLI turns the bars off again
    assert main(["query", "--format", "json", "SELECT DISTINCT CAST(partition_date AS VARCHAR) AS d "
                 "FROM knapsack.allocation ORDER BY d"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"d": "2026-01-03"}, {"d": "2026-01-04"}]


def test_demo_generates_and_runs_its_last_days(project_env, capsys):
    """The README's first command, on the tiny profile: several partitions, then the summary."""
    assert main(["demo", "--profile", "tiny", "--start", "2026-01-01", "--days", "4", "--run-days", "2"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] 2026-01-03: ok" in out and "[2/2] 2026-01-04: ok" in out
    assert "knapsack.allocation" in out and "reassort ui" in out
    # the demo's data has 1 % bad rows: the run says how many it rejected and why
    assert main(["query", "--format", "json", "SELECT source, rule, count(*) AS n FROM validation.rejected_rows "
                 "WHERE partition_date >= '2026-01-03' GROUP BY ALL ORDER BY 1, 3 DESC, 2"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts and f"Rejected input rows: {sum(c['n'] for c in counts):,}" in out
    assert f"{counts[0]['rule']} {counts[0]['n']:,}" in out


def test_failed_run_exits_non_zero_with_the_reason(tiny_data, capsys):
    (tiny_data / "extracts" / "2026-01-04" / "purchase_orders.csv").unlink()
    assert main(["run", "--date", "2026-01-04"]) == 1
    err = capsys.readouterr().err
    assert "purchase_orders.csv" in err and "Missing extract" in err


HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_query_never_waits_for_a_publishing_writer(tiny_data, capsys):
    """A writer holds the partition's manifest lock: the query reads the manifest as it is."""
    from tests.orchestrator_assets.test_table_storage import rows, write_and_publish

    write_and_publish(tiny_data / "warehouse", "2026-01-04", "published", rows(1))
    lock = tiny_data / "warehouse" / "_published" / "2026-01-04.lock"
    writer = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), "20"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert main(["query", "--format", "csv", "SELECT count(*) AS n FROM stock.stock_initial"]) == 0
        assert time.monotonic() - started < 10
        assert int(capsys.readouterr().out.splitlines()[1]) > 0
    finally:
        writer.kill()


def test_an_old_warehouse_file_points_to_the_migration(tiny_data, capsys):
    duckdb.connect(str(tiny_data / "warehouse.duckdb")).close()
    assert main(["query", "SELECT 1"]) == 2
    assert "reassort migrate" in capsys.readouterr().err


def test_a_run_left_started_by_a_dead_process_is_marked_failed(tiny_data):
    import dagster as dg

    from orchestrator_assets.orphan_runs import HOST_TAG, PID_TAG, fail_orphaned_runs, launch_tags

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with dg.instance_for_test() as instance:
        tags = {**launch_tags(), PID_TAG: str(dead.pid)}
        orphan = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), tags=tags)
        instance.handle_run_event(orphan.run_id, dg.DagsterEvent(
            event_type_value="PIPELINE_START", job_name=orphan.job_name))
        alive = instance.create_run_for_job(dg.GraphDefinition("h").to_job(), tags=launch_tags())
        instance.handle_run_event(alive.run_id, dg.DagsterEvent(
            event_type_value="PIPELINE_START", job_name=alive.job_name))
        assert fail_orphaned_runs(instance) == [orphan.run_id]
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert tags[HOST_TAG]


def test_status_run_line_shows_partitions_outcome_and_duration():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from dagster import DagsterRunStatus

    from orchestrator_assets.cli import format_run_line

    def record(tags, status, start, end):
        run = SimpleNamespace(run_id="0123456789abcdef", job_name="reassort_daily", tags=tags, status=status)
        created = datetime(2026, 1, 5, 6, 0, 0, tzinfo=UTC)
        return SimpleNamespace(dagster_run=run, create_timestamp=created, start_time=start, end_time=end)

    done = format_run_line(record({"dagster/partition": "2026-01-04"}, DagsterRunStatus.SUCCESS, 100.0, 119.14))
    assert done.startswith("2026-01-05 06:00:00  01234567  reassort_daily")
    assert "2026-01-04" in done and "SUCCESS" in done and done.endswith("19.1 s")
    ranged = format_run_line(record(
        {"dagster/asset_partition_range_start": "2026-01-01", "dagster/asset_partition_range_end": "2026-01-03"},
        DagsterRunStatus.FAILURE, 0.0, 125.0,
    ))
    assert "2026-01-01..2026-01-03" in ranged and "FAILURE" in ranged and ranged.endswith("2 min 05 s")
    assert format_run_line(record({}, DagsterRunStatus.QUEUED, None, None)).endswith("QUEUED    -")
    going = format_run_line(record({}, DagsterRunStatus.STARTED, 100.0, None), now=112.0)
    assert going.endswith("so far 12.0 s")
