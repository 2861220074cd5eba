"""Alert events however a run starts: a `reassort run` posts its own events to a loopback
webhook, once each; the daemon's sensors do not post them again; a late partition is a
failed check and one partition_late event. Every event is validated against the schema."""

import json
import multiprocessing
import subprocess
import sys
from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import dagster as dg
import jsonschema
import pytest

from data_generation.field_service import generate
from orchestrator_assets.cli import main
from orchestrator_assets.defs.automation import alert_events, alert_ledger
from orchestrator_assets.defs.automation.alert_dispatch import emit, retry_undelivered
from orchestrator_assets.defs.automation.alert_sensors import build_alert_sensors
from orchestrator_assets.partition_deadline import FRESHNESS_CHECK_KEY, Deadline, Freshness, freshness
from tests.conftest import point_project_at
from tests.orchestrator_assets.pipeline_runs import frame
from tests.orchestrator_assets.webhook_receiver import Receiver

GOOD_DAY, BAD_DAY = "2026-01-04", "2026-01-03"
VALIDATOR = jsonschema.Draft202012Validator(alert_events.load_schema(), format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def alerted(tmp_path_factory):
    """One tiny data set run twice from the CLI with a webhook set: a good day (it has
    CRITIQUE_A pairs) and a day whose purchase orders are missing (it fails)."""
    with pytest.MonkeyPatch.context() as patch, Receiver() as receiver:
        data = point_project_at(tmp_path_factory.mktemp("alerts"), patch)
        generate("tiny", date(2026, 1, 1), 4, data, seed=5)
        patch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)
        patch.delenv("REASSORT_ALERT_EVENTS", raising=False)
        orphan_id = leave_an_orphan_run()
        assert main(["run", "--date", GOOD_DAY]) == 0
        (data / "extracts" / BAD_DAY / "purchase_orders.csv").unlink()
        assert main(["run", "--date", BAD_DAY]) == 1
        with dg.DagsterInstance.get() as instance:
            yield SimpleNamespace(data=data, receiver=receiver, instance=instance, patch=patch, orphan_id=orphan_id)


def leave_an_orphan_run() -> str:
    """A run marked started by a process that has exited (as after kill -9 of `reassort run`)."""
    from orchestrator_assets.orphan_runs import PID_TAG, launch_tags

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with dg.DagsterInstance.get() as instance:
        tags = {**launch_tags(), PID_TAG: str(dead.pid), "dagster/partition": BAD_DAY}
        run = instance.create_run_for_job(dg.GraphDefinition("killed_cli_run").to_job(), tags=tags)
        instance.handle_run_event(run.run_id, dg.DagsterEvent(event_type_value="PIPELINE_START", job_name=run.job_name))
        return run.run_id


def events_of(receiver: Receiver, run_id: str) -> list[dict]:
    return [body for body in receiver.bodies if body.get("run_id") == run_id]


def partition_run(instance: dg.DagsterInstance, day: str) -> dg.DagsterRun:
    return instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": day}), limit=1)[0]


def test_a_cli_run_posts_started_critique_a_then_succeeded(alerted):
    run = partition_run(alerted.instance, GOOD_DAY)
    events = events_of(alerted.receiver, run.run_id)
    assert [event["event"] for event in events] == ["run_started", "critique_a", "run_succeeded"]
    critique, succeeded = events[1], events[2]
    classes = frame(alerted.data, "SELECT class, count(*) AS n FROM urgence.urgency_classification GROUP BY class")
    counts = dict(classes.iter_rows())
    assert critique["partition"] == GOOD_DAY and critique["critique_a_count"] == counts["CRITIQUE_A"] > 0
    assert {key: value for key, value in critique["counts_per_class"].items() if value} == counts
    assert succeeded["launched_by"] == "cli" and succeeded["partition"] == GOOD_DAY
    for module in ("raw", "stock", "urgence", "knapsack", "report"):
        assert succeeded["modules"][module]["steps"] > 0, module
    assert "validation" not in succeeded["modules"]  # the checks run in their tables' steps
    rows = frame(alerted.data, "SELECT count(*) AS n FROM knapsack.allocation WHERE partition_date = ?", [GOOD_DAY]).item()
    assert succeeded["tables"]["knapsack.allocation"] == rows > 0
    assert succeeded["modules"]["urgence"]["rows"] == sum(
        n for table, n in succeeded["tables"].items() if table.startswith("urgence.")
    )


def test_a_failed_cli_run_posts_run_failed_with_the_step_and_its_reason(alerted):
    run = partition_run(alerted.instance, BAD_DAY)
    events = events_of(alerted.receiver, run.run_id)
    assert [event["event"] for event in events] == ["run_started", "run_failed"]
    failed = events[1]["failed_steps"]
    assert failed[0]["step"] == "raw__purchase_orders" and "purchase_orders.csv" in failed[0]["message"]


def test_every_event_posted_is_valid_and_posted_once(alerted):
    bodies = alerted.receiver.bodies
    assert {body["event"] for body in bodies} >= {"run_started", "run_succeeded", "run_failed", "critique_a"}
    for body in bodies:
        VALIDATOR.validate(body)
    ids = [body["event_id"] for body in bodies]
    assert len(ids) == len(set(ids))


def test_the_next_cli_run_reports_a_run_whose_process_died(alerted):
    assert alerted.instance.get_run_by_id(alerted.orphan_id).status == dg.DagsterRunStatus.FAILURE
    events = events_of(alerted.receiver, alerted.orphan_id)
    assert [event["event"] for event in events] == ["run_failed"] and "gone" in events[0]["message"]


def test_the_sensors_do_not_post_again_what_a_run_sent(alerted):
    posted = len(alerted.receiver.bodies)
    sensors = {sensor.name: sensor for sensor in build_alert_sensors(alerted.data / "warehouse")}
    for _ in range(2):  # a re-run of the sensor
        sensors["critique_a_alert"](dg.build_sensor_context(instance=alerted.instance))
    failed_run = partition_run(alerted.instance, BAD_DAY)
    failure = alerted.instance.all_logs(failed_run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name="failed_run_alert", dagster_event=failure, dagster_instance=alerted.instance, dagster_run=failed_run
    ).for_run_failure()
    sensors["failed_run_alert"](context)
    assert len(alerted.receiver.bodies) == posted


def test_the_failure_sensor_posts_a_failure_no_run_could_report(alerted):
    """A run marked failed from outside (its process was killed): the sensor posts it, once."""
    run = alerted.instance.create_run_for_job(dg.GraphDefinition("killed").to_job(), tags={"dagster/partition": GOOD_DAY})
    alerted.instance.report_run_failed(run, "the worker process was killed")
    failure = alerted.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    sensor = {sensor.name: sensor for sensor in build_alert_sensors(alerted.data / "warehouse")}["failed_run_alert"]
    for _ in range(2):
        context = dg.build_run_status_sensor_context(
            sensor_name="failed_run_alert", dagster_event=failure, dagster_instance=alerted.instance,
            dagster_run=alerted.instance.get_run_by_id(run.run_id),
        ).for_run_failure()
        sensor(context)
    events = events_of(alerted.receiver, run.run_id)
    assert [event["event"] for event in events] == ["run_failed"]
    VALIDATOR.validate(events[0])


def test_a_late_partition_is_a_failed_check_and_one_partition_late_event(alerted):
    """Today is long after the tiny data set's days: the expected partition (yesterday) is late."""
    sensor = {sensor.name: sensor for sensor in build_alert_sensors(alerted.data / "warehouse")}["partition_freshness"]
    context = dg.build_sensor_context(instance=alerted.instance)
    sensor(context)
    sensor(dg.build_sensor_context(instance=alerted.instance, cursor=context.cursor))
    late = [body for body in alerted.receiver.bodies if body["event"] == "partition_late"]
    assert len(late) == 1
    VALIDATOR.validate(late[0])
    assert late[0]["partition"] == Deadline.from_env().expected_partition(datetime.now(UTC)).isoformat()
    assert late[0]["last_done_partition"] == GOOD_DAY
    record = alerted.instance.event_log_storage.get_latest_asset_check_execution_by_key([FRESHNESS_CHECK_KEY])
    assert record[FRESHNESS_CHECK_KEY].status.value == "FAILED"


def test_freshness_follows_the_deadline(alerted):
    deadline = Deadline(time(8, 0), "Europe/Paris")
    before = freshness(alerted.instance, datetime(2026, 1, 5, 6, 59, tzinfo=UTC), deadline)  # 07:59 in Paris
    after = freshness(alerted.instance, datetime(2026, 1, 5, 7, 0, tzinfo=UTC), deadline)  # 08:00 in Paris
    assert before.expected == date(2026, 1, 3) and before.late  # its run failed
    assert after.expected == date(2026, 1, 4) and not after.late and after.last_done == date(2026, 1, 4)


def test_the_daily_job_leaves_the_freshness_check_out():
    from orchestrator_assets.definitions import build_definitions
    from orchestrator_assets.jobs import DAILY_JOB_NAME

    defs = build_definitions()
    assert FRESHNESS_CHECK_KEY in defs.resolve_asset_graph().asset_check_keys
    assert FRESHNESS_CHECK_KEY not in defs.resolve_job_def(DAILY_JOB_NAME).asset_layer.asset_graph.asset_check_keys


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 29, 5, 59, tzinfo=UTC), date(2026, 3, 27)),  # 07:59 CEST, the day summer time starts
        (datetime(2026, 3, 29, 6, 0, tzinfo=UTC), date(2026, 3, 28)),
        (datetime(2026, 10, 25, 7, 0, tzinfo=UTC), date(2026, 10, 24)),  # 08:00 CET, the day winter time starts
        (datetime(2026, 1, 1, 23, 30, tzinfo=UTC), date(2025, 12, 31)),  # already the 2nd in Paris
    ],
)
def test_expected_partition_is_due_on_the_next_day_at_the_paris_deadline(now, expected):
    assert Deadline(time(8, 0), "Europe/Paris").expected_partition(now) == expected


@pytest.mark.parametrize("value", ["8h", "25:00", "08-00", ""])
def test_a_malformed_deadline_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("REASSORT_FRESHNESS_DEADLINE", value)
    with pytest.raises(ValueError, match="REASSORT_FRESHNESS_DEADLINE"):
        Deadline.from_env()


def _partition_late() -> dict:
    state = Freshness(date(2026, 1, 4), Deadline(time(8)).due_at(date(2026, 1, 4)), None, date(2026, 1, 3), datetime.now(UTC))
    return alert_events.partition_late(state, Deadline(time(8)))


def test_the_event_filter_sends_only_the_named_events(tmp_path, monkeypatch):
    lines: list[str] = []
    with Receiver() as receiver:
        monkeypatch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)
        monkeypatch.setenv("REASSORT_ALERT_EVENTS", "partition_late, run_faild")
        run = dg.DagsterRun(job_name="reassort_daily", run_id="r1", tags={"dagster/partition": "2026-01-04"})
        assert not emit(tmp_path, alert_events.run_started(run), lines.append)
        assert emit(tmp_path, _partition_late(), lines.append)
    assert [body["event"] for body in receiver.bodies] == ["partition_late"]
    assert any("'run_faild'" in line and "ignored" in line for line in lines)


def test_without_a_webhook_events_are_logged_and_not_claimed(tmp_path, monkeypatch):
    monkeypatch.delenv("REASSORT_ALERT_WEBHOOK", raising=False)
    lines: list[str] = []
    assert not emit(tmp_path, _partition_late(), lines.append)
    assert "logged only" in lines[0] and not (tmp_path / alert_ledger.LEDGER_DIR).exists()


def test_an_event_the_webhook_refused_is_retried_until_taken_then_never_again(tmp_path, monkeypatch):
    event = _partition_late()
    with Receiver(status=503) as down:
        monkeypatch.setenv("REASSORT_ALERT_WEBHOOK", down.url)
        assert not emit(tmp_path, event, lambda line: None)
    with Receiver() as up:
        monkeypatch.setenv("REASSORT_ALERT_WEBHOOK", up.url)
        assert retry_undelivered(tmp_path, 5) == (1, 1)
        assert retry_undelivered(tmp_path, 5) == (0, 0)
        assert not emit(tmp_path, event, lambda line: None)  # the same event again: already sent
    assert [body["event_id"] for body in up.bodies] == [event["event_id"]]
    assert alert_ledger.delivery_counts(tmp_path) == {"delivered": 1}


def test_processes_racing_for_one_event_claim_it_once(tmp_path):
    payload = {"event_id": "run_failed:race", "event": "run_failed"}
    with multiprocessing.get_context("fork").Pool(4) as pool:  # processes, not threads
        won = pool.starmap(alert_ledger.claim, [(tmp_path, payload)] * 16)
    assert sum(won) == 1
    assert json.loads(next((tmp_path / alert_ledger.LEDGER_DIR).glob("*.json")).read_text())["payload"] == payload


def test_an_odd_event_id_never_becomes_a_path(tmp_path):
    assert alert_ledger.claim(tmp_path, {"event_id": "../../etc/passwd:x", "event": "run_failed"})
    assert [path.name.startswith("h_") for path in (tmp_path / alert_ledger.LEDGER_DIR).iterdir()] == [True]
