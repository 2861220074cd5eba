"""The Celery app of `reassort worker`: it executes the runs cluster mode's run launcher queues.

dagster-celery's CeleryRunLauncher (configured by cluster_config.py) sends each run, as
an `execute_job` task, to the broker; a worker takes it and executes the whole run in
process. dagster-celery ships a worker app of its own (`dagster_celery.app`, started by
`dagster-celery worker start`), configured from a generated module on PYTHONPATH and a
`celery` found on PATH; this one is built from the instance's own run launcher
configuration instead (the same broker, backend and queue by construction), is started
by this interpreter (`python -m celery`), and adds what a cluster needs to be operated:

- `execute_job` and `resume_job` (a run resumed by run monitoring after its worker died,
  cluster_launcher.py) execute the run in process, as dagster-celery's tasks do;
- each run is tagged with the worker that took it (`reassort/worker`, its Celery node name;
  `reassort/worker_pid`, the process executing it; `reassort/worker_main_pid`, the worker's
  main process) and the worker's code version (`reassort/code_version`), and says so in the
  run's log;
- `reassort_knapsack_shard` solves a shard of a big partition's knapsack, which the run's
  knapsack step sends to the same queue (defs/knapsack/shard_dispatch.py);
- `reassort_worker_info`, a remote inspect command answering the worker's code version,
  queues, data folder and warehouse, and whether it sees a marker file in that warehouse:
  `reassort deploy --check` asks every worker (deploy_checks.py);
- each run in a fresh process (`worker_max_tasks_per_child = 1`), forked from the worker's
  main process: the code location is built from the data folder as it is when the run
  starts (new extract folders are new partitions), never from a copy cached by an earlier
  run in the same process. The heavy libraries are imported once, before the fork, so a
  run does not pay their import.

The module is imported by the worker's main process (`-A orchestrator_assets.celery_worker`)
with DAGSTER_HOME and the REASSORT_* paths already set by `reassort worker`.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
from pathlib import Path
from typing import Any

import dagster as dg
from celery.worker.control import inspect_command
from dagster._cli.api import _execute_run_command_body, _resume_run_command_body
from dagster._grpc.types import ExecuteRunArgs, ResumeRunArgs
from dagster._serdes import unpack_value
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.make_app import make_app

from orchestrator_assets import project_paths
from orchestrator_assets.code_version import code_version
from orchestrator_assets.defs.knapsack import shard_exchange
from orchestrator_assets.defs.knapsack.shard_dispatch import SHARD_TASK

WORKER_TAG = "reassort/worker"
WORKER_PID_TAG = "reassort/worker_pid"
#: the worker's main process, which answers for it (cluster_launcher.py asks it)
WORKER_MAIN_PID_TAG = "reassort/worker_main_pid"
CODE_VERSION_TAG = "reassort/code_version"
INFO_COMMAND = "reassort_worker_info"
#: where deploy --check leaves the marker a worker must see (inside the warehouse)
MARKER_DIR = "_cluster"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: imported by the main process before it forks a run's process (seconds of imports each)
PRELOAD = ("polars", "duckdb", "pyarrow", "numpy", "numba")


class NotAClusterInstance(RuntimeError):
    """DAGSTER_HOME's instance does not launch runs through Celery: nothing to work for."""


def launcher_app_args() -> dict[str, Any]:
    """The Celery settings of the instance's run launcher (broker, backend, queue, ...)."""
    with dg.DagsterInstance.get() as instance:
        launcher = instance.run_launcher
        if not isinstance(launcher, CeleryRunLauncher):
            raise NotAClusterInstance(
                f"the instance in {instance.root_directory} launches runs with {type(launcher).__name__}, "
                "not dagster-celery's CeleryRunLauncher: write a cluster dagster.yaml first (reassort deploy --init)"
            )
        return launcher.app_args()


def worker_tags(hostname: str) -> dict[str, str]:
    """Not orphan_runs' host/pid tags: a worker's runs are watched by run monitoring (which
    resumes them elsewhere), not by `reassort run`'s check for dead processes of its host."""
    return {
        WORKER_TAG: hostname,
        WORKER_PID_TAG: str(os.getpid()),
        WORKER_MAIN_PID_TAG: str(os.getppid()),
        CODE_VERSION_TAG: code_version(),
    }


def _record_worker(instance: dg.DagsterInstance, run_id: str, hostname: str) -> None:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return
    instance.add_run_tags(run_id, worker_tags(hostname))
    instance.report_engine_event(
        f"Run taken by Celery worker {hostname} (pid {os.getpid()} on {socket.gethostname()}, code {code_version()})",
        run,
        cls=CeleryRunLauncher,
    )


def _ignore(_event: object) -> None:
    pass


def marker_path(warehouse: Path, token: str) -> Path:
    """The marker file `reassort deploy --check` writes and every worker must read."""
    return warehouse / MARKER_DIR / f"marker-{token}.txt"


def worker_info(marker: str | None = None) -> dict[str, Any]:
    """What `reassort_worker_info` answers (see the module's docstring)."""
    warehouse = project_paths.warehouse_path()
    seen = None
    if marker and _TOKEN.match(marker):
        path = marker_path(warehouse, marker)
        seen = path.read_text().strip() if path.is_file() else None
    return {
        "code_version": code_version(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "dagster_home": os.environ.get("DAGSTER_HOME", ""),
        "data_dir": str(project_paths.data_dir()),
        "warehouse": str(warehouse),
        "marker": seen,
    }


@inspect_command(name=INFO_COMMAND, args=[("marker", str)], signature="[marker]")
def reassort_worker_info(state, marker: str | None = None) -> dict[str, Any]:
    """Code version, paths and queues of this worker (reassort deploy --check)."""
    info = worker_info(marker)
    try:
        info["queues"] = sorted(queue.name for queue in state.consumer.task_consumer.queues)
    except AttributeError:  # a consumer not started yet
        info["queues"] = []
    return {"ok": info}


def build_app():
    app = make_app(launcher_app_args())
    app.conf.worker_max_tasks_per_child = 1
    # a worker takes a run only when it has a free process: a waiting run stays on the broker
    # for whichever worker frees up first, instead of waiting behind a busy one (Redis only)
    app.conf.worker_prefetch_multiplier = 1
    app.conf.worker_disable_prefetch = True

    @app.task(bind=True, name=TASK_EXECUTE_JOB_NAME, track_started=True)
    def execute_job(self, execute_job_args_packed) -> int:
        args = unpack_value(val=execute_job_args_packed, as_type=ExecuteRunArgs)
        with dg.DagsterInstance.get() as instance:
            _record_worker(instance, args.run_id, self.request.hostname or socket.gethostname())
            return _execute_run_command_body(
                instance=instance, run_id=args.run_id, write_stream_fn=_ignore, set_exit_code_on_failure=True
            )

    @app.task(bind=True, name=TASK_RESUME_JOB_NAME, track_started=True)
    def resume_job(self, resume_job_args_packed) -> int:
        args = unpack_value(val=resume_job_args_packed, as_type=ResumeRunArgs)
        with dg.DagsterInstance.get() as instance:
            _record_worker(instance, args.run_id, self.request.hostname or socket.gethostname())
            return _resume_run_command_body(
                instance=instance, run_id=args.run_id, write_stream_fn=_ignore, set_exit_code_on_failure=True
            )

    @app.task(bind=True, name=SHARD_TASK, ignore_result=True)
    def knapsack_shard(self, relative: str, index: int) -> bool:
        """Shard `index` of a sharded knapsack step (defs/knapsack/shard_dispatch.py), if the
        step (or another worker) has not taken it yet; the folder resolved in this worker's
        warehouse. A folder already gone (the step finished without it) is nothing to do."""
        try:
            folder = shard_exchange.resolve(project_paths.warehouse_path(), relative)
            return shard_exchange.take_and_solve(folder, index, self.request.hostname or socket.gethostname())
        except shard_exchange.ShardGone:
            return False

    return app


def preload() -> None:
    for module in PRELOAD:
        importlib.import_module(module)


_app = None


def __getattr__(name: str):
    """`app`, built on first use: the worker's main process (`python -m celery -A
    orchestrator_assets.celery_worker worker`) asks for it, then forks the processes that
    execute the runs; anything else importing this module (deploy_checks) builds nothing."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        code_version()  # the version of the code as the worker starts, before anything changes on disk
        preload()
        _app = build_app()
    return _app
