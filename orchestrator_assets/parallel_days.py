"""The days of a `reassort run --from --to` side by side, one process per day at a time.

Once a range's inputs are loaded (one single-run backfill, partition_runs.ingest_range), a
day's modules read that day's tables and the raw history only: no asset of the daily job
reads another day's module output (the one partition mapping is raw.movements' history
window). The days are then independent runs, and a machine with several cores can run them
at once, each in a process of its own (issue 14: a 30-day backfill of `large`; the storage
lets different partitions be written and published at the same time).

Why a process pool and not the multiprocess executor or threads: a day is mostly single-
threaded Python and numba, so two days need two interpreters; the multiprocess executor
parallelises the steps of one day, which form a chain, and pays an interpreter start per step
(~2 s, README). Each worker process imports the code location and opens the instance once,
then runs day after day. Workers are spawned, not forked (a fork of a process running
Polars' thread pool can deadlock; solvers/knapsack/batch.py has the same rule).

The runs are the same runs as sequential ones (same job, selection, config, tags, and the
pid of the process that runs them, for orphan_runs.py): the rows of a day do not depend on which
process ran it or in what order (tested).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from orchestrator_assets.step_failures import failed_steps, print_failed_steps

if TYPE_CHECKING:
    import dagster as dg

#: most day processes by default: each holds a day's frames (a `large` day peaks at ~1.4 GiB)
DEFAULT_MAX_JOBS = 4


@dataclass(frozen=True)
class DayOutcome:
    """What the parent prints of a day run in a worker (a run result does not cross processes)."""

    day: date
    run_id: str
    success: bool
    steps: int
    seconds: float
    #: (step key, the step's own error message) of each failed step
    failed_steps: tuple[tuple[str, str], ...] = ()


def default_jobs(days: int) -> int:
    """One process per core, at most DEFAULT_MAX_JOBS, never more than the days."""
    return max(1, min(days, os.cpu_count() or 1, DEFAULT_MAX_JOBS))


def outcome_of(day: date, result: dg.JobExecutionResult, seconds: float) -> DayOutcome:
    steps = len(result.get_step_success_events())
    return DayOutcome(day, result.run_id, result.success, steps, seconds, failed_steps(result))


def print_outcome(index: int, total: int, outcome: DayOutcome, label: str) -> None:
    """The progress line of a finished day (and its failed steps on stderr), as `reassort run`
    prints it whether the days run one after the other or side by side."""
    head = f"[{index}/{total}] {outcome.day}{label}"
    if outcome.success:
        print(f"{head}: ok, {outcome.steps} steps in {outcome.seconds:.1f} s (run {outcome.run_id})", flush=True)
        return
    print(f"{head}: FAILED after {outcome.seconds:.1f} s (run {outcome.run_id})", flush=True)
    print_failed_steps(outcome.failed_steps)


_INSTANCE: list[dg.DagsterInstance] = []


def _worker_instance() -> dg.DagsterInstance:
    """The worker's instance, opened on its first day and kept for the next ones."""
    import dagster as dg

    if not _INSTANCE:
        _INSTANCE.append(dg.DagsterInstance.get())
    return _INSTANCE[0]


#: the range's stop flag in a worker (set by the parent on Ctrl-C)
_STOP: list[Any] = []


def _keep_stop_flag(stop: Any) -> None:
    _STOP.append(stop)


def run_one_day(
    day: date, run_config: dict, selection: Sequence[dg.AssetKey], tags: dict[str, str]
) -> DayOutcome | None:
    """One day's run in a worker process (the sequential path's execute_job, same arguments);
    None, without a run, once the range was interrupted."""
    if _STOP and _STOP[0].is_set():
        return None
    import dagster as dg

    from orchestrator_assets.definitions import daily_job
    from orchestrator_assets.orphan_runs import launch_tags

    started = time.perf_counter()
    result = dg.execute_job(
        dg.reconstructable(daily_job),
        instance=_worker_instance(),
        run_config=run_config,
        asset_selection=list(selection),
        tags={"dagster/partition": day.isoformat(), **tags, **launch_tags()},
    )
    return outcome_of(day, result, time.perf_counter() - started)


def run_days_side_by_side(
    dates: Sequence[date],
    run_config: dict,
    selection: Sequence[dg.AssetKey],
    tags: dict[str, str],
    label: str,
    fail_fast: bool,
    jobs: int,
) -> int:
    """Each date's run in a pool of `jobs` processes; a line per day as it ends; returns the
    failed days. With `fail_fast`, the days not started yet when one fails are not run; the
    days already running finish.

    Ctrl-C stops the range: the days running are interrupted by Dagster (their runs fail, as
    in the sequential path), no other day starts, and the days not run count as failed. The
    workers are started with SIGINT ignored (an ignored signal stays ignored in a spawned
    interpreter), so that only Dagster's own handler, installed while a run executes, sees
    it: a worker waiting between two days would otherwise get a KeyboardInterrupt and break
    the pool."""
    position = {day: index for index, day in enumerate(dates, start=1)}
    total = len(dates)
    print(f"{total} partitions{label} over {jobs} processes (one day each at a time) ...", flush=True)
    failures = 0
    not_run = 0
    context = multiprocessing.get_context("spawn")
    stop = context.Event()

    def interrupt(_signo: int, _frame: object) -> None:
        if not stop.is_set():
            print("interrupted: the days running stop and fail; no other day starts", file=sys.stderr, flush=True)
        stop.set()

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_keep_stop_flag, initargs=(stop,)
        ) as pool:
            pending: dict[Future[DayOutcome | None], date] = {
                pool.submit(run_one_day, day, run_config, list(selection), tags): day for day in dates
            }  # the workers are spawned by these submits, with SIGINT ignored
            signal.signal(signal.SIGINT, interrupt)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    day = pending.pop(future)
                    outcome = None if future.cancelled() else _outcome(future, day)
                    if outcome is None:
                        not_run += 1
                        continue
                    failures += not outcome.success
                    print_outcome(position[day], total, outcome, label)
                    if not outcome.success and fail_fast:
                        for other in pending:
                            other.cancel()
                if stop.is_set():
                    for other in pending:
                        other.cancel()
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop.is_set():
        print(f"interrupted: {not_run} partition(s) not run", flush=True)
        return failures + not_run
    if not_run:
        print(f"{not_run} partition(s) not run: --fail-fast stopped the range", flush=True)
    return failures


def _outcome(future: Future[DayOutcome | None], day: date) -> DayOutcome | None:
    try:
        return future.result()
    except BrokenProcessPool:
        # one process died (killed, or out of memory): the pool stops, and every day it had
        # not finished fails with this; a run it left started is marked failed by the next
        # `reassort run` (orphan_runs.py)
        broken = (("-", "a day process died (killed, or out of memory); this day did not finish: run it again"),)
        return DayOutcome(day, "-", False, 0, 0.0, broken)
