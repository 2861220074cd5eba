"""Workflows run end to end on `tiny`, from the CLI (`reassort run --workflow`), through the
code location's executor: every workflow of the project's workflows.yaml, then test
workflows where a condition is false, a module fails transiently twice then succeeds, a
non-critical module fails, a critical one times out, and success criteria are missed.

One data set and seven runs for the whole module (in process, ~2-3 min on the loaded 2-core
machine); failures are injected by patching the IO manager or a solver the stock step calls
(the runs execute in this process). Every webhook event is validated against the schema."""

import contextlib
import io
import time
from datetime import date
from types import SimpleNamespace

import dagster as dg
import jsonschema
import pytest

from data_generation.field_service import generate
from orchestrator_assets import project_paths
from orchestrator_assets.cli import main
from orchestrator_assets.defs.automation import alert_events
from orchestrator_assets.defs.automation.workflows import load_workflows
from orchestrator_assets.manifests import read_manifest
from orchestrator_assets.scenarios import scenario_root
from orchestrator_assets.warehouse import PolarsWarehouseIOManager, Warehouse, table_name
from tests.conftest import point_project_at
from tests.orchestrator_assets.webhook_receiver import Receiver

DAY = "2026-01-03"  # a Saturday: weekday 5
PROJECT_WORKFLOWS = project_paths.PROJECT_ROOT / "workflows.yaml"
VALIDATOR = jsonschema.Draft202012Validator(alert_events.load_schema(), format_checker=jsonschema.FormatChecker())

TEST_WORKFLOWS = """
workflows:
  SKIP_RETRY:
    modules:
      stock: {max_retries: 2, retry_delay_seconds: 0}
      urgence: {}
      knapsack: {condition: "weekday < 5"}
    success_criteria: {required_modules: [stock, urgence]}
  NON_CRITICAL:
    modules:
      stock: {}
      urgence: {critical: false}
      knapsack: {}
    success_criteria: {required_modules: [stock]}
  CRITICAL_TIMEOUT:
    modules:
      stock: {timeout_seconds: 1}
  CRITERIA:
    modules:
      stock: {critical: false}
    success_criteria: {min_completed: 1}
"""


def failing_writes(patch: pytest.MonkeyPatch, table: str, error: Exception, times: int) -> list[int]:
    """The IO manager fails `times` times to write `table`, then writes it."""
    original = PolarsWarehouseIOManager._handle_output
    calls: list[int] = []

    def handle_output(self, context, obj):
        if table_name(context.asset_key) == table and len(calls) < times:
            calls.append(1)
            raise error
        return original(self, context, obj)

    patch.setattr(PolarsWarehouseIOManager, "_handle_output", handle_output)
    return calls


def slow_stock_initial(patch: pytest.MonkeyPatch, seconds: float) -> None:
    import orchestrator_assets.defs.stock.assets as stock_assets

    original = stock_assets.stock_initial

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return original(*args, **kwargs)

    patch.setattr(stock_assets, "stock_initial", slow)


def cli(arguments: list[str]) -> SimpleNamespace:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(arguments)
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch, Receiver() as receiver:
        root = tmp_path_factory.mktemp("workflow_runs")
        data = point_project_at(root, patch)
        generate("tiny", date(2026, 1, 1), 4, data, seed=5)
        patch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)
        patch.setenv("REASSORT_ALERT_EVENTS", ",".join(alert_events.ALL_EVENTS))
        patch.setenv("REASSORT_WORKFLOWS", str(PROJECT_WORKFLOWS))
        outcomes = {}
        # the project's workflows; those that ingest first (the others read the day's inputs)
        for workflow in sorted(load_workflows(PROJECT_WORKFLOWS), key=lambda w: "ingest" not in w.modules):
            extra = ["--var", "horizon=40"] if "horizon" in workflow.variables else []
            outcomes[workflow.name] = cli(["run", "--workflow", workflow.name, "--date", DAY, *extra])
        path = root / "test_workflows.yaml"
        path.write_text(TEST_WORKFLOWS)
        patch.setenv("REASSORT_WORKFLOWS", str(path))
        with pytest.MonkeyPatch.context() as inner:
            transient = failing_writes(inner, "stock.stock_initial", ConnectionResetError("share reset"), 2)
            outcomes["SKIP_RETRY"] = cli(["run", "--workflow", "SKIP_RETRY", "--date", DAY])
        with pytest.MonkeyPatch.context() as inner:
            failing_writes(inner, "urgence.urgency_total", ValueError("simulated bug in urgency_total"), 99)
            outcomes["NON_CRITICAL"] = cli(["run", "--workflow", "NON_CRITICAL", "--date", DAY])
        with pytest.MonkeyPatch.context() as inner:
            slow_stock_initial(inner, 4.0)
            outcomes["CRITICAL_TIMEOUT"] = cli(["run", "--workflow", "CRITICAL_TIMEOUT", "--date", DAY])
        with pytest.MonkeyPatch.context() as inner:
            failing_writes(inner, "stock.stock_initial", ValueError("simulated bug in stock_initial"), 99)
            outcomes["CRITERIA"] = cli(["run", "--workflow", "CRITERIA", "--date", DAY])
        with dg.DagsterInstance.get() as instance:
            # a launch from the UI or GraphQL with a variable tag the workflow does not have
            job = dg.build_reconstructable_job(
                "orchestrator_assets.workflow_runs", "workflow_job", reconstructable_args=("SKIP_RETRY",)
            )
            bad_tag = dg.execute_job(job, instance=instance, tags={"dagster/partition": DAY, "reassort/var/nope": "1"})
            outcomes["BAD_TAG"] = SimpleNamespace(code=0 if bad_tag.success else 1, run_id=bad_tag.run_id)
            yield SimpleNamespace(
                data=data, receiver=receiver, instance=instance, outcomes=outcomes, transient_calls=transient
            )


def run_of(runs, workflow: str) -> dg.DagsterRun:
    (run,) = [
        run
        for run in runs.instance.get_runs(filters=dg.RunsFilter(tags={"reassort/workflow": workflow}))
        if "reassort/var/nope" not in run.tags
    ]
    return run


def module_events(runs, run: dg.DagsterRun) -> dict[tuple[str, str], dict]:
    return {
        (body["event"], body["module"]): body
        for body in runs.receiver.bodies
        if body.get("run_id") == run.run_id and body["event"].startswith("module_")
    }


def published_tables(runs, scenario: str) -> set[str]:
    root = scenario_root(runs.data / "warehouse", scenario)
    return {entry.split("/")[0] for entry in read_manifest(root, DAY)}


def step_events(runs, run: dg.DagsterRun, kind: dg.DagsterEventType) -> list[str]:
    return [record.step_key for record in runs.instance.all_logs(run.run_id, of_type=kind)]


@pytest.mark.parametrize("name", [workflow.name for workflow in load_workflows(PROJECT_WORKFLOWS)])
def test_every_project_workflow_runs_end_to_end_on_tiny(runs, name):
    workflow = {w.name: w for w in load_workflows(PROJECT_WORKFLOWS)}[name]
    outcome = runs.outcomes[name]
    assert outcome.code == 0, outcome.out + outcome.err
    run = run_of(runs, name)
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.job_name == f"workflow_{name}"
    assert run.tags["reassort/modules_completed"] == ",".join(workflow.modules)
    assert run.tags["reassort/modules_failed"] == run.tags["reassort/modules_skipped"] == "-"
    reader = Warehouse(path=str(runs.data / "warehouse")).for_scenario(workflow.scenario)
    rows = reader.read("SELECT count(*) AS n FROM knapsack.allocation WHERE partition_date = ?", [date.fromisoformat(DAY)])
    assert rows["n"][0] > 0
    assert {("module_completed", module) for module in workflow.modules} <= set(module_events(runs, run))


def test_a_variable_given_at_launch_reaches_the_parameters(runs):
    run = run_of(runs, "FIBRE_SEUL_LONG")
    assert run.tags["reassort/var/horizon"] == "40"
    records = runs.instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    horizons = {
        record.asset_materialization.metadata["param_horizon_days"].value
        for record in records
        if record.asset_key.path[0] == "stock" and "param_horizon_days" in record.asset_materialization.metadata
    }
    assert horizons == {"40"}


def test_a_false_condition_skips_its_module_with_the_reason(runs):
    outcome = runs.outcomes["SKIP_RETRY"]
    assert outcome.code == 0, outcome.out + outcome.err
    reason = "condition `weekday < 5` is false (weekday=5)"
    assert f"module knapsack skipped: {reason}" in outcome.out
    run = run_of(runs, "SKIP_RETRY")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["reassort/modules_skipped"] == "knapsack" and run.tags["reassort/modules_completed"] == "stock,urgence"
    skipped = step_events(runs, run, dg.DagsterEventType.STEP_SKIPPED)
    assert "knapsack" in skipped  # its checks run in its step: skipped with it
    assert not any(key.startswith(("stock", "urgence")) for key in skipped)
    logs = [record.user_message for record in runs.instance.all_logs(run.run_id) if record.step_key == "knapsack"]
    assert f"step knapsack skipped: {reason}" in logs  # in the step's own log, as the UI shows it
    assert module_events(runs, run)[("module_skipped", "knapsack")]["reason"] == reason
    tables = published_tables(runs, "SKIP_RETRY")
    assert "urgence.urgency_classification" in tables and not any(table.startswith("knapsack.") for table in tables)


def test_a_module_made_to_fail_transiently_twice_then_succeeds(runs):
    run = run_of(runs, "SKIP_RETRY")
    assert runs.transient_calls == [1, 1]
    retried = step_events(runs, run, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert retried == ["stock__stock_initial", "stock__stock_initial"]
    assert "stock__stock_initial" in step_events(runs, run, dg.DagsterEventType.STEP_SUCCESS)
    events = module_events(runs, run)
    assert events[("module_completed", "stock")]["steps"] == len(
        [key for key in step_events(runs, run, dg.DagsterEventType.STEP_SUCCESS) if "stock__" in key]
    )


def test_a_non_critical_failure_lets_the_run_succeed_without_its_tables(runs):
    outcome = runs.outcomes["NON_CRITICAL"]
    assert outcome.code == 0, outcome.out + outcome.err
    run = run_of(runs, "NON_CRITICAL")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert (run.tags["reassort/modules_completed"], run.tags["reassort/modules_failed"], run.tags["reassort/modules_skipped"]) == (
        "stock", "urgence", "knapsack"
    )
    # the failure stays in the event log (red in the UI), not in the run's outcome
    assert step_events(runs, run, dg.DagsterEventType.STEP_FAILURE) == ["urgence__urgency_total"]
    events = module_events(runs, run)
    failed = events[("module_failed", "urgence")]
    assert failed["critical"] is False and "simulated bug in urgency_total" in failed["failed_steps"][0]["message"]
    assert events[("module_skipped", "knapsack")]["reason"].startswith("needs urgence, which failed")
    assert "module urgence failed (not critical" in outcome.out
    tables = published_tables(runs, "NON_CRITICAL")
    assert "stock.stock_projection" in tables
    # urgence is published whole or not at all: not even the tables its other steps wrote
    assert not any(table.startswith(("urgence.", "knapsack.")) for table in tables)
    written = (scenario_root(runs.data / "warehouse", "NON_CRITICAL") / "urgence" / "urgency_temporal").exists()
    assert written


def test_a_critical_failure_fails_the_run(runs):
    outcome = runs.outcomes["CRITICAL_TIMEOUT"]
    assert outcome.code == 1
    assert "exceeded its time limit of 1 s (timeout_seconds of module stock)" in outcome.err
    run = run_of(runs, "CRITICAL_TIMEOUT")
    assert run.status == dg.DagsterRunStatus.FAILURE
    events = module_events(runs, run)
    assert events[("module_failed", "stock")]["critical"] is True
    (failed,) = [body for body in runs.receiver.bodies if body["event"] == "run_failed" and body["run_id"] == run.run_id]
    assert failed["failed_steps"][0]["step"] == "stock__stock_initial"
    assert published_tables(runs, "CRITICAL_TIMEOUT") == set()


def test_success_criteria_decide_the_run_status(runs):
    outcome = runs.outcomes["CRITERIA"]
    assert outcome.code == 1
    says = "success criteria not met: 0 module(s) completed, fewer than min_completed 1"
    assert says in outcome.err
    run = run_of(runs, "CRITERIA")
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert run.tags["reassort/modules_failed"] == "stock"
    (failed,) = [body for body in runs.receiver.bodies if body["event"] == "run_failed" and body["run_id"] == run.run_id]
    assert says in failed["message"]
    assert published_tables(runs, "CRITERIA") == set()
    # the other direction: NON_CRITICAL met its criteria (stock completed) with a failed module


def test_every_event_posted_is_valid_and_posted_once(runs):
    bodies = runs.receiver.bodies
    for body in bodies:
        VALIDATOR.validate(body)
    ids = [body["event_id"] for body in bodies]
    assert len(ids) == len(set(ids))
    assert {body["event"] for body in bodies} >= {"run_started", "run_succeeded", "run_failed", *alert_events.MODULE_EVENTS}


def test_a_run_whose_variables_cannot_be_read_fails_before_any_step(runs):
    run = runs.instance.get_run_by_id(runs.outcomes["BAD_TAG"].run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert step_events(runs, run, dg.DagsterEventType.STEP_START) == []
    (failure,) = runs.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "unknown variable(s) nope" in str(failure.dagster_event.event_specific_data.error)
    (failed,) = [body for body in runs.receiver.bodies if body["event"] == "run_failed" and body["run_id"] == run.run_id]
    assert failed["message"].startswith("the run cannot start: unknown variable(s) nope")


def test_critique_a_previous_counts_what_the_run_would_read(runs):
    from orchestrator_assets.defs.automation.partition_facts import critique_a_count, partition_facts

    day = date.fromisoformat(DAY)
    warehouse = Warehouse(path=str(runs.data / "warehouse"))
    scenario = warehouse.for_scenario("URGENCE_RAPIDE")
    expected = scenario.read(
        "SELECT count(*) AS n FROM urgence.urgency_classification WHERE partition_date = ? AND class = 'CRITIQUE_A'", [day]
    )["n"][0]
    assert expected > 0 and critique_a_count(scenario, day) == expected
    assert critique_a_count(warehouse, day) == 0  # nothing classified in the official plan that day
    facts = partition_facts(date(2026, 1, 4), scenario, {"critique_a_previous"})
    assert facts == {"weekday": 6, "day": 4, "month": 1, "year": 2026, "partition_date": "2026-01-04", "critique_a_previous": expected}
