"""Fixtures of the browser and API tests: a tiny data set in a temporary folder, a Dagster
webserver (and daemon) on it, and headless Chromium.

These tests are marked `browser` and run with the others (`uv run pytest`; alone:
`uv run pytest -m browser`). The page tests need Debian's Chromium at /usr/bin/chromium
(`apt-get install -y chromium`; without it they are skipped, saying so); Playwright drives it
through `executable_path` and never downloads a browser of its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest

from data_generation.field_service import generate
from orchestrator_assets.project_paths import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "screenshots"  # git-ignored
FIRST_DAY = date(2026, 1, 1)
DAYS = 4  # 2026-01-01 .. 2026-01-04
STARTUP_TIMEOUT_S = 180  # webserver up and code location loaded (2 shared cores: ~20 s, more under load)
VENV_BIN = Path(sys.executable).parent


@dataclass
class TinyProject:
    """A data folder with the tiny profile, its warehouse path and a Dagster home, all temporary."""

    root: Path
    data: Path
    warehouse: Path
    dagster_home: Path
    days: list[date] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            "REASSORT_DATA_DIR": str(self.data),
            "REASSORT_WAREHOUSE": str(self.warehouse),
            "DAGSTER_HOME": str(self.dagster_home),
        }

    @contextmanager
    def environment(self) -> Iterator[None]:
        """Point this process at the project (for `orchestrator_assets.cli.main`), then restore."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.env.items():
                patch.setenv(name, value)
            yield


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory) -> TinyProject:
    root = tmp_path_factory.mktemp("reassort_ui")
    project = TinyProject(
        root=root,
        data=root / "data",
        warehouse=root / "data" / "warehouse",
        dagster_home=root / "dagster_home",
        days=[FIRST_DAY + timedelta(days=offset) for offset in range(DAYS)],
    )
    generate("tiny", FIRST_DAY, DAYS, project.data, seed=5)
    project.dagster_home.mkdir()
    (project.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return project


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ManagedProcess:
    """A server process started by a fixture, in its own process group, with its output in a file."""

    name: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last output of {self.name} ({self.log}) ---\n{text[-chars:]}"

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to this process's group (it and the code servers / run workers it started), then SIGKILL."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        try:  # children (code server, run workers) may outlive the leader
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def start_process(name: str, command: list[str], project: TinyProject) -> ManagedProcess:
    log = project.root / f"{name}.log"
    env = {**os.environ, **project.env, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ManagedProcess(name, process, log)


@dataclass
class DagsterServer:
    host: str
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def graphql(self, query: str, variables: dict | None = None, timeout_s: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]


LOCATIONS_QUERY = """
query { workspaceOrError { __typename ... on Workspace {
  locationEntries { name loadStatus locationOrLoadError { __typename ... on PythonError { message } } }
} } }
"""


def wait_until_ready(server: DagsterServer, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """/server_info answers, and the code location of workspace.yaml is loaded (or its error is raised)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.process.poll() is not None:
            raise AssertionError(f"dagster-webserver exited with {server.process.process.returncode}\n{server.process.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5) as response:
                json.loads(response.read())
            entries = server.graphql(LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, KeyError):
            time.sleep(1)
            continue
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [entry for entry in entries if entry["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise AssertionError(f"code location failed to load: {errors[0]['locationOrLoadError']['message']}")
            return
        time.sleep(1)
    raise AssertionError(f"dagster-webserver not ready after {timeout_s:.0f} s\n{server.process.log_tail()}")


@pytest.fixture(scope="module")
def dagster_server(tiny_project) -> Iterator[DagsterServer]:
    """`dagster-webserver -w workspace.yaml` on 127.0.0.1:<free port>, on the tiny project."""
    port = free_port()
    process = start_process(
        "webserver",
        [str(VENV_BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        tiny_project,
    )
    server = DagsterServer("127.0.0.1", port, process)
    try:
        wait_until_ready(server)
        yield server
    finally:
        process.stop()


@pytest.fixture(scope="module")
def dagster_daemon(tiny_project) -> Iterator[ManagedProcess]:
    """`dagster-daemon run -w workspace.yaml`: starts queued runs and drives backfills (as `reassort ui` does)."""
    process = start_process("daemon", [str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], tiny_project)
    try:
        time.sleep(1)
        if process.process.poll() is not None:
            raise AssertionError(f"dagster-daemon exited at once\n{process.log_tail()}")
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get update && apt-get install -y chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """A fresh page, 1600 x 1200, with Dagster's 'join the community' dialog already dismissed."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)  # the UI loads its data after the page (slower under load)
    context = chromium.new_context(viewport={"width": 1600, "height": 1200})
    context.add_init_script("window.localStorage.setItem('communityNux', '1')")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
