"""`reassort metrics`: the endpoint scraped after one tiny run shows the run, its steps and the rows."""

import json
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from data_generation.field_service import generate
from orchestrator_assets.jobs import DAILY_JOB_NAME
from orchestrator_assets.metrics_server import start_server
from orchestrator_assets.partition_deadline import Deadline
from tests.orchestrator_assets.pipeline_runs import query, run_partition, warehouse_root

DAY = "2026-01-03"
#: an hour after DAY's deadline (08:00 Paris on D+1): DAY is the expected partition, and done
NOW = Deadline(dt_time(8, 0), "Europe/Paris").due_at(date.fromisoformat(DAY)).astimezone(UTC) + timedelta(hours=1)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One tiny partition (with broken rows, so some are rejected), then the server on a free port."""
    data = tmp_path_factory.mktemp("metrics") / "data"
    generate("tiny", date(2026, 1, 1), 3, data, seed=5, bad_rows=0.03)
    instance = dg.DagsterInstance.ephemeral()
    result = run_partition(data, DAY, instance)
    assert result.success
    server, _ = start_server(instance, warehouse_root(data), data, port=0, clock=lambda: NOW)
    yield data, instance, result, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    instance.dispose()


def scrape(base: str) -> dict[str, dict[tuple, float]]:
    """metric name -> {sorted label items: value}, from the text the endpoint serves."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def test_the_scrape_shows_the_run_and_its_steps(served):
    _, _, result, base = served
    samples = scrape(base)
    assert value(samples, "reassort_runs", job=DAILY_JOB_NAME, status="SUCCESS") == 1
    assert value(samples, "reassort_runs", job=DAILY_JOB_NAME, status="FAILURE") == 0
    duration = value(samples, "reassort_run_duration_seconds", job=DAILY_JOB_NAME, status="SUCCESS", stat="last")
    assert 0 < duration < 600
    steps = {dict(labels)["step"]: seconds for labels, seconds in samples["reassort_step_duration_seconds"].items()}
    assert {"knapsack", "urgence__urgency_classification"} <= set(steps)
    assert all(seconds >= 0 for seconds in steps.values()) and sum(steps.values()) > 0
    assert value(samples, "reassort_step_attempts", job=DAILY_JOB_NAME, step="knapsack") == 1
    assert set(samples["reassort_scrape_errors"].values()) == {0}


def test_the_scrape_shows_the_rows_the_warehouse_holds(served):
    data, _, _, base = served
    samples = scrape(base)
    day = date.fromisoformat(DAY)
    for table in ("urgence.urgency_classification", "knapsack.allocation", "validation.rejected_rows", "validation.check_results"):
        rows = query(data, f"SELECT count(*) FROM {table} WHERE partition_date = ?", [day])[0][0]
        assert value(samples, "reassort_table_rows", table=table, partition=DAY) == rows, table
    rejected = query(data, "SELECT source, rule, count(*) FROM validation.rejected_rows GROUP BY ALL")
    assert rejected, "the tiny data set with bad rows rejects some"
    for source, rule, count in rejected:
        assert value(samples, "reassort_rejected_rows", partition=DAY, source=source, rule=rule) == count
    critical = query(data, "SELECT count(*) FROM urgence.urgency_classification WHERE class = 'CRITIQUE_A'")[0][0]
    assert value(samples, "reassort_critique_a_pairs", partition=DAY) == critical
    for status, count in query(data, "SELECT status, count(*) FROM knapsack.site_summary GROUP BY ALL"):
        assert value(samples, "reassort_knapsack_problems", partition=DAY, problem="site", status=status) == count
    assert value(samples, "reassort_checks_failed", partition=DAY, severity="ERROR") == 0
    assert value(samples, "reassort_partition_late") == 0
    assert value(samples, "reassort_last_done_partition_timestamp_seconds") == datetime.combine(day, dt_time(0), UTC).timestamp()


def test_health_is_served_beside_the_metrics(served, monkeypatch):
    _, _, _, base = served
    monkeypatch.setenv("REASSORT_MIN_FREE_GB", "0")
    with urllib.request.urlopen(f"{base}/health", timeout=30) as response:
        body = json.loads(response.read())
        assert response.status == 200 and body["ok"] is True
    monkeypatch.setenv("REASSORT_EXPECT_DAEMON", "1")  # an in-memory instance has no daemon: 503
    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(f"{base}/health", timeout=30)
    assert failure.value.code == 503
    assert not {c["name"]: c for c in json.loads(failure.value.read())["checks"]}["daemon"]["ok"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/elsewhere", timeout=30)
    assert missing.value.code == 404
