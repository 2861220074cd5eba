"""Asset bodies are module-level functions (issue 20 point 1): a test calls one with frames,
and a small recording context where it logs, without building a code location or a run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl
import pytest

from orchestrator_assets.defs.knapsack.assets import selected_pairs
from orchestrator_assets.defs.stock.assets import stock_initial_asset
from orchestrator_assets.defs.stock.config import StockConfig
from orchestrator_assets.defs.urgence.assets import ALERT_CLASS, urgency_classification_asset
from orchestrator_assets.defs.urgence.config import UrgenceConfig
from solvers.horizon import DEFAULT_HORIZON_DAYS


@dataclass
class RecordingContext:
    """What urgency_classification_asset uses of its context: the partition, a log, log_event."""

    partition_key: str = "2026-01-02"
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("test_asset_bodies"))
    events: list = field(default_factory=list)

    def log_event(self, event) -> None:
        self.events.append(event)


def value(metadata_value):
    return getattr(metadata_value, "value", metadata_value)


def test_stock_initial_body_drops_inactive_articles_and_counts_pairs_below_minimum():
    stock_levels = pl.DataFrame(
        {"site_id": ["S1", "S1", "S2"], "article_id": ["A1", "A2", "A1"], "quantity_on_hand": [1, 5, 3]}
    )
    articles = pl.DataFrame(
        {"article_id": ["A1", "A2"], "active": [True, False], "stock_min": [2, 1], "stock_max": [9, 9],
         "lead_time_days": [3, 3], "lot_size": [1, 1]}
    )
    output = stock_initial_asset(StockConfig(), stock_levels, articles)
    assert output.value.select("site_id", "article_id", "on_hand").rows() == [("S1", "A1", 1), ("S2", "A1", 3)]
    assert output.value.schema["on_hand"] == pl.Int64
    metadata = {key: value(item) for key, item in output.metadata.items()}
    assert metadata["pairs_below_min_now"] == 1
    assert metadata["inactive_articles_dropped"] == 1
    assert metadata["param_horizon_days"] == str(DEFAULT_HORIZON_DAYS)


def classification_inputs(u_total: float, importance: str) -> dict[str, pl.DataFrame]:
    pair = {"site_id": ["V1"], "article_id": ["A1"]}
    return {
        "urgency_total": pl.DataFrame({**pair, "u_total": [u_total]}),
        "stock_projection": pl.DataFrame(
            {**pair, "days_to_stockout": [2], "lead_time_days": [5], "min_projected": [-3.0]},
            schema_overrides={"days_to_stockout": pl.Int64},
        ),
        "articles": pl.DataFrame({"article_id": ["A1"], "importance": [importance]}),
        "abc_classification": pl.DataFrame({"article_id": ["A1"], "abc": ["A"]}),
    }


def test_a_critique_a_pair_is_logged_as_an_observation_on_the_classification():
    context = RecordingContext()
    output = urgency_classification_asset(context, UrgenceConfig(), **classification_inputs(0.9, "STANDARD"))
    assert output.value["class"].to_list() == [ALERT_CLASS]
    [observation] = context.events
    assert isinstance(observation, dg.AssetObservation)
    assert observation.asset_key == dg.AssetKey(["urgence", "urgency_classification"])
    assert observation.partition == "2026-01-02"
    assert value(observation.metadata["alert"]) == ALERT_CLASS
    assert value(observation.metadata["critique_a_count"]) == 1
    assert value(output.metadata["critique_a_count"]) == 1


def test_no_observation_without_a_critique_a_pair():
    context = RecordingContext()
    inputs = classification_inputs(0.1, "STANDARD")
    inputs["stock_projection"] = inputs["stock_projection"].with_columns(
        pl.lit(None, dtype=pl.Int64).alias("days_to_stockout"), pl.lit(4.0).alias("min_projected")
    )
    output = urgency_classification_asset(context, UrgenceConfig(), **inputs)
    assert output.value["class"].to_list() != [ALERT_CLASS]
    assert context.events == []


def test_knapsack_categories_keep_their_pairs_and_an_unknown_one_fails_before_solving():
    articles = pl.DataFrame({"article_id": ["A1", "A2"], "category": ["FIBRE", "CUIVRE"]})
    pairs = pl.DataFrame({"site_id": ["V1", "V1"], "article_id": ["A1", "A2"], "category": ["FIBRE", "CUIVRE"]})
    day = date(2026, 1, 2)
    assert selected_pairs(pairs, articles, [], day).equals(pairs)
    assert selected_pairs(pairs, articles, ["FIBRE"], day)["article_id"].to_list() == ["A1"]
    with pytest.raises(dg.Failure, match="unknown category FIBER; the categories of raw.articles on 2026-01-02 are CUIVRE, FIBRE"):
        selected_pairs(pairs, articles, ["FIBRE", "FIBER"], day)
