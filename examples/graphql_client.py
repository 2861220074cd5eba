"""Drive Réassort through Dagster's GraphQL API: a partition run, then a backfill.

Start the UI first (webserver + daemon on this project's instance; the daemon starts queued
runs and drives backfills):

    uv run reassort ui                                   # http://127.0.0.1:3000

then, in another terminal:

    uv run python examples/graphql_client.py run --date 2026-10-30
    uv run python examples/graphql_client.py backfill --from 2026-10-28 --to 2026-10-29
    uv run python examples/graphql_client.py backfill-status <backfill id>

(the dates must be daily partitions of the data folder: `uv run reassort status` lists them).

A thin command line over the project's client, `orchestrator_assets.client.ReassortClient`,
which sends the GraphQL documents itself (plain POSTs of {"query": ..., "variables": ...} to
http://HOST:PORT/graphql):

* a partition run: the mutation `launchRun` of `reassort_daily` with the tag
  `dagster/partition` = the day, then the query `runOrError` until the run ends;
* a backfill: the mutation `launchPartitionBackfill` (a job backfill of `reassort_daily`: one
  run per day), read back with the query `partitionBackfillOrError`.

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
from datetime import date

from orchestrator_assets.client import BackfillInfo, ReassortClient, ReassortClientError, ServerUnreachable

LAUNCHED_BY = {"reassort/launched_by": "graphql-example"}


def connect(host: str = "127.0.0.1", port: int = 3000, timeout_s: int = 60) -> ReassortClient:
    """A client of the webserver at http://host:port/graphql (nothing is sent yet)."""
    return ReassortClient(host, port, timeout_s)


def launch_partition_run(client: ReassortClient, day: date | str, executor: str = "in_process") -> str:
    """Launch the whole daily pipeline for one day; returns the run id (the run is queued)."""
    return client.launch_partition(day, tags=LAUNCHED_BY, executor=executor)


def wait_for_run(
    client: ReassortClient,
    run_id: str,
    timeout_s: float = 600,
    poll_s: float = 2.0,
    on_change: Callable[[str], None] | None = None,
) -> str:
    """Poll until the run ends; returns SUCCESS, FAILURE or CANCELED (TimeoutError after timeout_s)."""
    return client.wait(run_id, timeout_s, poll_s, on_change)


def launch_backfill(client: ReassortClient, start: date, end: date, executor: str = "in_process") -> str:
    """Launch a backfill of the daily job over start..end (one run per day); returns its id.

    The daemon (started by `reassort ui`, i.e. `dagster dev`) submits the runs and updates
    the backfill's status; without a daemon the backfill stays REQUESTED."""
    return client.backfill(start, end, tags=LAUNCHED_BY, executor=executor, title=f"reassort_daily {start}..{end}")


def wait_for_backfill(
    client: ReassortClient,
    backfill_id: str,
    timeout_s: float = 600,
    poll_s: float = 5.0,
    on_change: Callable[[BackfillInfo], None] | None = None,
) -> BackfillInfo:
    """Poll the backfill until its status is final (COMPLETED_SUCCESS, COMPLETED_FAILED, ...)."""
    return client.wait_backfill(backfill_id, timeout_s, poll_s, on_change)


def describe_backfill(state: BackfillInfo) -> str:
    lines = [f"backfill {state.backfill_id}: {state.status} ({state.num_partitions} partitions)"]
    for day in state.partition_names:
        entry = state.partitions.get(day)
        duration = f"{entry.duration_s:.1f} s" if entry and entry.duration_s else ""
        run = ((entry.run_id if entry else None) or "")[:8]
        lines.append(f"  {day}  {(entry.status if entry else None) or 'not launched':<12} {run:<8} {duration}")
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
            final = wait_for_run(client, run_id, args.timeout, on_change=lambda s: print(f"  {s}", flush=True))
            print(f"run {run_id} for {args.date}: {final} after {time.monotonic() - started:.1f} s")
            return 0 if final == "SUCCESS" else 1
        if args.command == "backfill":
            backfill_id = launch_backfill(client, args.start, args.end, args.executor)
            print(f"backfill {backfill_id} launched for {args.start} .. {args.end}", flush=True)
            if args.no_wait:
                return 0
            state = wait_for_backfill(client, backfill_id, args.timeout, on_change=lambda s: print(f"  {s.status}", flush=True))
            print(describe_backfill(state))
            return 0 if state.status in ("COMPLETED_SUCCESS", "COMPLETED") else 1
        print(describe_backfill(client.backfill_status(args.backfill_id)))
        return 0
    except ReassortClientError as error:
        print(f"graphql_client: {type(error).__name__}: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        if isinstance(error, ServerUnreachable):
            print(f"  is the UI up on http://{args.host}:{args.port}? (uv run reassort ui)", file=sys.stderr)
        return 2
    except TimeoutError as error:
        print(f"graphql_client: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
