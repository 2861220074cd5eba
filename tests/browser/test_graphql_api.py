"""The GraphQL API, through examples/graphql_client.py (a thin use of orchestrator_assets.client),
against a webserver and daemon started here.

The daemon starts the queued runs with the default run launcher (a run worker process per
run, forked from its code server), so the REASSORT_* variables of the fixtures must reach
those processes: the test reads the rows they wrote in the temporary warehouse.
"""

from __future__ import annotations

import importlib.util
import re
import time
from datetime import date

import pytest

from orchestrator_assets.cli import main
from orchestrator_assets.project_paths import PROJECT_ROOT
from orchestrator_assets.warehouse import Warehouse
from tests.orchestrator_assets.webhook_receiver import Receiver

pytestmark = pytest.mark.browser

RUN_DAY = date(2026, 1, 4)
BACKFILL = (date(2026, 1, 2), date(2026, 1, 3))
RUN_TIMEOUT_S = 420  # queued -> started by the daemon -> ~20-45 s of work on 2 shared cores
BACKFILL_TIMEOUT_S = 600  # + up to two 30 s passes of the backfill daemon


def load_example():
    path = PROJECT_ROOT / "examples" / "graphql_client.py"
    spec = importlib.util.spec_from_file_location("reassort_graphql_client_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def alert_receiver():
    """A webhook the webserver, daemon and run workers inherit (set before they start)."""
    with pytest.MonkeyPatch.context() as patch, Receiver() as receiver:
        patch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)
        yield receiver


def test_partition_run_and_backfill_through_graphql(tiny_project, dagster_server, dagster_daemon, alert_receiver, capsys):
    example = load_example()
    client = example.connect(dagster_server.host, dagster_server.port)

    started = time.monotonic()
    run_id = example.launch_partition_run(client, RUN_DAY)
    backfill_id = example.launch_backfill(client, *BACKFILL)  # both go at once: the daemon runs them side by side

    status = example.wait_for_run(client, run_id, timeout_s=RUN_TIMEOUT_S)
    assert status == "SUCCESS", f"run {run_id}: {status}\n{dagster_daemon.log_tail()}"

    state = example.wait_for_backfill(client, backfill_id, timeout_s=BACKFILL_TIMEOUT_S)
    assert state.status == "COMPLETED_SUCCESS", f"{example.describe_backfill(state)}\n{dagster_daemon.log_tail()}"
    assert state.num_partitions == 2
    assert set(state.partition_names) == {"2026-01-02", "2026-01-03"}
    assert {day: entry.status for day, entry in state.partitions.items()} == {
        "2026-01-02": "SUCCESS",
        "2026-01-03": "SUCCESS",
    }
    assert time.monotonic() - started < RUN_TIMEOUT_S + BACKFILL_TIMEOUT_S

    # The run workers wrote into the temporary warehouse: the environment reached them.
    with Warehouse(path=str(tiny_project.warehouse)).connection() as con:
        days = {row[0].isoformat() for row in con.execute("SELECT DISTINCT partition_date FROM knapsack.allocation").fetchall()}
        run_ids = {row[0] for row in con.execute("SELECT DISTINCT run_id FROM knapsack.allocation").fetchall()}
    assert days == {"2026-01-02", "2026-01-03", "2026-01-04"}
    assert run_id in run_ids

    # Runs launched through GraphQL (the run and the backfill's runs, executed by run workers
    # the daemon started) sent their own alert events, once each.
    events = {(body["event"], body.get("partition"), body.get("run_id")) for body in alert_receiver.bodies}
    assert {("run_started", "2026-01-04", run_id), ("run_succeeded", "2026-01-04", run_id)} <= events
    for day in ("2026-01-02", "2026-01-03"):
        assert any(event == "run_succeeded" and partition == day for event, partition, _ in events), events
    ids = [body["event_id"] for body in alert_receiver.bodies]
    assert len(ids) == len(set(ids))

    # `reassort status` lists these runs, newest first, with their outcome and duration.
    capsys.readouterr()
    with tiny_project.environment():
        assert main(["status"]) == 0
    out = capsys.readouterr().out
    run_lines = out.split("Last ", 1)[1].splitlines()[2:]
    assert len(run_lines) == 3, out
    duration = r"(\d+\.\d s|\d+ min \d\d s)"
    for day in ("2026-01-02", "2026-01-03", "2026-01-04"):
        assert any(re.search(rf"reassort_daily\s+{day}\s+SUCCESS\s+{duration}$", line) for line in run_lines), out
    assert any(run_id[:8] in line for line in run_lines)
