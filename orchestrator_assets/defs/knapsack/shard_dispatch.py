"""A big partition's knapsack spread over the cluster's workers (issue 18, point 3).

In cluster mode a run executes, whole, in one process on one Celery worker
(cluster_config.py), so the steps of a run never leave that worker: Dagster's celery
executor inside such a run raises (dagster#29660), and a shard partition dimension
would make every asset downstream of the knapsack two-dimensional. What spreads one day
over several workers is therefore below the step: above `knapsack.shard_pairs` pairs,
the knapsack step cuts the partition into shards (solvers/knapsack/shards.py: a depot
group is never split), writes them to the shared warehouse (shard_exchange.py), sends
one Celery task per shard but the first to the run queue, and solves shards itself too:

- it takes shard 0, then the others from the last one down, each only if nobody has
  claimed it; the workers' tasks take theirs from the first one up: the step never
  waits for a shard nobody has taken, so a cluster whose workers are all busy (or down)
  still finishes, the step solving every shard itself;
- then it waits for the shards workers took; one whose worker stopped beating (killed)
  or gave it back (failed) is solved by the step;
- the shards' plans are merged in site order: the plan equals the unsharded one
  (tested), and the folder is removed.

Local mode (no Celery run launcher) never shards: the one machine's cores are already
used by `knapsack.workers`.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from orchestrator_assets.defs.knapsack import shard_exchange
from solvers.knapsack.shards import merge_plans
from solvers.knapsack.site_model import SiteCapacities
from solvers.knapsack.sourcing import SourcedPlan

#: the Celery task a worker runs for a shard (celery_worker.py registers it)
SHARD_TASK = "reassort_knapsack_shard"
POLL_S = 0.5

Send = Callable[[int], None]


def celery_send(instance: dg.DagsterInstance, relative: str) -> Send | None:
    """Sends shard k of `relative` to the run queue; None when the instance has no Celery
    run launcher (local mode). Celery is imported here, for a day big enough to shard, not
    with the code location (~0.15 s of every process, issue 14)."""
    from dagster_celery.launcher import CeleryRunLauncher

    launcher = instance.run_launcher
    if not isinstance(launcher, CeleryRunLauncher):
        return None

    def send(index: int) -> None:
        launcher.celery.send_task(SHARD_TASK, args=[relative, index], queue=launcher.default_queue, ignore_result=True)

    return send


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def solve_shards(
    folder: Path, count: int, send: Send, log: Callable[[str], None], stale_after_s: float = shard_exchange.STALE_AFTER_S
) -> tuple[list[SourcedPlan], dict[int, str]]:
    """Every shard's plan (in shard order) and who solved each shard."""
    started = time.perf_counter()
    me = owner_name()
    for index in range(1, count):
        try:
            send(index)
        except Exception as error:  # the broker unreachable: the step solves what was not sent
            log(f"shard {index + 1}/{count} not sent to the workers ({type(error).__name__}: {error}): "
                "this step solves it")
    solved_by: dict[int, str] = {}

    def solved_here(index: int, how: str = "") -> None:
        solved_by[index] = me
        log(f"shard {index + 1}/{count} solved by this step{how}, {time.perf_counter() - started:.1f} s")

    for index in [0, *range(count - 1, 0, -1)]:
        if shard_exchange.take_and_solve(folder, index, me):
            solved_here(index)
    pending = set(range(count)) - set(solved_by)
    while pending:
        for index in sorted(pending):
            if shard_exchange.has_result(folder, index):
                solved_by[index] = shard_exchange.claim_owner(folder, index) or "?"
                log(f"shard {index + 1}/{count} solved by worker {solved_by[index]}, {time.perf_counter() - started:.1f} s")
            else:
                age = shard_exchange.claim_age(folder, index)
                if age is None and shard_exchange.take_and_solve(folder, index, me):
                    solved_here(index, " (given back by its worker)")
                elif age is not None and age > stale_after_s:
                    owner = shard_exchange.claim_owner(folder, index)
                    shard_exchange.solve(folder, index)
                    solved_here(index, f" (its worker {owner} stopped for {age:.0f} s)")
            if index in solved_by:
                pending.discard(index)
        if pending:
            time.sleep(POLL_S)
    return [shard_exchange.read_result(folder, index) for index in range(count)], solved_by


def solve_sharded(
    shards: list[list[str]],
    pairs: pl.DataFrame,
    limits: Mapping[str, SiteCapacities],
    parents: Mapping[str, str],
    supply: pl.DataFrame,
    params: Mapping[str, Any],
    folder: Path,
    send: Send,
    log: Callable[[str], None],
) -> SourcedPlan:
    """The partition's plan from `shards` (lists of sites) solved by this step and the
    workers `send` reaches; the shard folder is removed whatever happens."""
    frames = [pairs.filter(pl.col("site_id").is_in(sites)) for sites in shards]
    shard_exchange.write_problem(folder, frames, limits, parents, supply, params)
    log(
        f"{len(shards)} shards of {', '.join(str(frame.height) for frame in frames)} pairs "
        f"({', '.join(str(len(sites)) for sites in shards)} sites) sent to the workers"
    )
    try:
        plans, solved_by = solve_shards(folder, len(shards), send, log)
    finally:
        shard_exchange.remove(folder)
    by_solver: dict[str, int] = {}
    for name in solved_by.values():
        by_solver[name] = by_solver.get(name, 0) + 1
    log("shards per solver: " + ", ".join(f"{name} {n}" for name, n in sorted(by_solver.items())))
    return merge_plans(plans)
