"""What a workflow run carries for its modules, as run tags: options, variables, criteria.

workflows.py turns each workflow into a job whose tags (hence every run's tags, whoever
launches it: CLI, UI, schedule, GraphQL) say how its modules behave:

    reassort/module/<module>    {"condition": "weekday < 5", "critical": false, "max_retries": 2, ...}
    reassort/variables          {"min_critical": {"type": "int", "default": 5}, ...}
    reassort/var/<name>         a variable's value for this run (reassort run --var name=value,
                                or a tag added in the UI's launchpad)
    reassort/success_criteria   {"required_modules": ["knapsack"], "min_completed": 2}

Tags rather than run config: they are fixed when the run is created (editing workflows.yaml
later does not change a run under way), visible and filterable in the UI, kept by a
re-execution, and readable from any step process without loading workflows.yaml. The
executor (module_gate.py) reads them to skip modules and judge the run; each step reads its
module's entry for its time limit and retries (step_limits.py). This module is imported by
every asset through step_limits, so it stays small and imports nothing heavy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date

MODULE_TAG_PREFIX = "reassort/module/"
VARIABLES_TAG = "reassort/variables"
VARIABLE_TAG_PREFIX = "reassort/var/"
CRITERIA_TAG = "reassort/success_criteria"
WORKFLOW_TAG = "reassort/workflow"
PRIORITY_TAG = "dagster/priority"

MAX_RETRIES = 10
MAX_RETRY_DELAY_S = 600.0
MAX_TIMEOUT_S = 24 * 3600.0
#: today's retry policy of every step (step_limits.RETRY_POLICY), used where a module sets
#: only one of max_retries / retry_delay_seconds
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_DELAY_S = 2.0

MAX_MODULES = 20
VARIABLE_TYPES = ("int", "float", "str", "bool", "date")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_BIG = 10**12


class OptionsError(ValueError):
    """A module option, variable or criterion that is not valid (the message says which)."""


@dataclass(frozen=True)
class ModuleOptions:
    """How one module of a workflow runs. None: the project's default (every step retried 3
    times on transient errors, 2 s exponential backoff; REASSORT_STEP_TIMEOUT_S)."""

    condition: str | None = None
    critical: bool = True
    max_retries: int | None = None
    retry_delay_seconds: float | None = None
    timeout_seconds: float | None = None

    @property
    def retries(self) -> tuple[int, float] | None:
        """(max retries, first delay) when the module sets either, else None (the default policy)."""
        if self.max_retries is None and self.retry_delay_seconds is None:
            return None
        return (
            DEFAULT_MAX_RETRIES if self.max_retries is None else self.max_retries,
            DEFAULT_RETRY_DELAY_S if self.retry_delay_seconds is None else self.retry_delay_seconds,
        )

    def to_tag(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v != getattr(DEFAULT_OPTIONS, k)}, sort_keys=True)

    @staticmethod
    def from_mapping(values: Mapping[str, object]) -> ModuleOptions:
        unknown = set(values) - set(ModuleOptions.__dataclass_fields__)
        if unknown:
            raise OptionsError(f"unknown module option(s) {', '.join(sorted(unknown))}")
        condition = values.get("condition")
        if condition is not None and not isinstance(condition, str):
            raise OptionsError(f"condition: expected a text, got {condition!r}")
        critical = values.get("critical", True)
        if not isinstance(critical, bool):
            raise OptionsError(f"critical: expected true or false, got {critical!r}")
        return ModuleOptions(
            condition=condition,
            critical=critical,
            max_retries=_bounded_int(values.get("max_retries"), "max_retries", 0, MAX_RETRIES),
            retry_delay_seconds=_bounded_number(values.get("retry_delay_seconds"), "retry_delay_seconds", 0.0, MAX_RETRY_DELAY_S),
            timeout_seconds=_bounded_number(values.get("timeout_seconds"), "timeout_seconds", 0.001, MAX_TIMEOUT_S),
        )

    @staticmethod
    def from_tag(text: str) -> ModuleOptions:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise OptionsError(f"not JSON: {error}") from None
        if not isinstance(values, dict):
            raise OptionsError("expected a JSON object")
        return ModuleOptions.from_mapping(values)


DEFAULT_OPTIONS = ModuleOptions()


def _bounded_int(value: object, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OptionsError(f"{name}: expected a whole number from {low} to {high}, got {value!r}")
    return value


def _bounded_number(value: object, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise OptionsError(f"{name}: expected a number from {low:g} to {high:g} seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Variable:
    """A workflow variable: a typed value with a default, overridable at launch."""

    name: str
    type: str
    default: object

    @property
    def kind(self) -> str:
        """Its type in conditions (conditions.py): dates compare as YYYY-MM-DD strings."""
        return {"int": "number", "float": "number", "str": "string", "date": "string", "bool": "bool"}[self.type]

    def check(self, value: object) -> object:
        """`value` (from YAML) as this variable's type, or OptionsError."""
        kind = self.type
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _BIG:
            return value
        if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= _BIG:
            return float(value)
        if kind == "str" and isinstance(value, str) and len(value) <= 100:
            return value
        if kind == "date" and isinstance(value, date):
            return value.isoformat()
        if kind == "date" and isinstance(value, str):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise OptionsError(f"variable {self.name}: expected {_described(kind)}, got {value!r}")

    def parse(self, text: str) -> object:
        """A launch value (`--var name=text`, a `reassort/var/name` tag) as this variable's type."""
        text = text.strip()
        if self.type == "bool":
            lowered = text.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise OptionsError(f"variable {self.name}: expected true or false, got {text!r}")
        if self.type in ("int", "float"):
            try:
                number = int(text) if self.type == "int" else float(text)
            except ValueError:
                raise OptionsError(f"variable {self.name}: expected {_described(self.type)}, got {text!r}") from None
            return self.check(number)
        return self.check(text)


def _described(kind: str) -> str:
    return {
        "int": "a whole number", "float": "a number", "str": "a text (at most 100 characters)",
        "bool": "true or false", "date": "a date YYYY-MM-DD",
    }[kind]


def parse_variables(values: object) -> dict[str, Variable]:
    """`variables:` of a workflow: {name: {type: T, default: V}} or {name: V} (type from V)."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise OptionsError("expected a mapping name: {type: int|float|str|bool|date, default: value}")
    variables = {}
    for name, spec in values.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise OptionsError(f"variable name {name!r}: a letter or _, then letters, digits or _")
        if isinstance(spec, dict):
            if set(spec) - {"type", "default"} or "default" not in spec:
                raise OptionsError(f"variable {name}: expected {{type: ..., default: ...}}")
            kind = spec.get("type") or _kind_of(spec["default"], name)
            default = spec["default"]
        else:
            kind, default = _kind_of(spec, name), spec
        if kind not in VARIABLE_TYPES:
            raise OptionsError(f"variable {name}: type {kind!r} is not one of {', '.join(VARIABLE_TYPES)}")
        variable = Variable(name, str(kind), None)
        variables[name] = Variable(name, str(kind), variable.check(default))
    return variables


def _kind_of(value: object, name: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, date):
        return "date"
    if isinstance(value, str):
        return "str"
    raise OptionsError(f"variable {name}: give it a type and a default ({value!r} has no type of its own)")


def variables_to_tag(variables: Mapping[str, Variable]) -> str:
    return json.dumps({name: {"type": v.type, "default": v.default} for name, v in variables.items()}, sort_keys=True)


def variables_from_tag(text: str) -> dict[str, Variable]:
    try:
        return parse_variables(json.loads(text))
    except json.JSONDecodeError as error:
        raise OptionsError(f"{VARIABLES_TAG}: not JSON: {error}") from None


def launch_values(variables: Mapping[str, Variable], assignments: Mapping[str, str]) -> dict[str, object]:
    """Every variable's value for a run: its default, or the launch text parsed as its type.
    An unknown name is refused with the list of the workflow's variables."""
    unknown = sorted(set(assignments) - set(variables))
    if unknown:
        known = ", ".join(f"{name} ({v.type}, default {v.default!r})" for name, v in sorted(variables.items())) or "none"
        raise OptionsError(f"unknown variable(s) {', '.join(unknown)}; this workflow's variables: {known}")
    values = {name: variable.default for name, variable in variables.items()}
    for name, text in assignments.items():
        values[name] = variables[name].parse(text)
    return values


def variable_tags(assignments: Mapping[str, str]) -> dict[str, str]:
    return {f"{VARIABLE_TAG_PREFIX}{name}": text for name, text in assignments.items()}


def assignments_from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {key.removeprefix(VARIABLE_TAG_PREFIX): value for key, value in tags.items() if key.startswith(VARIABLE_TAG_PREFIX)}


@dataclass(frozen=True)
class SuccessCriteria:
    """When a workflow run counts as a success, beyond "no critical module failed"."""

    required_modules: tuple[str, ...] = ()
    min_completed: int = 0

    def to_tag(self) -> str:
        return json.dumps({"required_modules": list(self.required_modules), "min_completed": self.min_completed})

    @staticmethod
    def from_mapping(values: object, modules: tuple[str, ...] | None) -> SuccessCriteria:
        """From `success_criteria:` (modules: the workflow's, in pipeline order) or from a run
        tag (modules None: the tag was checked when the job was built)."""
        if not isinstance(values, dict) or set(values) - {"required_modules", "min_completed"}:
            raise OptionsError("expected {required_modules: [module, ...], min_completed: N}")
        required = values.get("required_modules") or []
        known = modules if modules is not None else tuple(str(module) for module in required)
        if not isinstance(required, list) or any(module not in known for module in required):
            raise OptionsError(f"required_modules must be a list among the workflow's modules ({', '.join(known)}), got {required!r}")
        least = values.get("min_completed", 0)
        most = len(modules) if modules is not None else MAX_MODULES
        if isinstance(least, bool) or not isinstance(least, int) or not 0 <= least <= most:
            raise OptionsError(f"min_completed must be a whole number from 0 to {most} (its modules), got {least!r}")
        return SuccessCriteria(tuple(m for m in known if m in required), least)

    @staticmethod
    def from_tag(text: str) -> SuccessCriteria:
        try:
            return SuccessCriteria.from_mapping(json.loads(text), None)
        except (json.JSONDecodeError, OptionsError) as error:
            raise OptionsError(f"run tag {CRITERIA_TAG}: {error}") from None

    def problems(self, completed: set[str]) -> list[str]:
        """Why the run fails its criteria given the modules that completed ([] = it meets them)."""
        problems = [f"required module {module} did not complete" for module in self.required_modules if module not in completed]
        if len(completed) < self.min_completed:
            problems.append(f"{len(completed)} module(s) completed, fewer than min_completed {self.min_completed}")
        return problems


@dataclass(frozen=True)
class RunOptions:
    """A run's module options as its tags give them (none for a run that is not a workflow's)."""

    workflow: str | None = None
    modules: dict[str, ModuleOptions] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    assignments: dict[str, str] = field(default_factory=dict)
    criteria: SuccessCriteria = field(default_factory=SuccessCriteria)

    def options(self, module: str) -> ModuleOptions:
        return self.modules.get(module, DEFAULT_OPTIONS)

    def variable_values(self) -> dict[str, object]:
        return launch_values(self.variables, self.assignments)


def module_options_from_tags(tags: Mapping[str, str], module: str) -> ModuleOptions:
    """One module's options from a run's tags (the default ones when it has no tag): what a
    step needs, without reading the others."""
    text = tags.get(f"{MODULE_TAG_PREFIX}{module}")
    if text is None:
        return DEFAULT_OPTIONS
    try:
        return ModuleOptions.from_tag(text)
    except OptionsError as error:
        raise OptionsError(f"run tag {MODULE_TAG_PREFIX}{module}: {error}") from None


def run_options_from_tags(tags: Mapping[str, str]) -> RunOptions:
    """Everything the executor needs from a run's tags; a malformed tag names itself."""
    modules = {
        key.removeprefix(MODULE_TAG_PREFIX): module_options_from_tags(tags, key.removeprefix(MODULE_TAG_PREFIX))
        for key in tags
        if key.startswith(MODULE_TAG_PREFIX)
    }
    variables = variables_from_tag(tags[VARIABLES_TAG]) if VARIABLES_TAG in tags else {}
    criteria = SuccessCriteria.from_tag(tags[CRITERIA_TAG]) if CRITERIA_TAG in tags else SuccessCriteria()
    return RunOptions(tags.get(WORKFLOW_TAG), modules, variables, assignments_from_tags(tags), criteria)
