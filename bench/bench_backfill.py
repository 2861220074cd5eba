"""Backfill of the input-loading assets: one single run for a date range vs one run per partition.

    uv run python bench/bench_backfill.py --profile small --days 30

Both load the nine raw.* tables of every day into a fresh warehouse and a fresh Dagster
instance, in process (the CLI's executor), and check that they end with the same rows.
"""

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb

from data_generation.field_service import generate


def load(data: Path, home: Path, days: list[dt.date], single_run: bool) -> float:
    os.environ.update(REASSORT_DATA_DIR=str(data), REASSORT_WAREHOUSE=str(home / "w.duckdb"), DAGSTER_HOME=str(home))
    from orchestrator_assets.definitions import build_definitions, daily_job
    from orchestrator_assets.jobs import execution_config

    defs = build_definitions()
    raw = [key for key in defs.resolve_asset_graph().get_all_asset_keys() if key.path[0] == "raw"]
    config = {**execution_config("in_process"), "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    job = dg.reconstructable(daily_job)
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        if single_run:
            tags = {"dagster/asset_partition_range_start": days[0].isoformat(), "dagster/asset_partition_range_end": days[-1].isoformat()}
            assert dg.execute_job(job, instance, run_config=config, asset_selection=raw, tags=tags).success
        else:
            for day in days:
                assert dg.execute_job(job, instance, run_config=config, asset_selection=raw, tags={"dagster/partition": day.isoformat()}).success
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="reassort_bench_backfill_"))
    try:
        start = dt.date(2026, 3, 1)
        generate(args.profile, start, args.days, scratch / "data", seed=42)
        days = [start + dt.timedelta(days=i) for i in range(args.days)]
        counts = {}
        for single_run in (True, False):
            home = scratch / ("single" if single_run else "per_partition")
            home.mkdir()
            seconds = load(scratch / "data", home, days, single_run)
            with duckdb.connect(str(home / "w.duckdb"), read_only=True) as con:
                counts[single_run] = con.execute("SELECT count(*) FROM raw.stock_levels").fetchone()[0]
            label = "single run" if single_run else "one run per partition"
            print(f"bench_backfill profile={args.profile} days={args.days} {label}: {seconds:.1f} s ({seconds / args.days:.2f} s/day)")
        assert counts[True] == counts[False], counts
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
