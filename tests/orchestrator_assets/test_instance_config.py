"""The project's Dagster instance: Dagster's telemetry is off unless the operator turns it on."""

import dagster as dg

from orchestrator_assets import project_paths


def test_a_new_home_has_telemetry_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = project_paths.dagster_home()
    with dg.DagsterInstance.get() as instance:
        assert instance.root_directory == str(home)
        assert instance.telemetry_enabled is False
        assert instance.run_monitoring_enabled


def test_a_home_this_project_made_earlier_gets_telemetry_off_and_keeps_the_rest(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    earlier = project_paths.INSTANCE_CONFIG.replace(project_paths.TELEMETRY_OFF, "")
    (home / "dagster.yaml").write_text(earlier)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    project_paths.dagster_home()
    project_paths.dagster_home()  # idempotent
    text = (home / "dagster.yaml").read_text()
    assert text.count("telemetry:") == 1 and text.startswith(earlier.rstrip("\n"))


def test_an_operators_own_instance_file_is_left_alone(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    own = "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    (home / "dagster.yaml").write_text(own)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    project_paths.dagster_home()
    assert (home / "dagster.yaml").read_text() == own
