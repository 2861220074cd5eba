"""Cluster mode end to end (issue 18): a backfill spread over two Celery workers gives the
tables a local run gives, and a worker killed in the middle of a run loses nothing.

One module, one cluster (fresh database, Redis queue of its own, a daemon, two workers;
conftest.py), against a local-mode run of the same tiny data set as the reference:

1. `reassort run --from --to --submit` of 4 days: every run succeeds, both workers took
   runs (the `reassort/worker` tag each worker puts on its runs), and every published table
   of every day equals the local run's, row for row (bench/compare_partitions.py's
   comparison; run ids and timings left out; validation.check_results, a history of every
   run's checks, compared as its distinct rows, `critique_jump`'s detail aside: see
   comparable_checks);
2. a worker whose main process is killed (SIGKILL, by PID) while it executes a run: run
   monitoring finds the worker gone (cluster_launcher.py: it stops answering) and resumes
   the run, under its own id, on the other worker; the submit command ends with the day ok,
   and the day's tables still equal the local run's;
3. a big partition's knapsack shards (issue 18, point 3): shards sent through the broker are
   solved by the workers (claims name them) and merge into the whole plan; and a day run
   with a shard threshold below its size is cut into shards and still equals the local run.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from data_generation.field_service import generate
from orchestrator_assets.celery_worker import WORKER_MAIN_PID_TAG, WORKER_TAG
from orchestrator_assets.defs.knapsack import shard_exchange
from orchestrator_assets.defs.knapsack.shard_dispatch import celery_send
from orchestrator_assets.project_paths import PROJECT_ROOT
from solvers.knapsack.shards import merge_plans, plan_shards
from solvers.knapsack.sourcing import solve_sourced
from tests.cluster.conftest import REASSORT, closed_services, fresh_database, running_cluster

pytestmark = pytest.mark.cluster

FIRST_DAY = date(2026, 1, 1)
DAYS = [FIRST_DAY + timedelta(days=offset) for offset in range(4)]
SEED = 5
BACKFILL_TIMEOUT_S = 900  # 4 tiny days, two at a time, ~20-70 s each on 2 loaded cores
#: columns that differ between any two runs: the run, timings, when a check ran
VOLATILE = {"run_id", "build_ms", "solve_ms", "checked_at"}
MASKS = {"knapsack.group_summary.detail": [r"\b\d+(?:\.\d+)? s\b"]}  # durations: "LP 0.02 s", "MILP Optimal 0.01 s"


def load_comparison():
    name = "reassort_compare_partitions"
    if name not in sys.modules:  # registered before it runs: its dataclasses look their module up
        spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "bench" / "compare_partitions.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def comparable_checks(frame: pl.DataFrame) -> pl.DataFrame:
    """validation.check_results as compared: a history (every run of the day adds its checks),
    so its distinct rows; and `critique_jump` compares the day with the previous day as
    published when the check ran, which in a backfill spread over workers may not be done
    yet: its verdict is compared, its detail (which says what it compared with) is not."""
    frame = frame.drop([column for column in VOLATILE if column in frame.columns])
    detail = pl.when(pl.col("check_name") == "critique_jump").then(pl.lit("<previous day as published then>"))
    return frame.with_columns(detail.otherwise(pl.col("detail")).alias("detail")).unique()


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory) -> Path:
    """The same days run in local mode (SQLite, in process): its warehouse."""
    reason = closed_services()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("local")
    generate("tiny", FIRST_DAY, len(DAYS), root / "data", seed=SEED)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("REASSORT_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(root / "dagster_home"), REASSORT_DATA_DIR=str(root / "data"),
        REASSORT_WAREHOUSE=str(root / "data" / "warehouse"),
    )
    started = time.monotonic()
    done = subprocess.run(
        [str(REASSORT), "run", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat()],
        cwd=root, env=env, capture_output=True, text=True, timeout=BACKFILL_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"local run of {len(DAYS)} tiny days in process: {time.monotonic() - started:.1f} s")
    return root / "data" / "warehouse"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = closed_services()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("cluster")
    data = root / "data"
    generate("tiny", FIRST_DAY, len(DAYS), data, seed=SEED)
    with fresh_database() as url, running_cluster(root, data, url, workers=2) as running:
        yield running


def assert_same_tables(reference: Path, warehouse: Path, day: date) -> None:
    compare = load_comparison()
    local, remote = compare.published_tables(reference, day.isoformat()), compare.published_tables(warehouse, day.isoformat())
    assert sorted(local) == sorted(remote), f"{day}: tables differ: {sorted(set(local) ^ set(remote))}"
    findings = []
    for table in sorted(local):
        before, after = local[table], remote[table]
        if table == "validation.check_results":
            before, after = comparable_checks(before), comparable_checks(after)
        report = compare.compare_table(
            table, before, after, drop=VOLATILE, expect=set(), expect_change={}, key=compare.KEYS.get(table, []),
            rtol=1e-9, masks=MASKS,
        )
        assert report.rows[0] > 0 or table.startswith("validation."), f"{day}: {table} is empty"
        if report.findings:
            findings += report.lines()
    assert not findings, f"{day}: cluster tables differ from the local run's:\n" + "\n".join(findings)


def backfill_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [run for run in instance.get_runs() if "dagster/backfill" in run.tags]


def test_a_backfill_spreads_over_both_workers_and_equals_a_local_run(cluster, local_reference):
    started = time.monotonic()
    submitted = cluster.reassort(
        "run", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--submit", timeout_s=BACKFILL_TIMEOUT_S
    )
    elapsed = time.monotonic() - started
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr + cluster.logs()
    assert f"{len(DAYS)} of {len(DAYS)} partitions ok" in submitted.stdout
    for day in DAYS:
        assert f"{day}: ok in " in submitted.stdout

    with cluster.instance() as instance:
        runs = backfill_runs(instance)
    assert len(runs) == len(DAYS)
    assert {run.tags["dagster/partition"] for run in runs} == {day.isoformat() for day in DAYS}
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    workers = {run.tags.get(WORKER_TAG, "").split("@")[0] for run in runs}
    token = cluster.queue.rsplit("-", 1)[1]
    assert workers == {f"w1-{token}", f"w2-{token}"}, "both workers took runs"
    print(f"cluster backfill of {len(DAYS)} tiny days on 2 workers: {elapsed:.1f} s")

    for day in DAYS:
        assert_same_tables(local_reference, cluster.data / "warehouse", day)


def test_a_worker_killed_mid_run_has_its_run_resumed_on_the_other_worker_with_the_same_rows(cluster, local_reference):
    day = DAYS[2]
    with cluster.instance() as instance:
        before = {run.run_id for run in instance.get_runs()}
    submit_log = cluster.root / "submit-killed.log"
    with submit_log.open("w") as out:
        submit = subprocess.Popen(
            [str(REASSORT), "run", "--date", day.isoformat(), "--submit"], cwd=cluster.root, env=cluster.env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        with cluster.instance() as instance:
            victim = wait_for_started_run(instance, before, timeout_s=300)
            time.sleep(3)  # in the middle of its steps
            main_pid = int(victim.tags[WORKER_MAIN_PID_TAG])
            killed = next(s for s in cluster.services.values() if s.pid == main_pid)  # a worker this test started
            os.kill(main_pid, signal.SIGKILL)
            killed.process.wait(timeout=30)
        assert submit.wait(timeout=BACKFILL_TIMEOUT_S) == 0, submit_log.read_text() + cluster.logs()
    finally:
        if submit.poll() is None:
            os.killpg(submit.pid, signal.SIGKILL)
    output = submit_log.read_text()
    assert f"[1/1] {day}: ok" in output, output

    with cluster.instance() as instance:
        resumed = instance.get_run_by_id(victim.run_id)
        messages = [entry.message or "" for entry in instance.all_logs(victim.run_id) if entry.dagster_event is not None]
        day_runs = [run for run in instance.get_runs() if run.tags.get("dagster/partition") == day.isoformat()]
    # run monitoring found the worker gone and resumed the run, under its own id, on the other worker
    assert any("has not answered" in message and "Resuming run" in message for message in messages), messages[-8:]
    assert resumed.status == dg.DagsterRunStatus.SUCCESS
    assert resumed.tags[WORKER_TAG] != victim.tags[WORKER_TAG]
    assert len([run for run in day_runs if run.run_id not in before]) == 1  # no second run for the day
    assert_same_tables(local_reference, cluster.data / "warehouse", day)


def wait_for_started_run(instance: dg.DagsterInstance, known: set[str], timeout_s: float) -> dg.DagsterRun:
    """The new run, once a worker has taken it and its steps are under way."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            if run.run_id not in known and WORKER_MAIN_PID_TAG in run.tags:
                return run
        time.sleep(0.5)
    pytest.fail(f"no run started within {timeout_s} s")


def test_shards_sent_through_the_broker_are_solved_by_the_workers_into_the_whole_plan(cluster):
    from tests.solvers.knapsack.test_shards import partition, sorted_whole, without_timings

    pairs, capacities, parents, supply = partition(11, depots=3, vans=3)
    shards = plan_shards(pairs, parents, 3)
    params = {"strategy": "criticite_hybride", "solver": "bnb", "time_limit_s": 10.0, "topup_ratio": 0.1, "gap_tolerance": 1e-3}
    folder, relative = shard_exchange.shard_folder(cluster.data / "warehouse", "0123abcd-0000-4000-8000-00000000c1a5", "2026-01-04")
    shard_exchange.write_problem(
        folder, [pairs.filter(pl.col("site_id").is_in(sites)) for sites in shards], capacities, parents, supply, params
    )
    with cluster.instance() as instance:
        send = celery_send(instance, relative)
        assert send is not None, "a cluster instance sends shards through Celery"
        for index in range(len(shards)):
            send(index)
    deadline = time.monotonic() + 180
    while not all(shard_exchange.has_result(folder, index) for index in range(len(shards))):
        assert time.monotonic() < deadline, "the workers did not solve the shards in 180 s\n" + cluster.logs()
        time.sleep(0.5)
    token = cluster.queue.rsplit("-", 1)[1]
    owners = {shard_exchange.claim_owner(folder, index).split("@")[0] for index in range(len(shards))}
    assert owners <= {f"w1-{token}", f"w2-{token}"}, owners
    merged = without_timings(merge_plans([shard_exchange.read_result(folder, index) for index in range(len(shards))]))
    reference = sorted_whole(solve_sourced(pairs, capacities, parents, supply, **params))
    for name in reference:
        assert merged[name].equals(reference[name].select(merged[name].columns)), name
    shard_exchange.remove(folder)


def test_a_day_cut_into_knapsack_shards_equals_the_local_run(cluster, local_reference):
    day = DAYS[3]
    submitted = cluster.reassort(
        "run", "--date", day.isoformat(), "--submit", "--set", "knapsack.shard_pairs=60", timeout_s=BACKFILL_TIMEOUT_S
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr + cluster.logs()
    with cluster.instance() as instance:
        run = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": day.isoformat()}), limit=1)[0]  # newest
        lines = [entry.user_message for entry in instance.all_logs(run.run_id) if entry.step_key == "knapsack"]
    assert any("2 shards of" in line for line in lines), lines
    assert any("shards per solver:" in line for line in lines), lines
    assert not (cluster.data / "warehouse" / "_shards" / run.run_id).exists()
    assert_same_tables(local_reference, cluster.data / "warehouse", day)
