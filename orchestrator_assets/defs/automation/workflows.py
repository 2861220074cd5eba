"""Declarative workflows: named jobs an operator writes in YAML, without Python.

The file (REASSORT_WORKFLOWS, default <project>/workflows.yaml; no file = no workflow):

    workflows:
      URGENCE_RAPIDE:
        description: Fast urgent pass, greedy allocation on a 14-day horizon
        modules: [ingest, stock, urgence, knapsack]
        parameters:
          stock.horizon_days: 14
          knapsack.strategy: greedy
        schedule: {cron: "0 12 * * 1-5", timezone: Europe/Paris}
      FIBRE_SEUL:
        modules: [stock, urgence, knapsack]
        parameters:
          knapsack.categories: [FIBRE]
          knapsack.time_limit_s: ${REASSORT_FIBRE_TIME_LIMIT:-5}

Each workflow becomes a daily-partitioned Dagster job `workflow_<NAME>` over the asset
groups of its modules, with its parameters as the job's run config (the same names and
validation as `reassort run --set`), and, with `schedule`, a schedule that runs the day
before at each tick. `${VAR}` and `${VAR:-default}` are replaced from the environment
(a value that is only a variable keeps the variable's YAML type: `${N}` with N=5 is 5).
Any mistake fails the code location's load with the workflow, the key and the line.
`scenario:` says where the workflow's module tables go: by default a what-if scenario named
after the workflow (its runs never replace the official plan; docs/scenarios.md), or
`base` to make the workflow replace the official plan on purpose.

Hostile or broken documents are refused before they are composed, each with the file and
line: more than MAX_BYTES (64 KiB; a real file is a few KB), nesting deeper than MAX_DEPTH
(20), anchors and aliases (`&a` / `*a`, hence also `<<` merge keys: a nested-alias "YAML
bomb" expands to billions of nodes from a few hundred bytes and hung `reassort plan`), and
explicit tags other than YAML's plain types (`!!python/...`). A `${VAR}` value that is
parsed as YAML goes through the same checks.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import yaml
from dagster._utils.schedules import is_valid_cron_string

from orchestrator_assets import project_paths
from orchestrator_assets.partition_deadline import FRESHNESS_CHECK_KEY
from orchestrator_assets.run_parameters import ParameterError, overrides_from_mapping, run_config_for
from orchestrator_assets.scenarios import BASE, SCENARIO_TAG, check_scenario_name

MODULES = ("ingest", "stock", "urgence", "knapsack")  # daily modules, in pipeline order
KEYS = {"description", "modules", "parameters", "schedule", "scenario"}
SCHEDULE_KEYS = {"cron", "timezone"}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_BYTES = 64 * 1024
MAX_DEPTH = 20
PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")}


class WorkflowError(ValueError):
    """An invalid workflows file; the message names the file, workflow, key and line."""


@dataclass(frozen=True)
class Workflow:
    name: str
    modules: tuple[str, ...]
    overrides: dict[str, dict[str, object]]
    description: str = ""
    cron: str | None = None
    timezone: str = "Europe/Paris"
    line: int = 0
    parameters: dict[str, object] = field(default_factory=dict)
    #: where its module tables go: a what-if scenario (default: the workflow's name), or
    #: "base" to replace the official plan (docs/scenarios.md)
    scenario: str = ""

    @property
    def job_name(self) -> str:
        return f"workflow_{self.name}"

    @property
    def run_tags(self) -> dict[str, str]:
        tags = {"reassort/workflow": self.name}
        if self.scenario and self.scenario != BASE:
            tags[SCENARIO_TAG] = self.scenario
        return tags


def workflows_path() -> Path:
    return Path(os.environ.get("REASSORT_WORKFLOWS", project_paths.PROJECT_ROOT / "workflows.yaml"))


def check_document(text: str, source: str) -> None:
    """Refuse, with the file and line, what could make composing the document explode:
    size, depth, anchors / aliases, and non-plain tags (module docstring). Reads the
    parser's events only, which costs time proportional to the (bounded) text."""
    size = len(text.encode())
    if size > MAX_BYTES:
        raise WorkflowError(f"{source}: {size} bytes, more than the {MAX_BYTES} a workflows file may have")
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            where = f"{source}, line {event.start_mark.line + 1}, column {event.start_mark.column + 1}"
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise WorkflowError(f"{where}: YAML anchors and aliases (&name, *name, << merges) are not allowed; write the values out")
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in PLAIN_TAGS and tag != "!":
                raise WorkflowError(f"{where}: YAML tag {tag!r} is not allowed (plain values only)")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise WorkflowError(f"{where}: nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as error:
        raise WorkflowError(f"{source}: not valid YAML: {error}") from error


def _load_value(text: str, where: str) -> object:
    """A `${VAR}` value read as YAML, under the same checks as the file."""
    check_document(text, where)
    return yaml.safe_load(text)


def _substitute(node: yaml.ScalarNode, where: str) -> object:
    text = node.value

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise WorkflowError(f"{where}: environment variable {name} is not set (and no ${{{name}:-default}})")

    if node.tag == "tag:yaml.org,2002:str" and _VARIABLE.search(text):
        replaced = _VARIABLE.sub(replace, text)
        if _VARIABLE.fullmatch(text):
            return _load_value(replaced, where) if replaced else ""
        return replaced
    return yaml.safe_load(yaml.serialize(node)) if node.tag != "tag:yaml.org,2002:str" else text


def _value(node: yaml.Node, where: str) -> object:
    """A YAML node as Python values, with ${VAR} substituted in scalars."""
    if isinstance(node, yaml.ScalarNode):
        return _substitute(node, where)
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, where) for item in node.value]
    return {key.value: _value(value, where) for key, value in node.value}


def _mapping(node: yaml.Node, where: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise WorkflowError(f"{where}, line {node.start_mark.line + 1}: expected a mapping")
    return node.value


def parse_workflows(text: str, source: str = "workflows.yaml") -> list[Workflow]:
    check_document(text, source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise WorkflowError(f"{source}: not valid YAML: {error}") from error
    if root is None:
        return []
    top = dict((key.value, value) for key, value in _mapping(root, source))
    if set(top) - {"workflows"} or "workflows" not in top:
        raise WorkflowError(f"{source}, line {root.start_mark.line + 1}: expected a single top-level key 'workflows'")
    workflows = []
    for name_node, body in _mapping(top["workflows"], f"{source}: workflows"):
        name = name_node.value
        line = name_node.start_mark.line + 1
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise WorkflowError(f"{source}, workflow {name!r}, line {line}: name must be letters, digits and _")
        entries = {key.value: (key, value) for key, value in _mapping(body, f"{source}, workflow {name}")}
        for key, (key_node, _) in entries.items():
            if key not in KEYS:
                raise WorkflowError(
                    f"{source}, workflow {name}, key {key!r}, line {key_node.start_mark.line + 1}: unknown key "
                    f"(valid: {', '.join(sorted(KEYS))})"
                )

        def where(key: str, name: str = name, entries: dict[str, tuple[yaml.ScalarNode, yaml.Node]] = entries) -> str:
            return f"{source}, workflow {name}, key {key!r}, line {entries[key][1].start_mark.line + 1}"

        modules = _value(entries["modules"][1], where("modules")) if "modules" in entries else list(MODULES)
        if not isinstance(modules, list) or not modules or any(m not in MODULES for m in modules):
            raise WorkflowError(f"{where('modules')}: modules must be a non-empty list among {', '.join(MODULES)}, got {modules!r}")
        parameters = _value(entries["parameters"][1], where("parameters")) if "parameters" in entries else {}
        if not isinstance(parameters, dict):
            raise WorkflowError(f"{where('parameters')}: expected a mapping of group.param: value")
        try:
            overrides = overrides_from_mapping(parameters)
        except ParameterError as error:
            raise WorkflowError(f"{where('parameters')}: {str(error).splitlines()[0]}") from error
        cron, timezone = None, "Europe/Paris"
        if "schedule" in entries:
            schedule = _value(entries["schedule"][1], where("schedule"))
            if not isinstance(schedule, dict) or set(schedule) - SCHEDULE_KEYS or "cron" not in schedule:
                raise WorkflowError(f"{where('schedule')}: expected {{cron: '...', timezone: '...'}}")
            cron, timezone = str(schedule["cron"]), str(schedule.get("timezone", timezone))
            if not is_valid_cron_string(cron):
                raise WorkflowError(f"{where('schedule')}: invalid cron {cron!r}")
            try:
                from zoneinfo import ZoneInfo

                ZoneInfo(timezone)
            except Exception as error:
                raise WorkflowError(f"{where('schedule')}: unknown timezone {timezone!r}") from error
        description = str(_value(entries["description"][1], where("description"))) if "description" in entries else ""
        scenario = str(_value(entries["scenario"][1], where("scenario"))) if "scenario" in entries else name
        if scenario != BASE:
            try:
                check_scenario_name(scenario)
            except ValueError as error:
                raise WorkflowError(f"{where('scenario')}: {error} (or 'base' to replace the official plan)") from error
        workflows.append(
            Workflow(
                name, tuple(m for m in MODULES if m in modules), overrides, description, cron, timezone, line,
                parameters, scenario,
            )
        )
    return workflows


def load_workflows(path: Path | None = None) -> list[Workflow]:
    path = path or workflows_path()
    if not path.exists():
        return []
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)  # never more: a huge (or endless) file is refused unread
    if len(data) > MAX_BYTES:
        raise WorkflowError(f"{path}: more than the {MAX_BYTES} bytes a workflows file may have")
    try:
        text = data.decode()
    except UnicodeDecodeError as error:
        raise WorkflowError(f"{path}: not UTF-8 text ({error})") from error
    return parse_workflows(text, str(path))


def build_workflow_definitions(
    workflows: list[Workflow], assets: list[dg.AssetsDefinition], partitions_def: dg.PartitionsDefinition
) -> tuple[list, list[dg.ScheduleDefinition]]:
    from orchestrator_assets.defs.automation.schedules import previous_day_schedule

    jobs, schedules = [], []
    for workflow in workflows:
        selected = [a for a in assets if any(a.specs_by_key[k].group_name in workflow.modules for k in a.keys)]
        job = dg.define_asset_job(
            workflow.job_name,
            selection=dg.AssetSelection.assets(*selected) - dg.AssetSelection.checks(FRESHNESS_CHECK_KEY),
            partitions_def=partitions_def,
            config=run_config_for(workflow.overrides, selected) or None,
            description=workflow.description or f"Declared in workflows.yaml: modules {', '.join(workflow.modules)}",
            tags=workflow.run_tags,
        )
        jobs.append(job)
        if workflow.cron:
            schedules.append(
                previous_day_schedule(f"{workflow.job_name}_schedule", workflow.cron, workflow.timezone, workflow.job_name)
            )
    return jobs, schedules
