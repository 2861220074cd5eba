"""Only transient errors are retried; a deterministic one fails at once and the CLI shows it."""

import dagster as dg
import duckdb
import pytest

from orchestrator_assets.partition_runs import print_step_failures
from orchestrator_assets.step_failures import step_failure_message
from orchestrator_assets.step_limits import RETRY_POLICY, is_transient, time_limited


def _materialize(asset: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    return dg.materialize([asset], raise_on_error=False)


def test_a_deterministic_error_fails_at_once_with_its_own_message():
    calls = []

    @dg.asset(retry_policy=RETRY_POLICY)
    @time_limited
    def broken() -> int:
        calls.append(1)
        raise ValueError("column 'use_FIBRE' not found")

    result = _materialize(broken)
    assert not result.success
    assert calls == [1], "a deterministic error must not be retried"
    (event,) = result.get_step_failure_events()
    message = step_failure_message(event.step_failure_data)
    assert message == "ValueError: column 'use_FIBRE' not found"
    assert "max_retries" not in message


def test_a_deterministic_error_in_a_generator_body_fails_at_once():
    calls = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=3))
    @time_limited
    def generated(context: dg.AssetExecutionContext):
        calls.append(1)
        yield from ()
        raise KeyError("site_id")

    result = _materialize(generated)
    assert not result.success and calls == [1]
    (event,) = result.get_step_failure_events()
    assert step_failure_message(event.step_failure_data) == "KeyError: 'site_id'"


@pytest.mark.parametrize(
    "error",
    [TimeoutError("share timed out"), duckdb.IOException('Could not set lock on file "warehouse.duckdb"')],
    ids=["timeout", "duckdb-lock"],
)
def test_a_transient_error_is_retried_and_its_message_shown_after_the_last_attempt(error):
    calls = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    @time_limited
    def flaky() -> int:
        calls.append(1)
        raise error

    result = _materialize(flaky)
    assert not result.success and len(calls) == 3
    (event,) = result.get_step_failure_events()
    message = step_failure_message(event.step_failure_data)
    assert message.endswith(f"{type(error).__name__}: {error} (after 2 retries)")


def test_a_transient_error_that_clears_succeeds_on_retry():
    calls = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    @time_limited
    def recovers() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError("peer reset")
        return 1

    assert _materialize(recovers).success and len(calls) == 2


@pytest.mark.parametrize(
    "error, transient",
    [
        (OSError(5, "Input/output error"), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (duckdb.IOException("lock"), True),
        (duckdb.TransactionException("write-write conflict"), True),
        (FileNotFoundError("extracts/2026-01-01/stock_levels.csv"), False),
        (PermissionError(), False),
        (ValueError("bad value"), False),
        (KeyError("x"), False),
        (ZeroDivisionError(), False),
        (duckdb.BinderException("column not found"), False),
        (duckdb.OutOfMemoryException("oom"), False),
    ],
)
def test_only_io_lock_and_network_errors_are_transient(error, transient):
    assert is_transient(error) is transient


def test_an_error_raised_from_a_transient_one_is_transient():
    try:
        try:
            raise TimeoutError("read timed out")
        except TimeoutError as cause:
            raise RuntimeError("could not read the extract") from cause
    except RuntimeError as error:
        assert is_transient(error)


def test_failures_and_time_limits_keep_their_meaning():
    @time_limited
    def refuses() -> None:
        raise dg.Failure(description="12 % of rows rejected (limit 5 %)", allow_retries=False)

    with pytest.raises(dg.Failure, match="12 % of rows rejected"):
        refuses()


def test_the_cli_prints_the_step_error_not_the_dagster_wrapper(capsys):
    @dg.asset
    def unwrapped() -> int:  # no time_limited: Dagster wraps the error in DagsterExecutionStepExecutionError
        raise ZeroDivisionError("division by zero")

    result = _materialize(unwrapped)
    capsys.readouterr()  # Dagster's own run log
    print_step_failures(result)
    printed = capsys.readouterr().err
    assert printed.strip() == "step unwrapped: ZeroDivisionError: division by zero"
