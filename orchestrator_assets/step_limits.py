"""Resilience of every step: retries for transient trouble only, and a time limit.

Retries: steps touch files and the warehouse, which can fail transiently (a file still being
copied, a lock held longer than the connection's own wait, a network share that times out);
those errors are retried up to 3 times with exponential backoff (2 s, 4 s, 8 s) and jitter.
Everything else is deterministic (a bad value, a missing column, a bug): retrying it costs
14 s and turns the message into "Exceeded max_retries of 3", so it fails at once with its
own message. Dagster's RetryPolicy cannot choose by exception, so `time_limited`, which
wraps every asset body, does the choosing: a transient error (`is_transient`) goes on to
the policy, any other becomes Failure(allow_retries=False) whose description is the real
error ("ValueError: ...") and whose cause keeps the traceback for the UI. Data errors the
assets detect themselves already raise Failure(allow_retries=False).

Time limit: Dagster has no per-step timeout (only a run-level `dagster/max_runtime` that
needs the daemon's run monitoring), so each asset body runs under a SIGALRM timer of
REASSORT_STEP_TIMEOUT_S seconds (default 1800). When it fires the step fails with a clear
message (and is not retried). The timer needs the main thread, which is where Dagster runs
steps in both executors; elsewhere the limit is skipped.
"""

import contextlib
import functools
import inspect
import os
import signal
import threading
from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=2.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
DEFAULT_STEP_TIMEOUT_S = 1800.0

# I/O, lock and network trouble: another attempt a few seconds later can succeed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes TimeoutError, ConnectionError, BlockingIOError, urllib's URLError
    duckdb.IOException,  # "Could not set lock on file", a read that failed
    duckdb.TransactionException,  # a write conflict with a concurrent run
    duckdb.ConnectionException,
)
# OSErrors that say something about the request, not the moment: the same call fails again.
DETERMINISTIC_OS_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def is_transient(error: BaseException) -> bool:
    """True when retrying can succeed: the error, or an error it was raised from, is I/O,
    lock or network trouble (see TRANSIENT_ERRORS)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TRANSIENT_ERRORS) and not isinstance(current, DETERMINISTIC_OS_ERRORS):
            return True
        current = current.__cause__
    return False


def _fail_now(error: Exception) -> dg.Failure:
    """The Failure that stops a deterministic error from being retried, with its real message."""
    message = str(error).strip() or "(no message)"
    return dg.Failure(description=f"{type(error).__name__}: {message}", allow_retries=False)


def _passes_through(error: Exception) -> bool:
    """Dagster's own control flow and errors (Failure, RetryRequested, framework errors) keep their meaning."""
    return isinstance(error, (dg.Failure, dg.RetryRequested, dg.DagsterError)) or is_transient(error)


def step_timeout_s() -> float:
    return float(os.environ.get("REASSORT_STEP_TIMEOUT_S", DEFAULT_STEP_TIMEOUT_S))


class _Alarm:
    def __init__(self, seconds: float, name: str):
        self.seconds, self.name = seconds, name
        self.armed = seconds > 0 and threading.current_thread() is threading.main_thread()

    def _fire(self, signum, frame):
        raise dg.Failure(
            description=f"step {self.name} exceeded its time limit of {self.seconds:g} s (REASSORT_STEP_TIMEOUT_S)",
            allow_retries=False,
        )

    def __enter__(self):
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


@contextlib.contextmanager
def transient_errors_only_retried() -> Iterator[None]:
    """For code Dagster runs outside an asset body (the IO manager): a deterministic error
    fails the step at once with its own message, as `time_limited` does for bodies."""
    try:
        yield
    except Exception as error:
        if _passes_through(error):
            raise
        raise _fail_now(error) from error


def time_limited(function: Callable) -> Callable:
    """Run an asset body (function or generator) under the step time limit, letting only
    transient errors reach the retry policy (module docstring); signature unchanged."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args, **kwargs):
            try:
                with _Alarm(step_timeout_s(), function.__name__):
                    yield from function(*args, **kwargs)
            except Exception as error:
                if _passes_through(error):
                    raise
                raise _fail_now(error) from error

        return generator

    @functools.wraps(function)
    def plain(*args, **kwargs):
        try:
            with _Alarm(step_timeout_s(), function.__name__):
                return function(*args, **kwargs)
        except Exception as error:
            if _passes_through(error):
                raise
            raise _fail_now(error) from error

    return plain
