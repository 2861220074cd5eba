"""Declarative workflows: parsing, substitution, errors that name workflow/key/line, jobs, plan."""

import re

import pytest

from orchestrator_assets.defs.automation.workflows import WorkflowError, parse_workflows

GOOD = """
workflows:
  URGENCE_RAPIDE:
    description: fast
    modules: [ingest, stock, urgence, knapsack]
    parameters:
      stock.horizon_days: 14
      knapsack.strategy: greedy
    schedule: {cron: "0 12 * * 1-5", timezone: Europe/Paris}
  FIBRE_SEUL:
    modules: [knapsack, stock, urgence]
    parameters:
      knapsack.categories: [FIBRE]
      knapsack.time_limit_s: ${FIBRE_LIMIT:-5}
"""


def test_workflows_are_parsed_with_their_parameters_and_schedule():
    rapid, fibre = parse_workflows(GOOD)
    assert rapid.name == "URGENCE_RAPIDE" and rapid.cron == "0 12 * * 1-5" and rapid.timezone == "Europe/Paris"
    assert rapid.overrides == {"stock": {"horizon_days": 14}, "knapsack": {"strategy": "greedy"}}
    assert fibre.modules == ("stock", "urgence", "knapsack")  # pipeline order
    assert fibre.overrides["knapsack"] == {"categories": ["FIBRE"], "time_limit_s": 5}


def test_environment_variables_are_substituted_with_their_type(monkeypatch):
    monkeypatch.setenv("FIBRE_LIMIT", "2.5")
    assert parse_workflows(GOOD)[1].overrides["knapsack"]["time_limit_s"] == 2.5


def error_of(text: str) -> str:
    with pytest.raises(WorkflowError) as info:
        parse_workflows(text, "wf.yaml")
    return str(info.value)


def test_unknown_parameter_names_workflow_key_and_line():
    message = error_of("workflows:\n  A:\n    modules: [stock]\n    parameters:\n      stock.horizon: 3\n")
    assert "workflow A" in message and "'parameters'" in message and "line 5" in message and "stock.horizon" in message


def test_bad_value_is_refused():
    message = error_of("workflows:\n  A:\n    parameters:\n      knapsack.strategy: random\n")
    assert "workflow A" in message and "knapsack.strategy" in message


def test_unknown_key_and_module_and_cron_are_refused():
    assert "key 'modulez', line 3" in error_of("workflows:\n  A:\n    modulez: [stock]\n")
    assert "modules must be" in error_of("workflows:\n  A:\n    modules: [stock, rocket]\n")
    assert "invalid cron" in error_of("workflows:\n  A:\n    schedule: {cron: 'every day'}\n")
    assert "unknown timezone" in error_of("workflows:\n  A:\n    schedule: {cron: '0 6 * * *', timezone: Mars/Olympus}\n")


def test_missing_environment_variable_is_named(monkeypatch):
    monkeypatch.delenv("NOPE_VAR", raising=False)
    message = error_of("workflows:\n  A:\n    parameters:\n      stock.horizon_days: ${NOPE_VAR}\n")
    assert "NOPE_VAR" in message and "workflow A" in message


def test_each_workflow_becomes_a_job_and_a_schedule(project_env, tmp_path, monkeypatch):
    from orchestrator_assets.definitions import build_definitions

    path = tmp_path / "workflows.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("REASSORT_WORKFLOWS", str(path))
    defs = build_definitions()
    job = defs.resolve_job_def("workflow_FIBRE_SEUL")
    assert {key.path[0] for key in job.asset_layer.executable_asset_keys} == {"stock", "urgence", "knapsack"}
    assert "workflow_URGENCE_RAPIDE_schedule" in [s.name for s in defs.schedules]
    rapid = defs.resolve_job_def("workflow_URGENCE_RAPIDE")
    assert rapid.run_config_schema is not None


def test_an_invalid_file_fails_loading_the_definitions(project_env, tmp_path, monkeypatch):
    from orchestrator_assets.definitions import build_definitions

    path = tmp_path / "workflows.yaml"
    path.write_text("workflows:\n  BAD:\n    parameters:\n      stock.horizon_days: -1\n")
    monkeypatch.setenv("REASSORT_WORKFLOWS", str(path))
    with pytest.raises(WorkflowError, match="workflow BAD"):
        build_definitions()


def test_plan_prints_steps_parameters_and_partition_without_running(project_env, tmp_path, monkeypatch, capsys):
    from datetime import date

    from data_generation.field_service import generate
    from orchestrator_assets.cli import main

    generate("tiny", date(2026, 1, 1), 3, project_env, seed=1)
    path = tmp_path / "workflows.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("REASSORT_WORKFLOWS", str(path))
    assert main(["plan", "URGENCE_RAPIDE", "--date", "2026-01-03"]) == 0
    out = capsys.readouterr().out
    assert "partition 2026-01-03" in out and "* stock.horizon_days = 14" in out and "* knapsack.strategy = 'greedy'" in out
    steps = re.findall(r"^\s+\d+\. (\S+)$", out, flags=re.MULTILINE)
    assert steps.index("raw/stock_levels") < steps.index("stock/stock_projection") < steps.index("knapsack/allocation")
    assert not (project_env / "warehouse").exists()


def test_a_workflow_writes_its_own_scenario_unless_it_says_base():
    text = (
        "workflows:\n"
        "  TRY:\n    modules: [stock, urgence, knapsack]\n"
        "  OFFICIAL:\n    modules: [stock]\n    scenario: base\n"
        "  NAMED:\n    modules: [knapsack]\n    scenario: greedy_noon\n"
    )
    by_name = {workflow.name: workflow for workflow in parse_workflows(text)}
    assert by_name["TRY"].run_tags["reassort/scenario"] == "TRY"
    assert "reassort/scenario" not in by_name["OFFICIAL"].run_tags
    assert by_name["NAMED"].run_tags["reassort/scenario"] == "greedy_noon"
    with pytest.raises(WorkflowError, match="scenario.*line 3"):
        parse_workflows("workflows:\n  BAD:\n    scenario: ../x\n    modules: [stock]\n")
