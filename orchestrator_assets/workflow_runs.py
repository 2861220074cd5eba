"""The run engine behind `reassort run --workflow NAME`: a workflow's job through Dagster.

Like partition_runs.run_partitions for the daily job: one run per date, in order, in the
project's instance (so runs show in the UI), in process by default; the run is the
workflow's own job `workflow_<NAME>`, with its tags (module options, variables, criteria,
scenario, priority) and the variables given at launch (`--var name=value`, tags
`reassort/var/<name>`). Variable values and parameters are checked before anything runs.
After each run: its modules' outcome (skipped and failed ones with their reason) and, for a
failed run, why.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from orchestrator_assets import project_paths
from orchestrator_assets.partition_runs import fail_and_report_orphans, prepare_environment, run_days

if TYPE_CHECKING:
    import dagster as dg


class WorkflowLaunchError(ValueError):
    """A launch refused before anything runs: unknown workflow or variable, bad value."""


def workflow_job(name: str) -> dg.JobDefinition:
    """The workflow's job rebuilt from the environment: the reconstructable entry point the
    CLI launches workflow runs through (step processes rebuild the job from it)."""
    from orchestrator_assets.definitions import current_definitions
    from orchestrator_assets.defs.automation.workflows import job_name_of

    return current_definitions().resolve_job_def(job_name_of(name))


def merged_overrides(
    base: Mapping[str, Mapping[str, object]], extra: Mapping[str, Mapping[str, object]]
) -> dict[str, dict[str, object]]:
    """The workflow's parameters with `--set` values over them."""
    merged = {group: dict(values) for group, values in base.items()}
    for group, values in extra.items():
        merged.setdefault(group, {}).update(values)
    return merged


def launch_plan(name: str, assignments: Mapping[str, str], overrides: Mapping[str, Mapping[str, object]]):
    """(workflow, run config ops, variable tags) for a launch, or WorkflowLaunchError."""
    from orchestrator_assets.defs.automation.workflow_options import OptionsError, launch_values, variable_tags
    from orchestrator_assets.defs.automation.workflows import load_workflows
    from orchestrator_assets.run_parameters import ParameterError, overrides_from_mapping

    workflows = {workflow.name: workflow for workflow in load_workflows()}
    if name not in workflows:
        raise WorkflowLaunchError(f"no workflow {name!r}; workflows: {', '.join(sorted(workflows)) or 'none'}")
    workflow = workflows[name]
    try:
        values = launch_values(workflow.variables, assignments)
        parameters = merged_overrides(workflow.overrides_for(values), overrides)
        flat = {f"{group}.{key}": value for group, group_values in parameters.items() for key, value in group_values.items()}
        parameters = overrides_from_mapping(flat)
    except (OptionsError, ParameterError) as error:
        raise WorkflowLaunchError(f"workflow {name}: {str(error).splitlines()[0]}") from None
    return workflow, parameters, variable_tags(assignments)


def workflow_ops_config(defs, workflow, parameters: Mapping[str, Mapping[str, object]]) -> dict:
    """{"ops": ..., "resources": ...}: each of the workflow job's ops given its module's
    parameters, and the validation resource its parameters when a step of the job checks."""
    from orchestrator_assets.defs.automation.workflows import workflow_assets
    from orchestrator_assets.run_parameters import run_config_for

    ops_in_job = set(defs.resolve_job_def(workflow.job_name).graph.node_dict)
    selected = [*workflow_assets(workflow, list(defs.assets or [])), *(defs.asset_checks or [])]
    config = run_config_for(parameters, selected)
    ops = {op: value for op, value in config.get("ops", {}).items() if op in ops_in_job}  # type: ignore[union-attr]
    return {"ops": ops, **({"resources": config["resources"]} if "resources" in config else {})}


def workflow_run_config(name: str, variables: Mapping[str, str]) -> dict:
    """The run config `reassort run --workflow NAME --var k=v` gives a run: the workflow's
    parameters with its variables filled in (`${vars.NAME}`), from the workflows file and
    code location this process sees. The client sends it with a workflow launch."""
    from orchestrator_assets.definitions import current_definitions

    workflow, parameters, _ = launch_plan(name, variables, {})
    return workflow_ops_config(current_definitions(), workflow, parameters)


def run_workflow(
    name: str,
    dates: Sequence[date],
    assignments: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, object]],
    log_level: str = "WARNING",
    fail_fast: bool = False,
    executor: str = "in_process",
) -> int:
    """Run workflow `name` for each date, in order; returns the number of failed runs."""
    import dagster as dg

    from orchestrator_assets.definitions import current_definitions
    from orchestrator_assets.jobs import execution_config

    prepare_environment()
    workflow, parameters, var_tags = launch_plan(name, assignments, overrides)
    defs = current_definitions()
    job_def = defs.resolve_job_def(workflow.job_name)
    known = set(job_def.partitions_def.get_partition_keys())
    missing = [day.isoformat() for day in dates if day.isoformat() not in known]
    if missing:
        keys = sorted(known)
        span = f"{keys[0]} .. {keys[-1]}" if keys else "none"
        raise WorkflowLaunchError(f"no daily partition for {', '.join(missing[:5])}; partitions available: {span}")
    run_config = workflow_ops_config(defs, workflow, parameters)
    run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    run_config.update(execution_config(executor))
    job = dg.build_reconstructable_job("orchestrator_assets.workflow_runs", "workflow_job", reconstructable_args=(workflow.name,))
    started_all = time.perf_counter()

    def outcome(instance: dg.DagsterInstance, result: dg.JobExecutionResult) -> None:
        print_module_outcome(instance, result.run_id)
        if not result.success:
            print_run_failure(instance, result.run_id)

    with dg.DagsterInstance.get() as instance:
        fail_and_report_orphans(instance)
        failures = run_days(
            job, instance, dates, run_config, None, {"reassort/launched_by": "cli", **var_tags},
            f" workflow {workflow.name}", fail_fast, after=outcome,
        )
    where = f"scenario {workflow.scenario}" if workflow.scenario != "base" else "the official plan"
    print(f"{len(dates) - failures} of {len(dates)} runs of workflow {workflow.name} ok in "
          f"{time.perf_counter() - started_all:.1f} s (tables in {where}; data folder {project_paths.data_dir()})")
    return failures


def module_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run log's module lines that are not plain progress: skipped and failed modules with
    their reason, and the run's summary (module_events.py, module_gate.py)."""
    lines = []
    for record in instance.all_logs(run_id):
        message = record.user_message or ""
        if message.startswith("module ") and (" skipped: " in message or " failed " in message):
            lines.append(message)
        elif message.startswith("modules: "):
            lines.append(message)
    return lines


def print_module_outcome(instance: dg.DagsterInstance, run_id: str) -> None:
    for line in module_lines(instance, run_id):
        print(f"    {line}", flush=True)


def print_run_failure(instance: dg.DagsterInstance, run_id: str) -> None:
    """Why a run failed when no step says it (it could not start, it missed its criteria)."""
    import dagster as dg

    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        data = record.dagster_event.event_specific_data if record.dagster_event else None
        error = getattr(data, "error", None)
        cause = error
        while cause is not None and getattr(cause, "cause", None) is not None and "WorkflowRunError" not in cause.cls_name:
            cause = cause.cause
        text = (cause.message if cause is not None else record.user_message).strip()
        print(f"    run: {text}", file=sys.stderr, flush=True)


def workflow_details(workflow) -> list[str]:
    """`reassort plan`'s lines for what workflows.yaml says beyond modules and parameters:
    metadata, priority, extends, module options, variables, success criteria."""
    lines = []
    metadata = workflow.metadata
    if metadata:
        lines.append("  metadata: " + ", ".join(f"{key} {metadata[key]!r}" for key in ("name", "version", "owner", "description") if key in metadata))
    if workflow.priority is not None:
        lines.append(f"  priority: {workflow.priority} (run tag dagster/priority: higher leaves the run queue first)")
    if workflow.extends:
        lines.append(f"  extends: {workflow.extends}")
    for module in workflow.modules:
        options = workflow.options(module)
        said = []
        if options.condition:
            said.append(f"runs when `{options.condition}`")
        said.append("critical" if options.critical else "not critical (continue_on_error)")
        if options.retries is not None:
            said.append(f"retries {options.retries[0]} (first delay {options.retries[1]:g} s)")
        if options.timeout_seconds is not None:
            said.append(f"time limit {options.timeout_seconds:g} s per step")
        lines.append(f"  module {module}: {', '.join(said)}")
    for module in workflow.disabled:
        lines.append(f"  module {module}: disabled (enabled: false)")
    for name, variable in workflow.variables.items():
        lines.append(f"  variable {name} ({variable.type}) = {variable.default!r} (reassort run --workflow {workflow.name} --var {name}=...)")
    criteria = workflow.criteria
    if criteria.required_modules or criteria.min_completed:
        lines.append(
            f"  success criteria: required modules {', '.join(criteria.required_modules) or 'none'}, "
            f"at least {criteria.min_completed} module(s) completed"
        )
    return lines
