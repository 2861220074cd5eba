"""Resilience of every step: retries with backoff for transient trouble, and a time limit.

Retries: steps touch files and the warehouse, which can fail transiently (a file still being
copied, a lock held longer than the connection's own wait); they are retried up to 3 times
with exponential backoff (2 s, 4 s, 8 s) and jitter. Data errors (rejected rows above the
limit, a missing extract) raise Failure(allow_retries=False): retrying cannot fix them.

Time limit: Dagster has no per-step timeout (only a run-level `dagster/max_runtime` that
needs the daemon's run monitoring), so each asset body runs under a SIGALRM timer of
REASSORT_STEP_TIMEOUT_S seconds (default 1800). When it fires the step fails with a clear
message (and is not retried). The timer needs the main thread, which is where Dagster runs
steps in both executors; elsewhere the limit is skipped.
"""

import functools
import inspect
import os
import signal
import threading
from collections.abc import Callable

import dagster as dg

RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=2.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
DEFAULT_STEP_TIMEOUT_S = 1800.0


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


def time_limited(function: Callable) -> Callable:
    """Run an asset body (function or generator) under the step time limit; signature unchanged."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args, **kwargs):
            with _Alarm(step_timeout_s(), function.__name__):
                yield from function(*args, **kwargs)

        return generator

    @functools.wraps(function)
    def plain(*args, **kwargs):
        with _Alarm(step_timeout_s(), function.__name__):
            return function(*args, **kwargs)

    return plain
