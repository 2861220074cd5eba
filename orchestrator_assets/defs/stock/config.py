"""Run parameters of the STOCK module (`reassort run --set stock.NAME=V`), SPEC §3 defaults."""

from typing import Literal

import dagster as dg
from pydantic import Field

from orchestrator_assets.defs.ingest.config import history_rejected_share_field
from solvers.horizon import DEFAULT_HISTORY_DAYS, DEFAULT_HORIZON_DAYS


class StockConfig(dg.Config):
    """Horizon, history window and forecasting method of the stock projection (SPEC §3)."""

    horizon_days: int = Field(default=DEFAULT_HORIZON_DAYS, ge=1, le=366, description="H: days projected after D.")
    history_days: int = Field(default=DEFAULT_HISTORY_DAYS, ge=1, le=3660, description="N: days of consumption history, D-N+1..D.")
    forecast_method: Literal["mean", "ses", "croston", "sba", "tsb", "auto"] = Field(
        default="sba",
        description="Consumption-rate method (SPEC §3); auto: per pair, the method with the lowest error on its "
        "backtest over the last horizon_days (ties: sba), recorded in consumption_forecast.method.",
    )
    alpha: float = Field(default=0.1, gt=0.0, le=1.0, description="Smoothing constant of ses / croston / sba / tsb (demand size).")
    beta: float = Field(default=0.1, gt=0.0, le=1.0, description="Smoothing constant of tsb's demand probability.")
    max_rejected_share: float = history_rejected_share_field()
