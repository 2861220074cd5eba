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


def test_validation_parameters_go_to_the_validation_resource_of_the_steps_that_check(tmp_path):
    """The checks run in the steps of every module: their thresholds are one resource's
    config, given only when a selected asset takes it, and read back as group values."""
    from orchestrator_assets.run_parameters import group_values

    defs = build_definitions(tmp_path / "data", tmp_path / "w")
    overrides = parse_overrides(["validation.zero_rate_share_max=0.5", "stock.horizon_days=14"])
    config = run_config_for(overrides, list(defs.assets))
    assert config["resources"] == {"validation": {"config": {"zero_rate_share_max": 0.5}}}
    assert config["ops"]["stock__stock_projection"] == {"config": {"horizon_days": 14}}
    assert not any("zero_rate_share_max" in op["config"] for op in config["ops"].values())
    assert group_values(config, {"stock__stock_projection": "stock"}) == {
        "stock.horizon_days": 14, "validation.zero_rate_share_max": 0.5,
    }
    report_only = [a for a in defs.assets if all(key.path[0] == "report" for key in a.keys)]
    assert "resources" not in run_config_for(overrides, report_only)  # no step of them checks a table
    with pytest.raises(ParameterError, match="validation.zero_rate_share_max"):
        parse_overrides(["validation.zero_rate_share_max=2"])


def test_capacity_overrides_of_a_site_are_gathered_and_checked():
    from orchestrator_assets.run_parameters import ParameterError, parse_overrides

    parsed = parse_overrides(["knapsack.capacity.VAN1.total=150", "knapsack.capacity.VAN1.FIBRE=60", "knapsack.strategy=greedy"])
    assert parsed["knapsack"] == {"strategy": "greedy", "capacity": {"VAN1": {"total": 150.0, "FIBRE": 60.0}}}
    for bad in ("knapsack.capacity.VAN1.total=-1", "knapsack.capacity.VAN1=3", "knapsack.capacity.VAN1.total=lots",
                "knapsack.capacity.VAN1.FIBRE=true", "knapsack.capacity.a/b.total=1"):
        with pytest.raises(ParameterError):
            parse_overrides([bad])


def test_a_workflows_validation_parameters_reach_the_validation_resource(tmp_path, monkeypatch):
    """`reassort run --workflow` (and the client's launch) send the workflow's parameters:
    its validation thresholds must reach the resource the checking steps take."""
    from orchestrator_assets.defs.automation.workflows import load_workflows
    from orchestrator_assets.workflow_runs import workflow_ops_config

    path = tmp_path / "workflows.yaml"
    path.write_text(
        "workflows:\n"
        "  STRICT:\n"
        "    modules: [stock]\n"
        "    parameters:\n"
        "      validation.zero_rate_share_max: 0.5\n"
        "      stock.horizon_days: 14\n"
    )
    monkeypatch.setenv("REASSORT_WORKFLOWS", str(path))
    defs = build_definitions(tmp_path / "data", tmp_path / "w")
    (workflow,) = load_workflows(path)
    config = workflow_ops_config(defs, workflow, workflow.overrides)
    assert config["resources"] == {"validation": {"config": {"zero_rate_share_max": 0.5}}}
    assert config["ops"]["stock__stock_projection"] == {"config": {"horizon_days": 14}}
