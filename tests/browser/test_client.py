"""orchestrator_assets.client against a live webserver and daemon on the tiny project: launch,
follow, wait, replay, list, cancel, and `reassort events` (the request building and error
handling are covered without Dagster in tests/orchestrator_assets/test_client.py)."""

from __future__ import annotations

from datetime import date

import pytest

from orchestrator_assets.cli import main
from orchestrator_assets.client import CancelRefused, ReassortClient, RunNotFoundError

pytestmark = pytest.mark.browser

RUN_DAY = date(2026, 1, 4)
RUN_TIMEOUT_S = 420  # queued -> started by the daemon -> ~20-180 s of work on 2 loaded cores


@pytest.fixture(scope="module")
def client(dagster_server, dagster_daemon) -> ReassortClient:
    return ReassortClient(dagster_server.host, dagster_server.port, timeout=60)


def test_launch_follow_replay_and_list(client, dagster_daemon, capsys):
    run_id = client.launch_partition(RUN_DAY, tags={"test": "client"})
    assert client.run_status(run_id) in {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "SUCCESS"}

    live = list(client.follow(run_id, poll_s=1.0, timeout_s=RUN_TIMEOUT_S))  # until the run has ended
    status = client.wait(run_id, timeout_s=60)
    assert status == "SUCCESS", f"run {run_id}: {status}\n{dagster_daemon.log_tail()}"

    # The log as followed: each step's start and success, the run's end; the knapsack step among them.
    types = [event.event_type for event in live]
    started = {event.step_key for event in live if event.event_type == "STEP_START"}
    succeeded = {event.step_key for event in live if event.event_type == "STEP_SUCCESS"}
    assert "knapsack" in succeeded and len(succeeded) > 10 and succeeded <= started
    assert "RUN_SUCCESS" in types and "RUN_FAILURE" not in types
    assert {event.run_id for event in live} == {run_id}

    # Replayed afterwards in pages of 25, by cursor: the same events in the same order, none
    # twice, none lost (following it live missed none either).
    everything = client.events(run_id, limit=None)
    assert not everything.has_more
    replayed = list(client.iter_events(run_id, page_size=25))
    assert replayed == everything.events
    assert len(replayed) > 100
    assert replayed[: len(live)] == live
    first = client.events(run_id, limit=25)
    assert first.has_more and len(first.events) == 25
    rest = client.events(run_id, after_cursor=first.cursor)
    assert first.events + rest.events == replayed and not rest.has_more
    assert client.events(run_id, after_cursor=rest.cursor).events == []

    # list_runs finds it by job, partition and tag; the run's description agrees.
    found = client.list_runs(limit=10, job="reassort_daily", partition=RUN_DAY, tags={"test": "client"})
    assert [run.run_id for run in found] == [run_id]
    run = found[0]
    assert (run.status, run.partition, run.tags["reassort/launched_by"]) == ("SUCCESS", "2026-01-04", "client")
    assert run.duration_s and run.duration_s > 0
    assert client.list_runs(limit=10, statuses=["FAILURE"], partition=RUN_DAY) == []

    # `reassort events` prints the run's log (by the id's first 8 characters, as `reassort status` shows it).
    capsys.readouterr()
    port = str(client.port)
    assert main(["events", run_id[:8], "--port", port]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= len(replayed)
    assert any(" knapsack " in line and " STEP_SUCCESS " in line for line in lines)
    assert any(" RUN_SUCCESS " in line for line in lines)
    assert main(["events", run_id, "--follow", "--port", port]) == 0  # an ended run: its log, then its status
    assert capsys.readouterr().out.splitlines()[-1] == f"run {run_id}: SUCCESS"
    assert main(["events", "00000000-0000-0000-0000-000000000000", "--port", port]) == 2
    assert "could not be found" in capsys.readouterr().err


def test_launch_workflow_with_variables_then_cancel(client, dagster_daemon):
    run_id = client.launch_workflow("URGENCE_RAPIDE", date(2026, 1, 3), {"min_critique_a": 1000})
    # at once: still queued (CANCELED), just dequeued by the daemon (STARTING: its worker
    # process is not up yet and reads the termination when it is) or started (CANCELING)
    status = client.cancel(run_id)
    assert status in {"CANCELED", "STARTING", "CANCELING"}, status
    final = client.wait(run_id, timeout_s=RUN_TIMEOUT_S, poll_s=1.0)
    assert final == "CANCELED", f"run {run_id}: {final}\n{dagster_daemon.log_tail()}"

    run = client.run(run_id)
    assert run.job == "workflow_URGENCE_RAPIDE"
    assert run.tags["reassort/var/min_critique_a"] == "1000"
    assert run.tags["reassort/workflow"] == "URGENCE_RAPIDE"  # the job's own tags come with it
    assert run.partition == "2026-01-03"
    events = list(client.iter_events(run_id))
    assert "RUN_CANCELED" in [event.event_type for event in events]
    assert not any(event.event_type == "STEP_SUCCESS" and event.step_key == "knapsack" for event in events)

    with pytest.raises(CancelRefused, match="CANCELED"):
        client.cancel(run_id)  # it has ended
    with pytest.raises(RunNotFoundError):
        client.run_status("00000000-0000-0000-0000-000000000000")
    assert run_id in [run.run_id for run in client.list_runs(limit=5, job="workflow_URGENCE_RAPIDE", statuses=["CANCELED"])]
