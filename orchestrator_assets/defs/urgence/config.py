"""Run parameters of the URGENCE module (`reassort run --set urgence.NAME=V`), SPEC §4 defaults."""

import dagster as dg
from pydantic import Field, model_validator

from orchestrator_assets.defs.ingest.config import history_rejected_share_field
from solvers.horizon import DEFAULT_HISTORY_DAYS


class UrgenceConfig(dg.Config):
    """Scoring weights, level thresholds and ABC cut-offs (SPEC §4)."""

    tau: float = Field(default=7.0, gt=0.0, description="Decay length (days) of the temporal urgency after the lead time.")
    w_t: float = Field(default=0.6, ge=0.0, description="Weight of the temporal urgency in U.")
    w_q: float = Field(default=0.4, ge=0.0, description="Weight of the quantitative urgency in U.")
    critique_threshold: float = Field(default=0.8, ge=0.0, description="U at or above which a pair is CRITIQUE.")
    urgent_threshold: float = Field(default=0.5, ge=0.0, description="U at or above which a pair is URGENT.")
    surveillance_threshold: float = Field(default=0.2, ge=0.0, description="U at or above which a pair is SURVEILLANCE.")
    abc_a_cutoff: float = Field(default=0.80, ge=0.0, le=1.0, description="Cumulative value share below which an article is A.")
    abc_b_cutoff: float = Field(default=0.95, ge=0.0, le=1.0, description="Cumulative value share below which an article is B.")
    history_days: int = Field(
        default=DEFAULT_HISTORY_DAYS, ge=1, le=3660,
        description="ABC window N; follows stock.history_days when that is set (same window as the forecast).",
    )
    max_rejected_share: float = history_rejected_share_field()

    @model_validator(mode="after")
    def _ordered(self) -> "UrgenceConfig":
        if not (self.surveillance_threshold <= self.urgent_threshold <= self.critique_threshold):
            raise ValueError("thresholds must satisfy surveillance_threshold <= urgent_threshold <= critique_threshold")
        if self.abc_a_cutoff > self.abc_b_cutoff:
            raise ValueError("abc_a_cutoff must be <= abc_b_cutoff")
        return self

    @property
    def thresholds(self) -> tuple[float, float, float]:
        return (self.critique_threshold, self.urgent_threshold, self.surveillance_threshold)
