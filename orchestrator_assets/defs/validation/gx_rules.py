"""The suites' rules evaluated by great-expectations: the reference engine.

`validation.engine=great_expectations` runs the checks through here (the default engine is
polars_rules.py); the equivalence tests run both on the same frames and require identical
outcomes, so GX is the yardstick the Polars rules are held to.

GX runs on pandas frames backed by Arrow (`to_pandas(use_pyarrow_extension_array=True)`:
zero-copy, and an integer column with nulls stays an integer column, which the NumPy
conversion would turn into float64). Column types are then checked as the Python type of
the Arrow dtype (`str`, `int`, `float`, `date`, `bool`: the contract's own words), on the
dtype, not value by value.

great_expectations takes ~7 s to import on the 2-core machine, so it is imported on first
use, and its ephemeral context with every suite is built once per process (`gx_runtime`):
importing this module costs nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from orchestrator_assets.defs.validation.check_results import CheckOutcome
from orchestrator_assets.defs.validation.rule_verdicts import RuleVerdict, check_outcomes, examples_note, sample_of
from orchestrator_assets.defs.validation.suites import TABLE_SUITES, TableSuite, expectation_rules

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation


@dataclass(frozen=True)
class GxRuntime:
    """The ephemeral GX context, one whole-dataframe batch definition, and every suite."""

    context: Any
    batch_definition: Any
    suites: dict[str, Any]


@functools.cache
def gx_runtime() -> GxRuntime:
    """Build (once per process) the GX context and the suites of TABLE_SUITES."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    batch_definition = (
        context.data_sources.add_pandas("reassort_frames")
        .add_dataframe_asset("table_partition")
        .add_batch_definition_whole_dataframe("whole_partition")
    )
    suites = {}
    for name, table_suite in TABLE_SUITES.items():
        suite = gx.ExpectationSuite(name=name)
        for check, label, (kind, kwargs) in expectation_rules(table_suite):
            expectation: Expectation = getattr(gxe, kind)(**kwargs, meta={"check": check, "rule": label})
            suite.add_expectation(expectation)
        suites[name] = context.suites.add(suite)
    return GxRuntime(context, batch_definition, suites)


def evaluate_rules(suite: TableSuite, frame: pl.DataFrame, sample_rows: int = 10) -> list[CheckOutcome]:
    """Evaluate every rule of `suite` on one partition's rows with GX; one outcome per check."""
    runtime = gx_runtime()
    batch = runtime.batch_definition.get_batch(
        batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=True)}
    )
    result = batch.validate(
        runtime.suites[suite.name],
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": sample_rows},
    )
    verdicts = [_verdict(item, frame) for item in result.results if not item.success]
    return check_outcomes(suite, verdicts, frame.height, sample_rows)


def _verdict(expectation_result: Any, frame: pl.DataFrame) -> RuleVerdict:
    """A failing GX result as a RuleVerdict (its check and rule label are in its meta)."""
    meta = expectation_result.expectation_config.meta
    check, label = meta["check"], meta["rule"]
    info = expectation_result.result or {}
    exception = expectation_result.exception_info or {}
    if exception.get("raised_exception"):
        message = (exception.get("exception_message") or "").splitlines()[0][:200]
        return RuleVerdict(check, label, frame.height, f"could not be evaluated ({message})")
    if "unexpected_count" in info:
        count = int(info["unexpected_count"] or 0)
        examples = [_plain(value) for value in (info.get("partial_unexpected_list") or [])[:3]]
        indexes = [int(index) for index in (info.get("partial_unexpected_index_list") or []) if _is_int(index)]
        sample = sample_of(label, frame[indexes]) if indexes else None
        return RuleVerdict(check, label, count, examples_note(count, examples), sample)
    # table level (column set, column type, column missing), or a metric GX could not
    # compute (its exception_info is keyed by metric, and the result is empty)
    observed = info.get("observed_value")
    mismatched = (info.get("details") or {}).get("mismatched")
    return RuleVerdict(check, label, frame.height, f"observed {mismatched or observed}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) or (hasattr(value, "__index__") and not isinstance(value, bool))


def _plain(value: object) -> object:
    """NumPy / pandas scalars as plain Python values, for a readable detail."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    item = getattr(value, "item", None)
    return item() if callable(item) else value
