"""`reassort health`: the checks on a hand-made warehouse and instance (no pipeline run needed)."""

import json
from datetime import UTC, date, time, timedelta

import dagster as dg
import polars as pl
import pytest
from dagster._daemon.types import DaemonHeartbeat

from orchestrator_assets.cli import main
from orchestrator_assets.health_checks import HealthSettings, check_health
from orchestrator_assets.partition_deadline import DELIVERABLE_KEYS, Deadline
from orchestrator_assets.publication import publish
from orchestrator_assets.table_files import LAYOUT_FILE, LAYOUT_VERSION, UnitFile, write_unit

DAY = date(2026, 1, 8)
DEADLINE = Deadline(time(8, 0), "Europe/Paris")
#: one hour after partition DAY was due: DAY is the expected partition
FRESH_NOW = DEADLINE.due_at(DAY).astimezone(UTC) + timedelta(hours=1)
#: one day later: DAY + 1 is expected and was never materialised
LATE_NOW = FRESH_NOW + timedelta(days=1)
LENIENT = HealthSettings(min_free_gb=0.0, expect_daemon=False)


@pytest.fixture
def installation(tmp_path, monkeypatch):
    """A data folder with a published warehouse partition, an instance where DAY is done."""
    monkeypatch.delenv("REASSORT_FRESHNESS_DEADLINE", raising=False)
    monkeypatch.delenv("REASSORT_FRESHNESS_TIMEZONE", raising=False)
    data = tmp_path / "data"
    warehouse = data / "warehouse"
    unit = UnitFile("urgence.urgency_classification", DAY.isoformat(), "run1")
    write_unit(warehouse, unit, pl.DataFrame({"site_id": ["S1"], "article_id": ["A1"], "class": ["NORMAL_A"]}))
    publish(warehouse, [unit])
    instance = dg.DagsterInstance.ephemeral()
    for key in DELIVERABLE_KEYS:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=DAY.isoformat()))
    yield data, warehouse, instance
    instance.dispose()


def by_name(report) -> dict:
    return {check.name: check for check in report.checks}


def test_a_fresh_installation_is_healthy(installation):
    data, warehouse, instance = installation
    report = check_health(warehouse, data, instance, FRESH_NOW, LENIENT)
    assert report.ok, report.to_text()
    checks = by_name(report)
    assert set(checks) >= {"warehouse", "dagster_instance", "daemon", "partition_freshness", "disk_free"}
    assert checks["warehouse"].value == LAYOUT_VERSION and "(marker)" in checks["warehouse"].detail
    assert json.loads((warehouse / LAYOUT_FILE).read_text()) == {"layout_version": LAYOUT_VERSION}
    assert checks["partition_freshness"].value == DAY.isoformat()
    body = json.loads(report.to_json())
    assert body["ok"] is True and [c["name"] for c in body["checks"]][0] == "warehouse"
    assert all(set(c) == {"name", "ok", "detail", "value"} for c in body["checks"])


def test_a_missing_warehouse_fails(installation, tmp_path):
    data, _, instance = installation
    report = check_health(tmp_path / "nowhere", data, instance, FRESH_NOW, LENIENT)
    assert not report.ok
    warehouse = by_name(report)["warehouse"]
    assert not warehouse.ok and "no warehouse folder" in warehouse.detail
    assert by_name(report)["partition_freshness"].ok  # the other checks still ran


def test_a_partition_older_than_the_deadline_fails(installation):
    data, warehouse, instance = installation
    report = check_health(warehouse, data, instance, LATE_NOW, LENIENT)
    assert not report.ok
    fresh = by_name(report)["partition_freshness"]
    assert not fresh.ok and f"partition {DAY + timedelta(days=1)} is late" in fresh.detail
    assert f"last done partition: {DAY}" in fresh.detail
    assert [check.name for check in report.checks if not check.ok] == ["partition_freshness"]


def test_a_layout_this_code_does_not_read_fails(installation):
    data, warehouse, instance = installation
    (warehouse / LAYOUT_FILE).write_text(json.dumps({"layout_version": LAYOUT_VERSION + 1}))
    check = by_name(check_health(warehouse, data, instance, FRESH_NOW, LENIENT))["warehouse"]
    assert not check.ok and f"layout version {LAYOUT_VERSION + 1}" in check.detail


def test_an_old_single_file_warehouse_asks_for_the_migration(installation, tmp_path):
    data, _, instance = installation
    legacy_data = tmp_path / "legacy"
    legacy_data.mkdir()
    (legacy_data / "warehouse.duckdb").write_bytes(b"")
    check = by_name(check_health(legacy_data / "warehouse", legacy_data, instance, FRESH_NOW, LENIENT))["warehouse"]
    assert not check.ok and "reassort migrate" in check.detail


def test_an_expected_daemon_without_heartbeat_fails_and_a_recent_one_passes(installation):
    data, warehouse, instance = installation
    expecting = HealthSettings(min_free_gb=0.0, expect_daemon=True, daemon_max_age_s=300)
    check = by_name(check_health(warehouse, data, instance, FRESH_NOW, expecting))["daemon"]
    assert not check.ok and "no daemon heartbeat" in check.detail
    instance.add_daemon_heartbeat(DaemonHeartbeat(FRESH_NOW.timestamp() - 20, "SENSOR", "d1", None))
    check = by_name(check_health(warehouse, data, instance, FRESH_NOW, expecting))["daemon"]
    assert check.ok and check.value == pytest.approx(20)
    check = by_name(check_health(warehouse, data, instance, FRESH_NOW + timedelta(minutes=10), expecting))["daemon"]
    assert not check.ok and "limit 300 s" in check.detail


def test_too_little_free_space_fails(installation):
    data, warehouse, instance = installation
    report = check_health(warehouse, data, instance, FRESH_NOW, HealthSettings(min_free_gb=1e9, expect_daemon=False))
    assert not by_name(report)["disk_free"].ok and "minimum 1e+09 GB" in by_name(report)["disk_free"].detail


def test_the_command_exits_1_with_json_when_the_warehouse_is_missing(project_env, capsys):
    assert main(["health", "--format", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is False
    checks = {check["name"]: check for check in body["checks"]}
    assert checks["warehouse"]["ok"] is False and checks["dagster_instance"]["ok"] is True
    assert main(["health"]) == 1
    assert "FAIL  warehouse" in capsys.readouterr().out


def test_a_bad_threshold_is_reported_not_raised(installation, monkeypatch):
    data, warehouse, instance = installation
    monkeypatch.setenv("REASSORT_MIN_FREE_GB", "lots")
    report = check_health(warehouse, data, instance, FRESH_NOW)
    assert not report.ok and "REASSORT_MIN_FREE_GB='lots'" in report.checks[0].detail
