"""The knapsack's kernels compiled beside a run when numba's cache is cold
(solvers/knapsack/kernel_warmup.py says why and what it solves).

A run that will solve a knapsack calls ``start_if_cold`` as it begins: if the cache lacks
the knapsack's kernels for this machine, a process (``python -m
orchestrator_assets.kernel_warmup_process``) compiles them while the run's first steps go
on. The knapsack step calls ``wait_for_warmup`` before it solves: it waits for that process
rather than compiling the same kernels itself at the same time. Both meet on a lock file
(flock): the warm-up holds it exclusively while it compiles, so a step in any process of
this machine (a range's day processes, a step of the multiprocess executor) waits for it,
and a second warm-up started meanwhile leaves at once. A warm cache costs a run one index
read (~1 ms); a failed or killed warm-up only leaves the step to compile, as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: longest a knapsack step waits for a warm-up (it took 7 s here; then the step compiles what is left)
WAIT_LIMIT_S = 120.0

_STARTED: list[subprocess.Popen] = []


def lock_path() -> Path:
    """One lock per user and checkout: warm-ups of different code do not wait for each other."""
    import solvers

    checkout = hashlib.sha256(str(Path(solvers.__file__).resolve().parent).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"reassort-kernel-warmup-{os.getuid()}-{checkout}.lock"


def cache_is_cold() -> bool:
    from solvers.kernel_cache import cached_signatures
    from solvers.knapsack.kernel_warmup import SENTINEL

    return not cached_signatures(SENTINEL)


def start_if_cold() -> bool:
    """Start the warm-up process if the knapsack's kernels are not cached; True if started.
    Never fails the run: a warm-up that cannot start leaves the step to compile."""
    if not cache_is_cold():
        return False
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator_assets.kernel_warmup_process"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except OSError:
        return False
    _STARTED.append(process)
    return True


def _open_lock() -> int | None:
    """The lock file, opened without following a link and only if it is this user's (the
    temporary folder is shared: another user's file could otherwise make a step wait)."""
    try:
        fd = os.open(lock_path(), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    if os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        return None
    return fd


def wait_for_warmup(limit_s: float = WAIT_LIMIT_S) -> float:
    """Wait for the warm-ups this process started, then while any other holds the lock (at
    most ``limit_s`` in all); the seconds waited."""
    started = time.perf_counter()
    left = lambda: max(0.0, limit_s - (time.perf_counter() - started))  # noqa: E731
    for process in list(_STARTED):  # also covers one that has not taken the lock yet
        try:
            process.wait(timeout=left())
            _STARTED.remove(process)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - started
    if not lock_path().exists():
        return time.perf_counter() - started
    fd = _open_lock()
    if fd is None:
        return time.perf_counter() - started
    try:
        while left() > 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.05)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def main() -> int:
    fd = _open_lock()
    if fd is None:
        return 0  # no lock of this user's to announce the compilation: the step compiles
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another warm-up is compiling them
        if not cache_is_cold():  # a run compiled them between the check and this lock
            return 0
        from solvers.knapsack.kernel_warmup import warm_up

        warm_up()
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
