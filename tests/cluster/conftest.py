"""A real cluster for the `cluster` tests: PostgreSQL, Redis, a daemon and two Celery workers.

The tests are marked `cluster` (`uv run pytest -m cluster` runs them alone; the README's
`uv run pytest` and CI run them with the others). They need PostgreSQL on 127.0.0.1:5432
(trust authentication for user postgres, which may CREATE DATABASE) and Redis on
127.0.0.1:6379, and skip saying so when either port is closed. Nothing is mocked: the configuration is
written by `reassort deploy --init`, the daemon and the workers are started with
`reassort serve daemon` / `reassort worker` as an operator would, in their own process
groups, and stopped by their process ids.

Each module gets a database of its own (a unique name, dropped at the end) and a Celery
queue of its own, so that other tests or other clusters on the same services never take its
runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
BROKER = "redis://127.0.0.1:6379/0"
REASSORT = Path(sys.executable).parent / "reassort"
READY_TIMEOUT_S = 300  # two workers importing the libraries and a daemon on 2 shared cores


def closed_services() -> str | None:
    """Why the cluster tests cannot run here, or None."""
    for name, (host, port) in (("PostgreSQL", POSTGRES), ("Redis", REDIS)):
        try:
            with socket.create_connection((host, port), timeout=2):
                pass
        except OSError as error:
            return f"{name} is not reachable on {host}:{port} ({error}): the cluster tests need it"
    return None


def psql(sql: str, params: tuple = (), database: str = "postgres") -> None:
    import psycopg2

    connection = psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname=database, connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or None)
    finally:
        connection.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database; its URL (dropped afterwards, its connections ended first)."""
    name = f"reassort_test_{uuid.uuid4().hex[:12]}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{POSTGRES[0]}:{POSTGRES[1]}/{name}"
    finally:
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        psql(f'DROP DATABASE IF EXISTS "{name}"')


@dataclass
class Service:
    """A process started by the fixture, in its own process group, its output in a file."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-chars:]}"

    def stop(self) -> None:
        """SIGTERM to the group (the process and what it started), SIGKILL after 20 s."""
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # a child that outlived the leader
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Cluster:
    root: Path
    data: Path
    home: Path
    queue: str
    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> Service:
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(REASSORT), *args], cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.services[name] = Service(name, process, log)
        return self.services[name]

    def reassort(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(REASSORT), *args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )

    def logs(self) -> str:
        return "\n".join(service.tail() for service in self.services.values())

    @contextmanager
    def instance(self):
        import dagster as dg

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_HOME", str(self.home))
            with dg.DagsterInstance.get() as instance:
                yield instance


def cluster_env(home: Path) -> dict[str, str]:
    """This environment without the REASSORT_* paths (reassort.env gives them), with DAGSTER_HOME."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("REASSORT_", "DAGSTER_"))}
    return {**env, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}


@contextmanager
def running_cluster(root: Path, data: Path, postgres_url: str, workers: int = 2) -> Iterator[Cluster]:
    """deploy --init, a daemon and `workers` workers; ready when `deploy --check` passes."""
    token = uuid.uuid4().hex[:8]
    home = root / "dagster_home"
    cluster = Cluster(root, data, home, f"reassort-test-{token}", cluster_env(home))
    init = cluster.reassort(
        "deploy", "--init", "--postgres-url", postgres_url, "--broker", BROKER, "--warehouse", str(data / "warehouse"),
        "--data-dir", str(data), "--queue", cluster.queue, "--max-runs", str(workers), "--monitor-interval", "5",
    )
    assert init.returncode == 0, init.stdout + init.stderr
    try:
        cluster.start("daemon", "serve", "daemon")
        for index in range(1, workers + 1):
            cluster.start(f"worker{index}", "worker", "--name", f"w{index}-{token}")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            check = cluster.reassort("deploy", "--check", "--format", "json")
            report = json.loads(check.stdout) if check.stdout.strip().startswith("{") else {}
            workers_check = next((c for c in report.get("checks", []) if c["name"] == "workers"), {})
            if check.returncode == 0 and workers_check.get("value") == workers:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the cluster was not ready after {READY_TIMEOUT_S} s:\n{check.stdout}{check.stderr}\n{cluster.logs()}")
            for service in cluster.services.values():
                assert service.process.poll() is None, f"{service.name} exited\n{cluster.logs()}"
            time.sleep(5)
        yield cluster
    finally:
        for service in cluster.services.values():
            service.stop()
