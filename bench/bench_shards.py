"""One big day's knapsack sharded over the cluster's workers against the same day unsharded
(issue 18, point 3): the knapsack step's time, who solved each shard, and the tables equal.

    uv run python bench/bench_shards.py --profile xl --days 2 --workers 2 --shard-pairs 400000

Needs PostgreSQL and Redis like `pytest -m cluster` (it starts the same cluster: fresh
database, daemon, workers). On one generated data set and one cluster, the last day is run
three times with `reassort run --date D --submit`:

1. unsharded (`knapsack.shard_pairs` above the day's pairs): the first run, which also loads
   the history window;
2. sharded (`--shard-pairs`): the knapsack step sends the shards to the workers;
3. unsharded again: the steady-state reference for 2.

Per run: wall time of the command, the knapsack step's duration (its STEP_SUCCESS event) and
the step's shard lines. Then the knapsack tables published by run 2 and run 3 are compared
row for row (bench/compare_partitions.py; timings and run ids left out).
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import importlib.util
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # tests.cluster.conftest: the cluster the tests start

import dagster as dg  # noqa: E402

from data_generation.field_service import generate  # noqa: E402
from tests.cluster.conftest import closed_services, fresh_database, running_cluster  # noqa: E402

KNAPSACK_TABLES = ("knapsack.allocation", "knapsack.site_summary", "knapsack.group_summary", "knapsack.depot_supply")
VOLATILE = {"run_id", "build_ms", "solve_ms"}
MASKS = {"knapsack.group_summary.detail": [r"\b\d+(?:\.\d+)? s\b"]}
UNSHARDED = 10**9


def comparison():
    spec = importlib.util.spec_from_file_location("reassort_compare_partitions", PROJECT_ROOT / "bench" / "compare_partitions.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def knapsack_step(cluster, day: date) -> tuple[float, list[str], str, dict[str, float]]:
    """(the last run's knapsack step seconds, its shard lines, the run's worker, every step's
    seconds)."""
    with cluster.instance() as instance:
        run = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": day.isoformat()}), limit=1)[0]  # newest
        steps, lines = {}, []
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is not None and event.event_type_value == "STEP_SUCCESS":
                steps[entry.step_key] = event.event_specific_data.duration_ms / 1000
            elif entry.step_key == "knapsack" and event is None and (
                "shard" in entry.user_message or "sites solved in" in entry.user_message
            ):
                lines.append(entry.user_message)
    return steps.get("knapsack", float("nan")), lines, run.tags.get("reassort/worker", "?"), steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="xl")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-pairs", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    reason = closed_services()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    first = date(2026, 1, 1)
    day = first + timedelta(days=args.days - 1)
    scratch = Path(tempfile.mkdtemp(prefix="reassort_bench_shards_"))
    started = time.monotonic()
    summary = generate(args.profile, first, args.days, scratch / "data", seed=args.seed, fmt="parquet")
    print(f"{args.profile}, {args.days} days generated in {time.monotonic() - started:.1f} s: {summary}", flush=True)
    compare = comparison()
    results = []
    with fresh_database() as url, running_cluster(scratch, scratch / "data", url, workers=args.workers) as cluster:
        published = {}
        for label, shard_pairs in (("1 unsharded, first run", UNSHARDED), ("2 sharded", args.shard_pairs),
                                   ("3 unsharded, steady", UNSHARDED)):
            started = time.monotonic()
            done = cluster.reassort(
                "run", "--date", day.isoformat(), "--submit", "--set", f"knapsack.shard_pairs={shard_pairs}", timeout_s=7200
            )
            wall = time.monotonic() - started
            if done.returncode != 0:
                print(done.stdout[-3000:], done.stderr[-3000:], cluster.logs(), sep="\n")
                return 1
            seconds, lines, worker, steps = knapsack_step(cluster, day)
            results.append((label, wall, seconds, worker, lines))
            slowest = sorted(steps.items(), key=lambda item: -item[1])[:6]
            print(f"{label}: command {wall:.1f} s, knapsack step {seconds:.1f} s on {worker}; "
                  f"{len(steps)} steps, sum {sum(steps.values()):.1f} s; slowest: "
                  + ", ".join(f"{key} {value:.1f} s" for key, value in slowest), flush=True)
            for line in lines:
                print(f"    {line}", flush=True)
            tables = compare.published_tables(cluster.data / "warehouse", day.isoformat())
            published[label] = {name: tables[name] for name in KNAPSACK_TABLES if name in tables}
    sharded, steady = published["2 sharded"], published["3 unsharded, steady"]
    findings = []
    for table in KNAPSACK_TABLES:
        report = compare.compare_table(
            table, steady[table], sharded[table], drop=VOLATILE, expect=set(), expect_change={},
            key=compare.KEYS.get(table, []), rtol=0.0, masks=MASKS,
        )
        findings += report.lines() if report.findings else []
        print(f"{table}: {steady[table].height} rows unsharded, {sharded[table].height} sharded, "
              f"{'equal' if not report.findings else 'DIFFERENT'}")
    print("\n".join(findings) if findings else "sharded and unsharded knapsack tables are equal, row for row")
    print(f"scratch folder: {scratch}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
