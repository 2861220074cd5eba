"""Cluster mode against local mode on the same days: wall time, and where a cluster run's time goes.

    uv run python bench/bench_cluster.py --profile tiny --days 4 --workers 1

Needs PostgreSQL (127.0.0.1:5432, trust auth, may CREATE DATABASE) and Redis (127.0.0.1:6379),
like `pytest -m cluster`, whose helpers it uses (tests/cluster/conftest.py: a fresh database,
`reassort deploy --init`, a daemon and the workers). Both modes get the same generated days:

- local: `reassort run --from D1 --to D2` (in process; the range's raw tables in one run, then
  the modules per day);
- cluster: `reassort run --from D1 --to D2 --submit` (one whole run per day on the workers,
  `--max-runs` = the number of workers).

Then, per cluster run, from its event log: queued (enqueued -> the daemon starts it), hand-off
(-> a worker has taken it: broker, a free process forked), start-up (-> the run's first event
in that process: the code location built from the data folder, resources), execution (-> run
success). Of `queued`, only `dequeue` is overhead (the daemon's reaction once a slot is free);
the rest is waiting for a slot. The overhead of a cluster run is dequeue + hand-off +
start-up. The local runs' execution times are listed beside them.
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # tests.cluster.conftest: the cluster the tests start

import dagster as dg  # noqa: E402

from data_generation.field_service import generate  # noqa: E402
from tests.cluster.conftest import REASSORT, closed_services, fresh_database, running_cluster  # noqa: E402

TAKEN = "Run taken by Celery worker"


def run_phases(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str, float]:
    """Seconds of each phase of a run, from its event log."""
    marks: dict[str, float] = {}
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "PIPELINE_ENQUEUED":
            marks.setdefault("enqueued", entry.timestamp)
        elif kind == "PIPELINE_STARTING":
            marks.setdefault("starting", entry.timestamp)
        elif kind == "ENGINE_EVENT" and TAKEN in (event.message or ""):
            marks.setdefault("taken", entry.timestamp)
        elif kind == "PIPELINE_START":
            marks.setdefault("start", entry.timestamp)
        elif kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE"):
            marks["end"] = entry.timestamp
    phases = {"execution": marks["end"] - marks["start"]}
    if "enqueued" in marks:
        phases.update(
            _enqueued=marks["enqueued"], _starting=marks["starting"], _end=marks["end"],
            queued=marks["starting"] - marks["enqueued"],
            hand_off=marks["taken"] - marks["starting"],
            start_up=marks["start"] - marks["taken"],
            total=marks["end"] - marks["enqueued"],
        )
    return phases


def with_dequeue_latency(phases: list[dict[str, float]]) -> list[dict[str, float]]:
    """`dequeue`: from the moment the run could start (enqueued, or the end of the run whose
    slot it took) to the daemon starting it; what `queued` holds beyond that is waiting for
    a slot, not overhead."""
    for phase in phases:
        freed = [other["_end"] for other in phases if other["_end"] <= phase["_starting"]]
        phase["dequeue"] = phase["_starting"] - max([phase["_enqueued"], *freed])
    return phases


def instance_at(home: Path) -> dg.DagsterInstance:
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    reason = closed_services()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    first = date(2026, 1, 1)
    days = [first + timedelta(days=offset) for offset in range(args.days)]
    span = ["--from", days[0].isoformat(), "--to", days[-1].isoformat()]
    scratch = Path(tempfile.mkdtemp(prefix="reassort_bench_cluster_"))

    local = scratch / "local"
    generate(args.profile, first, args.days, local / "data", seed=args.seed)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("REASSORT_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(local / "home"), REASSORT_DATA_DIR=str(local / "data"),
               REASSORT_WAREHOUSE=str(local / "data" / "warehouse"))
    started = time.monotonic()
    subprocess.run([str(REASSORT), "run", *span], env=env, check=True, capture_output=True)
    local_s = time.monotonic() - started
    with instance_at(local / "home") as instance:
        local_runs = [run_phases(instance, run)["execution"] for run in instance.get_runs() if "dagster/partition" in run.tags]
    print(f"local   reassort run --from --to           {local_s:7.1f} s wall ({len(local_runs)} day runs, "
          f"execution median {statistics.median(local_runs):.1f} s)", flush=True)

    remote = scratch / "cluster"
    generate(args.profile, first, args.days, remote / "data", seed=args.seed)
    with fresh_database() as url, running_cluster(remote, remote / "data", url, workers=args.workers) as cluster:
        started = time.monotonic()
        submitted = cluster.reassort("run", *span, "--submit", timeout_s=7200)
        cluster_s = time.monotonic() - started
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        with instance_at(cluster.home) as instance:
            phases = with_dequeue_latency(
                [run_phases(instance, run) for run in instance.get_runs() if "dagster/backfill" in run.tags]
            )

    print(f"{args.profile}, {args.days} days; cluster: {args.workers} worker(s), --max-runs {args.workers}")
    print(f"local   reassort run --from --to           {local_s:7.1f} s wall")
    print(f"cluster reassort run --from --to --submit  {cluster_s:7.1f} s wall (from submission to the last day)")
    print(f"local runs (modules of a day, in process): execution median {statistics.median(local_runs):.1f} s")
    print("cluster runs (whole day on a worker), median seconds:")
    for name in ("queued", "dequeue", "hand_off", "start_up", "execution", "total"):
        print(f"  {name:<10} {statistics.median(p[name] for p in phases):6.1f}")
    overheads = [p["dequeue"] + p["hand_off"] + p["start_up"] for p in phases]
    print(f"  overhead per run (dequeue + hand-off + start-up): median {statistics.median(overheads):.1f} s, "
          f"min {min(overheads):.1f} s, max {max(overheads):.1f} s")
    print(f"scratch folder: {scratch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
