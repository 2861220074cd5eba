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

A workflow's module may set its own limit and retries (workflows.yaml: `timeout_seconds`,
`max_retries`, `retry_delay_seconds`; docs/workflows.md). Its run carries them as the tag
`reassort/module/<module>` (workflow_options.py), which each step reads for its own module:
the time limit replaces REASSORT_STEP_TIMEOUT_S, and a transient error is retried with a
RetryRequested carrying the module's count and exponential backoff (first delay
`retry_delay_seconds`, same jitter), which Dagster honours before the asset's RETRY_POLICY.
Only transient errors are retried, as everywhere; a module that runs out of retries fails
with the error's own message and the count it was given.
"""

import contextlib
import functools
import inspect
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import duckdb

from orchestrator_assets.defs.automation.workflow_options import (
    DEFAULT_OPTIONS,
    ModuleOptions,
    OptionsError,
    module_options_from_tags,
)

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


@dataclass(frozen=True)
class StepModule:
    """The module of the step under way, its options in this run and its retry number."""

    module: str | None
    options: ModuleOptions
    retry_number: int


def current_step() -> StepModule | None:
    """The running step's module and options (run tag `reassort/module/<module>`), or None
    outside a step (a body called directly). A malformed tag fails the step with its name."""
    try:
        context = dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:
        return None
    groups = sorted(set(context.assets_def.group_names_by_key.values())) if context.has_assets_def else []
    module = groups[0] if groups else None
    try:
        options = module_options_from_tags(context.run.tags, module) if module else DEFAULT_OPTIONS
    except OptionsError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    return StepModule(module, options, context.retry_number)


def _module_retry(error: Exception, step: StepModule, retries: tuple[int, float]) -> Exception:
    """A transient error under the module's own retries: another attempt after the backoff,
    or, once they are spent, a failure with the error's own message."""
    max_retries, delay = retries
    if step.retry_number >= max_retries:
        message = str(error).strip() or "(no message)"
        return dg.Failure(
            description=f"{type(error).__name__}: {message} (transient; module {step.module} gave up after "
            f"{max_retries} retr{'y' if max_retries == 1 else 'ies'}: max_retries)",
            allow_retries=False,
        )
    policy = dg.RetryPolicy(max_retries=max_retries, delay=delay, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    return dg.RetryRequested(max_retries=max_retries, seconds_to_wait=policy.calculate_delay(step.retry_number + 1))


def _escalated(error: Exception, step: StepModule | None = None) -> Exception | None:
    """What to raise instead of `error`, None to let it go as it is: Dagster's own control
    flow and errors (Failure, RetryRequested, framework errors) keep their meaning, a
    transient error goes to the retry policy (or the module's own retries), anything else
    fails the step at once with its message."""
    if isinstance(error, (dg.Failure, dg.RetryRequested, dg.DagsterError)):
        return None
    if not is_transient(error):
        return _fail_now(error)
    try:
        step = step or current_step()
    except dg.Failure as failure:
        return failure
    retries = step.options.retries if step is not None else None
    return None if step is None or retries is None else _module_retry(error, step, retries)


def step_timeout_s(step: StepModule | None = None) -> float:
    """The step's time limit: its module's timeout_seconds in a workflow run, else REASSORT_STEP_TIMEOUT_S."""
    if step is not None and step.options.timeout_seconds is not None:
        return step.options.timeout_seconds
    return float(os.environ.get("REASSORT_STEP_TIMEOUT_S", DEFAULT_STEP_TIMEOUT_S))


class _Alarm:
    def __init__(self, step: StepModule | None, name: str):
        self.seconds, self.name = step_timeout_s(step), name
        self.source = (
            f"timeout_seconds of module {step.module}"
            if step is not None and step.options.timeout_seconds is not None
            else "REASSORT_STEP_TIMEOUT_S"
        )
        self.armed = self.seconds > 0 and threading.current_thread() is threading.main_thread()

    def _fire(self, signum, frame):
        raise dg.Failure(
            description=f"step {self.name} exceeded its time limit of {self.seconds:g} s ({self.source})",
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
        replacement = _escalated(error)
        if replacement is None:
            raise
        raise replacement from error


def time_limited(function: Callable) -> Callable:
    """Run an asset body (function or generator) under the step time limit, letting only
    transient errors reach the retry policy (module docstring); signature unchanged."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args, **kwargs):
            step = current_step()
            try:
                with _Alarm(step, function.__name__):
                    yield from function(*args, **kwargs)
            except Exception as error:
                replacement = _escalated(error, step)
                if replacement is None:
                    raise
                raise replacement from error

        return generator

    @functools.wraps(function)
    def plain(*args, **kwargs):
        step = current_step()
        try:
            with _Alarm(step, function.__name__):
                return function(*args, **kwargs)
        except Exception as error:
            replacement = _escalated(error, step)
            if replacement is None:
                raise
            raise replacement from error

    return plain
