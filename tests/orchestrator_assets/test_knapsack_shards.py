"""A sharded knapsack step and the processes that solve its shards (issue 18, point 3):
shard_exchange.py's files and claims, shard_dispatch.py's loop. Other processes stand in
for the cluster's workers (tests/cluster/ sends the same shards through Celery)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from orchestrator_assets.defs.knapsack import shard_exchange
from orchestrator_assets.defs.knapsack.shard_dispatch import solve_sharded, solve_shards
from solvers.knapsack.shards import plan_shards
from solvers.knapsack.sourcing import solve_sourced
from tests.solvers.knapsack.test_shards import partition, sorted_whole, without_timings

RUN_ID = "0123abcd-0000-4000-8000-00000000beef"
DAY = "2026-01-10"
PARAMS = {"strategy": "criticite_hybride", "solver": "bnb", "time_limit_s": 10.0, "topup_ratio": 0.1, "gap_tolerance": 1e-3}


def prepared(warehouse: Path, count: int = 3):
    pairs, capacities, parents, supply = partition(11, depots=3, vans=3)
    shards = plan_shards(pairs, parents, count)
    folder, relative = shard_exchange.shard_folder(warehouse, RUN_ID, DAY)
    frames = [pairs.filter(pl.col("site_id").is_in(sites)) for sites in shards]
    shard_exchange.write_problem(folder, frames, capacities, parents, supply, PARAMS)
    whole = solve_sourced(pairs, capacities, parents, supply, **PARAMS)
    return folder, relative, shards, (pairs, capacities, parents, supply), whole


def _claim(folder: str, index: int, owner: str, queue) -> None:
    queue.put(shard_exchange.claim(Path(folder), index, owner))


def _take(folder: str, index: int, owner: str) -> None:
    shard_exchange.take_and_solve(Path(folder), index, owner)


def test_of_processes_racing_for_a_shard_exactly_one_claims_it(tmp_path):
    folder, *_ = prepared(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    racers = [ctx.Process(target=_claim, args=(str(folder), 1, f"p{k}", queue)) for k in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert sorted(queue.get(timeout=5) for _ in racers) == [False, False, False, True]
    assert shard_exchange.claim_owner(folder, 1) in {"p0", "p1", "p2", "p3"}


def test_shards_solved_by_other_processes_and_the_step_merge_into_the_whole_plan(tmp_path):
    folder, _, shards, inputs, whole = prepared(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    workers = []

    def send(index: int) -> None:  # a "worker" per shard, as Celery would run the task
        process = ctx.Process(target=_take, args=(str(folder), index, f"worker-{index}"))
        process.start()
        workers.append(process)

    lines: list[str] = []
    plans, solved_by = solve_shards(folder, len(shards), send, lines.append)
    for process in workers:
        process.join(60)
    assert set(solved_by) == set(range(len(shards)))
    assert all(f"shard {k + 1}/{len(shards)} solved" in " ".join(lines) for k in range(len(shards)))
    from solvers.knapsack.shards import merge_plans

    merged, reference = without_timings(merge_plans(plans)), sorted_whole(whole)
    for name in reference:
        assert_frame_equal(merged[name], reference[name], check_column_order=False)


def test_with_no_worker_answering_the_step_solves_every_shard_and_removes_the_folder(tmp_path):
    pairs, capacities, parents, supply = partition(11, depots=3, vans=3)
    shards = plan_shards(pairs, parents, 3)
    folder, _ = shard_exchange.shard_folder(tmp_path, RUN_ID, DAY)
    sent: list[int] = []
    lines: list[str] = []
    plan = solve_sharded(shards, pairs, capacities, parents, supply, PARAMS, folder, sent.append, lines.append)
    assert sent == [1, 2]  # shard 0 is the step's from the start
    assert not folder.exists() and not folder.parent.exists()
    assert "shards per solver:" in lines[-1] and " 3" in lines[-1]
    reference = sorted_whole(solve_sourced(pairs, capacities, parents, supply, **PARAMS))
    for name, frame in without_timings(plan).items():
        assert_frame_equal(frame, reference[name], check_column_order=False)


def test_a_shard_whose_worker_stopped_beating_is_taken_over_by_the_step(tmp_path):
    folder, _, shards, _, whole = prepared(tmp_path, count=2)
    assert shard_exchange.claim(folder, 1, "dead-worker")
    old = time.time() - 120
    os.utime(folder / "claim-1", (old, old))
    lines: list[str] = []
    plans, solved_by = solve_shards(folder, 2, lambda index: None, lines.append, stale_after_s=30)
    assert "stopped for" in " ".join(lines) and "dead-worker" in " ".join(lines)
    assert set(solved_by) == {0, 1}
    assert shard_exchange.read_result(folder, 1).allocation.height == plans[1].allocation.height > 0


def test_a_shard_a_worker_failed_on_is_given_back_and_solved_by_the_step(tmp_path, monkeypatch):
    folder, _, shards, _, _ = prepared(tmp_path, count=2)
    real_solve = shard_exchange.solve

    def failing(folder_: Path, index: int):
        raise RuntimeError("worker out of memory")

    monkeypatch.setattr(shard_exchange, "solve", failing)
    with pytest.raises(RuntimeError):
        shard_exchange.take_and_solve(folder, 1, "sick-worker")
    assert shard_exchange.claim_age(folder, 1) is None  # the claim was given back
    monkeypatch.setattr(shard_exchange, "solve", real_solve)
    lines: list[str] = []
    _, solved_by = solve_shards(folder, 2, lambda index: None, lines.append)
    assert set(solved_by) == {0, 1}


def test_a_claimed_shard_is_not_solved_twice_and_a_finished_one_is_not_taken(tmp_path):
    folder, *_ = prepared(tmp_path, count=2)
    assert shard_exchange.take_and_solve(folder, 0, "a")
    assert not shard_exchange.take_and_solve(folder, 0, "b")
    assert shard_exchange.claim_owner(folder, 0) == "a"


@pytest.mark.parametrize("relative", [
    "../../etc", "/tmp/x", "_shards/../../x/2026-01-01", "_shards/0123abcd/2026-01-01/..", "_shards/ZZZZZZZZ/2026-01-01",
    "_shards/0123abcd/2026-01-01; rm -rf /", 42, None,
])
def test_a_worker_refuses_a_folder_outside_the_shards_shape(tmp_path, relative):
    with pytest.raises(ValueError, match="not a shard folder"):
        shard_exchange.resolve(tmp_path, relative)


@pytest.mark.parametrize("index", [-1, 3, "1", 1.0, True])
def test_a_shard_index_outside_the_problem_is_refused(tmp_path, index):
    folder, *_ = prepared(tmp_path, count=3)
    with pytest.raises(ValueError, match="shard index"):
        shard_exchange.take_and_solve(folder, index, "x")


def test_a_folder_already_removed_is_nothing_to_do_for_a_late_worker(tmp_path):
    folder, relative, *_ = prepared(tmp_path, count=2)
    shard_exchange.remove(folder)
    with pytest.raises(shard_exchange.ShardGone):
        shard_exchange.take_and_solve(shard_exchange.resolve(tmp_path, relative), 1, "late")


def test_with_the_broker_gone_the_step_solves_every_shard_itself(tmp_path):
    folder, _, shards, _, whole = prepared(tmp_path, count=3)

    def unreachable(index: int) -> None:
        raise ConnectionRefusedError("redis://127.0.0.1:6379 refused the connection")

    lines: list[str] = []
    plans, solved_by = solve_shards(folder, len(shards), unreachable, lines.append)
    assert sum("not sent to the workers (ConnectionRefusedError" in line for line in lines) == len(shards) - 1
    assert set(solved_by) == set(range(len(shards)))
