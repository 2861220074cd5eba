"""One daily partition of the whole pipeline, end to end, with the time of every step.

    uv run python bench/bench_pipeline.py --profile large --days 30 [--data DIR]

Generates the profile (Parquet extracts) unless --data is given, loads the history window
(the days before D, one single run), then runs partition D in process, as `reassort run`
does, into a fresh warehouse and Dagster instance; prints each step's duration (a table's
checks run in its step) and the peak RSS of the process.
"""

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="large")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.PARAM=VALUE")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="reassort_bench_pipeline_"))
    start = dt.date(2026, 1, 1)
    data = args.data
    if data is None:
        from data_generation.field_service import generate

        data = scratch / "data"
        began = time.perf_counter()
        generate(args.profile, start, args.days, data, seed=42, fmt="parquet")
        print(f"generated {args.profile} x {args.days} days in {time.perf_counter() - began:.1f} s")
    os.environ.update(REASSORT_DATA_DIR=str(data), REASSORT_WAREHOUSE=str(scratch / "w.duckdb"), DAGSTER_HOME=str(scratch / "home"))
    (scratch / "home").mkdir()
    import dagster as dg

    from orchestrator_assets.definitions import build_definitions, daily_job
    from orchestrator_assets.defs.ingest.source_files import available_extract_dates
    from orchestrator_assets.jobs import execution_config
    from orchestrator_assets.partition_runs import ingest_range
    from orchestrator_assets.run_parameters import parse_overrides, run_config_for

    defs = build_definitions()
    days = available_extract_dates(data)
    day = days[-1]
    config = run_config_for(parse_overrides(args.set), [*defs.assets, *defs.asset_checks])
    config.update({**execution_config("in_process"), "loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    job = dg.reconstructable(daily_job)
    try:
        with dg.DagsterInstance.get() as instance:
            raw = [key for key in defs.resolve_asset_graph().get_all_asset_keys() if key.path[0] == "raw"]
            began = time.perf_counter()
            ingest_range(instance, job, days[0], days[-2], raw, config, "history")
            print(f"history window {days[0]}..{days[-2]} loaded in {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()
            result = dg.execute_job(job, instance, run_config=config, tags={"dagster/partition": day.isoformat()})
            wall = time.perf_counter() - began
            steps = sorted(
                ((e.step_key, e.event_specific_data.duration_ms / 1000) for e in result.get_step_success_events()),
                key=lambda item: -item[1],
            )
            for key, seconds in steps:
                print(f"  {key:<45} {seconds:7.2f} s")
            print(
                f"bench_pipeline profile={args.profile} partition={day} success={result.success} run={wall:.1f}s "
                f"steps={sum(s for _, s in steps):.1f}s (checks run inside their assets' steps) "
                f"peak_rss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}MB"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
