"""Cluster mode's instance configuration: what `reassort deploy --init` writes into DAGSTER_HOME.

Réassort has two modes, told apart by DAGSTER_HOME's dagster.yaml alone (docs/deploy.md):

- local (the default, project_paths.INSTANCE_CONFIG): SQLite files under DAGSTER_HOME, runs
  executed in the process that launches them (`reassort run`) or in a run worker the local
  daemon forks (`reassort ui`), tables in a local folder;
- cluster (this module): instance storage in PostgreSQL, runs queued
  (QueuedRunCoordinator, at most one run per partition at a time) and sent by
  dagster-celery's CeleryRunLauncher (cluster_launcher.py) through a Redis broker to `reassort worker` processes,
  each of which executes a run in process (never the celery *executor* inside such a run:
  dagster issue #29660, it hangs); the data folder and the warehouse on a path every
  machine mounts at the same place.

The SQL storage URL must name the psycopg2 driver (`postgresql+psycopg2://`): SQLAlchemy 2.1
reads a bare `postgresql://` as psycopg 3, which is not installed (the storage fails with
"No module named 'psycopg'"); `postgres_url` normalises it.

Next to dagster.yaml, `reassort.env` records the data folder and the warehouse of the
cluster (REASSORT_DATA_DIR, REASSORT_WAREHOUSE): every `reassort` command reads it into its
environment (an explicit variable wins), so the webserver, the daemon with its code server,
the workers and `reassort run --submit` agree on the paths without each being told.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from orchestrator_assets import project_paths

CLUSTER_HEADER = "# Dagster instance of Réassort, cluster mode: written by `reassort deploy --init` (docs/deploy.md)."
ENV_FILE = "reassort.env"
#: the variables reassort.env may set (anything else in it is ignored)
ENV_KEYS = ("REASSORT_DATA_DIR", "REASSORT_WAREHOUSE")
#: the queue of dagster-celery's run launcher and workers unless told otherwise
DEFAULT_QUEUE = "dagster"
#: the tag that keeps two runs of one partition from running at once (one per unique value)
PARTITION_TAG = "dagster/partition"


class ClusterConfigError(ValueError):
    """A setting `reassort deploy --init` refuses, with the reason."""


def postgres_url(url: str) -> str:
    """The storage URL with the psycopg2 driver named (see the module's docstring)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ClusterConfigError(f"--postgres-url {redact(url)!r}: expected postgresql://user@host:port/database")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        return f"postgresql+psycopg2://{rest}"
    raise ClusterConfigError(
        f"--postgres-url: scheme {scheme!r} is not supported: use postgresql:// (the psycopg2 driver is installed)"
    )


def redact(url: str) -> str:
    """A URL fit for a message: its password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def check_broker(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss"):
        raise ClusterConfigError(f"--broker {redact(url)!r}: expected redis://host:6379/0 (Redis is the broker this project tests)")
    return url


@dataclass(frozen=True)
class ClusterSettings:
    """What a cluster needs to be told; the rest of its dagster.yaml follows from these."""

    postgres_url: str
    broker: str
    warehouse: Path
    data_dir: Path
    #: Celery's result backend, where the daemon reads each run's task state (run monitoring);
    #: the broker's Redis by default (its keys do not meet the queues')
    backend: str | None = None
    queue: str = DEFAULT_QUEUE
    #: runs in progress at once over the whole cluster: the workers' slots, not more
    max_concurrent_runs: int = 4
    #: how often the daemon checks the started runs' workers (run monitoring)
    monitor_interval_s: int = 30
    #: resumptions of a run whose worker died, on another worker (run monitoring)
    max_resumes: int = 1
    #: then, new runs re-executing it from the failure (a failed step is never retried this way)
    max_retries: int = 1

    def instance_config(self) -> dict:
        """The dagster.yaml of this cluster, as a mapping."""
        return {
            "storage": {"postgres": {"postgres_url": postgres_url(self.postgres_url)}},
            "run_coordinator": {"module": "dagster", "class": "QueuedRunCoordinator"},
            "concurrency": {
                "runs": {
                    "max_concurrent_runs": self.max_concurrent_runs,
                    "tag_concurrency_limits": [
                        {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                    ],
                }
            },
            "run_launcher": {
                # dagster-celery's CeleryRunLauncher, plus a ping of the worker of each
                # started run: a run whose worker died whole is failed, then retried
                "module": "orchestrator_assets.cluster_launcher",
                "class": "ReassortCeleryRunLauncher",
                "config": {
                    "broker": check_broker(self.broker),
                    "backend": self.backend or self.broker,
                    "default_queue": self.queue,
                    # the worker's name kept with each task's result: the daemon can say which
                    # worker had a run (`result_extended`); retry the broker at start-up
                    "config_source": {"result_extended": True, "broker_connection_retry_on_startup": True},
                },
            },
            "run_monitoring": {
                "enabled": True,
                "start_timeout_seconds": 180,
                "poll_interval_seconds": self.monitor_interval_s,
                # a run whose worker died is resumed once on another worker, under its own run id
                # (its finished steps kept): a backfill sees the same run end well; see docs/deploy.md
                "max_resume_run_attempts": self.max_resumes,
            },
            "run_retries": {
                "enabled": self.max_retries > 0,
                "max_retries": self.max_retries,
                "retry_on_asset_or_op_failure": False,
            },
            "telemetry": {"enabled": False},
        }

    def instance_yaml(self) -> str:
        return f"{CLUSTER_HEADER}\n" + yaml.safe_dump(self.instance_config(), sort_keys=False)

    def env_text(self) -> str:
        return (
            "# Réassort's shared paths in cluster mode; every `reassort` command reads this file\n"
            "# (a variable set in the environment wins). The same paths on every machine.\n"
            f"REASSORT_DATA_DIR={self.data_dir}\nREASSORT_WAREHOUSE={self.warehouse}\n"
        )


def write_cluster_home(home: Path, settings: ClusterSettings, force: bool = False) -> list[Path]:
    """Write dagster.yaml and reassort.env into `home`; refuses to replace a dagster.yaml this
    project did not write, unless `force`. Returns the files written."""
    if not settings.warehouse.is_absolute() or not settings.data_dir.is_absolute():
        raise ClusterConfigError("--warehouse and --data-dir must be absolute paths (the same on every machine)")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if config.exists() and not force:
        text = config.read_text()
        if not text.startswith((project_paths.INSTANCE_HEADER, CLUSTER_HEADER)):
            raise ClusterConfigError(f"{config} was not written by reassort: keep it, or replace it with --force")
    config.write_text(settings.instance_yaml())
    config.chmod(0o600)  # it holds the database URL, password included
    env_file = home / ENV_FILE
    env_file.write_text(settings.env_text())
    return [config, env_file]


def read_env_file(home: Path) -> dict[str, str]:
    """The REASSORT_* settings of `home`/reassort.env (empty when there is none)."""
    path = home / ENV_FILE
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, separator, value = line.strip().partition("=")
        if separator and name in ENV_KEYS and value:
            values[name] = value
    return values


def apply_env_file(home: Path) -> dict[str, str]:
    """Put `home`'s reassort.env into os.environ where a variable is not set already."""
    applied = {}
    for name, value in read_env_file(home).items():
        if name not in os.environ:
            os.environ[name] = value
            applied[name] = value
    return applied


def apply_cluster_env() -> dict[str, str]:
    """apply_env_file on DAGSTER_HOME (or the project's default home), creating nothing: what
    every `reassort` command does first."""
    home = Path(os.environ.get("DAGSTER_HOME", project_paths.PROJECT_ROOT / ".dagster_home"))
    return apply_env_file(home)


def instance_mode(home: Path) -> str:
    """'cluster' when `home`'s dagster.yaml launches runs through Celery, else 'local'."""
    config = home / "dagster.yaml"
    if not config.is_file():
        return "local"
    loaded = yaml.safe_load(config.read_text()) or {}
    launcher = loaded.get("run_launcher") if isinstance(loaded, dict) else None
    celery = isinstance(launcher, dict) and str(launcher.get("class", "")).endswith("CeleryRunLauncher")
    return "cluster" if celery else "local"
