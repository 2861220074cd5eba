"""Re-execution from a failed step, the alert sensors on real runs, the step time limit, monthly KPIs."""

import time
from datetime import date

import dagster as dg
import pytest

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions, daily_job
from orchestrator_assets.jobs import execution_config
from orchestrator_assets.step_limits import time_limited
from tests.orchestrator_assets.pipeline_runs import QUIET, published, query, run_partition
from tests.orchestrator_assets.webhook_receiver import Receiver

IN_PROCESS = {**QUIET, **execution_config("in_process")}


def test_a_failed_run_is_reexecuted_from_the_failed_step_only(project_env):
    generate("tiny", date(2026, 1, 1), 2, project_env, seed=4)
    orders = project_env / "extracts" / "2026-01-02" / "purchase_orders.csv"
    kept = orders.read_text()
    orders.unlink()
    job = dg.reconstructable(daily_job)
    with dg.DagsterInstance.get() as instance:
        tags = {"dagster/partition": "2026-01-02"}
        failed = dg.execute_job(job, instance, run_config=IN_PROCESS, tags=tags)
        assert not failed.success
        succeeded_first = {event.step_key for event in failed.get_step_success_events()}
        assert "raw__articles" in succeeded_first and "raw__purchase_orders" in failed.get_failed_step_keys()
        orders.write_text(kept)
        again = dg.execute_job(
            job, instance, run_config=IN_PROCESS, tags=tags,
            reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
        )
        assert again.success
        executed = {event.step_key for event in again.get_step_success_events()}
        assert "raw__purchase_orders" in executed and "stock__stock_projection" in executed
        assert not executed & succeeded_first  # nothing that succeeded is recomputed


def test_step_time_limit_fails_a_slow_step(monkeypatch):
    monkeypatch.setenv("REASSORT_STEP_TIMEOUT_S", "0.2")

    @time_limited
    def slow(seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    assert slow(0.01) == "done"
    with pytest.raises(dg.Failure, match="exceeded its time limit of 0.2 s"):
        slow(2)


@pytest.fixture(scope="module")
def tiny_month(tmp_path_factory):
    data = tmp_path_factory.mktemp("month") / "data"
    generate("tiny", date(2026, 1, 1), 5, data, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    results = [run_partition(data, f"2026-01-0{day}", instance) for day in (4, 5)]
    return data, instance, results


def test_critique_a_partition_posts_an_alert(tiny_month, monkeypatch):
    data, instance, results = tiny_month
    critical = query(data, "SELECT count(*) FROM urgence.urgency_classification WHERE class = 'CRITIQUE_A'")[0][0]
    assert critical > 0, "the fixture needs CRITIQUE_A pairs"
    defs = build_definitions(data, data / "warehouse")
    sensor = next(s for s in defs.sensors if s.name == "critique_a_alert")
    with Receiver() as receiver:
        monkeypatch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)
        with dg.build_sensor_context(instance=instance) as context:
            sensor(context)
            cursor = context.cursor
        with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
            sensor(context)  # nothing new: nothing posted again
    partitions = sorted(body["partition"] for body in receiver.bodies)
    assert partitions == sorted({r.dagster_run.tags["dagster/partition"] for r in results if r.asset_observations_for_node("urgence__urgency_classification")})
    body = receiver.bodies[0]
    assert body["event"] == "critique_a" and body["critique_a_count"] > 0 and "CRITIQUE_A" in body["counts_per_class"]
    assert body["critique_a_pairs"] and body["run_url"].endswith(f"/runs/{body['run_id']}")


def test_failed_run_posts_an_alert(tiny_month, monkeypatch):
    data, instance, _ = tiny_month
    (data / "extracts" / "2026-01-03" / "movements.csv").rename(data / "movements.bak")
    try:
        failed = run_partition(data, "2026-01-03", instance, raise_on_error=False)
    finally:
        (data / "movements.bak").rename(data / "extracts" / "2026-01-03" / "movements.csv")
    defs = build_definitions(data, data / "warehouse")
    sensor = next(s for s in defs.sensors if s.name == "failed_run_alert")
    with Receiver() as receiver:
        monkeypatch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)
        context = dg.build_run_status_sensor_context(
            sensor_name="failed_run_alert", dagster_event=failed.get_run_failure_event(),
            dagster_instance=instance, dagster_run=failed.dagster_run,
        )
        sensor(context.for_run_failure())
    assert receiver.bodies[0]["event"] == "run_failed" and receiver.bodies[0]["partition"] == "2026-01-03"


def test_monthly_kpis_summarise_the_month(tiny_month):
    data, instance, _ = tiny_month
    defs = build_definitions(data, data / "warehouse")
    result = defs.resolve_job_def("reassort_monthly").execute_in_process(partition_key="2026-01-01", instance=instance, run_config=QUIET)
    assert published(data, instance, result).success
    overall = query(
        data,
        "SELECT pair_days, stockout_pair_days, service_level, critical_coverage, capacity_use FROM kpi.monthly "
        "WHERE site_id = 'ALL' AND category = 'ALL'",
    )[0]
    pair_days = query(data, "SELECT count(*) FROM stock.stock_initial WHERE partition_date BETWEEN '2026-01-01' AND '2026-01-31'")[0][0]
    stockouts = query(data, "SELECT count(*) FROM stock.stock_initial WHERE on_hand <= 0 AND partition_date < '2026-02-01'")[0][0]
    assert overall[0] == pair_days and overall[1] == stockouts
    assert overall[2] == pytest.approx(1 - stockouts / pair_days)
    assert overall[3] is None or 0 <= overall[3] <= 1
    assert 0 <= overall[4] <= 1
    per_site = query(data, "SELECT sum(pair_days) FROM kpi.monthly WHERE site_id <> 'ALL' AND category <> 'ALL'")[0][0]
    assert per_site == pair_days
