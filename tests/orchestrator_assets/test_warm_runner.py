"""The warm runner (orchestrator_assets/warm_runner.py): commands of its DAGSTER_HOME run in
it, with the user's streams, status and Ctrl-C; it never serves other code, and a runner
that died leaves the commands to run on their own."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator_assets.runner_protocol import log_path, receive_message, send_message, socket_path
from tests.conftest import HANDMADE_DAY, write_handmade_dataset

REASSORT = str(Path(sys.executable).parent / "reassort")


@pytest.fixture
def runner_env(tmp_path):
    data = write_handmade_dataset(tmp_path / "data", [HANDMADE_DAY])
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "REASSORT_DATA_DIR": str(data), "REASSORT_WAREHOUSE": str(data / "warehouse"),
           "DAGSTER_HOME": str(home)}
    yield env
    subprocess.run([REASSORT, "runner", "stop"], env=env, capture_output=True, timeout=60)


def reassort(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REASSORT, *args], env=env, capture_output=True, text=True, timeout=timeout)


def start(env: dict[str, str]) -> int:
    started = reassort(env, "runner", "start", "--idle-minutes", "10")
    assert started.returncode == 0, started.stderr
    status = reassort(env, "runner", "status")
    assert status.returncode == 0 and "ready" in status.stdout
    return int(status.stdout.split()[2])


def ready_lines(env: dict[str, str]) -> list[str]:
    """The runners that said ready, once the one listening now (if any) is ready: a status
    waits for its greeting."""
    reassort(env, "runner", "status")
    log = log_path(Path(env["DAGSTER_HOME"]))
    return [line for line in log.read_text().splitlines() if " ready on " in line]


def test_commands_run_in_the_runner_with_their_streams_and_status(runner_env):
    first = start(runner_env)
    path = socket_path(Path(runner_env["DAGSTER_HOME"]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the user's own socket"
    ran = reassort(runner_env, "run", "--date", HANDMADE_DAY.isoformat())
    assert ran.returncode == 0, ran.stderr
    assert "Query the results" in ran.stdout and "1 of 1 partitions ok" in ran.stderr + ran.stdout
    # the runner took the command: it started its successor, which now answers
    assert len(ready_lines(runner_env)) == 2
    successor = int(reassort(runner_env, "runner", "status").stdout.split()[2])
    assert successor != first
    query = reassort(runner_env, "query", "--format", "csv", "SELECT count(*) AS n FROM urgence.urgency_classification")
    assert query.returncode == 0 and query.stdout.splitlines() == ["n", "4"], query.stderr
    refused = reassort(runner_env, "query", "DROP TABLE urgence.urgency_classification")
    assert refused.returncode == 2 and "reassort query" in refused.stderr
    assert len(ready_lines(runner_env)) == 4, "each command ran in a runner"
    # the same commands without a runner: same status, same answer
    assert reassort(runner_env, "runner", "stop").returncode == 0
    alone = reassort(runner_env, "query", "DROP TABLE urgence.urgency_classification")
    assert (alone.returncode, alone.stderr) == (refused.returncode, refused.stderr)
    assert len(ready_lines(runner_env)) == 4


def test_ctrl_c_reaches_the_command_that_runs_in_the_runner(tmp_path, runner_env):
    days = [HANDMADE_DAY + timedelta(days=offset) for offset in range(6)]
    write_handmade_dataset(Path(runner_env["REASSORT_DATA_DIR"]), days)
    start(runner_env)
    client = subprocess.Popen(  # Ctrl-C reaches the client only (a terminal's foreground group)
        [REASSORT, "run", "--from", days[0].isoformat(), "--to", days[-1].isoformat(), "--jobs", "1"],
        env=runner_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    assert client.stdout is not None
    seen = []
    for line in client.stdout:
        seen.append(line)
        if ": ok, " in line:  # the first day is done
            os.killpg(client.pid, signal.SIGINT)
            break
    output = "".join(seen) + client.communicate(timeout=120)[0]
    # the range's own message (1), or a KeyboardInterrupt that came between two of its
    # checks (130, as the interpreter ends on one): stopped either way
    assert client.returncode in (1, 130) and "interrupted" in output, output
    assert output.count(": ok, ") < len(days)
    assert len(ready_lines(runner_env)) == 2, "the range ran in the runner"


def test_a_runner_of_other_code_stops_and_the_command_runs_on_its_own(runner_env):
    start(runner_env)
    path = socket_path(Path(runner_env["DAGSTER_HOME"]))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, open(os.devnull) as null:
        conn.connect(str(path))
        greeting, _ = receive_message(conn)
        assert "hello" in greeting
        request = {"op": "run", "argv": ["status"], "env": runner_env, "cwd": os.getcwd(), "code_version": "other"}
        send_message(conn, request, fds=[null.fileno()] * 3)
        assert "stale" in receive_message(conn)[0]
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not path.exists()
    assert reassort(runner_env, "runner", "status").returncode == 1
    alone = reassort(runner_env, "status")  # runs on its own
    assert alone.returncode == 0, alone.stderr
    assert len(ready_lines(runner_env)) == 1


def test_a_killed_runner_leaves_commands_to_run_on_their_own(runner_env):
    pid = start(runner_env)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    assert socket_path(Path(runner_env["DAGSTER_HOME"])).exists()  # left behind, nobody listens
    ran = reassort(runner_env, "run", "--date", HANDMADE_DAY.isoformat())
    assert ran.returncode == 0, ran.stderr
    assert len(ready_lines(runner_env)) == 1
    assert reassort(runner_env, "runner", "status").returncode == 1


def test_the_runner_loads_the_cached_kernels_before_any_command(tmp_path):
    script = (
        "import numpy as np, polars as pl\n"
        "from solvers.grouped_arrays import PairLookup, index_pairs, _build_table\n"
        "import sys\n"
        "if sys.argv[1] == 'use':\n"
        "    PairLookup.of(index_pairs(pl.DataFrame({'site_id': ['S'], 'article_id': ['A']})))\n"
        "else:\n"
        "    import solvers\n"
        "    from solvers.kernel_cache import load_cached_kernels\n"
        "    assert not _build_table.overloads\n"
        "    assert load_cached_kernels(solvers) > 0\n"
        "    assert _build_table.overloads, 'loaded from the cache before its first call'\n"
    )
    for step in ("use", "load"):  # the first fills numba's cache if this checkout has none yet
        done = subprocess.run([sys.executable, "-c", script, step], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr


def test_the_runner_has_imported_what_a_query_needs(project_env):
    """`reassort query` binds the user's statement as a parameter to inspect it, which makes
    DuckDB import pandas (0.3 s): the runner imports it beforehand."""
    script = (
        "import sys\n"
        "from orchestrator_assets.warm_runner import warm_up\n"
        "assert 'pandas' not in sys.modules\n"
        "warm_up()\n"
        "assert 'pandas' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
