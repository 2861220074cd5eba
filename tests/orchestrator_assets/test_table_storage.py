"""The table files: many writers at once, atomic partitions, publication at the end of a good run."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from orchestrator_assets.publication import publish, read_manifest
from orchestrator_assets.table_files import StorageError, UnitFile, write_unit
from orchestrator_assets.warehouse import Warehouse
from orchestrator_assets.warehouse_migration import migrate

TABLE = "stock.stock_initial"


def rows(version: int, n: int = 2000) -> pl.DataFrame:
    return pl.DataFrame({"site_id": [f"S{i % 7}" for i in range(n)], "article_id": [f"A{i}" for i in range(n)],
                         "on_hand": [version] * n})


def write_and_publish(root: Path, day: str, run_id: str, frame: pl.DataFrame, table: str = TABLE) -> None:
    unit_file = UnitFile(table, day, run_id)
    write_unit(root, unit_file, frame.with_columns(pl.lit(date.fromisoformat(day)).alias("partition_date"),
                                                   pl.lit(run_id).alias("run_id")))
    publish(root, [unit_file])


def _writer(root: str, offset: int, days: int) -> None:
    for index in range(days):
        day = (date(2026, 1, 1) + timedelta(days=offset + index)).isoformat()
        write_and_publish(Path(root), day, f"run-{offset}-{index}", rows(offset + index))


def test_concurrent_writer_processes_of_different_partitions_lose_nothing(tmp_path):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), offset, 15)) for offset in (0, 15)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    counts = Warehouse(path=str(tmp_path)).read(
        f"SELECT partition_date, count(*) AS n, min(on_hand) AS lo, max(on_hand) AS hi FROM {TABLE} GROUP BY 1 ORDER BY 1"
    )
    assert counts.height == 30
    assert counts["n"].to_list() == [2000] * 30
    assert counts["lo"].to_list() == counts["hi"].to_list() == list(range(30))


def test_a_rerun_replaces_exactly_its_partition(tmp_path):
    write_and_publish(tmp_path, "2026-01-01", "first", rows(1))
    write_and_publish(tmp_path, "2026-01-02", "other", rows(5))
    write_and_publish(tmp_path, "2026-01-01", "second", rows(2, n=10))
    frame = Warehouse(path=str(tmp_path)).read(f"SELECT partition_date::VARCHAR AS d, run_id, count(*) AS n FROM {TABLE} GROUP BY ALL ORDER BY 1")
    assert frame.rows() == [("2026-01-01", "second", 10), ("2026-01-02", "other", 2000)]


def test_an_unpublished_run_is_invisible_to_readers_but_seen_by_its_own_steps(tmp_path):
    write_and_publish(tmp_path, "2026-01-01", "published", rows(1))
    write_unit(tmp_path, UnitFile(TABLE, "2026-01-01", "inflight"), rows(9).with_columns(
        pl.lit(date(2026, 1, 1)).alias("partition_date"), pl.lit("inflight").alias("run_id")))
    outside = Warehouse(path=str(tmp_path))
    assert outside.read(f"SELECT DISTINCT on_hand FROM {TABLE}").rows() == [(1,)]
    inside = Warehouse(path=str(tmp_path))
    inside._overlay_runs = ["inflight"]
    assert inside.read(f"SELECT DISTINCT on_hand FROM {TABLE}").rows() == [(9,)]


def test_a_writer_killed_mid_write_leaves_the_old_partition_readable(tmp_path):
    write_and_publish(tmp_path, "2026-01-01", "old", rows(1))
    script = textwrap.dedent(f"""
        import os, time, sys
        import polars as pl
        sys.path.insert(0, {str(Path.cwd())!r})
        from orchestrator_assets import table_files
        from orchestrator_assets.table_files import UnitFile, write_unit
        def stuck(src, dst):
            print("renaming", flush=True)
            time.sleep(60)
        table_files.os.replace = stuck
        frame = pl.DataFrame({{"site_id": ["S"] * 100000, "article_id": ["A"] * 100000, "on_hand": [7] * 100000}})
        write_unit(__import__("pathlib").Path({str(tmp_path)!r}), UnitFile({TABLE!r}, "2026-01-01", "killed"), frame)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "renaming"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert Warehouse(path=str(tmp_path)).read(f"SELECT DISTINCT on_hand, run_id FROM {TABLE}").rows() == [(1, "old")]
    assert not (tmp_path / "stock/stock_initial/partition_date=2026-01-01/killed.parquet").exists()


def _flipper(root: str, stop_after: float) -> None:
    end = time.monotonic() + stop_after
    version = 2
    while time.monotonic() < end:
        write_and_publish(Path(root), "2026-01-01", f"v{version}", rows(version))
        version += 1


def test_a_reader_during_writes_sees_one_whole_partition_never_a_mix(tmp_path):
    write_and_publish(tmp_path, "2026-01-01", "v1", rows(1))
    process = multiprocessing.get_context("spawn").Process(target=_flipper, args=(str(tmp_path), 6.0))
    process.start()
    warehouse = Warehouse(path=str(tmp_path))
    seen = set()
    reads = 0
    while process.is_alive():
        frame = warehouse.read(f"SELECT count(*) AS n, min(on_hand) AS lo, max(on_hand) AS hi, count(DISTINCT run_id) AS runs FROM {TABLE}")
        n, lo, hi, runs = frame.row(0)
        assert (n, runs) == (2000, 1) and lo == hi
        seen.add(lo)
        reads += 1
    process.join()
    assert process.exitcode == 0
    assert reads > 3 and len(seen) > 1


def test_names_from_data_never_become_paths(tmp_path):
    for bad in ('x"; DROP TABLE y; --', "../etc", "a.b.c"):
        with pytest.raises(StorageError):
            UnitFile(bad, "2026-01-01", "run").relative_path()
    with pytest.raises(StorageError):
        UnitFile(TABLE, "2026-01-01/../../x", "run").relative_path()
    with pytest.raises(StorageError):
        UnitFile(TABLE, "2026-01-01", "../run").relative_path()


def test_migration_keeps_every_row_and_is_idempotent(tmp_path):
    legacy = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(legacy)) as con:
        con.execute("CREATE SCHEMA stock; CREATE SCHEMA validation")
        con.execute("CREATE TABLE stock.stock_initial AS SELECT 'S' || (i % 5) AS site_id, 'A' || i AS article_id, i AS on_hand, "
                    "DATE '2026-01-01' + (i % 3)::INT AS partition_date, 'run-' || (i % 3) AS run_id FROM range(300) t(i)")
        con.execute("CREATE TABLE validation.rejected_rows AS SELECT s AS source, 1 AS row, 'dup' AS rule, '' AS detail, "
                    "DATE '2026-01-01' AS partition_date, 'r' AS run_id FROM (VALUES ('articles'), ('movements')) v(s)")
        con.execute("CREATE TABLE validation.check_results AS SELECT 'raw/articles' AS asset, 'c' || i AS check_name, "
                    "DATE '2026-01-02' AS partition_date, 'run-' || i AS run_id FROM range(4) t(i)")
    root = tmp_path / "warehouse"
    counts = migrate(legacy, root, progress=lambda line: None)
    assert counts == {"stock.stock_initial": (300, 300), "validation.check_results": (4, 4), "validation.rejected_rows": (2, 2)}
    warehouse = Warehouse(path=str(root))
    assert warehouse.read("SELECT count(*), sum(on_hand) FROM stock.stock_initial").row(0) == (300, sum(range(300)))
    assert warehouse.read("SELECT count(DISTINCT run_id) FROM stock.stock_initial").item() == 3
    assert warehouse.read("SELECT count(*) FROM validation.check_results").item() == 4
    # a newer run republished 2026-01-01: migrating again leaves it alone
    write_and_publish(root, "2026-01-01", "newer", rows(5, n=3))
    migrate(legacy, root, progress=lambda line: None)
    assert warehouse.read("SELECT run_id, count(*) FROM stock.stock_initial WHERE partition_date = '2026-01-01' GROUP BY 1").rows() == [("newer", 3)]
    assert warehouse.read("SELECT count(*) FROM stock.stock_initial").item() == 200 + 3


# ------------------------------------------------------------ publication at the end of a run
def _two_step_job() -> dg.JobDefinition:
    """raw/numbers then stock/doubled; the second fails when REASSORT_TEST_FAIL is set."""
    from orchestrator_assets.publishing_executor import publishing_executor
    from orchestrator_assets.warehouse import PolarsWarehouseIOManager

    root = Path(os.environ["REASSORT_TEST_WAREHOUSE"])
    partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-05")

    @dg.asset(key=["raw", "numbers"], partitions_def=partitions, io_manager_key="io")
    def numbers(context) -> pl.DataFrame:
        return pl.DataFrame({"value": [int(os.environ.get("REASSORT_TEST_VALUE", "1"))] * 3})

    @dg.asset(key=["stock", "doubled"], partitions_def=partitions, io_manager_key="io", ins={"numbers": dg.AssetIn(["raw", "numbers"])})
    def doubled(context, numbers: pl.DataFrame) -> pl.DataFrame:
        if os.environ.get("REASSORT_TEST_FAIL"):
            raise dg.Failure("told to fail", allow_retries=False)
        return numbers.with_columns(pl.col("value") * 2)

    warehouse = Warehouse(path=str(root))
    defs = dg.Definitions(
        assets=[numbers, doubled],
        jobs=[dg.define_asset_job("two_steps", partitions_def=partitions)],
        resources={"warehouse": warehouse, "io": PolarsWarehouseIOManager(warehouse=warehouse)},
        executor=publishing_executor(root),
    )
    return defs.resolve_job_def("two_steps")


def test_the_executor_publishes_a_good_run_and_nothing_of_a_failed_one(tmp_path, monkeypatch):
    root = tmp_path / "warehouse"
    monkeypatch.setenv("REASSORT_TEST_WAREHOUSE", str(root))
    job = dg.reconstructable(_two_step_job)
    config = {"execution": {"config": {"in_process": {}}}}
    with dg.instance_for_test() as instance:
        ok = dg.execute_job(job, instance=instance, run_config=config, tags={"dagster/partition": "2026-01-02"})
        assert ok.success
        warehouse = Warehouse(path=str(root))
        assert warehouse.read("SELECT value FROM stock.doubled").rows() == [(2,)] * 3
        monkeypatch.setenv("REASSORT_TEST_VALUE", "5")
        monkeypatch.setenv("REASSORT_TEST_FAIL", "1")
        failed = dg.execute_job(job, instance=instance, run_config=config, tags={"dagster/partition": "2026-01-02"})
        assert not failed.success
        # raw/numbers of the failed run was written but is not visible: the partition is the good run's, whole
        assert warehouse.read("SELECT DISTINCT value, run_id FROM raw.numbers").rows() == [(1, ok.run_id)]
        assert read_manifest(root, "2026-01-02")["stock.doubled"]["run_id"] == ok.run_id
        # re-executed from failure (only the failed step runs): the parent's raw rows are published with it
        monkeypatch.delenv("REASSORT_TEST_FAIL")
        retry = dg.execute_job(job, instance=instance, run_config=config, tags={"dagster/partition": "2026-01-02"},
                               reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance))
        assert retry.success
        assert warehouse.read("SELECT DISTINCT value, run_id FROM raw.numbers").rows() == [(5, failed.run_id)]
        assert warehouse.read("SELECT DISTINCT value, run_id FROM stock.doubled").rows() == [(10, retry.run_id)]


def test_a_new_instance_monitors_runs_so_a_dead_worker_fails_its_run(tmp_path, monkeypatch):
    from orchestrator_assets import project_paths

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    project_paths.dagster_home()
    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled


def test_the_check_history_and_its_migration_name_a_slice_alike():
    from orchestrator_assets.table_files import check_unit, unit_name

    assert unit_name("raw/articles", "0a1b-2c") == "raw_articles__0a1b_2c" == check_unit("raw_articles__0a1b_2c")


def test_reading_files_with_polars_gives_what_the_sql_view_gives(tmp_path):
    """Warehouse.read_files (the checks' and the asset inputs' read) against the DuckDB view
    of `reassort query` over the same files: the same rows, values and types, every lineage
    column included; two runs' files of different columns are their union, as the view's
    union_by_name; a day without a file gives the table's columns; an unknown table is refused."""
    from polars.testing import assert_frame_equal

    warehouse = Warehouse(path=str(tmp_path / "w"))
    day, other_day = date(2026, 3, 2), date(2026, 3, 3)
    frame = pl.DataFrame({
        "site_id": ["S1", "S2", None], "on_hand": [3, None, 7], "value": [1.5, float("nan"), -2.25],
        "active": [True, False, None], "since": [date(2026, 1, 1), None, date(2026, 2, 1)],
        "lots": [[1, 2], [], None], "use": [{"category": "FIBRE", "used": 1.0}, None, {"category": "CUIVRE", "used": 0.5}],
    })
    warehouse.write_partition(TABLE, frame, [day], "run-a", publish_now=True)
    warehouse.write_partition(TABLE, frame.drop("lots").with_columns(extra=pl.lit("x")), [day], "run-b", unit="late",
                              publish_now=True)
    files = warehouse.files([day.isoformat()])[TABLE]
    assert len(files) == 2
    by_polars = warehouse.read_files(TABLE, files)
    assert by_polars["run_id"].to_list() == ["run-a"] * 3 + ["run-b"] * 3  # file order kept
    by_sql = warehouse.read("SELECT * FROM stock.stock_initial")
    assert by_polars.schema == by_sql.select(by_polars.columns).schema
    assert sorted(by_polars.columns) == sorted(by_sql.columns)
    assert_frame_equal(by_polars, by_sql.select(by_polars.columns), check_row_order=False)

    empty = warehouse.read_files(TABLE, warehouse.files([other_day.isoformat()]).get(TABLE, []))
    assert empty.height == 0 and {"site_id", "on_hand", "partition_date", "run_id"} <= set(empty.columns)
    with pytest.raises(LookupError):
        warehouse.read_files("stock.nowhere", [])


def test_files_past_their_grace_go_at_a_runs_publication_not_at_a_journal_slice(tmp_path):
    from orchestrator_assets.publication import GRACE_S

    day = "2026-01-01"
    write_and_publish(tmp_path, day, "old", rows(1))
    write_and_publish(tmp_path, day, "new", rows(2))  # "old" is no longer named by the manifest
    folder = tmp_path / "stock" / "stock_initial" / f"partition_date={day}"
    (old_file,) = [file for file in folder.iterdir() if file.name.startswith("old")]
    past = time.time() - GRACE_S - 60
    os.utime(old_file, (past, past))
    warehouse = Warehouse(path=str(tmp_path))
    journal = pl.DataFrame({"partition_date": [date(2026, 1, 1)], "check_name": ["x"]})
    warehouse.write_partition("validation.check_results", journal, [date(2026, 1, 1)], "journal", unit="x", publish_now=True)
    assert old_file.exists(), "a journal slice's publication scans no folder"
    write_and_publish(tmp_path, day, "newest", rows(3))
    assert not old_file.exists(), "a run's publication removes what is past the grace"
    assert [file.name.split("__")[0] for file in folder.iterdir()] and all(
        not file.name.startswith("old") for file in folder.iterdir()
    )
    assert Warehouse(path=str(tmp_path)).read(f"SELECT DISTINCT on_hand FROM {TABLE}").rows() == [(3,)]


def test_files_of_some_tables_are_those_of_the_whole_listing(tmp_path):
    for day in ("2026-01-01", "2026-01-02"):
        write_and_publish(tmp_path, day, f"run-{day}", rows(1))
        write_and_publish(tmp_path, day, f"other-{day}", rows(2), table="stock.stock_projection")
    write_unit(tmp_path, UnitFile(TABLE, "2026-01-02", "inflight"), rows(9).with_columns(
        pl.lit(date(2026, 1, 2)).alias("partition_date"), pl.lit("inflight").alias("run_id")))
    warehouse = Warehouse(path=str(tmp_path))
    warehouse._overlay_runs = ["inflight"]
    everything = warehouse.files(["2026-01-01", "2026-01-02"])
    assert set(everything) == {TABLE, "stock.stock_projection"}
    only = warehouse.files(["2026-01-01", "2026-01-02"], [TABLE])
    assert only == {TABLE: everything[TABLE]} and "inflight" in only[TABLE][-1].name
    assert warehouse.files(tables=["stock.stock_projection"]) == {"stock.stock_projection": everything["stock.stock_projection"]}
    assert warehouse.files(tables=["no.such_table"]) == {}
