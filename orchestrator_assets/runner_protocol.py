"""What the `reassort` client and the warm runner (warm_runner.py) say to each other.

One Unix socket per DAGSTER_HOME (`runner.sock` in it, beside the runners' `runner.log`;
`spawn_runner` starts a runner process, the first one or a successor). A message is a 4-byte big-endian
length and that many bytes of JSON; the client's first message may carry file descriptors
(its standard input, output and error) as SCM_RIGHTS ancillary data. Requests: `ping`,
`stop`, `run` (argv, env, cwd, code_version). Answers to `run`: `{"pid": N}` once the
command's process exists, then `{"exit": status}` when it ends; or `{"stale": version}`
when the runner imported other code than the client's.

This module imports nothing heavy: the client runs it before deciding whether to import the
pipeline at all.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

from orchestrator_assets import project_paths

#: a message larger than this is refused (an environment is a few kB)
MAX_MESSAGE = 1 << 20
_LENGTH = struct.Struct(">I")


def home_folder() -> Path:
    """DAGSTER_HOME as every command resolves it, without creating anything."""
    return Path(os.environ.get("DAGSTER_HOME", project_paths.PROJECT_ROOT / ".dagster_home")).resolve()


def socket_path(home: Path) -> Path:
    return home / "runner.sock"


def log_path(home: Path) -> Path:
    return home / "runner.log"


def spawn_runner(home: Path, idle_minutes: float, *successor_args: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """Start a runner process for `home`, detached, its output appended to its log: the first
    one (`reassort runner start`) or a successor (`successor_args`: the socket it inherits)."""
    import subprocess  # here: the client, which imports this module, never starts a runner

    with open(log_path(home), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestrator_assets.warm_runner", "--home", str(home),
             "--idle-minutes", str(idle_minutes), *successor_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=pass_fds, start_new_session=True,
        )


def warm_code_version() -> str:
    """The code a process would run: the packages' source digest, the interpreter and the
    state of its installed packages (a `uv sync` changes the folder's modification time)."""
    from orchestrator_assets.code_version import source_digest

    packages = next((Path(entry) for entry in sys.path if entry.endswith("site-packages")), None)
    installed = packages.stat().st_mtime_ns if packages is not None and packages.is_dir() else 0
    return f"{source_digest()[:16]}:{sys.executable}:{installed}"


def send_message(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    payload = json.dumps(message).encode()
    data = _LENGTH.pack(len(payload)) + payload
    if fds:
        sent = socket.send_fds(conn, [data], fds)
        data = data[sent:]
    if data:
        conn.sendall(data)


def _exactly(conn: socket.socket, size: int, start: bytes = b"") -> bytes:
    data = bytearray(start)
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        data.extend(chunk)
    return bytes(data)


def receive_message(conn: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """The next message and the file descriptors that came with it (the receiver owns them)."""
    fds: list[int] = []
    if max_fds:
        data, fds, _flags, _address = socket.recv_fds(conn, _LENGTH.size, max_fds)
        if not data:
            raise ConnectionError("the other end closed the connection")
    else:
        data = b""
    header = _exactly(conn, _LENGTH.size, data)
    (size,) = _LENGTH.unpack(header)
    if size > MAX_MESSAGE:
        for fd in fds:
            os.close(fd)
        raise ValueError(f"message of {size} bytes, more than {MAX_MESSAGE}")
    message = json.loads(_exactly(conn, size))
    if not isinstance(message, dict):
        raise ValueError("a message is a JSON object")
    return message, fds
