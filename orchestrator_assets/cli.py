"""The `reassort` command: generate data, run partitions through Dagster, query, status, UI, metrics, health.

Runs go through the Dagster instance in DAGSTER_HOME (the same one `reassort ui` shows), with
the executor chosen by --executor; the CLI prints one progress line per partition and the
failing step's message when a run fails (exit status 1). This module holds argparse, the
commands and their printing; the run engine they call is partition_runs.py.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator_assets import project_paths

if TYPE_CHECKING:
    import polars
from orchestrator_assets.partition_runs import (
    contiguous_ranges,
    describe_plan,
    prepare_environment,
    run_partitions,
)
from solvers.horizon import DEFAULT_HORIZON_DAYS

UI_HINT = (
    "Open the Dagster UI:   uv run reassort ui      (then http://127.0.0.1:3000)\n"
    'Query the results:     uv run reassort query "SELECT * FROM raw.stock_levels LIMIT 10"\n'
    "Partitions and runs:   uv run reassort status"
)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from error


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


# ---------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from data_generation.field_service import generate

    out = Path(args.out) if args.out else project_paths.data_dir()
    summary = generate(
        profile=args.profile,
        start=args.start,
        days=args.days,
        out=out,
        seed=args.seed,
        bad_rows=args.bad_rows,
        fmt=args.format,
        progress=lambda line: print(line, flush=True),
    )
    print(summary)
    return 0


# ---------------------------------------------------------------- run
def partition_dates(args: argparse.Namespace) -> list[date]:
    if args.date:
        return [args.date]
    if not (args.date_from and args.date_to):
        raise SystemExit("reassort run: give --date D, or --from D1 --to D2")
    if args.date_to < args.date_from:
        raise SystemExit(f"reassort run: --to {args.date_to} is before --from {args.date_from}")
    days = (args.date_to - args.date_from).days + 1
    return [args.date_from + timedelta(days=offset) for offset in range(days)]


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator_assets.run_parameters import ParameterError, parse_overrides

    try:
        overrides = parse_overrides(args.set or [])
    except ParameterError as error:
        print(f"reassort run: {error}", file=sys.stderr)
        return 2
    dates = partition_dates(args)
    if args.workflow or args.var:
        return run_workflow_command(args, dates, overrides)
    if args.submit:
        return submit_run_command(args, dates, overrides)
    from orchestrator_assets.run_progress import shown_on_stderr

    with shown_on_stderr():  # a bar with an ETA for the days a range or history window loads
        failures = run_partitions(
            dates, overrides, log_level=args.log_level, fail_fast=args.fail_fast, executor=args.executor,
            scenario=args.scenario, jobs=args.jobs,
        )
    if args.scenario:
        if not failures:
            print(f"scenario {args.scenario}: compare it with the official plan: "
                  f"uv run reassort compare --date {dates[-1]} base {args.scenario}")
        return 1 if failures else 0
    if not failures:
        print_summary(dates)
    return 1 if failures else 0


def submit_run_command(args: argparse.Namespace, dates: list[date], overrides: dict) -> int:
    """`reassort run --from D1 --to D2 --submit`: a backfill the daemon and the workers execute
    (partition_runs.submit_partitions; docs/deploy.md)."""
    from orchestrator_assets.partition_runs import submit_partitions

    if args.scenario:
        print("reassort run --submit: a what-if (--scenario) runs in this process only; drop --submit", file=sys.stderr)
        return 2
    failures = submit_partitions(dates, overrides, log_level=args.log_level, executor=args.executor)
    return 1 if failures else 0


def run_workflow_command(args: argparse.Namespace, dates: list[date], overrides: dict) -> int:
    """`reassort run --workflow NAME [--var k=v]`: the workflow's job (workflow_runs.py)."""
    from orchestrator_assets.defs.automation.workflows import WorkflowError
    from orchestrator_assets.workflow_runs import WorkflowLaunchError, run_workflow

    if not args.workflow or args.scenario or getattr(args, "submit", False):
        print(
            "reassort run: --var goes with --workflow NAME; a workflow writes its own scenario (no --scenario) and runs "
            "here (no --submit: launch it on the cluster from the UI or orchestrator_assets.client)",
            file=sys.stderr,
        )
        return 2
    assignments = dict(assignment.partition("=")[::2] for assignment in args.var or [])
    try:
        failures = run_workflow(args.workflow, dates, assignments, overrides, args.log_level, args.fail_fast, args.executor)
    except (WorkflowLaunchError, WorkflowError) as error:
        print(f"reassort run --workflow: {error}", file=sys.stderr)
        return 2
    return 1 if failures else 0


def cmd_workflow(args: argparse.Namespace) -> int:
    """`reassort workflow validate FILE`: the whole file checked as the code location loads it."""
    from orchestrator_assets.defs.automation.workflows import WorkflowError, load_workflows

    try:
        workflows = load_workflows(Path(args.file), missing_ok=False)
    except (WorkflowError, OSError) as error:
        print(f"reassort workflow validate: {error}", file=sys.stderr)
        return 2
    print(f"{args.file}: {len(workflows)} workflow(s), valid")
    for workflow in workflows:
        print(f"  {workflow.name} (line {workflow.line}): modules {', '.join(workflow.modules)}"
              + (f", extends {workflow.extends}" if workflow.extends else ""))
    return 0


def print_rejections(rejected: "polars.DataFrame") -> None:
    """SPEC §2: the run says how many input rows it rejected and why (per table and rule)."""
    rows = rejected.group_by("source", "rule").len().sort(["source", "len", "rule"], descending=[False, True, False]).rows()
    if not rows:
        print("\nRejected input rows: none")
        return
    print(f"\nRejected input rows: {sum(n for _, _, n in rows):,} (details: SELECT * FROM validation.rejected_rows)")
    by_source: dict[str, list[str]] = {}
    for source, rule, n in rows:
        by_source.setdefault(source, []).append(f"{rule} {n:,}")
    for source, rules in by_source.items():
        print(f"  {source:<40} {', '.join(rules)}")


def print_summary(dates: Sequence[date]) -> None:
    """Row counts of the published tables for the partitions just run."""
    from orchestrator_assets.defs.ingest.assets import REJECTED_TABLE
    from orchestrator_assets.table_files import file_rows
    from orchestrator_assets.warehouse import Warehouse
    from orchestrator_assets.warehouse_views import known_tables

    root = project_paths.warehouse_path()
    keys = [(dates[0] + timedelta(days=offset)).isoformat() for offset in range((dates[-1] - dates[0]).days + 1)]
    warehouse = Warehouse(path=str(root))
    files = warehouse.files(keys)
    print(f"\nWarehouse {root} — rows for {dates[0]}" + (f" .. {dates[-1]}" if len(dates) > 1 else ""))
    for table in known_tables(root):
        # the files' footers: no row is read, no DuckDB statement (issue 14)
        count = sum(file_rows(file) for file in files.get(table, []))
        print(f"  {table:<40} {count:>12,}")
    if files.get(REJECTED_TABLE):
        print_rejections(warehouse.read_files(REJECTED_TABLE, files[REJECTED_TABLE]))
    from orchestrator_assets.defs.export.export_files import EXPORTS_FOLDER

    exports = project_paths.data_dir() / EXPORTS_FOLDER / dates[-1].isoformat()
    if (exports / "manifest.json").is_file():
        print(f"\nFiles for the warehouse and the ERP (picking lists, purchase proposals): {exports}")
    print("\n" + UI_HINT)


# ---------------------------------------------------------------- query
def cmd_query(args: argparse.Namespace) -> int:
    """One read-only statement over the published tables (docs/security.md, "The query path")."""
    import polars as pl

    from orchestrator_assets.read_only_sql import QueryRefused, QueryTimeout, open_read_only, run_query
    from orchestrator_assets.warehouse_views import absolute_files, visible_files

    root = project_paths.warehouse_path()
    if not root.is_dir():
        hint = " (an old warehouse file is there: run `reassort migrate`)" if project_paths.legacy_warehouse_file().is_file() else ""
        print(f"reassort query: no warehouse at {root}: run `reassort run --date YYYY-MM-DD` first{hint}", file=sys.stderr)
        return 2
    try:
        if args.scenario:
            from orchestrator_assets.scenarios import check_scenario_name, list_scenarios
            from orchestrator_assets.warehouse import Warehouse

            if check_scenario_name(args.scenario) not in list_scenarios(root):
                raise QueryRefused(f"no scenario {args.scenario!r} (scenarios: {', '.join(list_scenarios(root)) or 'none'})")
            files = Warehouse(path=str(root)).for_scenario(args.scenario).files()
        else:
            files = absolute_files(root, visible_files(root))
        con = open_read_only(files, [root])
        try:
            frame, truncated = run_query(con, args.sql, max_rows=args.limit, timeout_s=args.timeout)
        finally:
            con.close()
    except (QueryRefused, QueryTimeout, ValueError) as error:
        print(f"reassort query: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # duckdb's SQL errors: show them as they are
        print(f"reassort query: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if truncated:
        print(f"reassort query: the answer was cut at {args.limit:,} rows (--limit)", file=sys.stderr)
    if args.format == "csv":
        sys.stdout.write(frame.write_csv())
    elif args.format == "json":
        print(json.dumps(frame.to_dicts(), default=str, indent=1))
    else:
        with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=220, tbl_hide_dataframe_shape=False):
            print(frame)
    return 0


# ---------------------------------------------------------------- export
def cmd_export(args: argparse.Namespace) -> int:
    """The published plan of one day as files for the warehouses and the ERP (docs/export.md)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from orchestrator_assets.defs.export.export_files import (
        ExportError,
        export_dir,
        picking_lists,
        purchase_proposals,
        write_export,
    )
    from orchestrator_assets.defs.export.export_gate import ExportRefused, published_plan
    from orchestrator_assets.partitions import TIMEZONE

    out = Path(args.out).resolve() if args.out else export_dir(project_paths.data_dir(), args.date)
    try:
        published = published_plan(project_paths.warehouse_path(), args.date, args.scenario)
        picking = picking_lists(published.allocation, published.articles)
        purchases = purchase_proposals(published.allocation, published.articles, args.date)
        manifest = write_export(out, published.plan, picking, purchases, datetime.now(ZoneInfo(TIMEZONE)))
    except (ExportRefused, ExportError) as error:
        print(f"reassort export refused: {error}", file=sys.stderr)
        return 2
    totals = manifest["totals"]
    print(f"Export of {args.date} (run {manifest['run_id'][:8]}, strategy {manifest['strategy']}) -> {out}")
    print(
        f"  picking lists       {totals['picking']['files']:>5}  {totals['picking']['rows']:>7,} lines  "
        f"{totals['picking']['quantity']:>9,} pieces  volume {totals['picking']['volume']:,.2f}"
    )
    print(
        f"  purchase proposals  {totals['purchase']['files']:>5}  {totals['purchase']['rows']:>7,} lines  "
        f"{totals['purchase']['quantity']:>9,} pieces  amount {totals['purchase']['amount']:,.2f}"
    )
    return 0


# ---------------------------------------------------------------- catalog
def cmd_catalog(args: argparse.Namespace) -> int:
    """(Re)write <warehouse>/catalog.duckdb, the views any DuckDB client can open (README, Storage)."""
    from orchestrator_assets.warehouse_catalog import CatalogError, catalog_contents, write_catalog

    root = project_paths.warehouse_path()
    if not root.is_dir():
        print(f"reassort catalog: no warehouse at {root}: run `reassort run --date YYYY-MM-DD` first", file=sys.stderr)
        return 2
    try:
        path = write_catalog(root)
    except CatalogError as error:
        print(f"reassort catalog: {error}", file=sys.stderr)
        return 2
    tables = sorted(catalog_contents(root)[1])
    print(f"{path}: {len(tables)} tables ({', '.join(tables)})")
    print(f"Open it with any DuckDB client, read-only:  duckdb {path} -readonly")
    return 0


# ---------------------------------------------------------------- migrate
def cmd_migrate(args: argparse.Namespace) -> int:
    from orchestrator_assets.warehouse_migration import migrate

    legacy = Path(args.legacy) if args.legacy else project_paths.legacy_warehouse_file()
    root = project_paths.warehouse_path()
    print(f"Migrating {legacy} -> {root}")
    try:
        counts = migrate(legacy, root)
    except (FileNotFoundError, OSError) as error:
        print(f"reassort migrate: {error}", file=sys.stderr)
        return 2
    short = {table: pair for table, pair in counts.items() if pair[0] != pair[1]}
    for table, (before, after) in short.items():
        print(f"  {table}: {before:,} rows in the old file, {after:,} published (partitions a newer run had published were kept)")
    print(f"{len(counts)} tables migrated; the old file is left in place: delete it once you have checked the counts.")
    return 0


# ---------------------------------------------------------------- curve
def cmd_curve(args: argparse.Namespace) -> int:
    """The projected stock day by day, for one pair or one article over all its sites."""
    import polars as pl

    from orchestrator_assets.defs.stock.projection_curves import projection_curve
    from orchestrator_assets.warehouse import Warehouse

    warehouse = Warehouse(path=str(project_paths.warehouse_path()))
    try:
        curve = projection_curve(warehouse, args.date, args.article, args.site, args.horizon)
    except (LookupError, FileNotFoundError) as error:
        print(f"reassort curve: {error}", file=sys.stderr)
        return 2
    if args.format == "csv":
        sys.stdout.write(curve.write_csv())
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160):
            print(curve)
    return 0


# ---------------------------------------------------------------- explain
def cmd_explain(args: argparse.Namespace) -> int:
    """Why a pair has its class and its lots: the chain from its inputs, as the tables hold it."""
    from orchestrator_assets.pair_explanation import explain_pair
    from orchestrator_assets.warehouse import Warehouse

    warehouse = Warehouse(path=str(project_paths.warehouse_path()))
    try:
        if args.scenario:
            from orchestrator_assets.scenarios import check_scenario_name, list_scenarios

            if check_scenario_name(args.scenario) not in list_scenarios(warehouse.root):
                raise LookupError(f"no scenario {args.scenario!r} (scenarios: {', '.join(list_scenarios(warehouse.root)) or 'none'})")
            warehouse = warehouse.for_scenario(args.scenario)  # its tables, the official ones for the rest
        explanation = explain_pair(warehouse, args.date, args.site, args.article)
    except (LookupError, FileNotFoundError, ValueError) as error:
        print(f"reassort explain: {error}", file=sys.stderr)
        return 2
    print(explanation.render())
    return 0


# ---------------------------------------------------------------- status
def _ranges(keys: Sequence[str]) -> str:
    """['2026-01-01','2026-01-02','2026-01-05'] -> '2026-01-01..2026-01-02, 2026-01-05'."""
    spans = contiguous_ranges([date.fromisoformat(key) for key in keys])
    return ", ".join(f"{a}..{b}" if a != b else f"{a}" for a, b in spans)


def cmd_runner(args: argparse.Namespace) -> int:
    from orchestrator_assets.runner_client import ask, start_runner
    from orchestrator_assets.runner_protocol import socket_path

    home = project_paths.dagster_home()
    if args.action == "start":
        if args.idle_minutes <= 0:
            print("reassort runner: --idle-minutes must be positive", file=sys.stderr)
            return 2
        code, message = start_runner(home, args.idle_minutes)
        print(message, file=sys.stderr if code else sys.stdout)
        return code
    answer = ask("stop" if args.action == "stop" else "ping", home)
    if answer is None:
        print(f"no warm runner for {home}")
        return 0 if args.action == "stop" else 1
    if args.action == "stop":
        print(f"warm runner {answer['stopping']} stopped")
    else:
        print(f"warm runner {answer['pid']} on {socket_path(home)}, ready; "
              f"code {answer['code_version'].split(':')[0]}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import dagster as dg

    from orchestrator_assets.definitions import current_definitions

    prepare_environment()
    defs = current_definitions()
    with dg.DagsterInstance.get() as instance:
        print(f"Dagster instance: {project_paths.dagster_home()}")
        print(f"Data folder:      {project_paths.data_dir()}")
        print(f"Warehouse:        {project_paths.warehouse_path()}\n")
        print("Materialised partitions per asset:")
        for assets_def in defs.assets or []:
            for key in assets_def.keys:
                done = instance.get_materialized_partitions(key)
                shown = _ranges(list(done)) if done else "none"
                print(f"  {key.to_user_string():<40} {len(done):>4}  {shown}")
        records = instance.get_run_records(limit=args.runs)  # newest first
        if records:
            print(f"\nLast {len(records)} runs (newest first):")
            print(f"  {'created (UTC)':<19}  {'run':<8}  {'job':<20} {'partition(s)':<22} {'outcome':<9} duration")
            for record in records:
                print("  " + format_run_line(record))
    return 0


def run_partitions_label(tags: dict[str, str]) -> str:
    """The partition of a run, or the range of a single-run backfill ('' for an unpartitioned run)."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return ""


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def format_run_line(record, now: float | None = None) -> str:
    """One line of `reassort status` per run: when, id, job, partition(s), outcome, duration.

    Duration is start to end of the run (queueing excluded); a run still going shows its
    time so far ('so far 12.0 s'), a run not started yet (queued) shows '-'."""
    run = record.dagster_run
    when = record.create_timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if record.start_time is None:
        duration = "-"
    elif record.end_time is not None:
        duration = format_duration(record.end_time - record.start_time)
    else:
        duration = "so far " + format_duration((now or time.time()) - record.start_time)
    partitions = run_partitions_label(dict(run.tags))
    return f"{when}  {run.run_id[:8]}  {run.job_name:<20} {partitions:<22} {run.status.value:<9} {duration}"


def cmd_events(args: argparse.Namespace) -> int:
    """`reassort events RUN_ID [--follow]`: a run's event log, read from the webserver (client.py)."""
    from orchestrator_assets.client import print_run_events

    return print_run_events(args.run_id, args.host, args.port, args.follow)


# ---------------------------------------------------------------- plan
def cmd_plan(args: argparse.Namespace) -> int:
    from orchestrator_assets.defs.automation.workflows import WorkflowError

    try:
        print(describe_plan(args.workflow, args.date))
    except WorkflowError as error:
        print(f"reassort plan: {error}", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------- ui
def ui_command(host: str, port: int) -> list[str]:
    """`dagster dev` on this project, run by this very interpreter (`python -m dagster`).

    A bare "dagster" is looked up on PATH, which lacks the venv when `reassort` is started
    as .venv/bin/reassort (not through `uv run` or an activated venv): FileNotFoundError.
    The running interpreter always has dagster, and `dagster dev` starts the webserver and
    daemon with its own sys.executable, so nothing else needs PATH."""
    workspace = project_paths.PROJECT_ROOT / "workspace.yaml"
    return [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-h", host, "-p", str(port)]


def cmd_ui(args: argparse.Namespace) -> int:
    prepare_environment()
    command = ui_command(args.host, args.port)
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} " + " ".join(command), flush=True)
    return subprocess.call(command)


def service_command(service: str, host: str, port: int) -> list[str]:
    """The production processes (docs/operations.md, "Services"): the webserver and the daemon
    as two processes on one DAGSTER_HOME, each run by this interpreter (no PATH lookup)."""
    workspace = str(project_paths.PROJECT_ROOT / "workspace.yaml")
    if service == "webserver":
        return [sys.executable, "-m", "dagster_webserver", "-w", workspace, "-h", host, "-p", str(port)]
    return [sys.executable, "-m", "dagster._daemon", "run", "-w", workspace]


def initialise_instance_storage() -> None:
    """Create the instance's storage (run, event log, schedule) before a service starts, one
    process at a time: a webserver and a daemon started together on a new DAGSTER_HOME both
    created the same SQLite tables and one of them died ("table ... already exists")."""
    import dagster as dg

    from orchestrator_assets.table_files import exclusive_lock

    home = Path(os.environ["DAGSTER_HOME"])
    with exclusive_lock(home / ".reassort-storage-init.lock"), dg.DagsterInstance.get() as instance:
        instance.get_runs_count()
        instance.all_instigator_state()
        instance.fetch_materializations(dg.AssetKey(["raw", "articles"]), limit=1)


def cmd_serve(args: argparse.Namespace) -> int:
    prepare_environment()
    initialise_instance_storage()
    command = service_command(args.service, args.host, args.port)
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} " + " ".join(command), flush=True)
    os.execv(command[0], command)  # the service is this process: a supervisor's signals reach it


# ---------------------------------------------------------------- scenarios
def cmd_compare(args: argparse.Namespace) -> int:
    from orchestrator_assets.scenario_comparison import lot_differences, plan_figures, render_comparison
    from orchestrator_assets.warehouse import Warehouse

    warehouse = Warehouse(path=str(project_paths.warehouse_path()))
    try:
        a, b = (plan_figures(warehouse, args.date, name) for name in (args.a, args.b))
    except (LookupError, ValueError) as error:
        print(f"reassort compare: {error}", file=sys.stderr)
        return 2
    print(render_comparison(args.date, a, b, lot_differences(a, b, args.pairs)))
    return 0


def cmd_scenario(args: argparse.Namespace) -> int:
    from orchestrator_assets.manifests import published_partitions
    from orchestrator_assets.scenarios import drop_scenario, list_scenarios, scenario_root

    root = project_paths.warehouse_path()
    if args.action == "list":
        for name in list_scenarios(root):
            days = published_partitions(scenario_root(root, name))  # the partitions the scenario wrote
            print(f"{name}: {len(days)} partition(s) {days[0] + ' .. ' + days[-1] if days else ''}".rstrip())
        return 0
    if not args.name:
        print("reassort scenario drop: name the scenario", file=sys.stderr)
        return 2
    try:
        folder = drop_scenario(root, args.name)
    except (ValueError, FileNotFoundError) as error:
        print(f"reassort scenario drop: {error}", file=sys.stderr)
        return 2
    print(f"scenario {args.name} dropped ({folder} removed); the official plan is untouched")
    return 0


# ---------------------------------------------------------------- metrics, health
def cmd_metrics(args: argparse.Namespace) -> int:
    from orchestrator_assets.health_checks import project_instance
    from orchestrator_assets.metrics_server import serve

    with project_instance() as (instance, error):
        if instance is None:
            print(f"reassort metrics: cannot open the Dagster instance: {error}", file=sys.stderr)
            return 1
        serve(instance, project_paths.warehouse_path(), project_paths.data_dir(), args.host, args.port)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from orchestrator_assets.health_checks import project_health

    report = project_health()
    print(report.to_json() if args.format == "json" else report.to_text())
    return 0 if report.ok else 1


# ---------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    """Generate a sample data set (unless one is there) and run its last days end to end."""
    from orchestrator_assets.defs.ingest.source_files import available_extract_dates

    data = project_paths.data_dir()
    if not available_extract_dates(data) or args.regenerate:
        generate_args = argparse.Namespace(
            profile=args.profile, start=args.start, days=args.days, out=str(data), seed=args.seed, bad_rows=args.bad_rows, format="csv"
        )
        cmd_generate(generate_args)
    dates = available_extract_dates(data)
    chosen = dates[-args.run_days :]
    print(f"\nRunning the daily pipeline for {chosen[0]} .. {chosen[-1]} ({len(chosen)} partitions)", flush=True)
    from orchestrator_assets.run_progress import shown_on_stderr

    with shown_on_stderr():
        failures = run_partitions(chosen, {})
    if failures:
        return 1
    print_summary(chosen)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reassort",
        description="Réassort: spare-parts replenishment analytics (STOCK, URGENCE, KNAPSACK) on Dagster + DuckDB.",
        epilog="Environment: REASSORT_DATA_DIR (default ./data), REASSORT_WAREHOUSE, DAGSTER_HOME (default ./.dagster_home).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic ERP/planning data set")
    generate.add_argument("--profile", default="tiny", choices=["tiny", "small", "large", "xl"])
    generate.add_argument("--start", type=_date, required=True, help="first extract date YYYY-MM-DD")
    generate.add_argument("--days", type=int, required=True, help="number of daily extracts")
    generate.add_argument("--out", help="output folder (default: the data folder)")
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--bad-rows", type=float, default=0.0, help="share of deliberately bad extract rows")
    generate.add_argument("--format", default="csv", choices=["csv", "parquet"], help="extract file format")
    generate.set_defaults(handler=cmd_generate)

    run = commands.add_parser("run", help="materialise the pipeline for a date or a date range")
    run.add_argument("--date", type=_date)
    run.add_argument("--from", dest="date_from", type=_date)
    run.add_argument("--to", dest="date_to", type=_date)
    run.add_argument("--set", action="append", metavar="GROUP.PARAM=VALUE", help="override a module parameter (repeatable)")
    run.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Dagster console log level")
    run.add_argument("--fail-fast", action="store_true", help="stop a range at the first failed partition")
    run.add_argument(
        "--jobs", type=_positive_int, metavar="N",
        help="days of a range run at once, one process each (default: one per core, at most 4; 1: one after the other)",
    )
    run.add_argument(
        "--scenario", metavar="NAME",
        help="a what-if: the modules write to scenario NAME, never to the official plan (inputs must be loaded)",
    )
    run.add_argument(
        "--executor", default="in_process", choices=["in_process", "multiprocess"],
        help="in_process (default, fastest on small machines) or one process per step",
    )
    run.add_argument("--workflow", metavar="NAME", help="run a workflow of workflows.yaml (docs/workflows.md) instead of the daily job")
    run.add_argument("--var", action="append", metavar="NAME=VALUE", help="a workflow variable for this run (repeatable)")
    run.add_argument(
        "--submit", action="store_true",
        help="submit the dates as a backfill to the instance (daemon + run launcher; cluster mode: the workers) and follow it",
    )
    run.set_defaults(handler=cmd_run)

    workflow = commands.add_parser("workflow", help="check a workflows file: reassort workflow validate FILE")
    workflow.add_argument("action", choices=["validate"])
    workflow.add_argument("file")
    workflow.set_defaults(handler=cmd_workflow)

    query = commands.add_parser("query", help="run SQL against the warehouse (read-only)")
    query.add_argument("sql")
    query.add_argument("--format", default="table", choices=["table", "csv", "json"])
    query.add_argument("--max-rows", type=int, default=50, help="rows shown in table format")
    query.add_argument("--limit", type=int, default=10_000, help="most rows returned (the answer says when it was cut)")
    query.add_argument("--timeout", type=float, default=30.0, help="seconds before the query is interrupted")
    query.add_argument("--scenario", help="read this what-if scenario (its tables, the official ones for the rest) instead of the official plan")
    query.set_defaults(handler=cmd_query)

    curve = commands.add_parser("curve", help="projected stock day by day for one pair (or an article over its sites)")
    curve.add_argument("--date", type=_date, required=True)
    curve.add_argument("--article", required=True)
    curve.add_argument("--site", help="one site; without it, the article summed over all its sites")
    curve.add_argument("--horizon", type=int, default=DEFAULT_HORIZON_DAYS, help="days (use the run's stock.horizon_days)")
    curve.add_argument("--format", default="table", choices=["table", "csv"])
    curve.set_defaults(handler=cmd_curve)

    explain = commands.add_parser(
        "explain", help="why a pair has its class and its lots: on hand, demand, receipts, projection, urgency, ABC, knapsack"
    )
    explain.add_argument("--date", type=_date, required=True)
    explain.add_argument("--site", required=True)
    explain.add_argument("--article", required=True)
    explain.add_argument("--scenario", help="explain the pair in this what-if scenario instead of the official plan")
    explain.set_defaults(handler=cmd_explain)

    export = commands.add_parser("export", help="write a day's picking lists and purchase proposals as CSV files")
    export.add_argument("--date", type=_date, required=True)
    export.add_argument("--out", help="destination folder (default <data>/exports/YYYY-MM-DD)")
    export.add_argument("--scenario", default="base", help="the plan to export (only 'base' exists)")
    export.set_defaults(handler=cmd_export)

    migrate = commands.add_parser("migrate", help="move a warehouse of earlier versions (one DuckDB file) into table files")
    migrate.add_argument("--from", dest="legacy", help="the old DuckDB file (default <data>/warehouse.duckdb)")
    migrate.set_defaults(handler=cmd_migrate)

    catalog = commands.add_parser("catalog", help="rewrite <warehouse>/catalog.duckdb, views any DuckDB client can open")
    catalog.set_defaults(handler=cmd_catalog)

    status = commands.add_parser("status", help="materialised partitions and last runs")
    status.add_argument("--runs", type=int, default=10)
    status.set_defaults(handler=cmd_status)

    events = commands.add_parser("events", help="print a run's event log from the webserver (--follow: until it ends)")
    events.add_argument("run_id", help="the run's id, or its first characters as `reassort status` shows them")
    events.add_argument("--follow", action="store_true", help="print new events as they come until the run ends")
    events.add_argument("--host", default="127.0.0.1", help="the webserver (reassort ui / serve webserver)")
    events.add_argument("--port", type=int, default=3000)
    events.set_defaults(handler=cmd_events)

    plan = commands.add_parser("plan", help="print what a workflow would run for a date, without running it")
    plan.add_argument("workflow", help="a workflow of workflows.yaml, or 'daily'")
    plan.add_argument("--date", type=_date, required=True)
    plan.set_defaults(handler=cmd_plan)

    ui = commands.add_parser("ui", help="start the Dagster UI on this project's instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=cmd_ui)

    metrics = commands.add_parser("metrics", help="serve Prometheus metrics (/metrics) and the health report (/health)")
    metrics.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; another exposes the figures unauthenticated)")
    metrics.add_argument("--port", type=int, default=9464)
    metrics.set_defaults(handler=cmd_metrics)

    compare = commands.add_parser("compare", help="two plans of a day side by side: base and/or what-if scenarios")
    compare.add_argument("--date", type=_date, required=True)
    compare.add_argument("a", help="'base' (the official plan) or a scenario name")
    compare.add_argument("b", help="'base' or a scenario name")
    compare.add_argument("--pairs", type=int, default=10, help="how many of the most different pairs to list")
    compare.set_defaults(handler=cmd_compare)

    scenario = commands.add_parser("scenario", help="list the what-if scenarios, or drop one (never the official plan)")
    scenario.add_argument("action", choices=["list", "drop"])
    scenario.add_argument("name", nargs="?")
    scenario.set_defaults(handler=cmd_scenario)

    from orchestrator_assets.cluster_commands import cmd_deploy, cmd_worker  # docs/deploy.md

    deploy = commands.add_parser("deploy", help="cluster mode: write its dagster.yaml (--init) or check that it is ready (--check)")
    action = deploy.add_mutually_exclusive_group(required=True)
    action.add_argument("--init", action="store_true", help="write DAGSTER_HOME/dagster.yaml and reassort.env for cluster mode")
    action.add_argument("--check", action="store_true", help="database, broker, shared warehouse, workers' code version, daemon: exit 1 if not ready")
    deploy.add_argument("--postgres-url", help="instance storage, postgresql://user:password@host:5432/db (or REASSORT_POSTGRES_URL)")
    deploy.add_argument("--broker", help="Celery broker, redis://host:6379/0 (or REASSORT_BROKER_URL)")
    deploy.add_argument("--backend", help="Celery result backend (default: the broker)")
    deploy.add_argument("--warehouse", help="table folder every machine mounts at this path (or REASSORT_WAREHOUSE)")
    deploy.add_argument("--data-dir", help="data folder every machine mounts at this path (default: the warehouse's parent)")
    deploy.add_argument("--queue", default="dagster", help="Celery queue of the runs (default dagster)")
    deploy.add_argument("--max-runs", type=int, default=4, help="runs in progress at once: the workers' slots (default 4)")
    deploy.add_argument("--monitor-interval", type=int, default=30, help="seconds between run monitoring checks (default 30)")
    deploy.add_argument("--max-retries", type=int, default=1, help="re-executions of a run whose worker died (default 1)")
    deploy.add_argument("--force", action="store_true", help="replace a dagster.yaml reassort did not write")
    deploy.add_argument("--format", choices=["text", "json"], default="text", help="--check's report")
    deploy.set_defaults(handler=cmd_deploy)

    worker = commands.add_parser("worker", help="cluster mode: run a Celery worker that executes the queued runs")
    worker.add_argument("--concurrency", type=int, default=1, help="runs at once on this worker (one core each; default 1)")
    worker.add_argument("--name", help="worker name (default reassort-<pid>); @host is appended")
    worker.add_argument("--loglevel", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    worker.set_defaults(handler=cmd_worker)

    serve = commands.add_parser(
        "serve", help="run one production service: the webserver or the daemon (two processes, one DAGSTER_HOME)"
    )
    serve.add_argument("service", choices=["webserver", "daemon"])
    serve.add_argument("--host", default="127.0.0.1", help="webserver address (default 127.0.0.1: put a proxy with authentication in front to open it)")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(handler=cmd_serve)

    runner = commands.add_parser(
        "runner", help="a warm process that runs the other commands without their ~3.5 s of start-up (start, stop, status)"
    )
    runner.add_argument("action", choices=["start", "stop", "status"])
    runner.add_argument("--idle-minutes", type=float, default=30.0, help="stop after this long without a command (start)")
    runner.set_defaults(handler=cmd_runner)

    health = commands.add_parser("health", help="check warehouse, Dagster instance, daemon, partition freshness and disk (exit 1 if unhealthy)")
    health.add_argument("--format", choices=["text", "json"], default="text")
    health.set_defaults(handler=cmd_health)

    demo = commands.add_parser("demo", help="generate sample data and run the pipeline on it, end to end")
    demo.add_argument("--profile", default="small", choices=["tiny", "small", "large", "xl"])
    demo.add_argument("--start", type=_date, default=date(2026, 10, 1))
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--run-days", type=int, default=3, help="how many of the last days to run")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--bad-rows", type=float, default=0.01)
    demo.add_argument("--regenerate", action="store_true")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from orchestrator_assets.cluster_config import apply_cluster_env

    apply_cluster_env()  # cluster mode: the shared paths of DAGSTER_HOME/reassort.env
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    from orchestrator_assets.command_entry import entry

    entry()
