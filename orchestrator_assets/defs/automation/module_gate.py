"""The modules of a run as its executor sees them: which run, which are skipped and why,
which may fail without failing the run, and whether the run meets its success criteria.

Every run passes through the code location's executor (publishing_executor.py), which hands
its plan and its step events to `RunModules`:

- At the start, each module's `condition` (run tag `reassort/module/<m>`, conditions.py) is
  evaluated on the partition's facts, the workflow's variables (defaults, or the run's
  `reassort/var/<name>` tags) and the parameters of the run's config. A module whose
  condition is false is skipped, and so is every step that needs its output, transitively
  (the modules downstream are skipped with the reason "needs X"). Skipped steps get Dagster's
  own STEP_SKIPPED event (grey "skipped" in the UI's run view, with the reason in their log)
  and the run executes the remaining plan. A condition that cannot be evaluated (a malformed
  tag, a variable value of the wrong type) fails the run before any step, with the reason.
- During the run, a step's final failure (after its retries) fails its module. A critical
  module's failure goes on to Dagster as usual and fails the run. A non-critical module's
  failure (`critical: false`) is logged and recorded in the event log as the step's failure
  (red in the UI), but not passed on to the run's outcome: the steps that need its outputs
  are left unrun by Dagster ("Dependencies for step ... failed"), their modules are reported
  skipped ("needs X, which failed"), and the module's tables are left out of the publication
  (even those its other steps wrote: a module is published whole or not at all).
- At the end, each module is completed (every step it ran succeeded), failed or skipped,
  the run gets tags `reassort/modules_completed|failed|skipped` (visible and filterable in
  the UI's run list) and a summary line, and the workflow's success criteria
  (required modules, minimum completed) are judged: a run that misses them fails and
  publishes nothing.

Module lifecycle lines and opt-in webhook events: module_events.py. A run that is not a
workflow's (the daily job) has no conditions and only critical modules: it runs as before,
with the lifecycle lines added.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.system_config.objects import ResolvedRunConfig

from orchestrator_assets.asset_conventions import CONFIG_TAG
from orchestrator_assets.defs.automation.conditions import Condition, ConditionError, parse_condition
from orchestrator_assets.defs.automation.module_events import ModuleEvents
from orchestrator_assets.defs.automation.partition_facts import partition_facts
from orchestrator_assets.defs.automation.workflow_options import OptionsError, RunOptions, run_options_from_tags
from orchestrator_assets.run_parameters import PARAMETER_GROUPS, group_values
from orchestrator_assets.scenarios import scenario_of
from orchestrator_assets.step_failures import step_failure_message
from orchestrator_assets.warehouse import Warehouse, table_name

COMPLETED, FAILED, SKIPPED = "completed", "failed", "skipped"
#: the order modules are listed in (tags, summaries): the pipeline's
PIPELINE_ORDER = ("ingest", "stock", "urgence", "knapsack", "report", "export", "kpi")
STATUS_TAG_PREFIX = "reassort/modules_"


class WorkflowRunError(dg.DagsterError):
    """A workflow run that cannot start (its conditions cannot be evaluated) or missed its
    success criteria: the run fails with this message."""


@dataclass
class ModuleState:
    name: str
    critical: bool
    steps: set[str]
    pending: set[str] = field(default_factory=set)
    status: str | None = None
    reason: str = ""
    started_at: float | None = None
    succeeded: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def step_module(layer, step) -> str | None:
    """The module (asset group) a step computes or checks."""
    for key in sorted(layer.get_selected_entity_keys_for_node(step.node_handle), key=str):
        asset_key = key if isinstance(key, dg.AssetKey) else key.asset_key
        try:
            group = layer.asset_graph.assets_def_for_key(asset_key).group_names_by_key.get(asset_key)
        except (KeyError, dg.DagsterInvariantViolationError):  # an asset outside the job
            continue
        if group:
            return group
    return None


def _orchestration_context(context: PlanOrchestrationContext, plan: ExecutionPlan) -> PlanOrchestrationContext:
    """The run's orchestration context over a smaller plan: Dagster's in-process executor
    reads the plan from the context, not from its argument."""
    return PlanOrchestrationContext(
        plan_data=context.plan_data._replace(execution_plan=plan),
        log_manager=context.log,
        executor=context.executor,
        output_capture=context.output_capture,
        resume_from_failure=context.resume_from_failure,
    )


class RunModules:
    """One run's modules: what to skip at the start, what a failure means, what to publish."""

    def __init__(self, root: Path, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan):
        self._root = root
        self._context = plan_context
        self._run = plan_context.dagster_run
        self.events = ModuleEvents(root, self._run, plan_context.log.info, plan_context.log.warning, plan_context.log.error)
        self._job = plan_context.job.get_definition()
        layer = self._job.asset_layer
        steps = list(execution_plan.get_steps_to_execute_in_topo_order())
        self._steps = {step.key: step for step in steps}
        self._module_of = {step.key: step_module(layer, step) for step in steps}
        self._upstream = {
            step.key: {key for step_input in step.step_inputs for key in step_input.dependency_keys} for step in steps
        }
        self._tables: dict[str, set[str]] = {}
        for step in steps:
            module = self._module_of[step.key]
            if module is not None:
                for key in layer.get_selected_entity_keys_for_node(step.node_handle):
                    if isinstance(key, dg.AssetKey):
                        self._tables.setdefault(module, set()).add(table_name(key))
        try:
            self.options: RunOptions = run_options_from_tags(self._run.tags)
            self.options.variable_values()  # a variable tag with an unknown name or a bad value: refused now
        except OptionsError as error:
            raise WorkflowRunError(str(error)) from None
        self.modules: dict[str, ModuleState] = {}
        for step in steps:
            module = self._module_of[step.key]
            if module is None:
                continue
            state = self.modules.setdefault(module, ModuleState(module, self.options.options(module).critical, set()))
            state.steps.add(step.key)
            state.pending.add(step.key)
        order = {module: index for index, module in enumerate(PIPELINE_ORDER)}
        self.modules = dict(sorted(self.modules.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))
        self._skipped_steps: dict[str, str] = {}
        self._skip_by_condition(execution_plan)
        self.plan = execution_plan
        self.context = plan_context
        if self._skipped_steps:
            kept = [key for key in execution_plan.step_keys_to_execute if key not in self._skipped_steps]
            self.plan = execution_plan.build_subset_plan(
                kept, self._job, ResolvedRunConfig.build(self._job, plan_context.run_config)
            )
            self.context = _orchestration_context(plan_context, self.plan)

    # ------------------------------------------------------------------ start
    def _conditions(self) -> dict[str, Condition]:
        from orchestrator_assets.defs.automation.workflows import condition_types

        types = condition_types(self.options.variables)
        conditions = {}
        for module in self.modules:
            text = self.options.options(module).condition
            if text:
                try:
                    conditions[module] = parse_condition(text, types)
                except ConditionError as error:
                    raise WorkflowRunError(f"module {module}: {error}") from None
        return conditions

    def condition_values(self, names: set[str]) -> dict[str, object]:
        """Facts of the run's partition, variables and parameters: the values conditions read."""
        tags = self._run.tags
        key = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_end")
        values: dict[str, object] = {}
        if key:
            warehouse = Warehouse(path=str(self._root)).for_scenario(scenario_of(self._run))
            values.update(partition_facts(date.fromisoformat(key), warehouse, names))
        try:
            values.update(self.options.variable_values())
        except OptionsError as error:
            raise WorkflowRunError(str(error)) from None
        values.update(self._parameter_values())
        return values

    def _parameter_values(self) -> dict[str, object]:
        """group.name -> the value the run's steps get: the run config's, else the default."""
        values: dict[str, object] = {}
        for group, config in PARAMETER_GROUPS.items():
            for name, info in config.model_fields.items():
                values[f"{group}.{name}"] = info.default if info.default_factory is None else info.default_factory()  # type: ignore[call-arg]
        groups_of_ops = {}
        for assets_def in self._job.asset_layer.asset_graph.assets_defs:
            if not assets_def.is_executable:  # an input from outside the job: no op
                continue
            groups = {(tags or {}).get(CONFIG_TAG) for tags in assets_def.tags_by_key.values()}
            groups.add((assets_def.op.tags or {}).get(CONFIG_TAG))
            groups_of_ops[assets_def.op.name] = next((g for g in groups if g in PARAMETER_GROUPS), None)
        values.update(group_values(self._context.run_config, groups_of_ops))
        return values

    def _skip_by_condition(self, execution_plan: ExecutionPlan) -> None:
        """Skip the modules whose condition is false, then, to a fixed point, every module with
        a step that needs a skipped step: a module runs whole or not at all."""
        conditions = self._conditions()
        if not conditions:
            return
        values = self.condition_values({name for condition in conditions.values() for name in condition.names})
        roots: dict[str, str] = {}
        for module, condition in conditions.items():
            try:
                holds = condition.evaluate(values)
            except ConditionError as error:
                raise WorkflowRunError(f"module {module}: {error}") from None
            if not holds:
                shown = ", ".join(f"{name}={values.get(name)!r}" for name in sorted(condition.names))
                roots[module] = f"condition `{condition.text}` is false ({shown})"
        skipped = set(roots)
        causes: dict[str, set[str]] = {}
        while True:
            skipped_steps = {key for module in skipped for key in self.modules[module].steps}
            newly = {}
            for key in execution_plan.step_keys_to_execute:
                module = self._module_of.get(key)
                if module is None or module in skipped:
                    continue
                upstream = {self._module_of.get(up) for up in self._upstream.get(key, ()) if up in skipped_steps}
                if upstream:
                    newly.setdefault(module, set()).update(m for m in upstream if m)
            if not newly:
                break
            for module, needs in newly.items():
                causes.setdefault(module, set()).update(needs)
            skipped |= set(newly)

        def root_causes(module: str) -> set[str]:
            if module in roots:
                return {module}
            return {root for cause in causes.get(module, ()) for root in root_causes(cause)}

        for module in self.modules:  # pipeline order
            if module not in skipped:
                continue
            if module in roots:
                reason = roots[module]
            else:
                needs = sorted(causes[module])
                why = "; ".join(f"{root}: {roots[root]}" for root in sorted(root_causes(module)))
                reason = f"needs {', '.join(needs)}, which {'was' if len(needs) == 1 else 'were'} skipped ({why})"
            for key in self.modules[module].steps:
                self._skipped_steps[key] = reason
            self._mark(module, SKIPPED, reason)

    def _mark(self, module: str, status: str, reason: str = "") -> None:
        state = self.modules[module]
        state.status, state.reason = status, reason
        if status == SKIPPED:
            self.events.skipped(module, reason)

    def skipped_step_events(self) -> Iterator[DagsterEvent]:
        """Dagster's STEP_SKIPPED for each step left out at the start, with its reason logged."""
        for key in self._steps:  # upstream first
            if key not in self._skipped_steps:
                continue
            reason = self._skipped_steps[key]
            step_context = self._context.for_step(self._steps[key])
            step_context.log.info(f"step {key} skipped: {reason}")
            yield DagsterEvent.step_skipped_event(step_context)

    # ------------------------------------------------------------------ during
    def observe(self, event: DagsterEvent) -> bool:
        """Follow one step event; False when it must not reach the run's outcome (the final
        failure of a non-critical module's step: logged and recorded, not the run's)."""
        key = event.step_key
        module = self._module_of.get(key) if key else None
        state = self.modules.get(module) if module else None
        if state is None:
            return True
        kind = event.event_type
        if kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED) and state.started_at is None:
            state.started_at = time.time()
            self.events.started(module, len(state.steps))  # type: ignore[arg-type]
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_SKIPPED):
            state.pending.discard(key)  # type: ignore[arg-type]
            state.succeeded += kind == DagsterEventType.STEP_SUCCESS
            if not state.pending and state.status is None:
                self._settle(state)
        elif kind == DagsterEventType.STEP_FAILURE:
            state.pending.discard(key)  # type: ignore[arg-type]
            state.failures.append((key, step_failure_message(event.step_failure_data)))  # type: ignore[arg-type]
            if state.status != FAILED:
                state.status = FAILED
                self.events.failed(module, state.critical, state.failures)  # type: ignore[arg-type]
            return state.critical
        return True

    def _settle(self, state: ModuleState) -> None:
        if state.succeeded:
            state.status = COMPLETED
            self.events.completed(state.name, time.time() - (state.started_at or time.time()), state.succeeded)
        else:
            self._mark(state.name, SKIPPED, "none of its steps ran: their inputs were not produced")

    # ------------------------------------------------------------------ end
    def finish(self) -> None:
        """Settle the modules still open (steps Dagster left unrun after a failure), tag the run
        with each module's outcome and log a summary."""
        for module, state in self.modules.items():
            if state.status is not None:
                continue
            unrun = sorted(state.pending)
            causes = sorted(
                {
                    self._module_of[up] or up
                    for key in unrun
                    for up in self._upstream.get(key, ())
                    if self._module_of.get(up) != module and self._status_of(up) in (FAILED, SKIPPED)
                }
            )
            failed = [cause for cause in causes if cause in self.modules and self.modules[cause].status == FAILED]
            if causes:
                reason = f"needs {', '.join(causes)}, which " + ("failed" if failed else "was skipped")
            else:
                reason = f"steps not run: {', '.join(unrun)}"
            if state.started_at is not None:
                reason += f" (its other steps ran; its tables are not published: steps not run: {', '.join(unrun)})"
            self._mark(module, SKIPPED, reason)
        outcome = {status: [m for m, s in self.modules.items() if s.status == status] for status in (COMPLETED, FAILED, SKIPPED)}
        try:
            self._context.instance.add_run_tags(
                self._run.run_id, {f"{STATUS_TAG_PREFIX}{status}": ",".join(names) or "-" for status, names in outcome.items()}
            )
        except Exception as error:  # noqa: BLE001 - a tag is a courtesy; the log line below says the same
            self._context.log.warning(f"module outcome tags not added: {error}")
        if self.modules:
            self._context.log.info(
                "modules: "
                + "; ".join(
                    f"{name} {state.status}" + (f" ({state.reason})" if state.reason else "")
                    + ("" if state.critical or state.status != FAILED else " (not critical)")
                    for name, state in self.modules.items()
                )
            )

    def _status_of(self, step_key: str) -> str | None:
        module = self._module_of.get(step_key)
        return self.modules[module].status if module in self.modules else None

    def criteria_problems(self) -> list[str]:
        """Why the run misses its success criteria ([] when it meets them, or has none)."""
        completed = {name for name, state in self.modules.items() if state.status == COMPLETED}
        return self.options.criteria.problems(completed)

    @property
    def unpublished_tables(self) -> frozenset[str]:
        """Tables of the modules that failed without failing the run, or were skipped after
        some of their steps ran: a module is published whole or not at all."""
        return frozenset(
            table
            for name, state in self.modules.items()
            if state.status in (FAILED, SKIPPED)
            for table in self._tables.get(name, ())
        )
