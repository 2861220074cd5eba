"""What a failed step says: its own error, not Dagster's wrapper around it (the CLI prints
it, the run_failed alert carries it)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dagster._core.execution.plan.objects import StepFailureData

if TYPE_CHECKING:
    import dagster as dg


def step_failure_message(data: StepFailureData | None) -> str:
    """The step's own error, not Dagster's wrapper around it.

    A Failure says what it means in its description; otherwise the serialized error is a
    chain ("Exceeded max_retries of 3" or "Error occurred while executing op ...") whose
    cause is the exception the step raised: show that one, and how often it was retried."""
    if data is None:
        return "unknown error"
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description.strip()
    error = data.error
    if error is None:
        return "unknown error"
    retried = ""
    while error.cause is not None and (
        error.cls_name in ("RetryRequestedFromPolicy", "RetryRequested") or error.cls_name.startswith("Dagster")
    ):
        if error.message.startswith("Exceeded max_retries"):
            retried = f" (after {error.message.split()[-1]} retries)"
        error = error.cause
    return error.message.strip() + retried


def failed_steps(result: dg.JobExecutionResult | dg.ExecuteInProcessResult) -> tuple[tuple[str, str], ...]:
    """(step key, its own error) of each failed step of a run."""
    return tuple(
        (event.step_key or "?", step_failure_message(event.step_failure_data))
        for event in result.get_step_failure_events()
    )


#: what Dagster raises in a step when the process gets SIGINT (Ctrl-C) during a run
INTERRUPTED = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")


def was_interrupted(result: dg.JobExecutionResult | dg.ExecuteInProcessResult) -> bool:
    """Whether a run failed because its process was interrupted (Ctrl-C): Dagster's handler,
    not ours, sees the signal during a run, and fails the step running with this error."""
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None:
            if error.cls_name in INTERRUPTED:
                return True
            error = error.cause
    return False


def print_failed_steps(steps: Iterable[tuple[str, str]]) -> None:
    """The failed steps' lines on stderr (the reason a run exits 1), whichever process ran it."""
    for step_key, message in steps:
        print(f"    step {step_key}: {message}", file=sys.stderr, flush=True)
