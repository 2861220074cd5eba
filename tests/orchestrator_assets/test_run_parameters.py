"""`--set group.param=value`: validation and the parameters one module takes from another."""

from datetime import date

import pytest

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.run_parameters import ParameterError, parse_overrides, run_config_for


def test_followers_take_their_source_unless_set():
    assert parse_overrides(["stock.history_days=60"])["urgence"] == {"history_days": 60}
    assert parse_overrides(["stock.history_days=60", "urgence.history_days=30"])["urgence"] == {"history_days": 30}
    got = parse_overrides(["ingest.max_rejected_share=0.2"])
    assert got["stock"] == {"max_rejected_share": 0.2} and got["urgence"] == {"max_rejected_share": 0.2}


def test_unknown_name_and_bad_value_are_refused():
    with pytest.raises(ParameterError, match="unknown parameter 'stock.horizon'"):
        parse_overrides(["stock.horizon=3"])
    with pytest.raises(ParameterError, match="stock.max_rejected_share"):
        parse_overrides(["stock.max_rejected_share=2"])


def test_run_config_gives_the_followers_to_the_steps_that_read_the_history(tmp_path):
    """A run config built from a plain mapping (the UI's launchpad path, the tests) gets the
    followers too: the forecast and ABC steps read window days from files with the ingestion's
    share of bad rows."""
    data = tmp_path / "data"
    generate("tiny", date(2026, 1, 1), 2, data, seed=1)
    defs = build_definitions(data, data / "w.duckdb")
    ops = run_config_for({"ingest": {"max_rejected_share": 0.5}}, list(defs.assets))["ops"]
    assert ops["stock__consumption_forecast"]["config"]["max_rejected_share"] == 0.5
    assert ops["urgence__abc_classification"]["config"]["max_rejected_share"] == 0.5
    assert ops["raw__movements"]["config"]["max_rejected_share"] == 0.5


def test_capacity_overrides_of_a_site_are_gathered_and_checked():
    from orchestrator_assets.run_parameters import ParameterError, parse_overrides

    parsed = parse_overrides(["knapsack.capacity.VAN1.total=150", "knapsack.capacity.VAN1.FIBRE=60", "knapsack.strategy=greedy"])
    assert parsed["knapsack"] == {"strategy": "greedy", "capacity": {"VAN1": {"total": 150.0, "FIBRE": 60.0}}}
    for bad in ("knapsack.capacity.VAN1.total=-1", "knapsack.capacity.VAN1=3", "knapsack.capacity.VAN1.total=lots",
                "knapsack.capacity.VAN1.FIBRE=true", "knapsack.capacity.a/b.total=1"):
        with pytest.raises(ParameterError):
            parse_overrides([bad])
