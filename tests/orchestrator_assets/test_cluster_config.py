"""Cluster mode's configuration and commands, without the services (those are in tests/cluster,
`pytest -m cluster`): what `reassort deploy --init` writes, how every command reads it, the
worker command, the code version, and `deploy --check` on a local-mode home."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import ConfigurableClassData

from orchestrator_assets import cli
from orchestrator_assets.cluster_commands import launcher_queue, worker_command
from orchestrator_assets.cluster_config import (
    ClusterConfigError,
    ClusterSettings,
    apply_env_file,
    instance_mode,
    postgres_url,
    redact,
    write_cluster_home,
)
from orchestrator_assets.code_version import code_version, source_digest


def settings(tmp_path: Path, **changes) -> ClusterSettings:
    values = dict(
        postgres_url="postgresql://reassort:s3cret@db:5432/reassort", broker="redis://redis:6379/0",
        warehouse=tmp_path / "shared" / "warehouse", data_dir=tmp_path / "shared",
    )
    return ClusterSettings(**{**values, **changes})


def test_the_storage_url_names_psycopg2():
    assert postgres_url("postgresql://u@h:5432/d") == "postgresql+psycopg2://u@h:5432/d"
    assert postgres_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert postgres_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"
    with pytest.raises(ClusterConfigError, match="psycopg2 driver"):
        postgres_url("postgresql+psycopg://u@h/d")
    with pytest.raises(ClusterConfigError):
        postgres_url("db.internal:5432")
    assert redact("postgresql://reassort:s3cret@db:5432/x") == "postgresql://reassort:***@db:5432/x"


def test_deploy_init_writes_a_configuration_dagster_accepts(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    shared = tmp_path / "shared"
    code = cli.main([
        "deploy", "--init", "--postgres-url", "postgresql://reassort:s3cret@db:5432/reassort",
        "--broker", "redis://redis:6379/0", "--warehouse", str(shared / "warehouse"), "--data-dir", str(shared),
        "--queue", "runs", "--max-runs", "6", "--monitor-interval", "10",
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "***" in out
    config, _ = dagster_instance_config(str(home))  # validated against Dagster's instance schema
    assert config["storage"]["postgres"]["postgres_url"] == "postgresql+psycopg2://reassort:s3cret@db:5432/reassort"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    runs = config["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] == 6
    assert runs["tag_concurrency_limits"] == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert config["run_monitoring"]["poll_interval_seconds"] == 10
    assert config["run_monitoring"]["max_resume_run_attempts"] == 1
    assert (home / "dagster.yaml").stat().st_mode & 0o077 == 0  # the password stays with its owner
    # the run launcher loads from its configuration (no broker is contacted to build it)
    launcher = config["run_launcher"]
    data = ConfigurableClassData(launcher["module"], launcher["class"], yaml.safe_dump(launcher["config"]))
    built = data.rehydrate(as_type=object)
    assert type(built).__name__ == "ReassortCeleryRunLauncher"
    assert built.app_args()["task_default_queue"] == "runs" and built.app_args()["broker"] == "redis://redis:6379/0"
    assert instance_mode(home) == "cluster" and launcher_queue(home) == "runs"
    assert (home / "reassort.env").read_text().splitlines()[-2:] == [
        f"REASSORT_DATA_DIR={shared}", f"REASSORT_WAREHOUSE={shared / 'warehouse'}"
    ]


def test_deploy_init_asks_for_what_it_needs_and_keeps_a_foreign_configuration(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name in ("REASSORT_POSTGRES_URL", "REASSORT_BROKER_URL", "REASSORT_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["deploy", "--init", "--broker", "redis://r:6379/0"]) == 2
    assert "--postgres-url, --warehouse" in capsys.readouterr().err
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # an operator's own
    with pytest.raises(ClusterConfigError, match="not written by reassort"):
        write_cluster_home(home, settings(tmp_path))
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    write_cluster_home(home, settings(tmp_path), force=True)
    assert instance_mode(home) == "cluster"
    with pytest.raises(ClusterConfigError, match="absolute"):
        write_cluster_home(home, settings(tmp_path, warehouse=Path("relative/warehouse")))
    with pytest.raises(ClusterConfigError, match="redis://"):
        write_cluster_home(home, settings(tmp_path, broker="amqp://guest@rabbit//"), force=True)


def test_the_local_default_home_is_local_mode_and_replaced_by_init(tmp_path, monkeypatch):
    from orchestrator_assets import project_paths

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = project_paths.dagster_home()  # writes the project's local dagster.yaml
    assert instance_mode(home) == "local"
    write_cluster_home(home, settings(tmp_path))  # the project's own file: no --force needed
    assert instance_mode(home) == "cluster"


def test_every_command_reads_the_shared_paths_unless_set(tmp_path, monkeypatch):
    home = tmp_path / "home"
    write_cluster_home(home, settings(tmp_path))
    monkeypatch.setenv("REASSORT_DATA_DIR", "")  # recorded, so that the value set below is undone
    monkeypatch.delenv("REASSORT_DATA_DIR")
    monkeypatch.setenv("REASSORT_WAREHOUSE", "/elsewhere/warehouse")
    applied = apply_env_file(home)
    assert applied == {"REASSORT_DATA_DIR": str(tmp_path / "shared")}
    assert os.environ["REASSORT_WAREHOUSE"] == "/elsewhere/warehouse"  # the environment wins


def test_the_worker_runs_the_project_app_with_this_interpreter():
    command = worker_command("runs", "w1", 2, "INFO")
    assert command[:6] == [sys.executable, "-m", "celery", "-A", "orchestrator_assets.celery_worker", "worker"]
    assert command[command.index("--queues") + 1] == "runs"
    assert command[command.index("--hostname") + 1] == "w1@%h"
    assert command[command.index("--concurrency") + 1] == "2"


def test_the_worker_refuses_a_local_mode_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["worker"]) == 2
    assert "local mode" in capsys.readouterr().err


def test_deploy_check_on_a_local_home_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["deploy", "--check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  mode" in out and "reassort deploy --init" in out and out.rstrip().endswith("not ready: mode")


def test_the_code_version_follows_the_source_files(tmp_path):
    package = tmp_path / "orchestrator_assets"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    first = source_digest(tmp_path, ("orchestrator_assets",))
    assert source_digest(tmp_path, ("orchestrator_assets",)) == first
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"compiled")
    assert source_digest(tmp_path, ("orchestrator_assets",)) == first  # caches do not count
    (package / "a.py").write_text("x = 2\n")
    assert source_digest(tmp_path, ("orchestrator_assets",)) != first
    version, digest = code_version().split("+")
    assert version == metadata.version("reassort") and len(digest) == 12
