"""`--set group.param=value`: module parameters of a run, validated before anything runs.

Each module declares one Config class (IngestConfig, StockConfig, ...) registered here under
its group name; its assets carry the tag `reassort/config=<group>`, and an override is given
to every such asset of the job. Values are parsed as JSON when they can be (numbers, true,
false) and validated by the Config class itself (types, bounds), so a bad value is refused
with pydantic's explanation and the list of valid names.

Types are checked as Dagster's run config checks them, not as pydantic coerces them:
pydantic would accept `horizon_days=30.0` (or "14", or true) and turn it into an int, then
Dagster's config system refuses the float when the job starts and prints a traceback. So a
value must already have the field's type (an int is a valid float, a bool is not an int).
"""

import json
import re
import typing
from collections.abc import Iterable, Mapping

import dagster as dg
import pydantic

from orchestrator_assets.asset_conventions import CONFIG_TAG
from orchestrator_assets.defs.ingest.config import IngestConfig
from orchestrator_assets.defs.knapsack.config import KnapsackConfig
from orchestrator_assets.defs.stock.config import StockConfig
from orchestrator_assets.defs.urgence.config import UrgenceConfig
from orchestrator_assets.defs.validation.config import VALIDATION_RESOURCE, ValidationSettings

PARAMETER_GROUPS: dict[str, type[dg.Config]] = {
    "ingest": IngestConfig,
    "stock": StockConfig,
    "urgence": UrgenceConfig,
    "knapsack": KnapsackConfig,
    "validation": ValidationSettings,
}
#: groups whose parameters are a resource's config, not the config of their assets' ops:
#: the checks run in the steps of every module (group -> resource key)
RESOURCE_GROUPS = {"validation": VALIDATION_RESOURCE}

# Parameters one module takes from another unless set explicitly: the ABC window is the
# forecast's history window (SPEC §4 "over the history window"); a history day read from
# its file obeys the ingestion's share of bad rows.
FOLLOWS = {
    ("urgence", "history_days"): ("stock", "history_days"),
    ("stock", "max_rejected_share"): ("ingest", "max_rejected_share"),
    ("urgence", "max_rejected_share"): ("ingest", "max_rejected_share"),
}


class ParameterError(ValueError):
    """An override names an unknown parameter or carries a value its Config refuses."""


def _type_problem(annotation: object, value: object) -> str | None:
    """Why Dagster's run config would refuse `value` for a field of this type, or None."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return None if value in arguments and isinstance(value, str) else f"expected one of {', '.join(map(repr, arguments))}"
    if origin is list:
        if not isinstance(value, list):
            return "expected a list"
        problems = [_type_problem(arguments[0], item) for item in value] if arguments else []
        return next((f"list item: {problem}" for problem in problems if problem), None)
    expected = {
        bool: (bool,),
        int: (int,),
        float: (int, float),
        str: (str,),
    }.get(annotation)  # type: ignore[call-overload]
    if expected is None:
        return None  # a type Dagster and pydantic agree on; pydantic alone decides
    if isinstance(value, bool) and annotation is not bool:
        return f"expected {annotation.__name__}, got a boolean"  # type: ignore[union-attr]
    if not isinstance(value, expected):
        return f"expected {annotation.__name__}, got {type(value).__name__} {value!r}"  # type: ignore[union-attr]
    return None


def valid_names() -> list[str]:
    return sorted(
        f"{group}.{field}" for group, config in PARAMETER_GROUPS.items() for field in config.model_fields
    )


def _describe_valid() -> str:
    lines = []
    for group, config in sorted(PARAMETER_GROUPS.items()):
        for field, info in config.model_fields.items():
            lines.append(f"  {group}.{field} (default {info.default!r})")
    return "valid parameters:\n" + "\n".join(lines)


#: `--set knapsack.capacity.SITE.KEY=V`: one capacity of one site (KEY: total or a category)
CAPACITY_PREFIX = "knapsack.capacity."
_CAPACITY_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def parse_overrides(assignments: Iterable[str]) -> dict[str, dict[str, object]]:
    """['stock.horizon_days=14'] -> {'stock': {'horizon_days': 14}}, validated;
    'knapsack.capacity.S1.total=150' adds {'S1': {'total': 150}} to knapsack.capacity."""
    values: dict[str, object] = {}
    capacities: dict[str, dict[str, float]] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or "." not in name:
            raise ParameterError(f"--set {assignment!r}: expected group.param=value\n{_describe_valid()}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if name.startswith(CAPACITY_PREFIX):
            site, _, key = name.removeprefix(CAPACITY_PREFIX).partition(".")
            if not (_CAPACITY_KEY.fullmatch(site) and _CAPACITY_KEY.fullmatch(key)):
                raise ParameterError(f"--set {name!r}: expected knapsack.capacity.SITE.total or knapsack.capacity.SITE.CATEGORY")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParameterError(f"invalid value: {name}: expected a number >= 0, got {value!r}")
            capacities.setdefault(site, {})[key] = float(value)
            continue
        values[name] = value
    if capacities:
        values["knapsack.capacity"] = capacities
    return overrides_from_mapping(values, label="--set ")


def with_followers(overrides: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, object]]:
    """The overrides plus the FOLLOWS parameters their sources imply (unless set explicitly)."""
    grouped = {group: dict(values) for group, values in overrides.items()}
    for (group, field), (source_group, source_field) in FOLLOWS.items():
        if source_field in grouped.get(source_group, {}) and field not in grouped.get(group, {}):
            grouped.setdefault(group, {})[field] = grouped[source_group][source_field]
    return grouped


def overrides_from_mapping(values: Mapping[str, object], label: str = "") -> dict[str, dict[str, object]]:
    """{'stock.horizon_days': 14} -> {'stock': {'horizon_days': 14}}, validated by each Config."""
    grouped: dict[str, dict[str, object]] = {}
    for name, value in values.items():
        group, _, field = name.partition(".")
        config = PARAMETER_GROUPS.get(group)
        if config is None or field not in config.model_fields:
            raise ParameterError(f"{label}{name!r}: unknown parameter {name!r}\n{_describe_valid()}")
        problem = _type_problem(config.model_fields[field].annotation, value)
        if problem:
            raise ParameterError(f"invalid value: {name}: {problem}")
        grouped.setdefault(group, {})[field] = value
    grouped = with_followers(grouped)
    for group, group_values in grouped.items():
        try:
            PARAMETER_GROUPS[group](**group_values)
        except pydantic.ValidationError as error:
            details = "; ".join(
                f"{group}.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise ParameterError(f"invalid value: {details}") from error
    return grouped


def run_config_for(
    overrides: Mapping[str, Mapping[str, object]], assets: Iterable[dg.AssetsDefinition]
) -> dict[str, object]:
    """Dagster run config giving each group's overrides to every asset op of that group (the
    group is an asset tag, or an op tag), or to the group's resource (RESOURCE_GROUPS) when
    one of the assets takes it."""
    overrides = with_followers(overrides)
    assets = list(assets)
    ops: dict[str, object] = {}
    for assets_def in assets:
        groups = {(tags or {}).get(CONFIG_TAG) for tags in assets_def.tags_by_key.values()}
        groups.add((assets_def.op.tags or {}).get(CONFIG_TAG))
        group = next((name for name in groups if name in overrides and name not in RESOURCE_GROUPS), None)
        if group is not None:
            ops[assets_def.op.name] = {"config": dict(overrides[group])}
    used = {key for assets_def in assets for key in assets_def.required_resource_keys}
    resources = {
        key: {"config": dict(overrides[group])}
        for group, key in RESOURCE_GROUPS.items()
        if group in overrides and key in used
    }
    return {**({"ops": ops} if ops else {}), **({"resources": resources} if resources else {})}


def group_values(run_config: Mapping[str, object], group_of_op: Mapping[str, str | None]) -> dict[str, object]:
    """'group.name' -> value of every parameter set in a run config (by run_config_for)."""
    values: dict[str, object] = {}
    ops = run_config.get("ops") or {}
    for op_name, op_config in ops.items():  # type: ignore[union-attr]
        group = group_of_op.get(op_name)
        if group and isinstance(op_config, dict):
            for name, value in (op_config.get("config") or {}).items():
                values[f"{group}.{name}"] = value
    resources = run_config.get("resources") or {}
    for group, key in RESOURCE_GROUPS.items():
        resource = resources.get(key)  # type: ignore[union-attr]
        if isinstance(resource, dict):
            for name, value in (resource.get("config") or {}).items():
                values[f"{group}.{name}"] = value
    return values
