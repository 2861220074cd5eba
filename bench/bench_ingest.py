"""Time the ingestion of one partition (read, validate every row, write to DuckDB).

    uv run python bench/bench_ingest.py --profile large            # generates 1 day into /tmp
    uv run python bench/bench_ingest.py --data /tmp/reassort_bench/large_182d --date 2024-06-30

Two figures: the pure read + validate time per table (what the rejection rules cost), and
the Dagster run of the nine raw.* assets for that partition, in process, into a fresh
warehouse (what a user waits for). Peak RSS is the process high-water mark.
Target (issue 3): one `large` partition under 5 s on 2 cores.
"""

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.defs.ingest.rejection_rules import validate_table
from orchestrator_assets.defs.ingest.source_files import read_as_text, source_path
from orchestrator_assets.defs.ingest.table_contracts import ALL_TABLES, ID_COLUMNS
from orchestrator_assets.jobs import DAILY_JOB_NAME, execution_config


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="large")
    parser.add_argument("--data", type=Path, help="an existing data folder (default: generate one day)")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 1, 5))
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="reassort_bench_ingest_"))
    data = args.data
    if data is None:
        data = scratch / "data"
        started = time.perf_counter()
        generate(args.profile, args.date, 1, data, seed=42, fmt=args.format)
        print(f"generated {args.profile} 1 day in {time.perf_counter() - started:.1f} s")
    try:
        # 1. read + validate only, table by table (reference ids from the accepted rows).
        accepted_ids: dict = {}
        total = 0.0
        for contract in ALL_TABLES:
            started = time.perf_counter()
            raw = read_as_text(source_path(contract, data, args.date))
            read_s = time.perf_counter() - started
            result = validate_table(raw, contract, args.date, accepted_ids)
            elapsed = time.perf_counter() - started
            total += elapsed
            if contract.stem in ID_COLUMNS:
                accepted_ids[contract.stem] = result.accepted[ID_COLUMNS[contract.stem]]
            print(f"  {contract.stem:<22} {result.rows_read:>9,} rows  read {read_s:5.2f} s  read+validate {elapsed:5.2f} s")
        print(f"read + validate, all tables: {total:.2f} s")

        # 2. the nine raw.* assets through Dagster, in process, into a fresh warehouse.
        defs = build_definitions(data, scratch / "warehouse")
        job = defs.resolve_job_def(DAILY_JOB_NAME)
        selection = [key for key in job.asset_layer.asset_graph.get_all_asset_keys() if key.path[0] == "raw"]
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=args.date.isoformat(),
            instance=dg.DagsterInstance.ephemeral(),
            asset_selection=selection,
            run_config={**execution_config("in_process"), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        wall = time.perf_counter() - started
        for event in result.get_step_success_events():
            print(f"  step {event.step_key:<32} {event.event_specific_data.duration_ms / 1000:5.2f} s")
        print(
            f"bench_ingest profile={args.profile} date={args.date} format={args.format} success={result.success} "
            f"dagster_run={wall:.2f}s read_validate={total:.2f}s peak_rss={peak_mb():,.0f}MB"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
