"""Thresholds of the VALIDATION_FINALE checks (SPEC §6): what makes a soft check warn, and
which engine evaluates the suites' rules.

A resource, not an op config: the checks run in the steps of the assets they check, whose op
config is their module's (StockConfig, ...); every such step takes this resource, so
`--set validation.<name>=…` (run config `resources.validation.config`) reaches them all."""

from typing import Literal

import dagster as dg
from pydantic import Field

RuleEngine = Literal["polars", "great_expectations"]
#: the resource key of ValidationSettings
VALIDATION_RESOURCE = "validation"


class ValidationSettings(dg.ConfigurableResource):
    """Limits of the soft (WARN) checks and of the capacity comparison; the blocking rules have no knob
    (the engine evaluating them gives the same verdicts either way)."""

    zero_rate_share_max: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="consumption_forecast warns when the share of pairs with a zero rate is strictly above this "
        "(a history window that failed to load gives ~100 %).",
    )
    critique_jump_ratio: float = Field(
        default=2.0,
        ge=1.0,
        description="urgency_classification warns when its CRITIQUE-level pairs are more than this many times "
        "the previous partition's ...",
    )
    critique_jump_min_pairs: int = Field(
        default=20, ge=0, description="... and more than this many pairs above the previous partition's."
    )
    capacity_tolerance: float = Field(
        default=1e-6, ge=0.0, description="Volume by which an allocation may exceed a capacity (float noise)."
    )
    sample_rows: int = Field(default=10, ge=1, le=200, description="Failing rows shown in a check's metadata.")
    engine: RuleEngine = Field(
        default="polars",
        description="What evaluates the suites' rules (schema, key_unique, values_in_range, class_labels, "
        "projection_consistency): polars (polars_rules.py, milliseconds) or great_expectations (gx_rules.py, "
        "the reference: same verdicts, ~10 s to set up per process and ~0.3 s per table).",
    )
