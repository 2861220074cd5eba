"""The warm runner: a process that has already imported the pipeline, waiting on a Unix socket
to run the next `reassort` command (`reassort runner start`).

Why: a `reassort` command spends ~3.5 s of the 2-core machine before its first step runs
(issue 14): importing dagster, its SQLite storage (sqlalchemy, alembic), polars and numba,
building the definitions, and numba's first call, which loads its compiler (~0.6-1 s) even
when every kernel comes from the cache. A `tiny` day is ~4 s of work after that.

How: a runner imports everything, builds the definitions and loads numba's compiler, then
listens. The `reassort` client (runner_client.py) sends it a command: argv, environment,
working folder, and its own standard input, output and error as file descriptors. The runner
first starts its successor, a new process that warms up the same way and inherits the
listening socket, then becomes the command: it takes the client's streams, environment,
folder and argv, runs `cli.main` in its main thread, sends the status back and exits. The
client forwards Ctrl-C to it and exits with that status. A command that arrives while the
successor warms up waits in the socket's queue until it is ready.

Why not fork one warm process per command: importing numpy and polars already starts
threads (OpenBLAS, jemalloc, Polars' clean-up thread), and a fork of a threaded process can
deadlock on a lock one of them held; parallel_days.py spawns for the same reason. Here every
command runs in a process of its own that did nothing but import, like a fresh one.

What keeps it honest: a runner serves only the code it imported. Each runner greets a
client with its code version (runner_protocol.warm_code_version: the packages' source
digest, the interpreter, its installed packages); the client sends its own with the
command, and a runner of other code stops, removes the socket, and the client runs the
command itself. The socket is the user's own (mode 0600 in DAGSTER_HOME) and a runner
serves only its own user (SO_PEERCRED). A runner exits after `--idle-minutes` without a
command (default 30) and on `reassort runner stop`.

Service commands (ui, serve, worker, metrics, runner) never go through it.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from orchestrator_assets.process_exit import exit_code, flush_streams, run_then_end
from orchestrator_assets.process_liveness import process_alive
from orchestrator_assets.runner_protocol import (
    receive_message,
    send_message,
    socket_path,
    spawn_runner,
    warm_code_version,
)

#: a command's request carries its three standard streams
STREAMS = 3


def warm_up() -> None:
    """Import what every command imports, build the definitions of this environment, and load
    numba's compiler, without opening the instance or a table. pandas too: DuckDB 1.5 imports
    it for any statement with a bound parameter, which `reassort query` runs to inspect the
    user's statement (0.3 s of each query)."""
    import dagster._core.storage.event_log.sqlite.sqlite_event_log  # noqa: F401
    import dagster._core.storage.runs.sqlite.sqlite_run_storage  # noqa: F401
    import dagster._core.storage.schedules.sqlite.sqlite_schedule_storage  # noqa: F401
    import numba
    import numpy as np
    import pandas  # noqa: F401

    import orchestrator_assets.cli  # noqa: F401
    import orchestrator_assets.partition_runs  # noqa: F401
    import solvers
    from orchestrator_assets.definitions import current_definitions
    from solvers.kernel_cache import load_cached_kernels

    current_definitions()

    @numba.njit(cache=False)
    def _first_call(values: np.ndarray) -> float:
        return values.sum()

    _first_call(np.zeros(2))  # loads numba's compiler and LLVM, which a cached kernel also needs
    load_cached_kernels(solvers)


def _peer_is_me(conn: socket.socket) -> bool:
    credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid == os.getuid()


def _bind(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path.unlink(missing_ok=True)
    old_umask = os.umask(0o177)  # the socket is created 0600: the user's own
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(16)
    return listener


def _inode(path: Path) -> int:
    try:
        return path.stat().st_ino
    except OSError:
        return -1


def _start_successor(home: Path, idle_minutes: float, listener: socket.socket, inode: int) -> None:
    spawn_runner(
        home, idle_minutes, "--listener-fd", str(listener.fileno()), "--socket-inode", str(inode),
        "--predecessor", str(os.getpid()), pass_fds=(listener.fileno(),),
    )


def _close_all(fds: list[int]) -> None:
    """The client's streams, when this runner does not become its command."""
    for fd in fds:
        os.close(fd)


def run_command(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> int:
    """Become the client's command (its streams, environment, folder, argv), run it in this
    process's main thread, and return its status."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams, kept open
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["reassort", *request["argv"]]
    send_message(conn, {"pid": os.getpid()})
    from orchestrator_assets.cli import main

    try:
        return main(request["argv"])
    except SystemExit as stop:
        return exit_code(stop)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BaseException:  # noqa: BLE001 - printed as the interpreter would, then status 1
        traceback.print_exc()
        return 1


def _wait_for_turn(predecessor: int, listener: socket.socket) -> None:
    """A successor warms up once its predecessor's command has ended, or at once if a client
    is already waiting: warming up beside a running command slowed it (both want the CPU)."""
    while process_alive(predecessor):
        ready, _, _ = select.select([listener], [], [], 0.05)
        if ready:
            return


def serve(
    home: Path, idle_minutes: float, listener_fd: int | None = None, inode: int | None = None,
    predecessor: int | None = None,
) -> int:
    """Warm up, then answer clients until one sends a command (run it, after starting the
    successor), asks to stop, runs other code, or none comes for `idle_minutes`."""
    path = socket_path(home)
    if listener_fd is None:
        listener = _bind(path)
        inode = _inode(path)
    else:
        listener = socket.socket(fileno=listener_fd)
    if predecessor is not None:
        _wait_for_turn(predecessor, listener)
    version = warm_code_version()
    warm_up()
    me = os.getpid()
    print(f"warm runner {me} ready on {path} (code {version.split(':')[0]})", flush=True)
    idle_since = time.monotonic()

    def retire() -> None:
        """Stop serving for good: nobody takes this socket over, so remove its file (unless a
        newer runner's socket replaced it)."""
        listener.close()
        if _inode(path) == inode:
            path.unlink(missing_ok=True)

    while True:
        if time.monotonic() - idle_since > idle_minutes * 60:
            print(f"warm runner {me}: idle for {idle_minutes:g} min, stopping", flush=True)
            retire()
            return 0
        ready, _, _ = select.select([listener], [], [], 0.5)
        if not ready:
            continue
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        with conn:
            if not _peer_is_me(conn):
                continue
            try:
                send_message(conn, {"hello": me, "code_version": version})
                request, fds = receive_message(conn, STREAMS)
            except (OSError, ValueError):  # a client that gave up or sent nonsense
                continue
            op = request.get("op")
            if op == "ping":
                send_message(conn, {"pid": me, "code_version": version})
                idle_since = time.monotonic()
            elif op == "stop":
                send_message(conn, {"stopping": me})
                retire()
                return 0
            elif op == "run" and len(fds) == STREAMS:
                if request.get("code_version") != version:
                    _close_all(fds)
                    send_message(conn, {"stale": version})
                    print(f"warm runner {me}: a client runs other code, stopping", flush=True)
                    retire()
                    return 0
                _start_successor(home, idle_minutes, listener, inode if inode is not None else -1)
                listener.close()
                code = run_command(conn, request, fds)
                flush_streams()  # all output out before the client exits
                try:
                    send_message(conn, {"exit": code})
                except OSError:  # the client is gone (killed): the command ran all the same
                    pass
                return code
            else:
                _close_all(fds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator_assets.warm_runner")
    parser.add_argument("--home", type=Path, required=True, help="the DAGSTER_HOME whose commands it runs")
    parser.add_argument("--idle-minutes", type=float, default=30.0)
    parser.add_argument("--listener-fd", type=int, help="(successors) the listening socket inherited")
    parser.add_argument("--socket-inode", type=int, help="(successors) the socket file's inode")
    parser.add_argument("--predecessor", type=int, help="(successors) the runner whose command is running")
    args = parser.parse_args(argv)
    return serve(args.home, args.idle_minutes, args.listener_fd, args.socket_inode, args.predecessor)


if __name__ == "__main__":
    run_then_end(main)
