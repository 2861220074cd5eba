"""orchestrator_assets.client against a fake webserver: the requests it builds and how it reads
answers and errors (no Dagster involved; tests/browser/test_client.py runs it against a real one).

The fake answers by GraphQL operation name with canned answers, in order, and records every
request (path, headers, query, variables)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator_assets.client import (
    VARIABLE_TAG_PREFIX,
    CancelRefused,
    JobNotFoundError,
    PythonError,
    QueryError,
    ReassortClient,
    ReassortClientError,
    RunConfigInvalid,
    RunEvent,
    RunNotFoundError,
    ServerUnreachable,
    days_between,
    format_event,
    print_run_events,
    workflow_job_name,
)

RUN_ID = "0f3c2a1e-1111-4222-8333-944455556666"
REPOSITORIES = {
    "repositoriesOrError": {
        "__typename": "RepositoryConnection",
        "nodes": [
            {
                "name": "__repository__",
                "location": {"name": "orchestrator_assets.definitions:defs"},
                "pipelines": [
                    {"name": "reassort_daily"}, {"name": "workflow_URGENCE_RAPIDE"}, {"name": "workflow_FIBRE_SEUL_LONG"},
                ],
            }
        ],
    }
}


def run_answer(status: str, run_id: str = RUN_ID, **tags: str) -> dict:
    return {
        "runOrError": {
            "__typename": "Run", "runId": run_id, "jobName": "reassort_daily", "status": status,
            "creationTime": 100.0, "startTime": 101.0, "endTime": 131.5 if status == "SUCCESS" else None,
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }
    }


def event(n: int, event_type: str | None = "STEP_SUCCESS", kind: str = "ExecutionStepSuccessEvent", **extra) -> dict:
    return {
        "__typename": kind, "runId": RUN_ID, "message": f"event {n}", "timestamp": str(1_767_225_600_000 + n * 1000),
        "level": "DEBUG", "stepKey": f"step_{n}", "eventType": event_type, **extra,
    }


def page(cursor: str, has_more: bool, *events: dict) -> dict:
    return {"logsForRun": {"__typename": "EventConnection", "cursor": cursor, "hasMore": has_more, "events": list(events)}}


class FakeWebserver:
    """POST /graphql: the next canned answer of the request's operation name (the last one
    repeats). An answer is {"data": ...} by default; (status, body bytes) sends that as is;
    a float sleeps that long first (a slow server)."""

    def __init__(self) -> None:
        self.answers: dict[str, deque] = defaultdict(deque)
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                operation = body["query"].split("(")[0].split("{")[0].split()[-1]
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "operation": operation, **body})
                queue = fake.answers[operation]
                answer = queue.popleft() if len(queue) > 1 else (queue[0] if queue else {"errors": [{"message": "no canned answer"}]})
                if isinstance(answer, float):
                    time.sleep(answer)
                    answer = {"data": {}}
                status, raw = answer if isinstance(answer, tuple) else (200, json.dumps(answer if "errors" in answer else {"data": answer}).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, operation: str, *answers) -> None:
        self.answers[operation].extend(answers)

    def sent(self, operation: str) -> list[dict]:
        return [request for request in self.requests if request["operation"] == operation]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    with FakeWebserver() as server:
        yield server


@pytest.fixture
def client(fake):
    return ReassortClient("127.0.0.1", fake.port, timeout=5, headers={"Authorization": "Bearer t0ken"})


def tags_of(request: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in request["variables"]["executionParams"]["executionMetadata"]["tags"]}


def test_launch_partition_sends_launch_run_with_partition_tag_and_executor(fake, client):
    fake.answer("ReassortRepositories", REPOSITORIES)
    fake.answer("ReassortLaunchRun", {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": RUN_ID}}})

    assert client.launch_partition(date(2026, 1, 4), tags={"team": "planning"}) == RUN_ID
    assert client.launch_partition("2026-01-03", executor="multiprocess") == RUN_ID

    assert len(fake.sent("ReassortRepositories")) == 1  # the job's code location is looked up once
    first, second = fake.sent("ReassortLaunchRun")
    params = first["variables"]["executionParams"]
    assert params["selector"] == {
        "repositoryLocationName": "orchestrator_assets.definitions:defs",
        "repositoryName": "__repository__",
        "jobName": "reassort_daily",
    }
    assert params["runConfigData"] == {"execution": {"config": {"in_process": {}}}}
    assert tags_of(first) == {"dagster/partition": "2026-01-04", "reassort/launched_by": "client", "team": "planning"}
    assert "multiprocess" in second["variables"]["executionParams"]["runConfigData"]["execution"]["config"]
    assert tags_of(second)["dagster/partition"] == "2026-01-03"
    assert all(request["path"] == "/graphql" for request in fake.requests)
    assert all(request["headers"]["Authorization"] == "Bearer t0ken" for request in fake.requests)


def test_launch_workflow_passes_variables_as_tags(fake, client):
    fake.answer("ReassortRepositories", REPOSITORIES)
    fake.answer("ReassortLaunchRun", {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": RUN_ID}}})

    variables = {"min_critique_a": 3, "rush": True, "since": date(2026, 1, 1), "note": "x"}
    client.launch_workflow("URGENCE_RAPIDE", "2026-01-04", variables, run_config={"execution": {"config": {"multiprocess": {}}}})

    (request,) = fake.sent("ReassortLaunchRun")
    assert request["variables"]["executionParams"]["selector"]["jobName"] == "workflow_URGENCE_RAPIDE"
    assert request["variables"]["executionParams"]["runConfigData"] == {"execution": {"config": {"multiprocess": {}}}}
    assert tags_of(request) == {
        "dagster/partition": "2026-01-04",
        "reassort/launched_by": "client",
        "reassort/var/min_critique_a": "3",
        "reassort/var/rush": "true",
        "reassort/var/since": "2026-01-01",
        "reassort/var/note": "x",
    }


def test_names_shared_with_the_workflows():
    """The client's job and tag names are the ones the code location gives workflows."""
    from orchestrator_assets.defs.automation.workflow_options import assignments_from_tags
    from orchestrator_assets.defs.automation.workflows import job_name_of

    assert workflow_job_name("URGENCE_RAPIDE") == job_name_of("URGENCE_RAPIDE")
    assert VARIABLE_TAG_PREFIX == "reassort/var/"
    assert assignments_from_tags({"reassort/var/horizon": "45", "other": "1"}) == {"horizon": "45"}


def test_unknown_job_names_the_jobs_there_are(fake, client):
    fake.answer("ReassortRepositories", REPOSITORIES)
    with pytest.raises(JobNotFoundError, match="workflow_NOPE.*reassort_daily, workflow_FIBRE_SEUL_LONG, workflow_URGENCE_RAPIDE"):
        client.launch_workflow("NOPE", "2026-01-04")
    assert not fake.sent("ReassortLaunchRun")


def test_launch_refusals_become_exceptions(fake, client):
    fake.answer("ReassortRepositories", REPOSITORIES)
    fake.answer(
        "ReassortLaunchRun",
        {"launchRun": {"__typename": "RunConfigValidationInvalid", "errors": [{"message": "unexpected entry bogus"}, {"message": "missing x"}]}},
        {"launchRun": {"__typename": "PythonError", "message": "boom\n", "stack": ["  File a.py", "  raise"]}},
        {"launchRun": {"__typename": "RunConflict", "message": "run id taken"}},
        {"launchRun": {"__typename": "InvalidStepError", "invalidStepKey": "knapsack"}},
    )
    with pytest.raises(RunConfigInvalid) as invalid:
        client.launch_partition("2026-01-04")
    assert invalid.value.errors == ["unexpected entry bogus", "missing x"]
    with pytest.raises(PythonError) as python_error:
        client.launch_partition("2026-01-04")
    assert (python_error.value.message, python_error.value.stack) == ("boom", ["  File a.py", "  raise"])
    with pytest.raises(ReassortClientError, match="run id taken") as conflict:
        client.launch_partition("2026-01-04")
    assert conflict.value.typename == "RunConflict"
    with pytest.raises(ReassortClientError, match="InvalidStepError.*knapsack"):
        client.launch_partition("2026-01-04")


def test_transport_errors(fake, client):
    fake.answer("ReassortRun", {"errors": [{"message": "Cannot query field 'nope' on type 'Run'."}]})
    with pytest.raises(QueryError, match="Cannot query field 'nope'"):
        client.run_status(RUN_ID)

    fake.answers.clear()
    fake.answer("ReassortRun", (400, json.dumps({"errors": [{"message": "Variable '$runId' of required type"}]}).encode()))
    with pytest.raises(QueryError, match=r"Variable '\$runId'"):
        client.run_status(RUN_ID)

    fake.answers.clear()
    fake.answer("ReassortRun", (502, b"<html>Bad Gateway</html>"))
    with pytest.raises(QueryError, match="HTTP 502"):
        client.run_status(RUN_ID)

    fake.answers.clear()
    fake.answer("ReassortRun", (200, b"not json"))
    with pytest.raises(QueryError, match="did not answer JSON"):
        client.run_status(RUN_ID)

    fake.answers.clear()
    fake.answer("ReassortRun", 2.0)  # slower than the client's timeout below
    with pytest.raises(ServerUnreachable, match="no answer"):
        ReassortClient("127.0.0.1", fake.port, timeout=0.3).run_status(RUN_ID)

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(ServerUnreachable, match="refused"):
        ReassortClient("127.0.0.1", closed_port, timeout=2).run_status(RUN_ID)


def test_run_status_wait_and_not_found(fake, client, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    fake.answer("ReassortRun", run_answer("QUEUED"), run_answer("QUEUED"), run_answer("STARTED"), run_answer("SUCCESS", **{"dagster/partition": "2026-01-04"}))
    seen = []
    assert client.wait(RUN_ID, timeout_s=60, on_change=seen.append) == "SUCCESS"
    assert seen == ["QUEUED", "STARTED", "SUCCESS"]
    run = client.run(RUN_ID)
    assert (run.partition, run.duration_s, run.finished) == ("2026-01-04", 30.5, True)
    assert all(request["variables"] == {"runId": RUN_ID} for request in fake.sent("ReassortRun"))

    fake.answers.clear()
    fake.answer("ReassortRun", run_answer("STARTED"))
    with pytest.raises(TimeoutError, match="still STARTED"):
        client.wait(RUN_ID, timeout_s=0)

    fake.answers.clear()
    fake.answer("ReassortRun", {"runOrError": {"__typename": "RunNotFoundError", "runId": "nope", "message": "Pipeline run nope could not be found."}})
    with pytest.raises(RunNotFoundError, match="could not be found"):
        client.run_status("nope")


def test_cancel(fake, client):
    fake.answer(
        "ReassortTerminateRun",
        {"terminateRun": {"__typename": "TerminateRunSuccess", "run": {"runId": RUN_ID}}},
        {"terminateRun": {"__typename": "TerminateRunFailure", "message": "could not be terminated due to having status SUCCESS."}},
    )
    fake.answer("ReassortRun", run_answer("CANCELING"))
    assert client.cancel(RUN_ID, force=True) == "CANCELING"  # the status read after the mutation
    with pytest.raises(CancelRefused, match="having status SUCCESS"):
        client.cancel(RUN_ID)
    first, second = fake.sent("ReassortTerminateRun")
    assert first["variables"] == {"runId": RUN_ID, "terminatePolicy": "MARK_AS_CANCELED_IMMEDIATELY"}
    assert second["variables"]["terminatePolicy"] == "SAFE_TERMINATE"


def test_list_runs_filter_and_run_id_prefix(fake, client):
    other = "abcdef01-0000-4000-8000-000000000000"
    runs = {"runsOrError": {"__typename": "Runs", "results": [run_answer("SUCCESS")["runOrError"], run_answer("FAILURE", other)["runOrError"]]}}
    fake.answer("ReassortRuns", runs)

    found = client.list_runs(5, job="reassort_daily", tags={"reassort/launched_by": "client"}, statuses=["SUCCESS"], partition=date(2026, 1, 4))
    assert [run.run_id for run in found] == [RUN_ID, other]
    assert fake.sent("ReassortRuns")[0]["variables"] == {
        "filter": {
            "pipelineName": "reassort_daily",
            "tags": [{"key": "reassort/launched_by", "value": "client"}, {"key": "dagster/partition", "value": "2026-01-04"}],
            "statuses": ["SUCCESS"],
        },
        "limit": 5,
        "cursor": None,
    }
    assert client.resolve_run_id("abcdef01") == other
    assert client.resolve_run_id(RUN_ID) == RUN_ID
    with pytest.raises(RunNotFoundError, match="no run"):
        client.resolve_run_id("ffff")


def test_events_pages_by_cursor(fake, client):
    fake.answer(
        "ReassortRunEvents",
        page("c2", True, event(1), event(2, "STEP_FAILURE", "ExecutionStepFailureEvent", error={"message": "ValueError: bad\nTraceback"})),
        page("c3", False, event(3, None, "LogMessageEvent"), event(4, "ASSET_MATERIALIZATION", "MaterializationEvent", assetKey={"path": ["stock", "stock_projection"]})),
    )
    first = client.events(RUN_ID, limit=2)
    assert (first.cursor, first.has_more, [e.message for e in first.events]) == ("c2", True, ["event 1", "event 2"])
    failure = first.events[1]
    assert (failure.event_type, failure.step_key, failure.error, failure.timestamp) == ("STEP_FAILURE", "step_2", "ValueError: bad", 1_767_225_602.0)

    fake.answers.clear()
    fake.answer("ReassortRunEvents", page("c2", True, event(1), event(2)), page("c3", False, event(3, None, "LogMessageEvent")))
    replayed = list(client.iter_events(RUN_ID, page_size=2))
    assert [e.message for e in replayed] == ["event 1", "event 2", "event 3"]
    assert replayed[-1].type_label == "LOG"
    cursors = [request["variables"]["afterCursor"] for request in fake.sent("ReassortRunEvents")[-2:]]
    assert cursors == [None, "c2"]

    fake.answers.clear()
    fake.answer("ReassortRunEvents", {"logsForRun": {"__typename": "RunNotFoundError", "runId": "x", "message": "Pipeline run x could not be found."}})
    with pytest.raises(RunNotFoundError):
        client.events("x")


def test_follow_reads_until_the_run_has_ended(fake, client, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    fake.answer(
        "ReassortRunEvents",
        page("c1", False, event(1)),
        page("c1", False),  # nothing new yet
        page("c2", False, event(2)),
        page("c3", False, event(3, "RUN_SUCCESS", "RunSuccessEvent")),  # read after the status said SUCCESS
        page("c4", False, event(4, "ENGINE_EVENT", "EngineEvent")),  # the run worker's exit, a moment later
        page("c4", False),
        page("c5", False, event(5)),  # never asked for: the log had stayed quiet once the run had ended
    )
    fake.answer("ReassortRun", run_answer("STARTED"), run_answer("STARTED"), run_answer("SUCCESS"))
    followed = [e.message for e in client.follow(RUN_ID, poll_s=0)]
    assert followed == ["event 1", "event 2", "event 3", "event 4"]
    assert [request["variables"]["afterCursor"] for request in fake.sent("ReassortRunEvents")] == [None, "c1", "c1", "c2", "c3", "c4"]
    assert len(fake.sent("ReassortRun")) == 3  # no status asked once the run was seen ended


def test_backfill_request_and_status(fake, client):
    fake.answer("ReassortRepositories", REPOSITORIES)
    fake.answer("ReassortPartitionSets", {"partitionSetsOrError": {"__typename": "PartitionSets", "results": [{"name": "reassort_daily_partition_set", "pipelineName": "reassort_daily"}]}})
    fake.answer("ReassortLaunchBackfill", {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "bf1"}})
    fake.answer("ReassortBackfill", {"partitionBackfillOrError": {
        "__typename": "PartitionBackfill", "id": "bf1", "status": "COMPLETED_SUCCESS", "numPartitions": 2,
        "partitionNames": ["2026-01-02", "2026-01-03"], "timestamp": 10.0, "endTimestamp": 90.0,
        "partitionStatuses": {"results": [
            {"partitionName": "2026-01-02", "runId": "r2", "runStatus": "SUCCESS", "runDuration": 30.0},
            {"partitionName": "2026-01-03", "runId": "r3", "runStatus": "SUCCESS", "runDuration": 31.0},
        ]},
    }})

    assert client.backfill(date(2026, 1, 2), "2026-01-03", tags={"team": "planning"}) == "bf1"
    params = fake.sent("ReassortLaunchBackfill")[0]["variables"]["backfillParams"]
    assert params["selector"] == {
        "partitionSetName": "reassort_daily_partition_set",
        "repositorySelector": {"repositoryLocationName": "orchestrator_assets.definitions:defs", "repositoryName": "__repository__"},
    }
    assert params["partitionNames"] == ["2026-01-02", "2026-01-03"]
    assert params["runConfigData"] == {"execution": {"config": {"in_process": {}}}}
    assert {tag["key"]: tag["value"] for tag in params["tags"]} == {"reassort/launched_by": "client", "team": "planning"}

    state = client.wait_backfill("bf1", timeout_s=5)
    assert (state.status, state.finished, state.num_partitions) == ("COMPLETED_SUCCESS", True, 2)
    assert {day: run.status for day, run in state.partitions.items()} == {"2026-01-02": "SUCCESS", "2026-01-03": "SUCCESS"}


def test_days_between():
    assert days_between("2026-01-30", date(2026, 2, 1)) == ["2026-01-30", "2026-01-31", "2026-02-01"]
    with pytest.raises(ValueError, match="before"):
        days_between("2026-01-02", "2026-01-01")


def test_format_event_line():
    line = format_event(RunEvent(RUN_ID, 1_767_225_600.25, "ERROR", "knapsack", "STEP_FAILURE", "ExecutionStepFailureEvent",
                                 'Execution of step "knapsack" failed.\nmore', "ValueError: no capacity"))
    assert line.startswith("2026-01-01 00:00:00.250  ERROR   knapsack ")
    assert line.endswith('STEP_FAILURE                 Execution of step "knapsack" failed. — ValueError: no capacity')


def test_print_run_events_command(fake, client, capsys, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    fake.answer("ReassortRuns", {"runsOrError": {"__typename": "Runs", "results": [run_answer("SUCCESS")["runOrError"]]}})
    fake.answer("ReassortRunEvents", page("c1", False, event(1), event(2, "RUN_SUCCESS", "RunSuccessEvent")))
    fake.answer("ReassortRun", run_answer("FAILURE"))

    assert print_run_events(RUN_ID[:8], client=client) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "step_1" in lines[0] and "RUN_SUCCESS" in lines[1]
    fake.answers["ReassortRunEvents"].clear()
    fake.answer("ReassortRunEvents", page("c1", False, event(1), event(2, "RUN_FAILURE", "RunFailureEvent")), page("c1", False))
    assert print_run_events(RUN_ID, follow=True, client=client) == 1  # the run failed
    assert capsys.readouterr().out.splitlines()[-1] == f"run {RUN_ID}: FAILURE"

    fake.answers.clear()
    fake.answer("ReassortRunEvents", {"logsForRun": {"__typename": "RunNotFoundError", "runId": RUN_ID, "message": "not found"}})
    assert print_run_events(RUN_ID, client=client) == 2
    assert "reassort events: not found" in capsys.readouterr().err


def test_launch_workflow_fills_the_workflows_variables_into_its_parameters(fake, client, project_env):
    """As `reassort run --workflow FIBRE_SEUL_LONG --var horizon=60` does: ${vars.horizon} -> 60."""
    fake.answer("ReassortRepositories", REPOSITORIES)
    fake.answer("ReassortLaunchRun", {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": RUN_ID}}})

    client.launch_workflow("FIBRE_SEUL_LONG", "2026-01-04", {"horizon": 60})

    (request,) = fake.sent("ReassortLaunchRun")
    config = request["variables"]["executionParams"]["runConfigData"]
    stock_ops = [op for op, value in config["ops"].items() if value["config"].get("horizon_days") is not None]
    assert stock_ops and all(config["ops"][op]["config"]["horizon_days"] == 60 for op in stock_ops)
    assert config["execution"] == {"config": {"in_process": {}}}
    assert tags_of(request)["reassort/var/horizon"] == "60"
