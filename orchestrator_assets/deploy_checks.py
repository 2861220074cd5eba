"""`reassort deploy --check`: can this cluster run a backfill? Each check names what is wrong.

The checks, in order (each one catches its own errors, as in health_checks.py):

- mode: DAGSTER_HOME's dagster.yaml is a cluster one (cluster_config.py);
- database: the PostgreSQL server answers (5 s), and the instance's run, event log and
  schedule storages are at Dagster's current schema (`dagster instance migrate` otherwise;
  an empty database gets its tables when the instance first opens it, as every service does);
- broker: Redis answers a PING (5 s);
- warehouse: the table folder (and the data folder) exist and this machine can write in
  the warehouse: a marker file with a random token is written under `_cluster/`;
- workers: every worker on the run launcher's queue answers `reassort_worker_info`
  (celery_worker.py) within 5 s; each must run this code version (code_version.py) and read
  the marker with the same token in *its* warehouse, which proves that its path reaches the
  same storage as this machine's. At least one worker must answer.
- daemon: a Dagster daemon heartbeat less than 5 minutes old (nothing starts queued runs
  and backfills without one).

The marker is removed at the end. Exit status 1 when a check fails (cli.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator_assets import project_paths
from orchestrator_assets.cluster_config import instance_mode, redact
from orchestrator_assets.health_checks import Check, HealthReport

CONNECT_TIMEOUT_S = 5
WORKER_REPLY_TIMEOUT_S = 5.0
DAEMON_MAX_AGE_S = 300.0


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as error:  # noqa: BLE001  (a check reports its failure, it never raises)
        return Check(name, False, f"{type(error).__name__}: {error}")


def check_database(postgres_url: str) -> Check:
    """The server answers, then the instance's three storages are at the current schema."""
    import dagster as dg
    import psycopg2

    plain = postgres_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    try:
        connection = psycopg2.connect(plain, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg2.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return Check("database", False, f"PostgreSQL at {redact(postgres_url)} does not answer: {first_line}")
    with connection:
        server = connection.server_version
    connection.close()
    with dg.DagsterInstance.get() as instance:
        behind = []
        for name, storage in (
            ("run", instance.run_storage),
            ("event log", instance.event_log_storage),
            ("schedule", instance.schedule_storage),
        ):
            version = storage.alembic_version() if storage is not None else None
            if version is not None and version[0] != version[1]:
                behind.append(f"{name} storage at {version[0]}, Dagster expects {version[1]}")
        if behind:
            return Check(
                "database", False,
                f"{redact(postgres_url)}: {'; '.join(behind)}: run `dagster instance migrate` once (with DAGSTER_HOME set), "
                "then restart the webserver, the daemon and the workers",
            )
        runs = instance.get_runs_count()
    return Check("database", True, f"{redact(postgres_url)}: PostgreSQL {server // 10000}, schema current, {runs} runs", runs)


def check_broker(broker: str) -> Check:
    import redis

    client = redis.Redis.from_url(broker, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as error:
        return Check("broker", False, f"Redis at {redact(broker)} does not answer: {error}")
    finally:
        client.close()
    return Check("broker", True, f"Redis at {redact(broker)} answers")


def write_marker(warehouse: Path, token: str) -> Path:
    from orchestrator_assets.celery_worker import marker_path

    path = marker_path(warehouse, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    if path.read_text().strip() != token:
        raise OSError(f"{path}: the marker read back differs from what was written")
    return path


def check_warehouse(warehouse: Path, data_dir: Path, token: str) -> Check:
    if not data_dir.is_dir():
        return Check("warehouse", False, f"data folder {data_dir} does not exist (REASSORT_DATA_DIR; every machine must see it)")
    try:
        path = write_marker(warehouse, token)
    except OSError as error:
        return Check("warehouse", False, f"cannot write in {warehouse}: {error}")
    return Check("warehouse", True, f"{warehouse} writable (marker {path.name}); data folder {data_dir}")


def ask_workers(app_args: dict[str, Any], token: str, timeout_s: float = WORKER_REPLY_TIMEOUT_S) -> dict[str, dict]:
    """{worker name: its reassort_worker_info} of the workers consuming the launcher's queue."""
    from dagster_celery.make_app import make_app

    from orchestrator_assets.celery_worker import INFO_COMMAND

    app = make_app(app_args)
    try:
        replies = app.control.inspect(timeout=timeout_s)._request(INFO_COMMAND, marker=token) or {}
    finally:
        app.close()
    queue = app_args["task_default_queue"]
    answers = {}
    for name, reply in replies.items():
        info = reply.get("ok") if isinstance(reply, dict) else None
        if isinstance(info, dict) and queue in info.get("queues", []):
            answers[name] = info
    return answers


def check_workers(app_args: dict[str, Any], token: str, warehouse: Path) -> Check:
    from orchestrator_assets.code_version import code_version

    mine = code_version()
    queue = app_args["task_default_queue"]
    answers = ask_workers(app_args, token)
    if not answers:
        return Check(
            "workers", False,
            f"no worker answers on queue {queue!r} within {WORKER_REPLY_TIMEOUT_S:.0f} s: start one per machine "
            "with `reassort worker` (same DAGSTER_HOME and paths)",
        )
    problems = []
    for name, info in sorted(answers.items()):
        if info.get("code_version") != mine:
            problems.append(f"{name} runs code {info.get('code_version')}, this machine {mine}: restart it after deploying the code")
        if info.get("marker") != token:
            problems.append(
                f"{name} does not see this machine's marker in its warehouse {info.get('warehouse')} "
                f"(here {warehouse}): the warehouse is not shared, or not at the same path"
            )
    names = ", ".join(sorted(answers))
    if problems:
        return Check("workers", False, "; ".join(problems), len(answers))
    return Check("workers", True, f"{len(answers)} on queue {queue!r} ({names}), code {mine}, shared warehouse seen", len(answers))


def check_daemon(max_age_s: float = DAEMON_MAX_AGE_S) -> Check:
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        beats = instance.get_daemon_heartbeats()
    if not beats:
        return Check("daemon", False, "no Dagster daemon heartbeat: start `reassort serve daemon` (one, on any machine)")
    age = time.time() - max(beat.timestamp for beat in beats.values())
    if age > max_age_s:
        return Check("daemon", False, f"last daemon heartbeat {age:.0f} s ago: is `reassort serve daemon` running?", age)
    return Check("daemon", True, f"heartbeat {age:.0f} s ago", age)


def cluster_report() -> HealthReport:
    """Every check of the cluster DAGSTER_HOME points at (the environment set as for `reassort`)."""
    home = project_paths.dagster_home()
    mode = instance_mode(home)
    if mode != "cluster":
        return HealthReport([Check(
            "mode", False,
            f"{home / 'dagster.yaml'} is local mode (SQLite, runs in process): write a cluster one with "
            "`reassort deploy --init --postgres-url ... --broker ... --warehouse ...`",
        )])
    checks = [Check("mode", True, f"cluster ({home / 'dagster.yaml'})")]
    try:
        storage_url, app_args = cluster_endpoints(home)
    except Exception as error:  # noqa: BLE001  (a configuration Dagster refuses: say why)
        return HealthReport([Check("mode", False, f"{home / 'dagster.yaml'}: {type(error).__name__}: {error}")])
    checks.append(_guarded("database", lambda: check_database(storage_url)))
    checks.append(_guarded("broker", lambda: check_broker(app_args["broker"])))
    warehouse, data_dir = project_paths.warehouse_path(), project_paths.data_dir()
    token = uuid.uuid4().hex
    checks.append(_guarded("warehouse", lambda: check_warehouse(warehouse, data_dir, token)))
    try:
        if checks[-1].ok and checks[-2].ok:
            checks.append(_guarded("workers", lambda: check_workers(app_args, token, warehouse)))
        else:
            checks.append(Check("workers", False, "not asked: the broker or the warehouse check failed"))
    finally:
        from orchestrator_assets.celery_worker import marker_path

        marker_path(warehouse, token).unlink(missing_ok=True)
    if checks[1].ok:
        checks.append(_guarded("daemon", check_daemon))
    else:
        checks.append(Check("daemon", False, "not asked: the database check failed"))
    return HealthReport(checks)


def _resolved(value: Any) -> Any:
    """A dagster.yaml value with `{env: NAME}` replaced by the variable (StringSource)."""
    if isinstance(value, dict) and set(value) == {"env"}:
        import os

        return os.environ[value["env"]]
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    return value


def cluster_endpoints(home: Path) -> tuple[str, dict[str, Any]]:
    """(storage URL, Celery app settings) of the cluster configured in `home`, read from its
    dagster.yaml without opening the instance (which would wait for an absent database)."""
    import yaml
    from dagster._serdes import ConfigurableClassData
    from dagster_celery.launcher import CeleryRunLauncher
    from dagster_postgres.utils import pg_url_from_config

    config = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    postgres = _resolved((config.get("storage") or {}).get("postgres"))
    if not isinstance(postgres, dict):
        raise ValueError("no `storage: postgres:` section")
    if isinstance(postgres.get("postgres_db"), dict):
        postgres["postgres_db"].setdefault("username", "postgres")
    launcher = config["run_launcher"]
    data = ConfigurableClassData(launcher["module"], launcher["class"], yaml.safe_dump(launcher.get("config") or {}))
    celery_launcher = data.rehydrate(as_type=CeleryRunLauncher)
    return pg_url_from_config(postgres), celery_launcher.app_args()
