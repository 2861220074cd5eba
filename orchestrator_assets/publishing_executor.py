"""The run's executor, which publishes the run's tables when, and only when, it succeeds.

Every run of the code location, however it was launched (CLI, UI, schedule, sensor,
GraphQL, a Celery worker), executes its plan through the job's executor, in the run's own
process; so the executor is the one place that sees the end of every run. It wraps
Dagster's `multi_or_in_process_executor` (same configuration, same behaviour) and, after
the last step, publishes the files the run wrote (and those of the run it re-executes) if
no step failed. A failed blocking check fails its step (Dagster raises on it), so a run
whose blocking checks failed publishes nothing. A killed run never reaches this point.

A run that solves a knapsack on a machine whose numba cache lacks its kernels starts their
compilation beside it here (kernel_warmup_process.py).

Being the one place every run passes through, it also sends the run's alert events
(defs/automation/run_alerts.py): run_started before the first step, then run_failed, or,
after publication, critique_a per partition concerned and run_succeeded. And it applies a
workflow's module options (defs/automation/module_gate.py): modules skipped by their
condition, non-critical failures that do not fail the run (their tables left unpublished),
success criteria, and each module's lifecycle in the run log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.executor.base import Executor

from orchestrator_assets.defs.automation import run_alerts
from orchestrator_assets.defs.automation.module_gate import RunModules, WorkflowRunError
from orchestrator_assets.defs.knapsack.config import KNAPSACK_OP
from orchestrator_assets.kernel_warmup_process import start_if_cold
from orchestrator_assets.publication import publish
from orchestrator_assets.scenarios import scenario_of, scenario_root
from orchestrator_assets.step_failures import step_failure_message
from orchestrator_assets.table_files import UnitFile, run_files
from orchestrator_assets.warehouse import run_chain

_INNER = dg.multi_or_in_process_executor


def publish_run(
    root: Path, instance: dg.DagsterInstance | None, run_id: str, leave_out: frozenset[str] = frozenset()
) -> tuple[list[UnitFile], list[str]]:
    """Publish what a successful run wrote, with what the runs it re-executes wrote first
    (theirs are older; the run's own files win), except the tables in `leave_out`. Returns
    the files and the partitions."""
    files = [
        unit_file
        for chained in run_chain(instance, run_id)
        for unit_file in run_files(root, chained)
        if unit_file.table not in leave_out
    ]
    return files, publish(root, files)


#: steps that write outside the warehouse (the day's report page, the ERP files): a what-if
#: scenario must not replace the official ones, so its runs leave them out
_OFFICIAL_ONLY_STEPS = ("report__", "export__")


def refuse_scenario_outputs(run: dg.DagsterRun, step_keys: list[str]) -> None:
    """A scenario run that would write the day's report or ERP files fails before any step."""
    scenario = scenario_of(run)
    official = [key for key in step_keys if key.startswith(_OFFICIAL_ONLY_STEPS)]
    if scenario and official:
        raise dg.DagsterInvariantViolationError(
            f"scenario {scenario!r}: a what-if run computes tables only; {', '.join(official)} would replace the "
            "official report or ERP files. Select the stock, urgence and knapsack assets (reassort run --scenario does)."
        )


class PublishingExecutor(Executor):
    def __init__(self, inner: Executor, warehouse_root: Path):
        self._inner = inner
        self._root = warehouse_root

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        run = plan_context.dagster_run
        refuse_scenario_outputs(run, execution_plan.step_keys_to_execute)
        run_started = time.perf_counter()
        if KNAPSACK_OP in execution_plan.step_keys_to_execute and start_if_cold():
            plan_context.log.info("numba's cache lacks the knapsack's kernels: compiling them beside the run")
        run_alerts.run_started(self._root, run, plan_context.log.info)
        try:
            modules = RunModules(self._root, plan_context, execution_plan)
        except WorkflowRunError as error:
            run_alerts.run_failed(self._root, run, [], plan_context.log.info, f"the run cannot start: {error}")
            raise
        yield from modules.skipped_step_events()
        failed_steps: list[tuple[str, str]] = []
        for event in self._inner.execute(modules.context, modules.plan):
            if not modules.observe(event):
                continue  # a non-critical module's failure: in the event log, not the run's outcome
            if event.event_type == DagsterEventType.STEP_FAILURE:
                failed_steps.append((event.step_key or "?", step_failure_message(event.step_failure_data)))
            yield event
        modules.finish()
        if failed_steps:
            plan_context.log.warning(
                f"run {run.run_id} had a failed step: its tables are not published (readers keep the previous run's)"
            )
            run_alerts.run_failed(self._root, run, failed_steps, plan_context.log.info)
            return
        problems = modules.criteria_problems()
        if problems:
            message = f"success criteria not met: {'; '.join(problems)}; the run's tables are not published"
            run_alerts.run_failed(self._root, run, [], plan_context.log.info, message)
            raise WorkflowRunError(message)
        started = time.perf_counter()
        leave_out = modules.unpublished_tables
        files, partitions = publish_run(self._root, plan_context.instance, run.run_id, leave_out)
        scenario = scenario_of(run)
        if scenario:  # its module tables, in the scenario's own folder
            own_files, own_partitions = publish_run(
                scenario_root(self._root, scenario), plan_context.instance, run.run_id, leave_out
            )
            files, partitions = [*files, *own_files], sorted({*partitions, *own_partitions})
        if partitions:
            plan_context.log.info(
                f"published {len(files)} table files of {len(partitions)} partition(s) "
                f"({partitions[0]} .. {partitions[-1]}) in {time.perf_counter() - started:.3f} s"
            )
        run_alerts.run_succeeded(
            self._root, plan_context.instance, run, time.perf_counter() - run_started, plan_context.log.info
        )


def publishing_executor(warehouse_root: Path) -> dg.ExecutorDefinition:
    """Dagster's default executor, publishing into `warehouse_root` at the end of a good run."""

    def create(init_context: dg.InitExecutorContext) -> Executor:
        return PublishingExecutor(_INNER.executor_creation_fn(init_context), warehouse_root)

    return dg.ExecutorDefinition(
        name=_INNER.name,
        config_schema=_INNER.config_schema,
        requirements=_INNER._requirements_fn,  # the inner executor's: multiprocess needs persistent storage
        executor_creation_fn=create,
        description="multi_or_in_process_executor that publishes the run's tables when every step succeeded.",
    )
