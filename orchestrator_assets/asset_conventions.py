"""What every module asset shares: where it is stored, how it names its inputs, how it
records its parameters. One place, so the stock / urgence / knapsack assets read alike."""

from collections.abc import Callable

import dagster as dg

from orchestrator_assets.defs.validation.checks import SINGLE_OUTPUT, table_check_specs, with_checks
from orchestrator_assets.step_limits import RETRY_POLICY, time_limited

#: the tag naming an asset's parameter group (`--set <group>.<name>=…`); run_parameters.py
#: reads it to route a parameter to its steps.
CONFIG_TAG = "reassort/config"


def module_asset_args(group: str, module: str, kinds: set[str], owner: str = "team:supply-chain") -> dict:
    """Keyword arguments of @dg.asset for an asset of module `module` in group/schema `group`."""
    return {
        "group_name": group,
        "io_manager_key": "warehouse_io_manager",
        "kinds": kinds,
        "owners": [owner],
        "tags": {CONFIG_TAG: group, "module": module},
        "retry_policy": RETRY_POLICY,
    }


def raw_input(stem: str) -> dg.AssetIn:
    """The same partition of an ingested input table raw.<stem>."""
    return dg.AssetIn(key=dg.AssetKey(["raw", stem]))


def upstream(schema: str, table: str) -> dg.AssetIn:
    return dg.AssetIn(key=dg.AssetKey([schema, table]))


def config_metadata(config: dg.Config) -> dict[str, dg.MetadataValue]:
    """Each parameter of the run as `param_<name>` metadata, so a materialisation says how it was made."""
    return {f"param_{name}": dg.MetadataValue.text(str(value)) for name, value in config.model_dump().items()}


def asset_builder(group: str, partitions_def: dg.PartitionsDefinition, common: dict) -> Callable[..., dg.AssetsDefinition]:
    """What a module's factory applies to each of its asset bodies: the key [group, table],
    the module's common arguments, the table's checks in the same step, and the step time
    limit."""

    def asset(body: Callable, table: str, description: str, **spec) -> dg.AssetsDefinition:
        name = f"{group}.{table}"
        return dg.asset(
            key=[group, table], partitions_def=partitions_def, description=description,
            check_specs=table_check_specs([name], partitions_def), **spec, **common,
        )(time_limited(with_checks(body, {SINGLE_OUTPUT: name})))

    return asset
