"""`reassort health`: is this installation able to deliver tomorrow's plan? One verdict from a
few checks, each {name, ok, detail, value}; the command exits 1 when one fails, and the
metrics server serves the same report on /health (HTTP 200 or 503).

The checks, in order:

- warehouse: the folder exists and can be listed, the newest manifest parses, and its
  layout version (table_files.LAYOUT_VERSION, from `_layout.json` or derived) is one this
  code reads. A DuckDB file of earlier versions without a folder means `reassort migrate`.
- dagster_instance: the instance storage answers a run count.
- daemon: the age of the oldest heartbeat of the daemons the instance needs. Only fails when
  a daemon is *expected*: REASSORT_EXPECT_DAEMON=1, or dagster.yaml configures a
  run_coordinator explicitly (runs submitted to a queue wait for a daemon). `reassort run`
  executes without one, and Dagster's default instance has a queue coordinator whether or
  not anybody starts a daemon, so the default alone does not make one expected.
- partition_freshness: partition_deadline.freshness, the rule the freshness sensor and the
  metrics share: fails when the expected partition is late.
- disk_free: free space of the file system holding the data folder (and the warehouse, when
  on another one) against REASSORT_MIN_FREE_GB (default 1).

Why every check catches its own errors: a health report that raises tells nothing about the
other checks; a failing check names what failed instead.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import yaml

from orchestrator_assets import project_paths
from orchestrator_assets.manifests import published_partitions, read_manifest
from orchestrator_assets.partition_deadline import Deadline, freshness
from orchestrator_assets.table_files import LAYOUT_VERSION, layout_version

EXPECT_DAEMON_ENV = "REASSORT_EXPECT_DAEMON"
MIN_FREE_GB_ENV = "REASSORT_MIN_FREE_GB"
DAEMON_MAX_AGE_ENV = "REASSORT_DAEMON_HEARTBEAT_MAX_AGE_S"
DEFAULT_MIN_FREE_GB = 1.0
#: daemons heartbeat every 30 s; ten missed beats is a dead daemon, not a slow tick
DEFAULT_DAEMON_MAX_AGE_S = 300.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    #: the figure behind the verdict (a version, an age in seconds, free GB, a partition), for scripts
    value: object = None


@dataclass(frozen=True)
class HealthReport:
    checks: list[Check]
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "checks": [asdict(check) for check in self.checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_text(self) -> str:
        width = max(len(check.name) for check in self.checks)
        lines = [f"{'OK  ' if check.ok else 'FAIL'}  {check.name:<{width}}  {check.detail}" for check in self.checks]
        lines.append("healthy" if self.ok else f"unhealthy: {', '.join(c.name for c in self.checks if not c.ok)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds, from the environment unless given."""

    min_free_gb: float = DEFAULT_MIN_FREE_GB
    daemon_max_age_s: float = DEFAULT_DAEMON_MAX_AGE_S
    expect_daemon: bool | None = None  # None: decide from the instance's configuration

    @classmethod
    def from_env(cls) -> HealthSettings:
        def number(name: str, default: float) -> float:
            text = os.environ.get(name, "").strip()
            if not text:
                return default
            try:
                return float(text)
            except ValueError as error:
                raise ValueError(f"{name}={text!r}: expected a number") from error

        expect = os.environ.get(EXPECT_DAEMON_ENV, "").strip().lower()
        return cls(
            min_free_gb=number(MIN_FREE_GB_ENV, DEFAULT_MIN_FREE_GB),
            daemon_max_age_s=number(DAEMON_MAX_AGE_ENV, DEFAULT_DAEMON_MAX_AGE_S),
            expect_daemon=True if expect in ("1", "true", "yes") else (False if expect in ("0", "false", "no") else None),
        )


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as error:  # noqa: BLE001  (a check reports its failure, it never raises)
        return Check(name, False, f"{type(error).__name__}: {error}")


def check_warehouse(root: Path, legacy_file: Path | None = None) -> Check:
    """Readable folder, parseable newest manifest, a layout version this code reads."""
    if not root.is_dir():
        if legacy_file is not None and legacy_file.is_file():
            return Check("warehouse", False, f"no warehouse folder at {root}, but a warehouse file of an earlier "
                         f"version at {legacy_file} (layout 0): run `reassort migrate`", 0)
        return Check("warehouse", False, f"no warehouse folder at {root} (REASSORT_WAREHOUSE; run the pipeline once)")
    os.listdir(root)  # PermissionError -> the guard reports it
    version, source = layout_version(root)
    if version is None:
        return Check("warehouse", False, f"{root}: nothing published yet (no {root.name}/_published)")
    if version != LAYOUT_VERSION:
        return Check("warehouse", False, f"{root}: layout version {version}, this Réassort reads {LAYOUT_VERSION}", version)
    keys = published_partitions(root)
    if not keys:
        return Check("warehouse", False, f"{root}: layout {version} ({source}), no partition published", version)
    entries = read_manifest(root, keys[-1])
    return Check("warehouse", True, f"{root}: layout version {version} ({source}), {len(keys)} published partitions, "
                 f"newest {keys[-1]} with {len(entries)} table slices", version)


def check_instance(instance: dg.DagsterInstance) -> Check:
    started = time.perf_counter()
    runs = instance.get_runs_count()
    elapsed = time.perf_counter() - started
    return Check("dagster_instance", True, f"{instance.root_directory or 'in memory'}: {runs} runs, storage answered in {elapsed * 1000:.0f} ms", runs)


def daemon_expected(instance: dg.DagsterInstance, settings: HealthSettings) -> tuple[bool, str]:
    if settings.expect_daemon is not None:
        return settings.expect_daemon, f"{EXPECT_DAEMON_ENV}={int(settings.expect_daemon)}"
    config = Path(instance.root_directory) / "dagster.yaml" if instance.root_directory else None
    if config is not None and config.is_file():
        loaded = yaml.safe_load(config.read_text()) or {}
        if isinstance(loaded, dict) and loaded.get("run_coordinator"):
            return True, f"run_coordinator configured in {config}"
    return False, f"not expected (set {EXPECT_DAEMON_ENV}=1 when one runs)"


def check_daemon(instance: dg.DagsterInstance, settings: HealthSettings, now: float | None = None) -> Check:
    """The oldest heartbeat among the daemons the instance needs (a missing one is infinitely old)."""
    now = time.time() if now is None else now
    expected, why = daemon_expected(instance, settings)
    beats = instance.get_daemon_heartbeats()
    required = list(instance.get_required_daemon_types()) or sorted(beats)
    ages = {daemon: (now - beats[daemon].timestamp) if daemon in beats else None for daemon in required}
    missing = sorted(daemon for daemon, age in ages.items() if age is None)
    known = [age for age in ages.values() if age is not None]
    oldest = max(known) if known else None
    if not beats:
        state = "no daemon heartbeat recorded"
    elif missing:
        state = f"no heartbeat from {', '.join(missing)}; oldest other {oldest:.0f} s ago" if oldest is not None else f"no heartbeat from {', '.join(missing)}"
    else:
        state = f"oldest heartbeat {oldest:.0f} s ago ({len(known)} daemons)"
    if not expected:
        return Check("daemon", True, f"{state}; daemon {why}", oldest)
    healthy = bool(beats) and not missing and oldest is not None and oldest <= settings.daemon_max_age_s
    limit = f"limit {settings.daemon_max_age_s:.0f} s"
    return Check("daemon", healthy, f"{state} ({limit}); daemon expected: {why}", oldest)


def check_freshness(instance: dg.DagsterInstance, now: datetime | None, deadline: Deadline | None = None) -> Check:
    state = freshness(instance, now, deadline)
    return Check("partition_freshness", not state.late, state.describe(),
                 state.last_done.isoformat() if state.last_done else None)


def _existing(path: Path) -> Path:
    """The path or its nearest existing parent (disk_usage needs one that exists)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def check_disk(data: Path, warehouse: Path, min_free_gb: float) -> list[Check]:
    """Free space where the data folder lives, and where the warehouse lives if elsewhere."""
    places = [("disk_free", data)]
    if _existing(warehouse).stat().st_dev != _existing(data).stat().st_dev:
        places.append(("disk_free_warehouse", warehouse))
    checks = []
    for name, path in places:
        free_gb = shutil.disk_usage(_existing(path)).free / 1e9
        checks.append(Check(name, free_gb >= min_free_gb,
                            f"{free_gb:.1f} GB free under {path} (minimum {min_free_gb:g} GB, {MIN_FREE_GB_ENV})", round(free_gb, 3)))
    return checks


def check_health(
    warehouse: Path,
    data: Path,
    instance: dg.DagsterInstance | None,
    now: datetime | None = None,
    settings: HealthSettings | None = None,
    instance_error: str | None = None,
) -> HealthReport:
    """Every check; `instance` None (with `instance_error` saying why) fails those needing it."""
    now = now or datetime.now(UTC)
    try:
        settings = settings or HealthSettings.from_env()
    except ValueError as error:
        return HealthReport([Check("configuration", False, str(error))], now)
    checks = [_guarded("warehouse", lambda: check_warehouse(warehouse, data / "warehouse.duckdb"))]
    if instance is None:
        reason = instance_error or "no Dagster instance"
        checks += [Check(name, False, f"instance unreachable: {reason}") for name in ("dagster_instance", "daemon", "partition_freshness")]
    else:
        checks.append(_guarded("dagster_instance", lambda: check_instance(instance)))
        checks.append(_guarded("daemon", lambda: check_daemon(instance, settings, now.timestamp())))
        checks.append(_guarded("partition_freshness", lambda: check_freshness(instance, now)))
    try:
        checks += check_disk(data, warehouse, settings.min_free_gb)
    except OSError as error:
        checks.append(Check("disk_free", False, f"{type(error).__name__}: {error}"))
    return HealthReport(checks, now)


@contextmanager
def project_instance() -> Iterator[tuple[dg.DagsterInstance | None, str | None]]:
    """The instance in DAGSTER_HOME, or (None, why) when it cannot be opened."""
    os.environ["DAGSTER_HOME"] = str(project_paths.dagster_home())
    try:
        instance = dg.DagsterInstance.get()
    except Exception as error:  # noqa: BLE001  (reported as a failed check)
        yield None, f"{type(error).__name__}: {error}"
        return
    with instance:
        yield instance, None


def project_health(now: datetime | None = None) -> HealthReport:
    """The report of this project's data folder, warehouse and instance (`reassort health`)."""
    with project_instance() as (instance, error):
        return check_health(project_paths.warehouse_path(), project_paths.data_dir(), instance, now, instance_error=error)
