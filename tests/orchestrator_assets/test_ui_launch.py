"""`reassort ui` finds dagster through the running interpreter, not through PATH.

Started as .venv/bin/reassort with a PATH that lacks the venv, the old bare "dagster"
failed with FileNotFoundError."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestrator_assets import cli

PATH_WITHOUT_VENV = "/usr/local/bin:/usr/bin:/bin"


def _captured_ui_command(monkeypatch, port: int) -> list[str]:
    launched: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command: launched.append(command) or 0)
    assert cli.main(["ui", "--port", str(port)]) == 0
    (command,) = launched
    return command


def test_the_ui_command_runs_dagster_with_this_interpreter(project_env, monkeypatch):
    command = _captured_ui_command(monkeypatch, 3999)
    assert command[:4] == [sys.executable, "-m", "dagster", "dev"]
    assert command[-4:] == ["-h", "127.0.0.1", "-p", "3999"]


def test_the_ui_command_works_with_a_path_that_lacks_the_venv(project_env, monkeypatch, tmp_path):
    command = _captured_ui_command(monkeypatch, 3999)
    probe = command[: command.index("dev")] + ["--version"]  # the same executable, without starting a server
    environment = {"PATH": PATH_WITHOUT_VENV, "HOME": str(tmp_path), "DAGSTER_HOME": os.environ["DAGSTER_HOME"]}
    completed = subprocess.run(probe, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "dagster" in completed.stdout.lower()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_reassort_ui_started_from_the_venv_bin_serves_the_ui(project_env, tmp_path):
    """End to end: .venv/bin/reassort ui with PATH lacking the venv answers on its port."""
    reassort = Path(sys.executable).parent / "reassort"
    port = _free_port()
    environment = {**os.environ, "PATH": PATH_WITHOUT_VENV}
    environment.pop("VIRTUAL_ENV", None)
    log = tmp_path / "ui.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(reassort), "ui", "--port", str(port)], env=environment, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
                    assert answer.status == 200
                    return
            except OSError:
                time.sleep(2)
        pytest.fail(f"no UI on port {port} after 240 s:\n{log.read_text()}")
    finally:
        _stop_group(server)


def _stop_group(server: subprocess.Popen) -> None:
    """SIGTERM the UI's session (dagster dev, its webserver, daemon and code servers), wait
    for all of them to leave, SIGKILL whatever is still there after 60 s."""
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)
    os.killpg(server.pid, signal.SIGKILL)
