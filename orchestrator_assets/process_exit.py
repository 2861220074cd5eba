"""How a `reassort` command ends: its exit handlers run, its output is flushed, and the
process stops without the interpreter's finalisation.

Why: once a command has returned, the interpreter frees every object of dagster, polars,
numba and sqlalchemy one by one before the process ends. Measured on the 2-core machine
(issue 14): 0.5 s after `import dagster` alone, 1.0-1.3 s after a `tiny` day's run, time in
which the user waits on a command whose work is finished. Everything the commands write is
durable before they return (table files fsync'd and renamed into place, the Dagster event
log committed by SQLite, the catalog's DuckDB connection closed), so there is nothing left
for finalisation to do that matters: the process runs what was registered with `atexit`
(logging's flush, `weakref.finalize` clean-ups such as temporary folders, multiprocessing's
shutdown), waits for its non-daemon threads as the interpreter would, flushes standard
output and error, then calls `os._exit`.

An exception that escapes the command is not handled here: the interpreter prints it and
ends as usual.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


def exit_code(stop: SystemExit) -> int:
    """The status the interpreter would give a `SystemExit`: None is 0, an int is itself,
    anything else is printed to standard error and gives 1."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)
    return 1


def end_process(code: int) -> NoReturn:
    """Stop the process now with ``code``, after what the interpreter's own exit does that
    is observable: non-daemon threads joined, exit handlers run, streams flushed."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    flush_streams()
    os._exit(code)


def flush_streams() -> None:
    """Standard output and error written out, whatever became of them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`reassort query … | head`) or stream
            pass


def run_then_end(command: Callable[[], int]) -> NoReturn:
    """Run ``command`` (returns an exit status, or raises SystemExit) and end the process
    with its status through :func:`end_process`."""
    try:
        code = command()
    except SystemExit as stop:
        code = exit_code(stop)
    end_process(code)
