"""The `reassort` command's side of the warm runner (warm_runner.py): hand the command to a
runner of the same code if one is listening, else say so and let the command run here.

Imports only the standard library and the protocol: deciding costs a few milliseconds
(mostly the code digest), against ~3.5 s of imports a command pays when it runs itself.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator_assets.runner_protocol import (
    home_folder,
    log_path,
    receive_message,
    send_message,
    socket_path,
    spawn_runner,
    warm_code_version,
)

#: commands that are services, or manage the runner: always run in their own process
SERVICE_COMMANDS = frozenset({"ui", "serve", "worker", "metrics", "runner"})
CONNECT_TIMEOUT_S = 2.0
#: how long a client waits for a runner's greeting: a runner still warming up (the successor
#: of one that just took a command) greets when ready, ~4 s; past this, the client gives up
#: before sending anything, so the command never runs twice
GREETING_TIMEOUT_S = 120.0
#: the signals a user sends to the command, passed on to the process that runs it
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _connect(home: Path) -> tuple[socket.socket, dict[str, Any]] | None:
    """A connection to `home`'s runner and its greeting; None when none answers."""
    path = socket_path(home)
    if not path.is_socket():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(CONNECT_TIMEOUT_S)
    try:
        conn.connect(str(path))
        conn.settimeout(GREETING_TIMEOUT_S)
        greeting = receive_message(conn)[0]
    except (OSError, ValueError):  # a runner that died without removing its socket, or stuck
        conn.close()
        return None
    return conn, greeting


def ask(op: str, home: Path | None = None) -> dict[str, Any] | None:
    """A runner's answer to `ping` or `stop`; None when no runner listens."""
    connected = _connect(home or home_folder())
    if connected is None:
        return None
    conn, _greeting = connected
    with conn:
        try:
            send_message(conn, {"op": op})
            return receive_message(conn)[0]
        except (OSError, ValueError):
            return None


def through_runner(argv: Sequence[str]) -> int | None:
    """Run the command `argv` in the warm runner and return its exit status; None when it
    must run in this process (a service command, no runner, a runner of other code)."""
    if not argv or argv[0] in SERVICE_COMMANDS:
        return None
    try:
        connected = _connect(home_folder())
    except KeyboardInterrupt:  # Ctrl-C while a runner warms up: nothing was sent, nothing runs
        print("interrupted", file=sys.stderr)
        return 130
    if connected is None:
        return None
    conn, _greeting = connected
    with conn:
        request = {"op": "run", "argv": list(argv), "env": dict(os.environ), "cwd": os.getcwd(),
                   "code_version": warm_code_version()}
        try:
            send_message(conn, request, fds=[0, 1, 2])
            answer = receive_message(conn)[0]
        except (OSError, ValueError):  # a closed standard stream, a runner gone meanwhile
            return None
        if "stale" in answer:
            print("reassort: the warm runner ran other code and has stopped; this command runs on its own "
                  "(`reassort runner start` starts one of the current code)", file=sys.stderr)
            return None
        if "pid" not in answer:
            return None
        return _wait_for(conn, int(answer["pid"]))


def _wait_for(conn: socket.socket, pid: int) -> int:
    def forward(signo: int, _frame: object) -> None:
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            pass

    for signo in FORWARDED:
        signal.signal(signo, forward)
    conn.settimeout(None)
    try:
        return int(receive_message(conn)[0]["exit"])
    except (OSError, ValueError, KeyError):
        print(f"reassort: the warm runner's process {pid} for this command ended without a status",
              file=sys.stderr)
        return 1


#: how long `reassort runner start` waits for a new runner to be ready (imports, definitions)
START_TIMEOUT_S = 120.0


def start_runner(home: Path, idle_minutes: float) -> tuple[int, str]:
    """Start a warm runner for `home` (detached, its log in `home`/runner.log) and wait until
    it answers; (exit status, what to tell the user)."""
    import time

    version = warm_code_version()
    running = ask("ping", home)
    if running is not None:
        if running.get("code_version") == version:
            return 0, f"warm runner {running['pid']} already running on {socket_path(home)}"
        ask("stop", home)  # it runs other code: replaced
    process = spawn_runner(home, idle_minutes)
    log = log_path(home)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        answer = ask("ping", home)
        if answer is not None and answer.get("pid") == process.pid:
            return 0, (f"warm runner {process.pid} ready on {socket_path(home)}: `reassort` commands of this "
                       f"DAGSTER_HOME run in it; it stops after {idle_minutes:g} idle minutes "
                       "or on `reassort runner stop`")
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-5:]
            return 1, "the warm runner did not start:\n" + "\n".join(tail)
        time.sleep(0.1)
    process.terminate()
    return 1, f"the warm runner did not answer within {START_TIMEOUT_S:.0f} s (log: {log})"
