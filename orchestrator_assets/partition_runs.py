"""The run engine behind `reassort run`, `demo` and `plan`: partitions through the daily job.

Kept apart from cli.py (argparse, commands, their printing) so that other callers (bench/,
tests) run partitions or single-run backfills the way the CLI does without importing the
command line; the CLI imports this module, never the reverse. The progress lines printed
here (one per partition or loaded range, the failing step's own message) are part of a
run's behaviour, so they stay with the engine.

The code location (definitions, defs, solvers: seconds to import) is imported inside the
functions, as it was in the CLI, because cli.py imports this module at start-up and
`reassort query`, `curve` or `--help` never need it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from orchestrator_assets import project_paths
from orchestrator_assets.step_failures import failed_steps, print_failed_steps

if TYPE_CHECKING:
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableJob


def prepare_environment() -> None:
    """Point Dagster at the project's instance: DagsterInstance.get() and `dagster dev` read DAGSTER_HOME;
    in cluster mode, its reassort.env gives the shared paths (cluster_config.py)."""
    from orchestrator_assets.cluster_config import apply_env_file

    home = project_paths.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    apply_env_file(home)


def run_partitions(
    dates: Sequence[date],
    overrides: dict[str, dict[str, object]],
    log_level: str = "WARNING",
    fail_fast: bool = False,
    executor: str = "in_process",
    scenario: str | None = None,
    jobs: int | None = None,
) -> int:
    """Materialise the daily job for each date; returns the number of failed runs.

    A range loads its inputs in one run, then runs the days' modules in `jobs` processes at
    once (None: parallel_days.default_jobs; 1: one after the other, in this process).

    With a `scenario` (scenarios.py), only the modules run (stock, urgence, knapsack), on the
    official inputs of each day, which must be loaded already; their tables go to the
    scenario, the official plan is not touched."""
    import dagster as dg

    from orchestrator_assets.definitions import daily_job
    from orchestrator_assets.defs.stock.config import StockConfig
    from orchestrator_assets.jobs import DAILY_JOB_NAME
    from orchestrator_assets.parallel_days import default_jobs, run_days_side_by_side

    prepare_environment()
    defs, run_config = validated_run_config(dates, overrides, log_level, executor)
    partitions = defs.resolve_job_def(DAILY_JOB_NAME).partitions_def
    if scenario is not None:
        return run_scenario(defs, dates, run_config, scenario, fail_fast)
    with dg.DagsterInstance.get() as instance:
        fail_and_report_orphans(instance)
        job = dg.reconstructable(daily_job)
        history_days = int(overrides.get("stock", {}).get("history_days", StockConfig().history_days))
        if preload_history_window(instance, job, min(dates), history_days, run_config) and fail_fast:
            return 1
        started_all = time.perf_counter()
        # A range: the raw tables of every day in one single-run backfill, then the modules
        # per partition, several days at once (parallel_days.py). If that load fails, every
        # partition runs whole, one after the other (a day's history window needs the days
        # before it loaded), so that the good days still go through and each bad day says why.
        module_keys = None
        if len(dates) > 1:
            raw_keys = [key for key in defs.resolve_asset_graph().get_all_asset_keys() if key.path[0] == "raw"]
            if not ingest_range(instance, job, min(dates), max(dates), raw_keys, run_config, "inputs"):
                graph = defs.resolve_asset_graph()
                # the daily job's own assets only (kpi/monthly has monthly partitions)
                module_keys = [
                    key for key in graph.materializable_asset_keys
                    if key.path[0] != "raw" and graph.get(key).partitions_def == partitions
                ]
        tags = {"reassort/launched_by": "cli"}
        jobs = default_jobs(len(dates)) if jobs is None else max(1, min(jobs, len(dates)))
        if module_keys is not None and jobs > 1:
            failures = run_days_side_by_side(dates, run_config, module_keys, tags, "", fail_fast, jobs)
        else:
            failures = run_days(job, instance, dates, run_config, module_keys, tags, "", fail_fast)
        print(f"{len(dates) - failures} of {len(dates)} partitions ok in {time.perf_counter() - started_all:.1f} s")
    return failures


def validated_run_config(
    dates: Sequence[date], overrides: dict[str, dict[str, object]], log_level: str, executor: str
) -> tuple[dg.Definitions, dict]:
    """The code location and the run config of these dates; SystemExit naming the dates that
    are not daily partitions of the data folder."""
    from orchestrator_assets.definitions import current_definitions
    from orchestrator_assets.jobs import DAILY_JOB_NAME, execution_config
    from orchestrator_assets.run_parameters import run_config_for

    defs = current_definitions()
    partitions = defs.resolve_job_def(DAILY_JOB_NAME).partitions_def
    known = set(partitions.get_partition_keys())
    missing = [d.isoformat() for d in dates if d.isoformat() not in known]
    if missing:
        keys = sorted(known)
        span = f"{keys[0]} .. {keys[-1]}" if keys else "none"
        raise SystemExit(
            f"reassort run: no daily partition for {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}; partitions available: {span} "
            f"(from the extract folders of {project_paths.data_dir()})"
        )
    run_config = run_config_for(overrides, [*(defs.assets or []), *(defs.asset_checks or [])])
    run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    run_config.update(execution_config(executor))
    return defs, run_config


def submit_partitions(
    dates: Sequence[date],
    overrides: dict[str, dict[str, object]],
    log_level: str = "WARNING",
    executor: str = "in_process",
    timeout_s: float | None = None,
) -> int:
    """`reassort run --submit`: the dates as one backfill of the instance, which the daemon and
    the run launcher execute (in cluster mode on the Celery workers); followed here until
    every day ended. Returns the number of failed days (backfill_submission.py)."""
    import dagster as dg

    from orchestrator_assets.backfill_submission import follow_backfill, submit_backfill
    from orchestrator_assets.cluster_config import instance_mode

    prepare_environment()
    _, run_config = validated_run_config(dates, overrides, log_level, executor)
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        backfill_id = submit_backfill(instance, dates, run_config)
        mode = instance_mode(project_paths.dagster_home())
        print(
            f"backfill {backfill_id}: {len(dates)} partition(s) {dates[0]} .. {dates[-1]} submitted to the {mode} instance "
            f"({os.environ['DAGSTER_HOME']}); following it (Ctrl-C stops following, not the backfill)",
            flush=True,
        )
        try:
            outcomes = follow_backfill(instance, backfill_id, dates, timeout_s=timeout_s)
        except KeyboardInterrupt:
            print(f"stopped following backfill {backfill_id}: it goes on (see `reassort status` or the UI)", file=sys.stderr)
            return len(dates)
        except (RuntimeError, TimeoutError) as error:
            print(f"reassort run --submit: {error}", file=sys.stderr)
            return len(dates)
    failures = sum(outcome.status != dg.DagsterRunStatus.SUCCESS for outcome in outcomes)
    workers = sorted({outcome.worker for outcome in outcomes if outcome.worker})
    on = f" on {len(workers)} worker(s)" if workers else ""
    print(f"{len(dates) - failures} of {len(dates)} partitions ok in {time.perf_counter() - started:.1f} s{on} (backfill {backfill_id})")
    return failures


#: the modules a what-if re-computes (the report and ERP files stay the official plan's)
SCENARIO_GROUPS = ("stock", "urgence", "knapsack")


def run_scenario(defs, dates: Sequence[date], run_config: dict, scenario: str, fail_fast: bool) -> int:
    """The modules of each date as scenario `scenario`, on the day's official inputs."""
    import dagster as dg

    from orchestrator_assets.definitions import daily_job
    from orchestrator_assets.scenarios import SCENARIO_TAG, check_scenario_name
    from orchestrator_assets.warehouse import Warehouse
    from orchestrator_assets.warehouse_views import file_partition

    try:
        check_scenario_name(scenario)
    except ValueError as error:
        raise SystemExit(f"reassort run --scenario: {error}") from None
    official = Warehouse(path=str(project_paths.warehouse_path()))
    loaded = official.table_files("raw.stock_levels", [day.isoformat() for day in dates])
    unloaded = sorted({day.isoformat() for day in dates} - {file_partition(path) for path in loaded})
    if unloaded:
        raise SystemExit(
            f"reassort run --scenario {scenario}: the inputs of {', '.join(unloaded[:5])} are not loaded; "
            f"a scenario reads the official inputs: run `reassort run --date D` for those days first"
        )
    graph = defs.resolve_asset_graph()
    module_keys = [key for key in graph.materializable_asset_keys if key.path[0] in SCENARIO_GROUPS]
    job = dg.reconstructable(daily_job)
    started_all = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        tags = {SCENARIO_TAG: scenario, "reassort/launched_by": "cli"}
        failures = run_days(job, instance, dates, run_config, module_keys, tags, f" scenario {scenario}", fail_fast)
    print(f"{len(dates) - failures} of {len(dates)} scenario partitions ok in {time.perf_counter() - started_all:.1f} s")
    return failures


def run_days(
    job: ReconstructableJob,
    instance: dg.DagsterInstance,
    dates: Sequence[date],
    run_config: dict,
    selection: list | None,
    tags: dict[str, str],
    label: str,
    fail_fast: bool,
    after: Callable[[dg.DagsterInstance, dg.JobExecutionResult], None] | None = None,
) -> int:
    """One run of `job` per date, in order, a progress line each (and `after`'s, e.g. a
    workflow's module outcomes); returns the failed runs, the days not run counted as failed.

    Ctrl-C stops the range: during a run, Dagster fails the day running (its step fails as
    interrupted), between two runs Python raises KeyboardInterrupt; either way no other day
    starts and the command says how many were not run. A Ctrl-C that Dagster took and let
    pass (during a run's set-up, its handler only records it) is seen through the signal
    wake-up fd: the day ends as it does, and no other starts."""
    import dagster as dg

    from orchestrator_assets.orphan_runs import launch_tags
    from orchestrator_assets.parallel_days import outcome_of, print_outcome
    from orchestrator_assets.step_failures import was_interrupted

    with sigint_seen() as seen:
        failures = 0
        for index, day in enumerate(dates, start=1):
            started = time.perf_counter()
            try:
                print(f"[{index}/{len(dates)}] {day}{label}: running ...", flush=True)
                result = dg.execute_job(
                    job,
                    instance=instance,
                    run_config=run_config,
                    asset_selection=selection,
                    tags={"dagster/partition": day.isoformat(), **tags, **launch_tags()},
                )
            except KeyboardInterrupt:  # between two runs: this day has not started
                return failures + interrupted(len(dates) - index + 1)
            print_outcome(index, len(dates), outcome_of(day, result, time.perf_counter() - started), label)
            if after is not None:
                after(instance, result)
            if was_interrupted(result) or seen():
                return failures + (0 if result.success else 1) + interrupted(len(dates) - index)
            if not result.success:
                failures += 1
                if fail_fast:
                    break
        return failures


@contextlib.contextmanager
def sigint_seen() -> Iterator[Callable[[], bool]]:
    """A function telling whether SIGINT came since it was last asked: Python writes every
    signal it handles to the wake-up fd, whichever handler (ours, Dagster's) takes it. Off
    the main thread (no signals there), never."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        reader.close()
        writer.close()
        yield lambda: False
        return

    def seen() -> bool:
        received = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := reader.recv(512):
                received += chunk
        return signal.SIGINT in received

    try:
        yield seen
    finally:
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()


def interrupted(not_run: int) -> int:
    """Say that Ctrl-C stopped a range, and how many of its days were not run."""
    print(f"interrupted: no other day starts; {not_run} partition(s) not run", flush=True)
    return not_run


def fail_and_report_orphans(instance: dg.DagsterInstance) -> None:
    """Before a CLI run: runs a dead process left started are marked failed, said, and reported."""
    from orchestrator_assets.orphan_runs import fail_orphaned_runs

    for run_id in fail_orphaned_runs(instance):
        print(f"run {run_id} was left started by a process that is gone: marked failed (nothing of it was published)")
        report_orphan(instance, run_id)


def report_orphan(instance: dg.DagsterInstance, run_id: str) -> None:
    """The run_failed event of a run whose process died (it could not send it): posted here
    as well as by the failure sensor where a daemon runs; the ledger keeps it to one post."""
    from orchestrator_assets.defs.automation import alert_events
    from orchestrator_assets.defs.automation.alert_dispatch import emit

    run = instance.get_run_by_id(run_id)
    if run is not None:
        message = "the process that ran it is gone (killed or closed); its tables were not published"
        emit(project_paths.warehouse_path(), alert_events.run_failed(run, message))


def contiguous_ranges(days: Sequence[date]) -> list[tuple[date, date]]:
    """Days grouped into (first, last) runs of consecutive days: one single-run backfill each."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days):
        if spans and day - spans[-1][1] == timedelta(days=1):
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def preload_history_window(
    instance: dg.DagsterInstance, job: ReconstructableJob, first_day: date, history_days: int, run_config: dict
) -> int:
    """Load the raw.movements partitions of the first day's history window that have an
    extract folder but are not in the warehouse yet, so that a first `run --date D` gives the
    same forecast as a full backfill (SPEC §3: only days without an extract count as zero).
    One single-run backfill per contiguous range of days; returns the number of failed runs."""
    import dagster as dg

    from orchestrator_assets.defs.stock.history_window import MOVEMENTS_KEY, unloaded_days_with_extracts
    from orchestrator_assets.warehouse import Warehouse

    warehouse = Warehouse(path=str(project_paths.warehouse_path()))
    window_end = first_day - timedelta(days=1)
    missing = unloaded_days_with_extracts(
        instance, warehouse, project_paths.data_dir(), window_end, max(history_days - 1, 1)
    ) if history_days > 1 else []
    if not missing:
        return 0
    selection = [dg.AssetKey(["raw", stem]) for stem in ("articles", "sites", "technicians")] + [MOVEMENTS_KEY]
    return sum(
        ingest_range(instance, job, start, end, selection, run_config, "history window: raw.movements")
        for start, end in contiguous_ranges(missing)
    )


def ingest_range(
    instance: dg.DagsterInstance,
    job: ReconstructableJob,
    start: date,
    end: date,
    selection: Sequence[dg.AssetKey],
    run_config: dict,
    label: str,
) -> int:
    """Materialise raw assets for start..end in one run (single-run backfill); 1 if it failed."""
    import dagster as dg

    from orchestrator_assets.orphan_runs import launch_tags

    started = time.perf_counter()
    print(f"{label} {start} .. {end} ({(end - start).days + 1} days) loading ...", flush=True)
    result = dg.execute_job(
        job,
        instance=instance,
        run_config=run_config,
        asset_selection=selection,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
            "reassort/launched_by": "cli-range",
            **launch_tags(),
        },
    )
    status = "ok" if result.success else "FAILED"
    print(f"{label} {start} .. {end} {status} in {time.perf_counter() - started:.1f} s (run {result.run_id})", flush=True)
    if not result.success:
        print_step_failures(result)
    return 0 if result.success else 1


def print_step_failures(result: dg.JobExecutionResult | dg.ExecuteInProcessResult) -> None:
    """Each failed step of a run and its own error, on stderr (the reason a run exits 1)."""
    print_failed_steps(failed_steps(result))


def describe_plan(workflow_name: str, day: date) -> str:
    """What `reassort run` / the workflow's job would do for that day, without running anything."""
    from orchestrator_assets.definitions import current_definitions
    from orchestrator_assets.defs.automation.workflows import load_workflows, workflows_path
    from orchestrator_assets.jobs import DAILY_JOB_NAME
    from orchestrator_assets.run_parameters import PARAMETER_GROUPS

    workflows = {workflow.name: workflow for workflow in load_workflows()}
    if workflow_name == "daily":
        job_name, overrides, lines = DAILY_JOB_NAME, {}, ["Workflow daily: the whole daily pipeline (reassort run)"]
    elif workflow_name in workflows:
        workflow = workflows[workflow_name]
        job_name, overrides = workflow.job_name, workflow.overrides
        lines = [f"Workflow {workflow.name}: {workflow.description or '(no description)'}"]
        lines.append(f"  declared in {workflows_path()} line {workflow.line}; modules: {', '.join(workflow.modules)}")
        if workflow.cron:
            lines.append(f"  schedule: {workflow.cron} ({workflow.timezone}), each tick runs the day before")
        if workflow.scenario == "base":
            lines.append("  writes the official plan (scenario: base)")
        else:
            lines.append(f"  writes what-if scenario {workflow.scenario} (the official plan is untouched)")
        from orchestrator_assets.workflow_runs import workflow_details

        lines.extend(workflow_details(workflow))
    else:
        known = ", ".join(["daily", *sorted(workflows)])
        raise SystemExit(f"reassort plan: no workflow {workflow_name!r}; known: {known}")
    defs = current_definitions()
    job = defs.resolve_job_def(job_name)
    keys = set(job.asset_layer.executable_asset_keys)
    if day.isoformat() not in set(job.partitions_def.get_partition_keys()):
        lines.append(f"  WARNING: {day} is not a daily partition of the data folder {project_paths.data_dir()}")
    lines.append(f"Job {job_name}, partition {day} (daily, Europe/Paris)")
    lines.append("Steps, in order:")
    ordered = [key for key in defs.resolve_asset_graph().toposorted_asset_keys if key in keys]
    for index, key in enumerate(ordered, start=1):
        lines.append(f"  {index:>2}. {key.to_user_string()}")
    lines.append("Parameters (* = set by the workflow):")
    groups = {key.path[0] if key.path[0] != "raw" else "ingest" for key in ordered}
    for group, config in PARAMETER_GROUPS.items():
        if group not in groups:
            continue
        for name, info in config.model_fields.items():
            value = overrides.get(group, {}).get(name, info.default if info.default_factory is None else info.default_factory())
            mark = "*" if name in overrides.get(group, {}) else " "
            lines.append(f"  {mark} {group}.{name} = {value!r}")
    return "\n".join(lines)
