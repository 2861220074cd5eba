"""Declarative workflows: parsing, substitution, errors that name workflow/key/line, jobs, plan;
module options, conditions (and hostile ones), variables, extends, criteria; the step-level
time limit and retries of a module. Runs end to end: test_workflow_runs.py."""

import json
import re

import dagster as dg
import pytest

from orchestrator_assets.defs.automation.workflows import WorkflowError, parse_workflows
from orchestrator_assets.step_failures import step_failure_message
from orchestrator_assets.step_limits import time_limited

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
    path.write_text(FULL)
    assert main(["plan", "MIDI", "--date", "2026-01-03"]) == 0
    out = capsys.readouterr().out
    for line in (
        "  metadata: name 'Midi', version '1.2', owner 'planning@example.com', description 'Urgent noon pass'",
        "  priority: 7 (run tag dagster/priority: higher leaves the run queue first)",
        "  module knapsack: runs when `force or partition_date >= start`, not critical (continue_on_error)",
        "  variable horizon (int) = 14 (reassort run --workflow MIDI --var horizon=...)",
        "  success criteria: required modules urgence, at least 2 module(s) completed",
        "  * stock.horizon_days = 14",
    ):
        assert line in out.splitlines(), (line, out)


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


# ---------------------------------------------------------------- modules as a mapping, options
OPTIONS = """
workflows:
  NOON:
    modules:
      stock: {}
      urgence: {max_retries: 2, retry_delay_seconds: 0.5, timeout_seconds: 60}
      knapsack: {condition: "weekday < 5", continue_on_error: true}
      ingest: {enabled: false}
"""


def test_modules_as_a_mapping_carry_their_options_and_old_lists_stay_valid():
    (noon,) = parse_workflows(OPTIONS)
    assert noon.modules == ("stock", "urgence", "knapsack") and noon.disabled == ("ingest",)
    assert noon.options("stock").critical and noon.options("stock").retries is None
    urgence = noon.options("urgence")
    assert (urgence.max_retries, urgence.retry_delay_seconds, urgence.timeout_seconds) == (2, 0.5, 60.0)
    assert urgence.retries == (2, 0.5)
    knapsack = noon.options("knapsack")
    assert knapsack.condition == "weekday < 5" and knapsack.critical is False
    (listed,) = parse_workflows("workflows:\n  A:\n    modules: [knapsack, stock]\n")
    assert listed.modules == ("stock", "knapsack") and listed.options("knapsack").critical
    tags = noon.run_tags
    assert json.loads(tags["reassort/module/knapsack"]) == {"condition": "weekday < 5", "critical": False}
    assert "reassort/module/ingest" not in tags  # disabled: as if unlisted


@pytest.mark.parametrize(
    ("modules", "says", "line"),
    [
        ("{stock: {retries: 2}}", "unknown option(s) retries", 4),
        ("{stock: {max_retries: 99}}", "max_retries: expected a whole number from 0 to 10", 4),
        ("{stock: {timeout_seconds: -1}}", "timeout_seconds", 4),
        ("{stock: {critical: false, continue_on_error: false}}", "continue_on_error", 4),
        ("{stock: {enabled: false}}", "no module is enabled", 4),
        ("{rocket: {}}", "unknown module", 4),
        ("{stock: 3}", "expected the module's options", 4),
    ],
)
def test_bad_module_options_name_workflow_module_and_line(modules, says, line):
    message = error_of(f"workflows:\n  A:\n    description: x\n    modules: {modules}\n")
    assert "workflow A" in message and says in message and f"line {line}" in message, message


# ---------------------------------------------------------------- conditions
def test_conditions_read_facts_variables_and_parameters():
    from orchestrator_assets.defs.automation.conditions import parse_condition
    from orchestrator_assets.defs.automation.workflow_options import parse_variables
    from orchestrator_assets.defs.automation.workflows import condition_types

    types = condition_types(parse_variables({"min_critical": 3, "force": False, "since": {"type": "date", "default": "2026-01-02"}}))
    condition = parse_condition(
        "(critique_a_previous >= min_critical or force) and weekday not in [5, 6] "
        "and stock.horizon_days * 2 - 1 > 20 and partition_date >= since and 'FIBRE' in knapsack.categories",
        types,
    )
    values = {"critique_a_previous": 4, "min_critical": 3, "force": False, "weekday": 2, "stock.horizon_days": 14,
              "partition_date": "2026-01-05", "since": "2026-01-02", "knapsack.categories": ["FIBRE"]}
    assert condition.evaluate(values) is True
    assert condition.evaluate({**values, "weekday": 6}) is False
    assert condition.evaluate({**values, "critique_a_previous": 0, "force": True}) is True
    assert condition.evaluate({**values, "partition_date": "2026-01-01"}) is False
    assert condition.names == {"critique_a_previous", "min_critical", "force", "weekday", "stock.horizon_days",
                               "partition_date", "since", "knapsack.categories"}
    assert parse_condition("1 < weekday < 4", types).evaluate({"weekday": 3})
    assert not parse_condition("not weekday == 3", types).evaluate({"weekday": 3})


def test_an_unknown_name_is_refused_with_the_known_ones():
    message = error_of('workflows:\n  A:\n    modules:\n      knapsack: {condition: "wekday < 5"}\n')
    assert "workflow A, module knapsack, key 'condition', line 4" in message
    assert "unknown name 'wekday'" in message and "weekday" in message and "critique_a_previous" in message


@pytest.mark.parametrize(
    ("condition", "says"),
    [
        ("weekday.__class__.__bases__ == 0", "attribute access is not allowed"),
        ("().__class__ == 1", "attribute access is not allowed"),
        ("__import__('os').system('touch /tmp/pwned') == 0", "function calls are not allowed"),
        ("len(partition_date) > 3", "function calls are not allowed"),
        ("9 ** 9 ** 9 > 1", "the operator '**' is not allowed"),
        ("weekday ** 999999 > 1", "the operator '**' is not allowed"),
        ("partition_date[0] == '2'", "subscripts"),
        ("(lambda: 1)() == 1", "function calls are not allowed"),
        ("[x for x in [1]] == 1", "ListComp is not allowed"),
        ("'a' * 1000000000 == 'b'", "applies to numbers, not string and number"),
        ("weekday << 60 > 1", "the operator '<<' is not allowed"),
        ("weekday / 0 > 1", "the operator '/' is not allowed"),
        ("weekday > 10000000000000", "larger than 1000000000"),
        ("weekday > 1e400", "larger than"),
        ("weekday < 5 if month else True", "'x if c else y' is not allowed"),
        ("(y := 1) == 1", "':=' is not allowed"),
        ("weekday", "is a number, not true/false"),
        ("weekday == 'monday'", "cannot compare a number with a string"),
        ("weekday < 5 and 3", "'and' / 'or' join true/false values"),
        ("import os", "not a valid expression"),
        ("x = 1", "not a valid expression"),
        ("stock.horizon_days.real > 1", "attribute access is not allowed"),
        ("stock.__dict__ == 1", "attribute access is not allowed"),
        ("weekday is None", "the comparison 'is' is not allowed"),
        ("weekday == None", "NoneType values are not allowed"),
        ("f'{weekday}' == '1'", "f-strings are not allowed"),
        ("-" * 200 + "1 < 0", "parts, at most 80"),
        ("(" * 240 + "1" + ")" * 240 + " > 0", "not a valid expression"),
        ("weekday < 5 or " * 60 + "True", "characters, more than the 500 allowed"),
    ],
)
def test_a_malicious_or_wrong_condition_is_refused_at_load_time(condition, says):
    import time

    text = "workflows:\n  A:\n    modules:\n      stock: {}\n      knapsack:\n        condition: " + json.dumps(condition) + "\n"
    started = time.perf_counter()
    message = error_of(text)
    assert time.perf_counter() - started < 2.0
    assert "workflow A, module knapsack, key 'condition', line 6" in message, message
    assert says in message, message


def test_a_result_beyond_the_bound_stops_the_evaluation():
    from orchestrator_assets.defs.automation.conditions import MAX_RESULT, ConditionError, parse_condition

    condition = parse_condition("weekday * 1000000000 * 1000000000 > 1", {"weekday": "number"})
    assert condition.evaluate({"weekday": 0}) is False
    with pytest.raises(ConditionError, match=f"above {MAX_RESULT}"):
        condition.evaluate({"weekday": 3})


# ---------------------------------------------------------------- variables, criteria, priority, metadata
FULL = """
workflows:
  MIDI:
    description: noon pass
    metadata: {name: Midi, version: 1.2, description: Urgent noon pass, owner: planning@example.com}
    priority: 7
    variables:
      horizon: {type: int, default: 14}
      ratio: 0.2
      label: {type: str, default: noon}
      force: false
      start: {type: date, default: 2026-01-01}
    modules:
      stock: {}
      urgence: {}
      knapsack: {condition: "force or partition_date >= start", critical: false}
    success_criteria: {required_modules: [urgence], min_completed: 2}
    parameters:
      stock.horizon_days: ${vars.horizon}
      knapsack.topup_ratio: ${vars.ratio}
"""


def test_variables_are_typed_with_defaults_and_reach_parameters_and_tags():
    from orchestrator_assets.defs.automation.workflow_options import OptionsError, launch_values

    (midi,) = parse_workflows(FULL)
    kinds = {name: (variable.type, variable.default) for name, variable in midi.variables.items()}
    assert kinds == {"horizon": ("int", 14), "ratio": ("float", 0.2), "label": ("str", "noon"),
                     "force": ("bool", False), "start": ("date", "2026-01-01")}
    assert midi.overrides["stock"]["horizon_days"] == 14 and midi.overrides["knapsack"]["topup_ratio"] == 0.2
    values = launch_values(midi.variables, {"horizon": "21", "force": "true", "start": "2026-02-01"})
    assert values["horizon"] == 21 and values["force"] is True and values["start"] == "2026-02-01"
    assert midi.overrides_for(values)["stock"]["horizon_days"] == 21
    with pytest.raises(OptionsError, match="unknown variable.*nope.*horizon \\(int, default 14\\)"):
        launch_values(midi.variables, {"nope": "1"})
    with pytest.raises(OptionsError, match="variable horizon: expected a whole number"):
        launch_values(midi.variables, {"horizon": "2.5"})
    with pytest.raises(OptionsError, match="variable start: expected a date YYYY-MM-DD"):
        launch_values(midi.variables, {"start": "tomorrow"})
    tags = midi.run_tags
    assert tags["dagster/priority"] == "7"
    assert json.loads(tags["reassort/success_criteria"]) == {"required_modules": ["urgence"], "min_completed": 2}
    assert json.loads(tags["reassort/variables"])["horizon"] == {"type": "int", "default": 14}
    assert midi.metadata == {"name": "Midi", "version": "1.2", "description": "Urgent noon pass", "owner": "planning@example.com"}


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ("    variables: {weekday: 1}\n", "variables", "the name of a fact or a parameter group"),
        ("    variables: {n: {type: complex, default: 1}}\n", "variables", "type 'complex' is not one of"),
        ("    variables: {n: {type: int, default: x}}\n", "variables", "variable n: expected a whole number"),
        ("    parameters: {stock.horizon_days: \"${vars.nope}\"}\n", "parameters", "unknown workflow variable"),
        ("    success_criteria: {required_modules: [knapsack]}\n", "success_criteria", "among the workflow's modules"),
        ("    success_criteria: {min_completed: 5}\n", "success_criteria", "min_completed must be a whole number from 0 to 1"),
        ("    priority: high\n", "priority", "expected a whole number"),
        ("    metadata: {owner: bob}\n", "metadata", "an email address or team:NAME"),
        ("    metadata: {colour: red}\n", "metadata", "expected a mapping with"),
    ],
)
def test_bad_workflow_keys_name_workflow_key_and_line(body, key, says):
    message = error_of("workflows:\n  A:\n    modules: [stock]\n" + body)
    assert f"workflow A, key '{key}', line 4" in message and says in message, message


def test_success_criteria_judge_the_modules_that_completed():
    from orchestrator_assets.defs.automation.workflow_options import SuccessCriteria

    criteria = SuccessCriteria(("urgence",), 2)
    assert criteria.problems({"stock", "urgence"}) == []
    assert criteria.problems({"stock", "knapsack"}) == ["required module urgence did not complete"]
    assert criteria.problems({"urgence"}) == ["1 module(s) completed, fewer than min_completed 2"]
    assert SuccessCriteria.from_tag(criteria.to_tag()) == criteria


# ---------------------------------------------------------------- extends
TEMPLATES = """
workflows:
  PARENT:
    description: the parent
    modules:
      stock: {timeout_seconds: 100}
      urgence: {}
      knapsack: {condition: "weekday < 5", critical: false}
    variables: {horizon: 14}
    parameters:
      stock.horizon_days: ${vars.horizon}
      knapsack.categories: [FIBRE, CUIVRE]
      knapsack.strategy: greedy
    schedule: {cron: "0 12 * * *"}
    scenario: parent_try
    priority: 3
  CHILD:
    extends: PARENT
    variables: {horizon: 30}
    modules:
      knapsack: {critical: true}
    parameters:
      knapsack.categories: [FIBRE]
  GRANDCHILD:
    extends: CHILD
    modules: [stock, urgence]
"""


def test_extends_merges_mappings_key_by_key_and_replaces_the_rest():
    by_name = {workflow.name: workflow for workflow in parse_workflows(TEMPLATES)}
    child, grandchild = by_name["CHILD"], by_name["GRANDCHILD"]
    assert child.extends == "PARENT" and child.description == "the parent" and child.priority == 3
    # modules: a mapping merged per module, and per option inside a module
    assert child.modules == ("stock", "urgence", "knapsack")
    assert child.options("knapsack").condition == "weekday < 5" and child.options("knapsack").critical is True
    assert child.options("stock").timeout_seconds == 100
    # parameters: merged per name; a list value is replaced, not appended to
    assert child.overrides["knapsack"] == {"categories": ["FIBRE"], "strategy": "greedy"}
    # variables merged: the child's default, used by the parent's ${vars.horizon}
    assert child.overrides["stock"]["horizon_days"] == 30
    # never inherited: schedule and scenario
    assert child.cron is None and child.scenario == "CHILD" and by_name["PARENT"].cron == "0 12 * * *"
    # a list replaces the inherited mapping (and its options)
    assert grandchild.modules == ("stock", "urgence") and grandchild.options("stock").timeout_seconds is None
    assert grandchild.overrides["knapsack"] == {"categories": ["FIBRE"], "strategy": "greedy"}


def test_extends_cycles_and_unknown_parents_are_refused():
    cycle = "workflows:\n  A:\n    extends: B\n  B:\n    extends: C\n  C:\n    extends: A\n"
    message = error_of(cycle)
    assert "extends makes a cycle: A -> B -> C -> A" in message and "workflow C, key 'extends', line 7" in message
    assert "cycle: A -> A" in error_of("workflows:\n  A:\n    extends: A\n")
    assert "no workflow 'NOPE' to extend (workflows: A)" in error_of("workflows:\n  A:\n    extends: NOPE\n")
    # an error in an inherited value names the line where the parent wrote it
    message = error_of(
        'workflows:\n  P:\n    variables: {h: 14}\n    parameters: {stock.horizon_days: "${vars.h}"}\n'
        "  C:\n    extends: P\n    variables: {h: {type: str, default: long}}\n"
    )
    assert "workflow C, key 'parameters', line 4" in message and "stock.horizon_days" in message, message


# ---------------------------------------------------------------- jobs: tags, metadata, disabled modules
def test_the_job_carries_priority_metadata_and_module_tags(project_env, tmp_path, monkeypatch):
    from orchestrator_assets.definitions import build_definitions

    path = tmp_path / "workflows.yaml"
    path.write_text(FULL + "      \n  SHORT:\n    modules: {stock: {}, urgence: {enabled: false}}\n")
    monkeypatch.setenv("REASSORT_WORKFLOWS", str(path))
    defs = build_definitions()
    job = defs.resolve_job_def("workflow_MIDI")
    assert job.tags["dagster/priority"] == "7" and job.tags["reassort/workflow"] == "MIDI"
    assert json.loads(job.tags["reassort/module/knapsack"])["critical"] is False
    assert job.description.startswith("Midi (version 1.2): Urgent noon pass") and "planning@example.com" in job.description
    assert job.metadata["workflow_owner"].value == "planning@example.com"
    short = defs.resolve_job_def("workflow_SHORT")
    assert {key.path[0] for key in short.asset_layer.executable_asset_keys} == {"stock"}


# ---------------------------------------------------------------- CLI: workflow validate
def test_workflow_validate_says_valid_or_names_workflow_key_and_line(tmp_path, capsys):
    from orchestrator_assets.cli import main

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(TEMPLATES)
    bad.write_text('workflows:\n  A:\n    modules:\n      knapsack: {condition: "open(\'/etc/passwd\')"}\n')
    assert main(["workflow", "validate", str(good)]) == 0
    assert "3 workflow(s), valid" in capsys.readouterr().out
    assert main(["workflow", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}, workflow A, module knapsack, key 'condition', line 4" in err and "function calls are not allowed" in err
    assert main(["workflow", "validate", str(tmp_path / "none.yaml")]) == 2


# ---------------------------------------------------------------- per-module time limit and retries (step level)
def _module_asset(body):
    return dg.asset(key=["stock", "probe"], group_name="stock", retry_policy=dg.RetryPolicy(max_retries=3))(time_limited(body))


def _module_tags(**options) -> dict[str, str]:
    from orchestrator_assets.defs.automation.workflow_options import ModuleOptions

    return {"reassort/module/stock": ModuleOptions(**options).to_tag()}


def test_a_module_fails_transiently_twice_then_succeeds_under_its_own_retries():
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionResetError("share reset")
        return 1

    result = dg.materialize([_module_asset(flaky)], tags=_module_tags(max_retries=2, retry_delay_seconds=0), raise_on_error=False)
    assert result.success and len(calls) == 3
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 2


def test_a_module_out_of_retries_fails_with_the_error_and_its_count():
    calls = []

    def flaky() -> int:
        calls.append(1)
        raise ConnectionResetError("share reset")

    result = dg.materialize([_module_asset(flaky)], tags=_module_tags(max_retries=1, retry_delay_seconds=0), raise_on_error=False)
    assert not result.success and len(calls) == 2  # the module's 1 retry, not the asset's 3
    (event,) = result.get_step_failure_events()
    assert step_failure_message(event.step_failure_data) == (
        "ConnectionResetError: share reset (transient; module stock gave up after 1 retry: max_retries)"
    )


def test_a_module_never_retries_a_deterministic_error():
    calls = []

    def broken() -> int:
        calls.append(1)
        raise ValueError("bad value")

    result = dg.materialize([_module_asset(broken)], tags=_module_tags(max_retries=5, retry_delay_seconds=0), raise_on_error=False)
    assert not result.success and calls == [1]


def test_a_module_time_limit_replaces_the_step_limit(monkeypatch):
    import time

    monkeypatch.setenv("REASSORT_STEP_TIMEOUT_S", "600")

    def slow() -> int:
        time.sleep(5)
        return 1

    started = time.perf_counter()
    result = dg.materialize([_module_asset(slow)], tags=_module_tags(timeout_seconds=0.5), raise_on_error=False)
    assert not result.success and time.perf_counter() - started < 4.5
    (event,) = result.get_step_failure_events()
    assert step_failure_message(event.step_failure_data) == (
        "step slow exceeded its time limit of 0.5 s (timeout_seconds of module stock)"
    )


def test_a_malformed_module_tag_fails_the_step_with_its_name():
    result = dg.materialize([_module_asset(lambda: 1)], tags={"reassort/module/stock": "{not json"}, raise_on_error=False)
    (event,) = result.get_step_failure_events()
    assert "run tag reassort/module/stock: not JSON" in step_failure_message(event.step_failure_data)


# ---------------------------------------------------------------- module events: opt-in, valid
def test_module_events_are_opt_in_and_valid(tmp_path, monkeypatch):
    import jsonschema

    from orchestrator_assets.defs.automation import alert_events
    from orchestrator_assets.defs.automation.alert_dispatch import selected_events
    from orchestrator_assets.defs.automation.module_events import ModuleEvents

    monkeypatch.delenv("REASSORT_ALERT_EVENTS", raising=False)
    wanted, _ = selected_events()
    assert "run_failed" in wanted and not wanted & set(alert_events.MODULE_EVENTS)
    monkeypatch.setenv("REASSORT_ALERT_EVENTS", "module_skipped,module_failed")
    wanted, unknown = selected_events()
    assert wanted == {"module_skipped", "module_failed"} and unknown == []
    validator = jsonschema.Draft202012Validator(alert_events.load_schema(), format_checker=jsonschema.FormatChecker())
    run = dg.DagsterRun(job_name="workflow_A", run_id="r1", tags={"dagster/partition": "2026-01-04", "reassort/workflow": "A"})
    payloads = [
        alert_events.module_event("module_started", run, "stock", {"steps": 8}),
        alert_events.module_event("module_completed", run, "stock", {"duration_seconds": 1.5, "steps": 8}),
        alert_events.module_event("module_failed", run, "urgence", {"critical": False, "message": "m", "failed_steps": [{"step": "s", "message": "m"}]}),
        alert_events.module_event("module_skipped", run, "knapsack", {"reason": "needs urgence, which failed"}),
    ]
    for payload in payloads:
        validator.validate(payload)
    assert payloads[3]["event_id"] == "module_skipped:r1:knapsack" and payloads[3]["workflow"] == "A"
    lines: list[str] = []
    monkeypatch.delenv("REASSORT_ALERT_WEBHOOK", raising=False)
    ModuleEvents(tmp_path, run, lines.append, lines.append, lines.append).skipped("knapsack", "condition `weekday < 5` is false (weekday=5)")
    assert lines[0] == "module knapsack skipped: condition `weekday < 5` is false (weekday=5)"
