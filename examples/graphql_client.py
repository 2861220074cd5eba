"""Drive Réassort through Dagster's GraphQL API: a partition run, then a backfill.

Start the UI first (webserver + daemon on this project's instance; the daemon starts queued
runs and drives backfills):

    uv run reassort ui                                   # http://127.0.0.1:3000

then, in another terminal:

    uv run python examples/graphql_client.py run --date 2026-10-30
    uv run python examples/graphql_client.py backfill --from 2026-10-28 --to 2026-10-29
    uv run python examples/graphql_client.py backfill-status <backfill id>

(the dates must be daily partitions of the data folder: `uv run reassort status` lists them).

What it uses:

* a partition run: dagster-graphql's Python client, `DagsterGraphQLClient.submit_job_execution`
  with the tag `dagster/partition` = the day, then `get_run_status` until the run ends;
* a backfill: the client has no method for it, so the script sends the GraphQL mutation
  `launchPartitionBackfill` itself (a job backfill of `reassort_daily`: one run per day), through
  the client's `_execute` (the same HTTP transport, headers and errors as the public methods;
  a plain POST of {"query": ..., "variables": ...} to http://HOST:PORT/graphql does the same),
  and reads the backfill back with the query `partitionBackfillOrError`.

Runs use the in-process executor by default (`--executor multiprocess`: one process per step,
what the UI's Materialize button does), as `reassort run` does: on a small machine process
start-up dominates.

Timing (2 cores, tiny profile): a partition run ends ~20 s after it is launched; a backfill is
picked up by the daemon within 30 s and marked finished at the daemon's next pass (every 30 s)
after its runs end, so a 2-day backfill takes 1 to 2 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta

from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

JOB_NAME = "reassort_daily"
FINISHED_RUN_STATUSES = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
# BulkActionStatus of a backfill once it will not change any more.
FINISHED_BACKFILL_STATUSES = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

REPOSITORIES_QUERY = """
query ReassortRepositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } pipelines { name } } }
    ... on PythonError { message }
  }
}
"""

PARTITION_SETS_QUERY = """
query ReassortPartitionSets($repositorySelector: RepositorySelector!, $pipelineName: String!) {
  partitionSetsOrError(repositorySelector: $repositorySelector, pipelineName: $pipelineName) {
    __typename
    ... on PartitionSets { results { name pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

LAUNCH_BACKFILL_MUTATION = """
mutation ReassortLaunchBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL_QUERY = """
query ReassortBackfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      partitionNames
      timestamp
      endTimestamp
      partitionStatuses { results { partitionName runId runStatus runDuration } }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


def connect(host: str = "127.0.0.1", port: int = 3000, timeout_s: int = 60) -> DagsterGraphQLClient:
    """A client of the webserver at http://host:port/graphql (nothing is sent yet)."""
    return DagsterGraphQLClient(host, port_number=port, timeout=timeout_s)


def run_config(executor: str = "in_process") -> dict:
    """Run config choosing the executor (the code location defaults to one process per step)."""
    if executor not in ("in_process", "multiprocess"):
        raise ValueError(f"unknown executor {executor!r}: in_process or multiprocess")
    return {"execution": {"config": {executor: {}}}}


# ---------------------------------------------------------------- one partition run
def launch_partition_run(client: DagsterGraphQLClient, day: date | str, executor: str = "in_process") -> str:
    """Launch the whole daily pipeline for one day; returns the run id (the run is queued)."""
    return client.submit_job_execution(
        JOB_NAME,
        run_config=run_config(executor),
        tags={"dagster/partition": str(day), "reassort/launched_by": "graphql-example"},
    )


def wait_for_run(
    client: DagsterGraphQLClient,
    run_id: str,
    timeout_s: float = 600,
    poll_s: float = 2.0,
    on_change: Callable[[DagsterRunStatus], None] | None = None,
) -> DagsterRunStatus:
    """Poll get_run_status until the run ends; returns SUCCESS, FAILURE or CANCELED.

    Raises TimeoutError with the last status seen if the run is still going after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        status = client.get_run_status(run_id)
        if status != last and on_change:
            on_change(status)
        last = status
        if status in FINISHED_RUN_STATUSES:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {status.value} after {timeout_s:.0f} s")
        time.sleep(poll_s)


# ---------------------------------------------------------------- backfill
def execute(client: DagsterGraphQLClient, query: str, variables: dict | None = None) -> dict:
    """Send any GraphQL document through the client's transport (DagsterGraphQLClientError on failure)."""
    return client._execute(query, variables)  # the client has no public method for a raw query


def find_job(client: DagsterGraphQLClient, job_name: str = JOB_NAME) -> dict:
    """{'repositoryLocationName', 'repositoryName'} of the code location that holds the job."""
    result = execute(client, REPOSITORIES_QUERY)["repositoriesOrError"]
    if result["__typename"] != "RepositoryConnection":
        raise DagsterGraphQLClientError(result["__typename"], result.get("message"))
    matches = [
        {"repositoryLocationName": node["location"]["name"], "repositoryName": node["name"]}
        for node in result["nodes"]
        if any(pipeline["name"] == job_name for pipeline in node["pipelines"])
    ]
    if len(matches) != 1:
        raise DagsterGraphQLClientError("JobNotFoundError", f"{len(matches)} code locations hold job {job_name!r}")
    return matches[0]


def partition_set_name(client: DagsterGraphQLClient, repository_selector: dict, job_name: str = JOB_NAME) -> str:
    """The partition set of a partitioned job (Dagster names it '<job>_partition_set')."""
    result = execute(
        client, PARTITION_SETS_QUERY, {"repositorySelector": repository_selector, "pipelineName": job_name}
    )["partitionSetsOrError"]
    if result["__typename"] != "PartitionSets" or not result["results"]:
        raise DagsterGraphQLClientError(result["__typename"], result.get("message", f"no partition set for {job_name}"))
    return result["results"][0]["name"]


def days_between(start: date, end: date) -> list[str]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [(start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]


def launch_backfill(client: DagsterGraphQLClient, start: date, end: date, executor: str = "in_process") -> str:
    """Launch a backfill of the daily job over start..end (one run per day); returns its id.

    The daemon (started by `reassort ui`, i.e. `dagster dev`) submits the runs and updates
    the backfill's status; without a daemon the backfill stays REQUESTED."""
    repository_selector = find_job(client)
    params = {
        "selector": {
            "partitionSetName": partition_set_name(client, repository_selector),
            "repositorySelector": repository_selector,
        },
        "partitionNames": days_between(start, end),
        "runConfigData": run_config(executor),
        "tags": [{"key": "reassort/launched_by", "value": "graphql-example"}],
        "title": f"reassort_daily {start}..{end}",
    }
    result = execute(client, LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        detail = result.get("message") or result.get("errors") or result
        raise DagsterGraphQLClientError(result["__typename"], str(detail))
    return result["backfillId"]


def backfill_status(client: DagsterGraphQLClient, backfill_id: str) -> dict:
    """{'status': BulkActionStatus name, 'partitions': {day: {'runId', 'runStatus', 'runDuration'}}, ...}."""
    result = execute(client, BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
    if result["__typename"] != "PartitionBackfill":
        raise DagsterGraphQLClientError(result["__typename"], result.get("message"))
    statuses = (result.get("partitionStatuses") or {}).get("results") or []
    return {
        "id": result["id"],
        "status": result["status"],
        "numPartitions": result["numPartitions"],
        "partitionNames": result["partitionNames"],
        "timestamp": result["timestamp"],
        "endTimestamp": result["endTimestamp"],
        "partitions": {
            entry["partitionName"]: {
                "runId": entry["runId"], "runStatus": entry["runStatus"], "runDuration": entry["runDuration"],
            }
            for entry in statuses
        },
    }


def wait_for_backfill(
    client: DagsterGraphQLClient,
    backfill_id: str,
    timeout_s: float = 600,
    poll_s: float = 5.0,
    on_change: Callable[[dict], None] | None = None,
) -> dict:
    """Poll the backfill until its status is final (COMPLETED_SUCCESS, COMPLETED_FAILED, ...)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        state = backfill_status(client, backfill_id)
        summary = (state["status"], tuple(sorted((day, p["runStatus"]) for day, p in state["partitions"].items())))
        if summary != last and on_change:
            on_change(state)
        last = summary
        if state["status"] in FINISHED_BACKFILL_STATUSES:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} still {state['status']} after {timeout_s:.0f} s")
        time.sleep(poll_s)


# ---------------------------------------------------------------- command line
def describe_backfill(state: dict) -> str:
    lines = [f"backfill {state['id']}: {state['status']} ({state['numPartitions']} partitions)"]
    for day in state["partitionNames"] or []:
        entry = state["partitions"].get(day) or {}
        duration = f"{entry['runDuration']:.1f} s" if entry.get("runDuration") else ""
        run = (entry.get("runId") or "")[:8]
        lines.append(f"  {day}  {entry.get('runStatus') or 'not launched':<12} {run:<8} {duration}")
    return "\n".join(lines)


def _date(text: str) -> date:
    return date.fromisoformat(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the end")
    parser.add_argument("--executor", default="in_process", choices=["in_process", "multiprocess"])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="launch one partition and wait for its outcome")
    run.add_argument("--date", type=_date, required=True)
    backfill = commands.add_parser("backfill", help="launch a backfill over a date range and wait for it")
    backfill.add_argument("--from", dest="start", type=_date, required=True)
    backfill.add_argument("--to", dest="end", type=_date, required=True)
    backfill.add_argument("--no-wait", action="store_true", help="print the backfill id and return")
    status = commands.add_parser("backfill-status", help="print a backfill's status")
    status.add_argument("backfill_id")
    args = parser.parse_args(argv)

    client = connect(args.host, args.port)
    try:
        if args.command == "run":
            started = time.monotonic()
            run_id = launch_partition_run(client, args.date, args.executor)
            print(f"run {run_id} launched for {args.date}", flush=True)
            final = wait_for_run(
                client, run_id, args.timeout, on_change=lambda s: print(f"  {s.value}", flush=True)
            )
            print(f"run {run_id} for {args.date}: {final.value} after {time.monotonic() - started:.1f} s")
            return 0 if final == DagsterRunStatus.SUCCESS else 1
        if args.command == "backfill":
            backfill_id = launch_backfill(client, args.start, args.end, args.executor)
            print(f"backfill {backfill_id} launched for {args.start} .. {args.end}", flush=True)
            if args.no_wait:
                return 0
            state = wait_for_backfill(
                client, backfill_id, args.timeout, on_change=lambda s: print(f"  {s['status']}", flush=True)
            )
            print(describe_backfill(state))
            return 0 if state["status"] in ("COMPLETED_SUCCESS", "COMPLETED") else 1
        print(describe_backfill(backfill_status(client, args.backfill_id)))
        return 0
    except DagsterGraphQLClientError as error:
        cause = f" ({type(error.__cause__).__name__}: {error.__cause__})" if error.__cause__ else ""
        print(f"graphql_client: {str(error).strip().splitlines()[0]}{cause}", file=sys.stderr)
        print(f"  is the UI up on http://{args.host}:{args.port}? (uv run reassort ui)", file=sys.stderr)
        return 2
    except TimeoutError as error:
        print(f"graphql_client: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
