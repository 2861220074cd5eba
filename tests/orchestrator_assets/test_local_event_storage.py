"""Local mode's event log (orchestrator_assets/local_event_storage.py): Dagster's SQLite
storage with its connections kept open. What a run and the UI need still works, processes
writing the same files at once lose nothing, and the engines kept are bounded."""

from __future__ import annotations

import multiprocessing
import os

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite import sqlite_event_log

from orchestrator_assets import local_event_storage, project_paths
from orchestrator_assets.local_event_storage import PooledSqliteEventLogStorage

EVENTS_PER_PROCESS = 150


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return project_paths.dagster_home()


def _job():
    @dg.op
    def one():
        return 1

    @dg.job
    def tiny_job():
        one()

    return tiny_job


def test_a_new_home_uses_the_pooled_event_log_in_dagsters_own_folder(home):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = _job().execute_in_process(instance=instance)
        assert result.success
        events = instance.all_logs(result.run_id)
        assert any(event.dagster_event and event.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS for event in events)
    assert (home / "history" / "runs" / f"{result.run_id}.db").is_file()


def test_a_home_this_project_made_earlier_gets_the_event_log_and_keeps_its_runs(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(project_paths.INSTANCE_CONFIG)  # before this change: Dagster's storage
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert not isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        earlier = _job().execute_in_process(instance=instance).run_id
    project_paths.dagster_home()
    project_paths.dagster_home()  # idempotent
    text = (home / "dagster.yaml").read_text()
    assert text.count("event_log_storage:") == 1 and text.count("telemetry:") == 1
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert instance.all_logs(earlier), "the runs of before are still read"


def _write_events(home: str, run_id: str, name: str) -> None:
    os.environ["DAGSTER_HOME"] = home
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        for index in range(EVENTS_PER_PROCESS):
            instance.report_engine_event(f"{name} {index}", run)


def test_processes_writing_one_run_at_once_lose_no_event(home):
    with dg.DagsterInstance.get() as instance:
        run_id = _job().execute_in_process(instance=instance).run_id
        before = len(instance.all_logs(run_id))
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write_events, args=(str(home), run_id, f"writer{k}")) for k in range(3)]
    for writer in writers:
        writer.start()
    _write_events(str(home), run_id, "parent")
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    with dg.DagsterInstance.get() as instance:
        messages = [event.message for event in instance.all_logs(run_id)][before:]
    assert len(messages) == 4 * EVENTS_PER_PROCESS
    for name in ("parent", "writer0", "writer1", "writer2"):
        assert {m for m in messages if m.startswith(f"{name} ")} == {f"{name} {k}" for k in range(EVENTS_PER_PROCESS)}


def test_engines_are_kept_for_the_files_used_last_only(home, monkeypatch):
    monkeypatch.setattr(local_event_storage, "MAX_ENGINES", 3)
    with dg.DagsterInstance.get() as instance:
        runs = [_job().execute_in_process(instance=instance).run_id for _ in range(5)]
        storage = instance.event_log_storage
        for run_id in runs:
            assert storage.get_logs_for_run(run_id)
        assert len(storage._engines) == 3
        assert list(storage._engines)[-1] == runs[-1]


def test_wipe_closes_the_files_before_deleting_them_and_the_log_works_after(home):
    with dg.DagsterInstance.get() as instance:
        run_id = _job().execute_in_process(instance=instance).run_id
        before = list(instance.event_log_storage._engines.values())  # held: no id is reused
        instance.event_log_storage.wipe()
        after = list(instance.event_log_storage._engines.values())
        assert before and not any(new is old for new in after for old in before)
        assert not instance.all_logs(run_id)
        again = _job().execute_in_process(instance=instance)
        assert again.success and instance.all_logs(again.run_id)


def test_has_table_uses_the_kept_engine_and_remembers_what_it_found(home, monkeypatch):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert storage.supports_asset_checks
        created = []
        for module in (local_event_storage, sqlite_event_log):
            monkeypatch.setattr(module, "create_engine", lambda *a, **k: created.append(a) or None)
        # Dagster's own has_table opened an engine per call; found tables are not looked up again
        assert storage.has_table("asset_check_executions") and storage.has_table("asset_event_tags")
        assert not storage.has_table("no_such_table")
        assert not created
        with storage.index_connection():  # Dagster asks while holding the index's connection
            assert storage.has_table("asset_check_executions")
        monkeypatch.undo()
        storage._tables_found.add("dropped_by_wipe")
        storage.wipe()
        assert "dropped_by_wipe" not in storage._tables_found
        again = _job().execute_in_process(instance=instance)
        assert again.success and storage.has_table("asset_check_executions")


def test_commits_do_not_wait_for_the_disk_and_the_journal_stays_wal(home):
    with dg.DagsterInstance.get() as instance:
        run_id = _job().execute_in_process(instance=instance).run_id
        storage = instance.event_log_storage
        for shard in ("index", run_id):
            with storage._engine(shard).connect() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
