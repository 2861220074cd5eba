"""`reassort deploy` and `reassort worker`: setting up and operating cluster mode (docs/deploy.md).

Kept out of cli.py (argparse and the other commands) so that the cluster's commands, with
their own imports (Celery, psycopg2, Redis), live together; cli.py parses and dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from orchestrator_assets import project_paths
from orchestrator_assets.cluster_config import (
    DEFAULT_QUEUE,
    ClusterConfigError,
    ClusterSettings,
    instance_mode,
    redact,
    write_cluster_home,
)


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.init:
        return deploy_init(args)
    from orchestrator_assets.deploy_checks import cluster_report
    from orchestrator_assets.partition_runs import prepare_environment

    prepare_environment()
    report = cluster_report()
    if args.format == "json":
        print(report.to_json())
    else:
        width = max(len(check.name) for check in report.checks)
        for check in report.checks:
            print(f"{'OK  ' if check.ok else 'FAIL'}  {check.name:<{width}}  {check.detail}")
        failed = [check.name for check in report.checks if not check.ok]
        print(f"not ready: {', '.join(failed)}" if failed else "ready")
    return 0 if report.ok else 1


def deploy_init(args: argparse.Namespace) -> int:
    """Write DAGSTER_HOME/dagster.yaml (cluster mode) and reassort.env from the arguments,
    or from REASSORT_POSTGRES_URL, REASSORT_BROKER_URL, REASSORT_WAREHOUSE, REASSORT_DATA_DIR."""
    postgres = args.postgres_url or os.environ.get("REASSORT_POSTGRES_URL")
    broker = args.broker or os.environ.get("REASSORT_BROKER_URL")
    warehouse = args.warehouse or os.environ.get("REASSORT_WAREHOUSE")
    missing = [flag for flag, value in (("--postgres-url", postgres), ("--broker", broker), ("--warehouse", warehouse)) if not value]
    if missing:
        print(f"reassort deploy --init: give {', '.join(missing)} (or their REASSORT_* variables)", file=sys.stderr)
        return 2
    warehouse_path = Path(warehouse).expanduser()
    data_dir = Path(args.data_dir or os.environ.get("REASSORT_DATA_DIR") or warehouse_path.parent).expanduser()
    settings = ClusterSettings(
        postgres_url=postgres,
        broker=broker,
        backend=args.backend,
        warehouse=warehouse_path,
        data_dir=data_dir,
        queue=args.queue,
        max_concurrent_runs=args.max_runs,
        monitor_interval_s=args.monitor_interval,
        max_retries=args.max_retries,
    )
    home = Path(os.environ.get("DAGSTER_HOME", project_paths.PROJECT_ROOT / ".dagster_home")).resolve()
    try:
        written = write_cluster_home(home, settings, force=args.force)
    except ClusterConfigError as error:
        print(f"reassort deploy --init: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(
        f"cluster mode: storage {redact(settings.instance_config()['storage']['postgres']['postgres_url'])}, "
        f"broker {redact(broker)}, queue {settings.queue!r}, at most {settings.max_concurrent_runs} runs at once\n"
        f"data folder {data_dir}, warehouse {warehouse_path} (the same paths on every machine)\n"
        "Next: copy this DAGSTER_HOME to every machine (or share it), start `reassort serve daemon` once, "
        "`reassort worker` on each worker machine, then `reassort deploy --check`."
    )
    return 0


def launcher_queue(home: Path) -> str:
    """The queue cluster mode's run launcher sends runs to, as dagster.yaml names it."""
    config = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    queue = ((config.get("run_launcher") or {}).get("config") or {}).get("default_queue", DEFAULT_QUEUE)
    if isinstance(queue, dict) and "env" in queue:
        queue = os.environ.get(queue["env"], DEFAULT_QUEUE)
    return str(queue)


def worker_command(queue: str, name: str, concurrency: int, loglevel: str) -> list[str]:
    """The Celery worker of celery_worker.py, run by this interpreter (no PATH lookup)."""
    return [
        sys.executable, "-m", "celery", "-A", "orchestrator_assets.celery_worker", "worker",
        "--queues", queue, "--hostname", f"{name}@%h", "--concurrency", str(concurrency),
        "--pool", "prefork", "--loglevel", loglevel, "--without-gossip", "--without-mingle",
    ]


def cmd_worker(args: argparse.Namespace) -> int:
    """`reassort worker`: this process becomes a Celery worker of the cluster's queue."""
    from orchestrator_assets.partition_runs import prepare_environment

    prepare_environment()
    home = Path(os.environ["DAGSTER_HOME"])
    if instance_mode(home) != "cluster":
        print(
            f"reassort worker: {home / 'dagster.yaml'} is local mode, where runs execute without workers; "
            "write a cluster configuration first: reassort deploy --init (docs/deploy.md)",
            file=sys.stderr,
        )
        return 2
    command = worker_command(launcher_queue(home), args.name or f"reassort-{os.getpid()}", args.concurrency, args.loglevel)
    print(
        f"DAGSTER_HOME={home} REASSORT_DATA_DIR={project_paths.data_dir()} REASSORT_WAREHOUSE={project_paths.warehouse_path()} "
        + " ".join(command),
        flush=True,
    )
    os.execv(command[0], command)  # the worker is this process: a supervisor's signals reach it
