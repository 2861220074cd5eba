"""Cost of the VALIDATION_FINALE checks in a daily run of the `large` profile.

    uv run python bench/bench_checks.py                          # generates large, 30 days, into /tmp
    uv run python bench/bench_checks.py --data /tmp/val/large --date 2026-01-30
    uv run python bench/bench_checks.py --data /tmp/val/large --engine great_expectations
    uv run python bench/bench_checks.py --warehouse data/warehouse --date 2026-01-10   # (4) only

Steps: (1) generate (unless --data), (2) load raw.movements (and the reference tables it is
checked against) for the history-window days before the measured day in one single-run
backfill, as `reassort run` does for a first day (their raw checks run day by day too,
reported separately), (3) run the whole daily job for the measured day in process, its
suites evaluated by `--engine` (validation.engine), and split its time between the checks
and the rest. The checks run inside the steps of the assets they check (checks.py); each
table's check time is the one its step logs ("<asset>: N checks on M partition(s) in X s").
In process, steps run one after another, so the step times add up to the run.
(4) Both rule engines on the measured day's rows of every checked table, read back from the
warehouse: per table, the seconds of the Polars evaluation and of the GX validation, after
`import great_expectations` + building every suite (once per process, timed apart); the two
engines' outcomes must agree (verdict, failing rows, rules). With --warehouse, only (4), on
an existing warehouse (the tables' latest partition unless --date).
"""

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import datetime as dt
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.defs.ingest.source_files import available_extract_dates
from orchestrator_assets.defs.validation.check_inputs import read_partitions
from orchestrator_assets.defs.validation.check_registry import RULE_ENGINES
from orchestrator_assets.defs.validation.suites import TABLE_SUITES
from orchestrator_assets.jobs import DAILY_JOB_NAME, execution_config
from orchestrator_assets.publishing_executor import publish_run
from orchestrator_assets.warehouse import Warehouse

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_seconds(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    seconds = {}
    for event in result.all_events:
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key:
            data = event.event_specific_data
            duration = getattr(data, "duration_ms", None)
            if duration is not None:
                seconds[event.step_key] = duration / 1000
    return seconds


CHECK_LOG = re.compile(r"^(\S+): \d+ checks on \d+ partition\(s\) in ([0-9.]+) s$")


def check_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds of each table's checks in a run, as its step logged them."""
    seconds: dict[str, float] = defaultdict(float)
    for record in instance.all_logs(run_id):
        match = CHECK_LOG.match(record.user_message or "")
        if match:
            seconds[match[1]] += float(match[2])
    return dict(seconds)


def engine_config(engine: str) -> dict:
    """validation.engine for the run (the validation resource; the default engine needs none)."""
    return {} if engine == "polars" else {"resources": {"validation": {"config": {"engine": engine}}}}


def compare_engines(warehouse: Warehouse, day: dt.date | None) -> None:
    """(4) Both engines on one day's rows of every checked table; seconds per table."""
    frames = {}
    for name in TABLE_SUITES:
        if not warehouse.table_exists(name):
            continue
        when = day or warehouse.read(f"SELECT max(partition_date) AS d FROM {name}")["d"][0]
        if when is not None:
            frames[name] = read_partitions(warehouse, name, [when])[when]
    built = "great_expectations" in sys.modules
    started = time.perf_counter()
    from orchestrator_assets.defs.validation.gx_rules import gx_runtime

    suites = len(gx_runtime().suites)
    print(f"\ngreat_expectations import + {suites} suites: {time.perf_counter() - started:.1f} s (once per process"
          + (", already paid by the run)" if built else ")"))
    print(f"  {'table':<34} {'rows':>9} {'polars s':>9} {'GX s':>8}  same outcomes")
    totals = {"polars": 0.0, "great_expectations": 0.0}
    for name, frame in frames.items():
        outcomes, seconds = {}, {}
        for engine, evaluate in RULE_ENGINES.items():
            started = time.perf_counter()
            outcomes[engine] = [(o.check, o.passed, o.failing_rows, o.rules) for o in evaluate(TABLE_SUITES[name], frame, 10)]
            seconds[engine] = time.perf_counter() - started
            totals[engine] += seconds[engine]
        same = outcomes["polars"] == outcomes["great_expectations"]
        print(f"  {name:<34} {frame.height:>9,} {seconds['polars']:>9.3f} {seconds['great_expectations']:>8.3f}  {same}")
    print(f"  {'total (' + str(len(frames)) + ' tables)':<34} {'':>9} {totals['polars']:>9.3f} {totals['great_expectations']:>8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="large")
    parser.add_argument("--data", type=Path, help="an existing data folder (default: generate one)")
    parser.add_argument("--days", type=int, default=30, help="days to generate (the history window is the days before the last)")
    parser.add_argument("--date", type=dt.date.fromisoformat, help="the day measured (default: the last extract)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (warehouse) for inspection")
    parser.add_argument("--engine", choices=sorted(RULE_ENGINES), default="polars", help="validation.engine of the runs")
    parser.add_argument("--warehouse", type=Path, help="only compare the engines on this warehouse's tables (step 4)")
    args = parser.parse_args(argv)
    if args.warehouse is not None:
        compare_engines(Warehouse(path=str(args.warehouse)), args.date)
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="reassort_bench_checks_"))
    data = args.data
    if data is None:
        data = scratch / "data"
        started = time.perf_counter()
        generate(args.profile, dt.date(2026, 1, 1), args.days, data, seed=7, fmt="parquet")
        print(f"generated {args.profile}, {args.days} days, in {time.perf_counter() - started:.1f} s")
    days = available_extract_dates(data)
    day = args.date or days[-1]
    window = [d for d in days if d < day]
    try:
        defs = build_definitions(data, scratch / "warehouse")
        job = defs.resolve_job_def(DAILY_JOB_NAME)
        instance = dg.DagsterInstance.ephemeral()
        run_config = {**execution_config("in_process"), **QUIET, **engine_config(args.engine)}
        print(f"validation.engine={args.engine}")

        # (2) The history window's raw tables, in one run (raw checks run day by day).
        if window:
            # What `reassort run` preloads for a first day: the movements and the tables they are checked against.
            raw_keys = [dg.AssetKey(["raw", stem]) for stem in ("articles", "sites", "technicians", "movements")]
            started = time.perf_counter()
            preload = job.execute_in_process(
                instance=instance,
                run_config=run_config,
                asset_selection=raw_keys,
                tags={
                    "dagster/asset_partition_range_start": window[0].isoformat(),
                    "dagster/asset_partition_range_end": window[-1].isoformat(),
                },
            )
            wall = time.perf_counter() - started
            checks = sum(check_seconds(instance, preload.run_id).values())
            print(
                f"history window {window[0]} .. {window[-1]} ({len(window)} days, raw movements + references): {wall:.1f} s, "
                f"raw checks {checks:.1f} s ({checks / wall:.0%}), success={preload.success}"
            )

        # (3) The measured daily run.
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, run_config=run_config, raise_on_error=False
        )
        wall = time.perf_counter() - started
        steps = step_seconds(result)
        checks = check_seconds(instance, result.run_id)
        print(f"\ndaily run {day}: success={result.success}, wall {wall:.1f} s, {len(steps)} steps, peak RSS {peak_mb():,.0f} MB")
        print(f"  steps       {sum(steps.values()):6.1f} s")
        print(f"  of it checks {sum(checks.values()):5.1f} s  = {sum(checks.values()) / wall:.1%} of the run "
              f"({len(checks)} tables, {len(result.get_asset_check_evaluations())} checks)")
        print("\n  slowest tables' checks:")
        for key, seconds in sorted(checks.items(), key=lambda item: -item[1])[:10]:
            print(f"    {key:<44} {seconds:6.2f} s")
        print("  slowest steps (checks included):")
        for key, seconds in sorted(steps.items(), key=lambda item: -item[1])[:6]:
            print(f"    {key:<44} {seconds:6.2f} s")
        per_kind: dict[str, float] = defaultdict(float)
        for evaluation in result.get_asset_check_evaluations():
            seconds = evaluation.metadata.get("seconds")
            if seconds is not None and evaluation.check_name in ("within_capacity", "whole_lots", "zero_rate_share", "critique_jump"):
                per_kind[evaluation.check_name] += seconds.value
        print("  cross-table checks: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in per_kind.items()))
        failed = [(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed]
        print(f"  failed checks: {failed or 'none'}")
        print(f"  great_expectations imported by the run: {'great_expectations' in sys.modules}")

        # (4) Both engines on the day's rows of every checked table (published first, as the
        # code location's executor does at the end of a run).
        if result.success:
            publish_run(scratch / "warehouse", instance, result.run_id)
        compare_engines(Warehouse(path=str(scratch / "warehouse")), day)
        if args.keep:
            print(f"\nwarehouse kept: {scratch / 'warehouse'}")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
