"""Production services as docs/operations.md starts them: `reassort serve webserver` and
`reassort serve daemon`, two processes sharing one DAGSTER_HOME, the webserver on 127.0.0.1.

The daemon's heartbeat reaches the shared instance (so `reassort health` with a daemon
expected passes), the webserver answers on the loopback address only, and the alert sensors
start running by themselves when a webhook is set."""

from __future__ import annotations

import json
import time

import psutil
import pytest

from tests.browser.conftest import VENV_BIN, DagsterServer, free_port, start_process, wait_until_ready
from tests.orchestrator_assets.webhook_receiver import Receiver

pytestmark = pytest.mark.browser

SENSORS_QUERY = """
query { workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { ... on RepositoryLocation {
  repositories { sensors { name sensorState { status } } } } } } } } }
"""


def listening_addresses(pid: int) -> set[str]:
    """The addresses the process (and its children) listen on."""
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {
        conn.laddr.ip
        for process in processes
        for conn in process.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    }


def test_webserver_and_daemon_as_two_processes_on_one_instance(tiny_project, monkeypatch):
    reassort = str(VENV_BIN / "reassort")
    port = free_port()
    with Receiver() as receiver:
        monkeypatch.setenv("REASSORT_ALERT_WEBHOOK", receiver.url)  # the services inherit it
        webserver = start_process("serve-webserver", [reassort, "serve", "webserver", "--port", str(port)], tiny_project)
        daemon = start_process("serve-daemon", [reassort, "serve", "daemon"], tiny_project)
        try:
            server = DagsterServer("127.0.0.1", port, webserver)
            wait_until_ready(server)
            assert listening_addresses(webserver.process.pid) == {"127.0.0.1"}

            entries = server.graphql(SENSORS_QUERY)["workspaceOrError"]["locationEntries"]
            sensors = {
                sensor["name"]: sensor["sensorState"]["status"]
                for sensor in entries[0]["locationOrLoadError"]["repositories"][0]["sensors"]
            }
            assert sensors["critique_a_alert"] == sensors["failed_run_alert"] == "RUNNING"  # a webhook is set
            assert sensors["partition_freshness"] == "RUNNING"

            with tiny_project.environment():
                monkeypatch.setenv("REASSORT_EXPECT_DAEMON", "1")
                from orchestrator_assets.health_checks import project_health

                deadline = time.monotonic() + 120
                while True:
                    daemon_check = next(c for c in json.loads(project_health().to_json())["checks"] if c["name"] == "daemon")
                    if daemon_check["ok"] or time.monotonic() > deadline:
                        break
                    assert daemon.process.poll() is None, daemon.log_tail()
                    time.sleep(2)
            assert daemon_check["ok"], f"{daemon_check}\n{daemon.log_tail()}"
        finally:
            webserver.stop()
            daemon.stop()
