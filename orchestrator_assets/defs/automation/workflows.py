"""Declarative workflows: named jobs an operator writes in YAML, without Python.

The file (REASSORT_WORKFLOWS, default <project>/workflows.yaml; no file = no workflow; the
full reference with examples is docs/workflows.md):

    workflows:
      URGENCE_RAPIDE:
        description: Fast urgent pass, greedy allocation on a 14-day horizon
        metadata: {name: Urgence rapide, version: "2", owner: "team:planning"}
        priority: 10
        variables:
          min_critical: {type: int, default: 1}
        modules:
          ingest: {}
          stock: {timeout_seconds: 900}
          urgence: {max_retries: 2, retry_delay_seconds: 5}
          knapsack: {condition: "critique_a_previous >= min_critical", critical: false}
        success_criteria: {required_modules: [urgence]}
        parameters:
          stock.horizon_days: 14
          knapsack.strategy: greedy
        schedule: {cron: "0 12 * * 1-5", timezone: Europe/Paris}
      FIBRE_SEUL:
        modules: [stock, urgence, knapsack]
        parameters:
          knapsack.categories: [FIBRE]
          knapsack.time_limit_s: ${REASSORT_FIBRE_TIME_LIMIT:-5}
      FIBRE_SEUL_LARGE:
        extends: FIBRE_SEUL
        parameters: {stock.horizon_days: 45}

Each workflow becomes a daily-partitioned Dagster job `workflow_<NAME>` over the asset
groups of its enabled modules, with its parameters as the job's run config (the same names
and validation as `reassort run --set`), and, with `schedule`, a schedule that runs the day
before at each tick. `${VAR}` and `${VAR:-default}` are replaced from the environment
(a value that is only a variable keeps the variable's YAML type: `${N}` with N=5 is 5);
`${vars.NAME}` in a parameter is the workflow variable NAME (its default, or the launch's
value). Any mistake fails the code location's load with the workflow, the key and the line.
`scenario:` says where the workflow's module tables go: by default a what-if scenario named
after the workflow (its runs never replace the official plan; docs/scenarios.md), or
`base` to make the workflow replace the official plan on purpose.

`modules:` is a list (every module with its default options) or a mapping module -> options:
`enabled` (false: as if unlisted), `condition` (conditions.py, checked here, evaluated when
a run starts), `critical` (or its opposite `continue_on_error`), `max_retries`,
`retry_delay_seconds`, `timeout_seconds`. The options, variables, success criteria and
priority become the job's tags (workflow_options.py), which the executor (module_gate.py)
and each step (step_limits.py) read. `extends: OTHER` takes the other workflow's keys but
`schedule` and `scenario` (NOT_INHERITED); mappings merge key by key, anything else is
replaced; cycles are refused.

Hostile or broken documents are refused before they are composed, each with the file and
line: more than MAX_BYTES (64 KiB; a real file is a few KB), nesting deeper than MAX_DEPTH
(20), anchors and aliases (`&a` / `*a`, hence also `<<` merge keys: a nested-alias "YAML
bomb" expands to billions of nodes from a few hundred bytes and hung `reassort plan`), and
explicit tags other than YAML's plain types (`!!python/...`). A `${VAR}` value that is
parsed as YAML goes through the same checks.
"""

import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.definitions.utils import is_valid_owner
from dagster._utils.schedules import is_valid_cron_string

from orchestrator_assets import project_paths
from orchestrator_assets.defs.automation.conditions import (
    BOOL,
    FACTS,
    LIST,
    NUMBER,
    STRING,
    ConditionError,
    parse_condition,
)
from orchestrator_assets.defs.automation.workflow_options import (
    CRITERIA_TAG,
    DEFAULT_OPTIONS,
    MODULE_TAG_PREFIX,
    PRIORITY_TAG,
    VARIABLES_TAG,
    WORKFLOW_TAG,
    ModuleOptions,
    OptionsError,
    SuccessCriteria,
    Variable,
    parse_variables,
    variables_to_tag,
)
from orchestrator_assets.partition_deadline import FRESHNESS_CHECK_KEY
from orchestrator_assets.run_parameters import (
    PARAMETER_GROUPS,
    ParameterError,
    overrides_from_mapping,
    run_config_for,
)
from orchestrator_assets.scenarios import BASE, SCENARIO_TAG, check_scenario_name

MODULES = ("ingest", "stock", "urgence", "knapsack")  # daily modules, in pipeline order
KEYS = {
    "description", "modules", "parameters", "schedule", "scenario",
    "extends", "variables", "success_criteria", "priority", "metadata",
}
#: a workflow's own: what `extends` does not take from the parent (module docstring)
NOT_INHERITED = {"schedule", "scenario", "extends"}
SCHEDULE_KEYS = {"cron", "timezone"}
MODULE_KEYS = {"enabled", "condition", "critical", "continue_on_error", "max_retries", "retry_delay_seconds", "timeout_seconds"}
METADATA_KEYS = {"name", "version", "description", "owner"}
MAX_EXTENDS = 10
MAX_PRIORITY = 1000
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: a workflow variable inside a parameter value: ${vars.NAME} (a dot: never an environment variable)
WORKFLOW_VARIABLE = re.compile(r"\$\{vars\.([A-Za-z_][A-Za-z0-9_]*)\}")
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
    #: per module (enabled ones only); a module without an entry has the default options
    module_options: dict[str, ModuleOptions] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    variables: dict[str, Variable] = field(default_factory=dict)
    criteria: SuccessCriteria = field(default_factory=SuccessCriteria)
    priority: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    extends: str | None = None

    @property
    def job_name(self) -> str:
        return job_name_of(self.name)

    def options(self, module: str) -> ModuleOptions:
        return self.module_options.get(module, DEFAULT_OPTIONS)

    def overrides_for(self, values: Mapping[str, object]) -> dict[str, dict[str, object]]:
        """The module parameters with ${vars.NAME} replaced by these variable values, validated
        as `reassort run --set` values are (ParameterError otherwise)."""
        return overrides_from_mapping(substitute_variables(self.parameters, values))

    @property
    def run_tags(self) -> dict[str, str]:
        """The job's tags, hence every run's (workflow_options.py): the workflow, its scenario,
        each module's options, variables, success criteria and queue priority."""
        tags = {WORKFLOW_TAG: self.name}
        if self.scenario and self.scenario != BASE:
            tags[SCENARIO_TAG] = self.scenario
        for module in self.modules:
            tags[f"{MODULE_TAG_PREFIX}{module}"] = self.options(module).to_tag()
        if self.variables:
            tags[VARIABLES_TAG] = variables_to_tag(self.variables)
        if self.criteria != SuccessCriteria():
            tags[CRITERIA_TAG] = self.criteria.to_tag()
        if self.priority is not None:
            tags[PRIORITY_TAG] = str(self.priority)
        return tags


def job_name_of(workflow: str) -> str:
    return f"workflow_{workflow}"


def substitute_variables(parameters: Mapping[str, object], values: Mapping[str, object]) -> dict[str, object]:
    """Parameters with each ${vars.NAME} replaced: a value that is only the variable takes its
    typed value, inside a longer text its text. An unknown variable is a ParameterError."""

    def value_of(match: re.Match) -> object:
        if match.group(1) not in values:
            known = ", ".join(sorted(values)) or "none"
            raise ParameterError(f"unknown workflow variable ${{vars.{match.group(1)}}} (variables: {known})")
        return values[match.group(1)]

    def replaced(value: object) -> object:
        if isinstance(value, list):
            return [replaced(item) for item in value]
        if isinstance(value, dict):
            return {key: replaced(item) for key, item in value.items()}
        if not isinstance(value, str) or not WORKFLOW_VARIABLE.search(value):
            return value
        whole = WORKFLOW_VARIABLE.fullmatch(value)
        if whole:
            return value_of(whole)
        return WORKFLOW_VARIABLE.sub(lambda match: str(value_of(match)), value)

    return {name: replaced(value) for name, value in parameters.items()}


def _condition_kind(annotation: object) -> str | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal or annotation is str:
        return STRING
    if origin is list:
        return LIST
    return {bool: BOOL, int: NUMBER, float: NUMBER}.get(annotation)  # type: ignore[call-overload]


def condition_types(variables: Mapping[str, Variable]) -> dict[str, str]:
    """Every name a condition may read, with its type: facts, variables, group.parameter."""
    types = dict(FACTS)
    for group, config in PARAMETER_GROUPS.items():
        for name, info in config.model_fields.items():
            kind = _condition_kind(info.annotation)
            if kind is not None:
                types[f"{group}.{name}"] = kind
    types.update({name: variable.kind for name, variable in variables.items()})
    return types


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
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise WorkflowError(f"{where}, line {key.start_mark.line + 1}: keys must be plain names")
    return node.value


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _merged(parent: yaml.MappingNode, child: yaml.MappingNode) -> yaml.MappingNode:
    """`extends`: the child's keys over the parent's, mappings merged key by key (recursively),
    anything else (lists, values) replaced. Nodes keep their own lines, so an error in an
    inherited value names the line where the parent wrote it."""
    entries = {key.value: (key, value) for key, value in parent.value}
    for key, value in child.value:
        previous = entries.get(key.value)
        if previous is not None and isinstance(value, yaml.MappingNode) and isinstance(previous[1], yaml.MappingNode):
            value = _merged(previous[1], value)
        entries[key.value] = (key, value)
    return yaml.MappingNode(child.tag, list(entries.values()), child.start_mark, child.end_mark, child.flow_style)


def _resolved(
    name: str, bodies: dict[str, yaml.MappingNode], source: str, chain: tuple[str, ...] = ()
) -> yaml.MappingNode:
    """A workflow's body with what it extends merged in (NOT_INHERITED keys stay its own)."""
    body = bodies[name]
    entries = {key.value: (key, value) for key, value in body.value}
    if "extends" not in entries:
        return body
    value = entries["extends"][1]
    where = f"{source}, workflow {name}, key 'extends', line {_line(value)}"
    if not isinstance(value, yaml.ScalarNode) or value.tag != "tag:yaml.org,2002:str":
        raise WorkflowError(f"{where}: expected the name of another workflow of this file")
    parent = value.value
    if parent == name or parent in chain:
        raise WorkflowError(f"{where}: extends makes a cycle: {' -> '.join((*chain, name, parent))}")
    if parent not in bodies:
        raise WorkflowError(f"{where}: no workflow {parent!r} to extend (workflows: {', '.join(sorted(bodies))})")
    if len(chain) >= MAX_EXTENDS:
        raise WorkflowError(f"{where}: more than {MAX_EXTENDS} levels of extends")
    inherited = _resolved(parent, bodies, source, (*chain, name))
    kept = [(key, node) for key, node in inherited.value if key.value not in NOT_INHERITED]
    base = yaml.MappingNode(inherited.tag, kept, inherited.start_mark, inherited.end_mark)
    return _merged(base, body)


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
        raise WorkflowError(f"{source}, line {_line(root)}: expected a single top-level key 'workflows'")
    bodies: dict[str, yaml.MappingNode] = {}
    lines: dict[str, int] = {}
    for name_node, body in _mapping(top["workflows"], f"{source}: workflows"):
        name = name_node.value
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise WorkflowError(f"{source}, workflow {name!r}, line {_line(name_node)}: name must be letters, digits and _")
        if name in bodies:
            raise WorkflowError(f"{source}, workflow {name}, line {_line(name_node)}: defined twice (also line {lines[name]})")
        _mapping(body, f"{source}, workflow {name}")
        bodies[name], lines[name] = body, _line(name_node)  # type: ignore[assignment]
    return [_workflow(name, _resolved(name, bodies, source), lines[name], source) for name in bodies]


def _workflow(name: str, body: yaml.MappingNode, line: int, source: str) -> Workflow:
    """One workflow from its (extends-resolved) body; every error names workflow, key, line."""
    entries = {key.value: (key, value) for key, value in _mapping(body, f"{source}, workflow {name}")}
    for key, (key_node, _) in entries.items():
        if key not in KEYS:
            raise WorkflowError(
                f"{source}, workflow {name}, key {key!r}, line {_line(key_node)}: unknown key "
                f"(valid: {', '.join(sorted(KEYS))})"
            )

    def where(key: str) -> str:
        return f"{source}, workflow {name}, key {key!r}, line {_line(entries[key][1])}"

    def value(key: str, default: object = None) -> object:
        return _value(entries[key][1], where(key)) if key in entries else default

    modules_node = entries["modules"][1] if "modules" in entries else None
    modules, disabled, options = _modules(modules_node, where("modules") if modules_node else "", name, source)
    try:
        variables = parse_variables(value("variables"))
    except OptionsError as error:
        raise WorkflowError(f"{where('variables')}: {error}") from error
    clashes = sorted(set(variables) & (set(FACTS) | set(PARAMETER_GROUPS)))
    if clashes:
        raise WorkflowError(f"{where('variables')}: {', '.join(clashes)}: the name of a fact or a parameter group")
    types = condition_types(variables)
    for module, (condition, condition_line) in _conditions(modules_node).items():
        if module in modules:
            try:
                parse_condition(condition, types)
            except ConditionError as error:
                raise WorkflowError(
                    f"{source}, workflow {name}, module {module}, key 'condition', line {condition_line}: {error}"
                ) from error
    parameters = value("parameters", {})
    if not isinstance(parameters, dict):
        raise WorkflowError(f"{where('parameters')}: expected a mapping of group.param: value")
    try:
        overrides = overrides_from_mapping(
            substitute_variables(parameters, {name: variable.default for name, variable in variables.items()})
        )
    except ParameterError as error:
        raise WorkflowError(f"{where('parameters')}: {str(error).splitlines()[0]}") from error
    cron, timezone = None, "Europe/Paris"
    if "schedule" in entries:
        schedule = value("schedule")
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
    description = str(value("description", ""))
    scenario = str(value("scenario", name))
    if scenario != BASE:
        try:
            check_scenario_name(scenario)
        except ValueError as error:
            raise WorkflowError(f"{where('scenario')}: {error} (or 'base' to replace the official plan)") from error
    try:
        criteria = SuccessCriteria.from_mapping(value("success_criteria"), modules) if "success_criteria" in entries else SuccessCriteria()
    except OptionsError as error:
        raise WorkflowError(f"{where('success_criteria')}: {error}") from error
    priority = value("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY):
        raise WorkflowError(f"{where('priority')}: expected a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY} (higher runs first)")
    metadata = _metadata(value("metadata"), where("metadata") if "metadata" in entries else "")
    extends = value("extends")
    return Workflow(
        name, modules, overrides, description, cron, timezone, line, parameters, scenario,
        module_options={module: options[module] for module in modules if module in options},
        disabled=disabled, variables=variables, criteria=criteria, priority=priority,  # type: ignore[arg-type]
        metadata=metadata, extends=str(extends) if extends else None,
    )


def _modules(
    node: yaml.Node | None, where: str, name: str, source: str
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, ModuleOptions]]:
    """(enabled modules in pipeline order, disabled ones, options per module) from `modules:`,
    a list of modules or a mapping module -> options (None: every module, default options)."""
    if node is None:
        return MODULES, (), {}
    if isinstance(node, yaml.SequenceNode):
        modules = _value(node, where)
        if not isinstance(modules, list) or not modules or any(m not in MODULES for m in modules):
            raise WorkflowError(f"{where}: modules must be a non-empty list among {', '.join(MODULES)}, got {modules!r}")
        return tuple(m for m in MODULES if m in modules), (), {}
    if not isinstance(node, yaml.MappingNode):
        raise WorkflowError(f"{where}: modules must be a list, or a mapping module: {{options}}, among {', '.join(MODULES)}")
    enabled, disabled, options = [], [], {}
    for key_node, spec_node in _mapping(node, where):
        module = key_node.value
        here = f"{source}, workflow {name}, module {module!r}, line {_line(key_node)}"
        if module not in MODULES:
            raise WorkflowError(f"{here}: unknown module (modules: {', '.join(MODULES)})")
        spec = _value(spec_node, here)
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise WorkflowError(f"{here}: expected the module's options {{{', '.join(sorted(MODULE_KEYS))}}} (or nothing)")
        unknown = sorted(set(spec) - MODULE_KEYS)
        if unknown:
            raise WorkflowError(f"{here}: unknown option(s) {', '.join(unknown)} (valid: {', '.join(sorted(MODULE_KEYS))})")
        spec = dict(spec)
        is_enabled = spec.pop("enabled", True)
        if not isinstance(is_enabled, bool):
            raise WorkflowError(f"{here}: enabled must be true or false")
        if "continue_on_error" in spec:
            keep_going = spec.pop("continue_on_error")
            if not isinstance(keep_going, bool) or spec.get("critical", not keep_going) != (not keep_going):
                raise WorkflowError(f"{here}: continue_on_error is 'not critical': true or false, and agreeing with critical")
            spec["critical"] = not keep_going
        try:
            options[module] = ModuleOptions.from_mapping(spec)
        except OptionsError as error:
            raise WorkflowError(f"{here}: {error}") from error
        (enabled if is_enabled else disabled).append(module)
    if not enabled:
        raise WorkflowError(f"{where}: no module is enabled")
    return tuple(m for m in MODULES if m in enabled), tuple(m for m in MODULES if m in disabled), options


def _conditions(node: yaml.Node | None) -> dict[str, tuple[object, int]]:
    """module -> (its condition as written, the line of it), from a `modules:` mapping."""
    found: dict[str, tuple[object, int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, spec_node in node.value:
            if isinstance(spec_node, yaml.MappingNode):
                for option, value_node in spec_node.value:
                    if option.value == "condition":
                        found[key_node.value] = (_value(value_node, "condition"), _line(value_node))
    return found


def _metadata(values: object, where: str) -> dict[str, str]:
    """`metadata:` name, version, description, owner (an email or team:NAME, as Dagster's owners)."""
    if values is None:
        return {}
    if not isinstance(values, dict) or set(values) - METADATA_KEYS:
        raise WorkflowError(f"{where}: expected a mapping with {', '.join(sorted(METADATA_KEYS))}")
    metadata = {key: str(value) for key, value in values.items() if value is not None}
    owner = metadata.get("owner")
    if owner is not None and not is_valid_owner(owner):
        raise WorkflowError(f"{where}: owner {owner!r} must be an email address or team:NAME")
    return metadata


def load_workflows(path: Path | None = None, missing_ok: bool = True) -> list[Workflow]:
    """The workflows of `path` (default REASSORT_WORKFLOWS or the project's workflows.yaml);
    no file: none (or FileNotFoundError with missing_ok=False, as `reassort workflow validate` wants)."""
    path = path or workflows_path()
    if not path.exists():
        if not missing_ok:
            raise FileNotFoundError(f"{path}: no such file")
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
        selected = workflow_assets(workflow, assets)
        metadata = workflow.metadata
        owner = metadata.get("owner")
        job = dg.define_asset_job(
            workflow.job_name,
            selection=dg.AssetSelection.assets(*selected) - dg.AssetSelection.checks(FRESHNESS_CHECK_KEY),
            partitions_def=partitions_def,
            config=run_config_for(workflow.overrides, selected) or None,
            description=job_description(workflow),
            tags=workflow.run_tags,
            metadata={
                **{f"workflow_{key}": value for key, value in metadata.items()},
                "modules": ", ".join(workflow.modules),
                "declared_in": f"{workflows_path()} line {workflow.line}",
                **({"extends": workflow.extends} if workflow.extends else {}),
            },
            owners=[owner] if owner else None,
        )
        jobs.append(job)
        if workflow.cron:
            schedules.append(
                previous_day_schedule(f"{workflow.job_name}_schedule", workflow.cron, workflow.timezone, workflow.job_name)
            )
    return jobs, schedules


def workflow_assets(workflow: Workflow, assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets of the workflow's enabled modules (a disabled module is as if unlisted)."""
    return [a for a in assets if any(a.specs_by_key[k].group_name in workflow.modules for k in a.keys)]


def job_description(workflow: Workflow) -> str:
    """What the UI shows on the job's page: the planners' name, version and owner first."""
    metadata = workflow.metadata
    head = metadata.get("name", workflow.name) + (f" (version {metadata['version']})" if "version" in metadata else "")
    text = metadata.get("description") or workflow.description or f"Declared in workflows.yaml: modules {', '.join(workflow.modules)}"
    owner = f" Owner: {metadata['owner']}." if "owner" in metadata else ""
    return f"{head}: {text}{owner}"
