"""Cluster mode's run launcher: dagster-celery's, plus a check that a run's worker is still there.

dagster-celery's CeleryRunLauncher tells the daemon's run monitoring how a run's worker is
doing from the Celery task's state in the result backend. That state covers a run whose
executing process died under a living worker (Celery records the task FAILED), but not a
worker that died whole (killed, its machine gone): nobody records anything, the task stays
STARTED and the run would stay started forever. So, while the task says STARTED, this
launcher also asks the worker that took the run (its name is the run's `reassort/worker`
tag, celery_worker.py) for its main process id: no answer, or another process under the
same name (a worker restarted with the same --name), `MAX_MISSED_PINGS` checks in a row,
and the worker is reported failed. A worker busy with a run still answers: its main
process only supervises the process that executes the run.

Run monitoring then resumes the run on another worker (`max_resume_run_attempts`,
cluster_config.py): the same run id, its finished steps kept, so a backfill waiting for it
sees it end well. (A failed run's automatic retry would be a new run, which Dagster 1.13
does not make when the backfill it belongs to has already been marked finished, and a job
backfill is marked finished as soon as its last run fails.) A resumed run's task waits in
the broker until a worker is free: PENDING counts as running here, where dagster-celery
says UNKNOWN, which run monitoring would take for a dead worker.

How soon: run monitoring checks every `poll_interval_seconds` of dagster.yaml (30 s by
default in cluster_config.py), so a dead worker's run is resumed after about 1.5 minutes.
"""

from __future__ import annotations

from dagster import _check as check
from dagster._core.launcher import CheckRunHealthResult, ResumeRunContext, WorkerStatus
from dagster._grpc.types import ResumeRunArgs
from dagster._serdes import pack_value
from dagster_celery.config import TASK_RESUME_JOB_NAME
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG
from dagster_celery.tasks import create_resume_job_task

from orchestrator_assets.celery_worker import INFO_COMMAND, WORKER_MAIN_PID_TAG, WORKER_TAG

MAX_MISSED_PINGS = 3
PING_TIMEOUT_S = 2.0


class ReassortCeleryRunLauncher(CeleryRunLauncher):
    """CeleryRunLauncher whose health check also fails a run whose worker stopped answering."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: consecutive unanswered pings per run (the monitoring daemon keeps this launcher)
        self._missed: dict[str, int] = {}

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id and self.celery.AsyncResult(task_id).state == "PENDING":
            # a resumed run's task waits in the broker for a free worker: that is not a failure
            # (dagster-celery says UNKNOWN, which run monitoring would count as one)
            return CheckRunHealthResult(WorkerStatus.RUNNING, "waiting in the broker for a free worker")
        health = super().check_run_worker_health(run)
        worker = run.tags.get(WORKER_TAG)
        if health.status != WorkerStatus.RUNNING or not worker:
            self._missed.pop(run.run_id, None)
            return health
        if self.worker_answers(worker, run.tags.get(WORKER_MAIN_PID_TAG)):
            self._missed.pop(run.run_id, None)
            return health
        missed = self._missed.get(run.run_id, 0) + 1
        self._missed[run.run_id] = missed
        if missed < MAX_MISSED_PINGS:
            return health
        self._missed.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"Celery worker {worker} has not answered {missed} health checks in a row: it is gone "
            "(killed, or its machine stopped)",
        )

    def resume_run(self, context: ResumeRunContext) -> None:
        """dagster-celery 0.29's own resume_run names the task's argument
        `execute_job_args_packed` where its resume task expects `resume_job_args_packed`:
        Celery refuses the call (TypeError) and the run is never resumed. The same, with the
        argument the task takes."""
        run = context.dagster_run
        args = ResumeRunArgs(
            job_origin=check.not_none(run.job_code_origin),
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
            set_exit_code_on_failure=True,
        )
        signature = create_resume_job_task(self.celery).si(resume_job_args_packed=pack_value(args))
        self._launch_celery_task_run(run=run, task_signature=signature, routing_key=TASK_RESUME_JOB_NAME)

    def worker_answers(self, worker: str, main_pid: str | None) -> bool:
        """The worker named `worker` answers, from the process that took the run."""
        inspector = self.celery.control.inspect(destination=[worker], timeout=PING_TIMEOUT_S)
        reply = (inspector._request(INFO_COMMAND) or {}).get(worker)
        info = reply.get("ok") if isinstance(reply, dict) else None
        if not isinstance(info, dict):
            return False
        return main_pid is None or str(info.get("pid")) == main_pid
