"""A Python client for code that drives Réassort from outside: launch, watch, cancel runs.

    from orchestrator_assets.client import ReassortClient

    client = ReassortClient("127.0.0.1", 3000)          # the webserver of `reassort ui` / `serve webserver`
    run_id = client.launch_partition("2026-10-30")
    print(client.wait(run_id))                         # SUCCESS, FAILURE or CANCELED
    for event in client.follow(run_id): ...            # the run's event log, live

It speaks only to the webserver's GraphQL endpoint (POST http://HOST:PORT/graphql, JSON), with
the standard library: a scheduler, a notebook or another service can use it wherever the
webserver is reachable, with no Dagster instance, code location or warehouse of its own, and
the runs it launches are the same as the UI's (queued, started by the daemon, shown in the UI).
The queries follow Dagster 1.13's schema (`launchRun`, `launchPartitionBackfill`, `runOrError`,
`runsOrError`, `logsForRun`, `terminateRun`, `partitionBackfillOrError`); every answer of an
error type becomes an exception of the same name (RunNotFoundError, PythonError, ...), all
ReassortClientError. `reassort events RUN_ID [--follow]` prints a run's log through it, and
examples/graphql_client.py is a small command line over it.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

# workflow_options: the run tags of a workflow's variables, `reassort/var/<name>` (standard library only)
from orchestrator_assets.defs.automation.workflow_options import VARIABLE_TAG_PREFIX
from orchestrator_assets.jobs import DAILY_JOB_NAME, execution_config

#: A workflow NAME of workflows.yaml is the Dagster job `workflow_<NAME>`.
WORKFLOW_JOB_PREFIX = "workflow_"
PARTITION_TAG = "dagster/partition"
LAUNCHED_BY_TAG = "reassort/launched_by"

#: Dagster run statuses after which a run does not change any more.
FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
#: BulkActionStatus values of a backfill that will not change any more.
FINISHED_BACKFILL_STATUSES = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})


# ---------------------------------------------------------------- errors
class ReassortClientError(Exception):
    """A request the webserver did not carry out; `typename` is the GraphQL type of its answer."""

    def __init__(self, message: str, typename: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.typename = typename


class ServerUnreachable(ReassortClientError):
    """No answer from the webserver (down, wrong host or port, or the timeout passed)."""


class QueryError(ReassortClientError):
    """The GraphQL request itself was refused (HTTP error, or `errors` in the answer: a query
    the server's schema does not accept)."""


class PythonError(ReassortClientError):
    """The server raised while answering; `stack` is its traceback."""

    def __init__(self, message: str, typename: str = "PythonError", stack: Sequence[str] = ()) -> None:
        super().__init__(message, typename)
        self.stack = list(stack)


class NotFoundError(ReassortClientError):
    """The run, backfill or job named does not exist on this webserver."""


class RunNotFoundError(NotFoundError):
    pass


class BackfillNotFoundError(NotFoundError):
    pass


class JobNotFoundError(NotFoundError):
    pass


class RunConfigInvalid(ReassortClientError):
    """The run config does not fit the job; `errors` holds one message per problem."""

    def __init__(self, message: str, typename: str = "RunConfigValidationInvalid", errors: Sequence[str] = ()) -> None:
        super().__init__(message, typename)
        self.errors = list(errors)


class UnauthorizedError(ReassortClientError):
    pass


class CancelRefused(ReassortClientError):
    """The run cannot be terminated (it has already ended, for one)."""


_ERRORS: dict[str, type[ReassortClientError]] = {
    "RunNotFoundError": RunNotFoundError,
    "PipelineRunNotFoundError": RunNotFoundError,
    "BackfillNotFoundError": BackfillNotFoundError,
    "PipelineNotFoundError": JobNotFoundError,
    "UnauthorizedError": UnauthorizedError,
    "TerminateRunFailure": CancelRefused,
}


def error_from(answer: Mapping) -> ReassortClientError:
    """The exception for a GraphQL answer of an error type (by its __typename)."""
    typename = str(answer.get("__typename") or "")
    if typename == "PythonError":
        return PythonError(str(answer.get("message") or "").strip(), typename, answer.get("stack") or ())
    if typename in ("RunConfigValidationInvalid", "PipelineConfigValidationInvalid"):
        errors = [str(error.get("message")) for error in answer.get("errors") or []]
        return RunConfigInvalid(f"{typename}: " + "; ".join(errors), typename, errors)
    message = answer.get("message")
    if not message:  # InvalidStepError, InvalidOutputError and the like carry fields, not a message
        fields = {key: value for key, value in answer.items() if key != "__typename"}
        message = f"{typename} {fields}" if fields else typename
    return _ERRORS.get(typename, ReassortClientError)(str(message), typename)


def _expect(answer: Mapping, *typenames: str) -> Mapping:
    if answer.get("__typename") not in typenames:
        raise error_from(answer)
    return answer


# ---------------------------------------------------------------- what the client returns
@dataclass(frozen=True)
class RunInfo:
    """A run as the webserver describes it (times in seconds since the epoch)."""

    run_id: str
    job: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    created: float | None = None
    started: float | None = None
    ended: float | None = None

    @property
    def partition(self) -> str | None:
        return self.tags.get(PARTITION_TAG)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES

    @property
    def duration_s(self) -> float | None:
        """Start to end (queueing excluded); None until the run has ended."""
        return self.ended - self.started if self.started is not None and self.ended is not None else None


@dataclass(frozen=True)
class RunEvent:
    """One entry of a run's event log.

    `event_type` is Dagster's DagsterEventType (STEP_START, STEP_SUCCESS, RUN_FAILURE, ...; None
    for a plain log message), `kind` the GraphQL type (ExecutionStepSuccessEvent,
    LogMessageEvent, ...), `error` the first line of the error an event carries."""

    run_id: str
    timestamp: float
    level: str
    step_key: str | None
    event_type: str | None
    kind: str
    message: str
    error: str | None = None
    asset_key: str | None = None

    @property
    def type_label(self) -> str:
        return self.event_type or ("LOG" if self.kind == "LogMessageEvent" else self.kind)


@dataclass(frozen=True)
class EventPage:
    """Events after a cursor; pass `cursor` back to get the following ones (none is repeated)."""

    events: list[RunEvent]
    cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class PartitionRun:
    run_id: str | None
    status: str | None
    duration_s: float | None


@dataclass(frozen=True)
class BackfillInfo:
    """A backfill: its BulkActionStatus and, per partition, the run launched for it (if any yet)."""

    backfill_id: str
    status: str
    partition_names: list[str]
    num_partitions: int | None
    created: float | None
    ended: float | None
    partitions: dict[str, PartitionRun]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_BACKFILL_STATUSES


# ---------------------------------------------------------------- GraphQL documents
REPOSITORIES_QUERY = """
query ReassortRepositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } pipelines { name } } }
    ... on PythonError { message stack }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation ReassortLaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

PARTITION_SETS_QUERY = """
query ReassortPartitionSets($repositorySelector: RepositorySelector!, $pipelineName: String!) {
  partitionSetsOrError(repositorySelector: $repositorySelector, pipelineName: $pipelineName) {
    __typename
    ... on PartitionSets { results { name pipelineName } }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

LAUNCH_BACKFILL_MUTATION = """
mutation ReassortLaunchBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

BACKFILL_QUERY = """
query ReassortBackfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id status numPartitions partitionNames timestamp endTimestamp
      partitionStatuses { results { partitionName runId runStatus runDuration } }
    }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

CANCEL_BACKFILL_MUTATION = """
mutation ReassortCancelBackfill($backfillId: String!) {
  cancelPartitionBackfill(backfillId: $backfillId) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

_RUN_FIELDS = "runId jobName status creationTime startTime endTime tags { key value }"

RUN_QUERY = f"""
query ReassortRun($runId: ID!) {{
  runOrError(runId: $runId) {{
    __typename
    ... on Run {{ {_RUN_FIELDS} }}
    ... on PythonError {{ message stack }}
    ... on Error {{ message }}
  }}
}}
"""

RUNS_QUERY = f"""
query ReassortRuns($filter: RunsFilter, $cursor: String, $limit: Int) {{
  runsOrError(filter: $filter, cursor: $cursor, limit: $limit) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on PythonError {{ message stack }}
    ... on Error {{ message }}
  }}
}}
"""

TERMINATE_RUN_MUTATION = """
mutation ReassortTerminateRun($runId: String!, $terminatePolicy: TerminateRunPolicy) {
  terminateRun(runId: $runId, terminatePolicy: $terminatePolicy) {
    __typename
    ... on TerminateRunSuccess { run { runId } }
    ... on TerminateRunFailure { message }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

EVENTS_QUERY = """
query ReassortRunEvents($runId: ID!, $afterCursor: String, $limit: Int) {
  logsForRun(runId: $runId, afterCursor: $afterCursor, limit: $limit) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { runId message timestamp level stepKey eventType }
        ... on ErrorEvent { error { message } }
        ... on MaterializationEvent { assetKey { path } }
      }
    }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""


# ---------------------------------------------------------------- helpers
def _day(day: date | str) -> str:
    return day.isoformat() if isinstance(day, date) else date.fromisoformat(day).isoformat()


def days_between(start: date | str, end: date | str) -> list[str]:
    """Every day of start..end (both included), as partition keys."""
    first, last = date.fromisoformat(_day(start)), date.fromisoformat(_day(end))
    if last < first:
        raise ValueError(f"end {last} is before start {first}")
    return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


def workflow_job_name(workflow: str) -> str:
    return f"{WORKFLOW_JOB_PREFIX}{workflow}"


def variable_text(value: object) -> str:
    """A variable's value as its run tag holds it (what `--var name=value` would say)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def variable_tags(variables: Mapping[str, object]) -> dict[str, str]:
    return {f"{VARIABLE_TAG_PREFIX}{name}": variable_text(value) for name, value in variables.items()}


def run_config_with_executor(run_config: Mapping | None, executor: str | None) -> dict:
    """The run config with the executor chosen (jobs.execution_config), unless it sets one."""
    config = dict(run_config or {})
    if executor and "execution" not in config:
        config.update(execution_config(executor))
    return config


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": str(key), "value": str(value)} for key, value in tags.items()]


def _run_info(node: Mapping) -> RunInfo:
    return RunInfo(
        run_id=node["runId"],
        job=node["jobName"],
        status=node["status"],
        tags={tag["key"]: tag["value"] for tag in node.get("tags") or []},
        created=node.get("creationTime"),
        started=node.get("startTime"),
        ended=node.get("endTime"),
    )


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _run_event(node: Mapping) -> RunEvent:
    error = node.get("error") or {}
    asset_key = node.get("assetKey") or {}
    return RunEvent(
        run_id=node.get("runId") or "",
        timestamp=float(node.get("timestamp") or 0) / 1000.0,  # Dagster sends milliseconds, as text
        level=node.get("level") or "",
        step_key=node.get("stepKey"),
        event_type=node.get("eventType"),
        kind=node.get("__typename") or "",
        message=node.get("message") or "",
        error=_first_line(error.get("message")) or None,
        asset_key="/".join(asset_key["path"]) if asset_key.get("path") else None,
    )


def format_event(event: RunEvent) -> str:
    """One line of `reassort events`: time (UTC), level, step, event type, message."""
    when = datetime.fromtimestamp(event.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    message = _first_line(event.message)
    if event.error and event.error not in message:
        message = f"{message} — {event.error}" if message else event.error
    return f"{when}  {event.level:<7} {event.step_key or '-':<36} {event.type_label:<28} {message}"


# ---------------------------------------------------------------- the client
class ReassortClient:
    """Réassort's webserver over GraphQL. Nothing is sent until a method is called; each
    method is one or a few HTTP requests of at most `timeout` seconds each.

    `headers` go with every request (an Authorization header for a reverse proxy in front of
    the webserver, for instance); `use_https` for such a proxy on TLS."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3000,
        timeout: float = 60.0,
        *,
        use_https: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.url = f"{'https' if use_https else 'http'}://{host}:{port}"
        self.headers = dict(headers or {})
        self._jobs: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"ReassortClient({self.url!r})"

    # ------------------------------------------------------------ transport
    def execute(self, query: str, variables: Mapping[str, object] | None = None) -> dict:
        """Send one GraphQL document; its `data`. ServerUnreachable, QueryError on failure."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json", **self.headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            answer = _json_or_none(raw)
            if isinstance(answer, dict) and answer.get("errors"):
                raise QueryError(_graphql_errors(answer["errors"]), "GraphQLError") from None
            raise QueryError(f"HTTP {error.code} {error.reason} from {self.url}/graphql", "HTTPError") from None
        except (urllib.error.URLError, OSError) as error:  # refused, unknown host, timed out
            reason = getattr(error, "reason", error)
            raise ServerUnreachable(f"no answer from {self.url}/graphql: {reason}", "ConnectionError") from None
        answer = _json_or_none(raw)
        if not isinstance(answer, dict):
            raise QueryError(f"{self.url}/graphql did not answer JSON: {raw[:200]!r}", "BadAnswer")
        if answer.get("errors"):
            raise QueryError(_graphql_errors(answer["errors"]), "GraphQLError")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise QueryError(f"{self.url}/graphql answered without data", "BadAnswer")
        return data

    # ------------------------------------------------------------ jobs
    def job_selector(self, job: str) -> dict[str, str]:
        """{'repositoryLocationName', 'repositoryName', 'jobName'} of the job (looked up once)."""
        if job not in self._jobs:
            answer = _expect(self.execute(REPOSITORIES_QUERY)["repositoriesOrError"], "RepositoryConnection")
            holders = [node for node in answer["nodes"] if any(p["name"] == job for p in node["pipelines"])]
            if len(holders) != 1:
                known = sorted({p["name"] for node in answer["nodes"] for p in node["pipelines"]})
                where = "no code location holds" if not holders else f"{len(holders)} code locations hold"
                raise JobNotFoundError(f"{where} job {job!r}; jobs: {', '.join(known) or 'none'}", "JobNotFoundError")
            node = holders[0]
            self._jobs[job] = {"repositoryLocationName": node["location"]["name"], "repositoryName": node["name"]}
        return {**self._jobs[job], "jobName": job}

    def jobs(self) -> list[str]:
        """Every job name the webserver's code locations hold."""
        answer = _expect(self.execute(REPOSITORIES_QUERY)["repositoriesOrError"], "RepositoryConnection")
        return sorted({p["name"] for node in answer["nodes"] for p in node["pipelines"]})

    # ------------------------------------------------------------ launching
    def launch_run(self, job: str, tags: Mapping[str, str] | None = None, run_config: Mapping | None = None) -> str:
        """Launch any job of the code location; the run id (the run is queued for the daemon)."""
        params = {
            "selector": self.job_selector(job),
            "runConfigData": dict(run_config or {}),
            "executionMetadata": {"tags": _tag_list(tags or {})},
        }
        answer = _expect(self.execute(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"], "LaunchRunSuccess")
        return answer["run"]["runId"]

    def launch_partition(
        self,
        day: date | str,
        job: str = DAILY_JOB_NAME,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping | None = None,
        executor: str | None = "in_process",
    ) -> str:
        """Run a daily partition (the whole daily pipeline by default); the run id.

        executor: in_process (the default, as `reassort run`), multiprocess, or None to keep
        the job's default; a run_config with its own `execution` keeps it."""
        all_tags = {LAUNCHED_BY_TAG: "client", **(tags or {}), PARTITION_TAG: _day(day)}
        return self.launch_run(job, all_tags, run_config_with_executor(run_config, executor))

    def launch_workflow(
        self,
        name: str,
        day: date | str,
        variables: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping | None = None,
        executor: str | None = "in_process",
    ) -> str:
        """Run workflow NAME of workflows.yaml (job `workflow_<NAME>`) for a day; the run id.

        Variables go as run tags `reassort/var/<name>` (VARIABLE_TAG_PREFIX), as
        `reassort run --workflow NAME --var name=value` writes them: the run checks them
        against the workflow's declared variables and its module conditions read them. With
        variables and no run_config, the run config is the one `reassort run --workflow`
        gives (parameters written `${vars.NAME}` filled in), derived here from the workflows
        file and code location this process sees (workflow_runs.workflow_run_config, which
        imports the code location); pass run_config to send your own instead."""
        all_tags = {**(tags or {}), **variable_tags(variables or {})}
        if variables and run_config is None:
            from orchestrator_assets.workflow_runs import workflow_run_config

            assignments = {name: variable_text(value) for name, value in variables.items()}
            run_config = workflow_run_config(name, assignments)
        return self.launch_partition(day, workflow_job_name(name), all_tags, run_config, executor)

    def backfill(
        self,
        start: date | str,
        end: date | str,
        job: str = DAILY_JOB_NAME,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping | None = None,
        executor: str | None = "in_process",
        title: str | None = None,
    ) -> str:
        """A backfill of the job over start..end (one run per day); the backfill id.

        The daemon submits its runs and updates its status; without a daemon it stays REQUESTED."""
        selector = self.job_selector(job)
        repository = {key: selector[key] for key in ("repositoryLocationName", "repositoryName")}
        sets = _expect(
            self.execute(PARTITION_SETS_QUERY, {"repositorySelector": repository, "pipelineName": job})["partitionSetsOrError"],
            "PartitionSets",
        )
        if not sets["results"]:
            raise JobNotFoundError(f"job {job!r} is not partitioned", "PartitionSetNotFoundError")
        params = {
            "selector": {"partitionSetName": sets["results"][0]["name"], "repositorySelector": repository},
            "partitionNames": days_between(start, end),
            "runConfigData": run_config_with_executor(run_config, executor),
            "tags": _tag_list({LAUNCHED_BY_TAG: "client", **(tags or {})}),
            "title": title or f"{job} {_day(start)}..{_day(end)}",
        }
        answer = _expect(
            self.execute(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"],
            "LaunchBackfillSuccess",
        )
        return answer["backfillId"]

    # ------------------------------------------------------------ runs
    def run(self, run_id: str) -> RunInfo:
        return _run_info(_expect(self.execute(RUN_QUERY, {"runId": run_id})["runOrError"], "Run"))

    def run_status(self, run_id: str) -> str:
        """QUEUED, NOT_STARTED, STARTING, STARTED, SUCCESS, FAILURE, CANCELING or CANCELED."""
        return self.run(run_id).status

    def wait(
        self,
        run_id: str,
        timeout_s: float = 600,
        poll_s: float = 2.0,
        on_change: Callable[[str], None] | None = None,
    ) -> str:
        """Poll until the run ends; its final status (SUCCESS, FAILURE or CANCELED).

        TimeoutError (with the last status seen) if it is still going after timeout_s."""
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            status = self.run_status(run_id)
            if status != last and on_change:
                on_change(status)
            last = status
            if status in FINISHED_RUN_STATUSES:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {status} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def cancel(self, run_id: str, force: bool = False) -> str:
        """Terminate a run; its status read right after (CANCELING while its run worker stops,
        CANCELED for a run still in the queue). force: mark it CANCELED at once without waiting
        for its process (MARK_AS_CANCELED_IMMEDIATELY). CancelRefused for a run that has
        already ended; `wait` gives the final status."""
        policy = "MARK_AS_CANCELED_IMMEDIATELY" if force else "SAFE_TERMINATE"
        answer = self.execute(TERMINATE_RUN_MUTATION, {"runId": run_id, "terminatePolicy": policy})["terminateRun"]
        _expect(answer, "TerminateRunSuccess")  # its `run` is read before the termination: read again
        return self.run_status(run_id)

    def list_runs(
        self,
        limit: int = 20,
        job: str | None = None,
        tags: Mapping[str, str] | None = None,
        statuses: Sequence[str] | None = None,
        partition: date | str | None = None,
        run_ids: Sequence[str] | None = None,
        cursor: str | None = None,
    ) -> list[RunInfo]:
        """Runs, newest first, filtered by job, tags (all must match), statuses, partition.
        cursor: a run id; the runs older than it (the next page)."""
        run_filter: dict[str, object] = {}
        all_tags = dict(tags or {})
        if partition is not None:
            all_tags[PARTITION_TAG] = _day(partition)
        if job:
            run_filter["pipelineName"] = job
        if all_tags:
            run_filter["tags"] = _tag_list(all_tags)
        if statuses:
            run_filter["statuses"] = list(statuses)
        if run_ids:
            run_filter["runIds"] = list(run_ids)
        variables = {"filter": run_filter, "limit": limit, "cursor": cursor}
        answer = _expect(self.execute(RUNS_QUERY, variables)["runsOrError"], "Runs")
        return [_run_info(node) for node in answer["results"]]

    def resolve_run_id(self, prefix: str, among: int = 500) -> str:
        """The full id of a run given its first characters (`reassort status` shows 8), looked
        up among the `among` newest runs; a full id is returned as it is."""
        if len(prefix) >= 36:
            return prefix
        matches = [run.run_id for run in self.list_runs(limit=among) if run.run_id.startswith(prefix)]
        if len(matches) != 1:
            found = "no run" if not matches else f"{len(matches)} runs"
            raise RunNotFoundError(f"{found} among the last {among} with an id starting {prefix!r}", "RunNotFoundError")
        return matches[0]

    def run_url(self, run_id: str) -> str:
        """The run's page in the UI."""
        return f"{self.url}/runs/{run_id}"

    # ------------------------------------------------------------ events
    def events(self, run_id: str, after_cursor: str | None = None, limit: int | None = 1000) -> EventPage:
        """The run's events after `after_cursor` (from its start when None), at most `limit`."""
        variables = {"runId": run_id, "afterCursor": after_cursor, "limit": limit}
        answer = _expect(self.execute(EVENTS_QUERY, variables)["logsForRun"], "EventConnection")
        return EventPage([_run_event(node) for node in answer["events"]], answer.get("cursor"), bool(answer.get("hasMore")))

    def iter_events(self, run_id: str, after_cursor: str | None = None, page_size: int = 1000) -> Iterator[RunEvent]:
        """Replay the run's log as it stands (from the start, or after a cursor), page by page."""
        cursor = after_cursor
        while True:
            page = self.events(run_id, cursor, page_size)
            yield from page.events
            if not page.has_more or page.cursor in (None, cursor):
                return
            cursor = page.cursor

    def follow(
        self,
        run_id: str,
        after_cursor: str | None = None,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
        page_size: int = 1000,
    ) -> Iterator[RunEvent]:
        """The run's events as they come (from its start, or after a cursor) until the run has
        ended and its log has stayed quiet for one poll (the run worker writes its exit after the
        run's last status). TimeoutError after timeout_s (None: no limit)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        cursor = after_cursor
        ended = False
        while True:
            page = self.events(run_id, cursor, page_size)
            yield from page.events
            if page.has_more and page.cursor not in (None, cursor):
                cursor = page.cursor
                continue
            cursor = page.cursor if page.cursor is not None else cursor
            if ended and not page.events:
                return
            ended = ended or self.run_status(run_id) in FINISHED_RUN_STATUSES
            if not ended and deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still going after {timeout_s:.0f} s")
            time.sleep(poll_s)

    # ------------------------------------------------------------ backfills
    def backfill_status(self, backfill_id: str) -> BackfillInfo:
        answer = _expect(
            self.execute(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"], "PartitionBackfill"
        )
        statuses = (answer.get("partitionStatuses") or {}).get("results") or []
        return BackfillInfo(
            backfill_id=answer["id"],
            status=answer["status"],
            partition_names=list(answer.get("partitionNames") or []),
            num_partitions=answer.get("numPartitions"),
            created=answer.get("timestamp"),
            ended=answer.get("endTimestamp"),
            partitions={
                entry["partitionName"]: PartitionRun(entry.get("runId"), entry.get("runStatus"), entry.get("runDuration"))
                for entry in statuses
            },
        )

    def wait_backfill(
        self,
        backfill_id: str,
        timeout_s: float = 600,
        poll_s: float = 5.0,
        on_change: Callable[[BackfillInfo], None] | None = None,
    ) -> BackfillInfo:
        """Poll until the backfill's status is final (COMPLETED_SUCCESS, COMPLETED_FAILED, ...)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            state = self.backfill_status(backfill_id)
            summary = (state.status, sorted((day, run.status or "") for day, run in state.partitions.items()))
            if summary != last and on_change:
                on_change(state)
            last = summary
            if state.finished:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} still {state.status} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def cancel_backfill(self, backfill_id: str) -> None:
        """Stop launching the backfill's runs and terminate those under way."""
        answer = self.execute(CANCEL_BACKFILL_MUTATION, {"backfillId": backfill_id})["cancelPartitionBackfill"]
        _expect(answer, "CancelBackfillSuccess")


def print_run_events(
    run_id: str, host: str = "127.0.0.1", port: int = 3000, follow: bool = False, client: ReassortClient | None = None
) -> int:
    """`reassort events RUN_ID [--follow]`: the run's log, one line per event (format_event).

    Exit status: 0; with --follow, 0 if the run succeeded and 1 if it failed or was
    canceled; 2 when the webserver cannot answer (down, unknown run)."""
    client = client or ReassortClient(host, port)
    try:
        run_id = client.resolve_run_id(run_id)
        for event in client.follow(run_id) if follow else client.iter_events(run_id):
            print(format_event(event), flush=follow)
        if not follow:
            return 0
        status = client.run_status(run_id)
    except ReassortClientError as error:
        print(f"reassort events: {error}", file=sys.stderr)
        if isinstance(error, ServerUnreachable):
            print(f"  is the webserver up on {client.url}? (uv run reassort ui)", file=sys.stderr)
        return 2
    print(f"run {run_id}: {status}")
    return 0 if status == "SUCCESS" else 1


def _json_or_none(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _graphql_errors(errors: object) -> str:
    if not isinstance(errors, list):
        return str(errors)
    return "; ".join(str(error.get("message") if isinstance(error, dict) else error) for error in errors)
