"""Alert webhook safety: secrets never logged, only http(s) URLs used, bounded time and ticks."""

import logging
import socket
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestrator_assets.defs.automation.alert_sensors import MAX_ALERTS_PER_TICK, build_alert_sensors
from orchestrator_assets.defs.automation.webhook import WEBHOOK_ENV, post_alert, redact_url, webhook_url_problem
from orchestrator_assets.defs.urgence.assets import ALERT_CLASS, CLASSIFICATION_KEY
from tests.orchestrator_assets.webhook_receiver import Receiver

SECRETS = ("s3cret", "t0ken", "T0KEN-PATH")


def secret_url(recorder: Receiver) -> str:
    return recorder.url_with("user:s3cret@", "/services/T0KEN-PATH", "?token=t0ken")


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:s3cret@hooks.example.com:8443/services/T0KEN-PATH?token=t0ken#frag", "https://***@hooks.example.com:8443/***?***#***"),
        ("https://hooks.example.com/", "https://hooks.example.com/"),
        ("http://[::1]:9000/x", "http://[::1]:9000/***"),
        ("http://[::1", "<malformed URL>"),
    ],
)
def test_the_logged_url_hides_credentials_path_and_query(url, shown):
    assert redact_url(url) == shown


def test_no_log_line_shows_the_credentials_or_the_token_when_the_post_succeeds():
    lines: list[str] = []
    with Receiver() as recorder:
        assert post_alert({"event": "critique_a"}, url=secret_url(recorder), logger=lines.append)
    assert lines and not any(secret in line for line in lines for secret in SECRETS)


def test_no_log_line_shows_the_credentials_or_the_token_when_the_post_fails():
    lines: list[str] = []
    with Receiver(status=500) as recorder:
        assert not post_alert({"event": "run_failed"}, url=secret_url(recorder), first_delay_s=0.01, logger=lines.append)
    assert len(lines) == 3 and not any(secret in line for line in lines for secret in SECRETS)


def test_credentials_in_the_url_are_sent_as_basic_auth_not_as_the_host_name():
    with Receiver() as recorder:
        assert post_alert({"event": "x"}, url=secret_url(recorder))
    (request,) = recorder.requests
    assert request["headers"]["Authorization"] == "Basic dXNlcjpzM2NyZXQ="  # user:s3cret
    assert request["path"] == "/services/T0KEN-PATH?token=t0ken"


def test_a_redirect_is_not_followed():
    lines: list[str] = []
    with Receiver(status=302) as recorder:
        assert not post_alert({"event": "x"}, url=recorder.url, attempts=1, logger=lines.append)
    assert len(recorder.requests) == 1 and "302" in lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example.com/alerts",
        "javascript:alert(1)",
        "hooks.example.com/alert",
        "http://",
        "http://hooks.example.com:99999/x",
        "http://hooks.example.com:port/x",
        "http://[::1",
        "http://hooks.example.com/a b",
        "http://hooks.example.com/\nInjected: header",
    ],
)
def test_a_non_http_or_malformed_url_is_refused_with_one_clear_line(url):
    problem = webhook_url_problem(url)
    assert problem is not None and problem.startswith(f"{WEBHOOK_ENV} refused:") and "\n" not in problem
    lines: list[str] = []
    assert post_alert({"event": "x"}, url=url, logger=lines.append) is False
    assert len(lines) == 1 and "refused" in lines[0] and "/etc/passwd" not in lines[0]


@pytest.mark.parametrize("url", ["https://hooks.example.com/x?token=1", "http://user:pw@127.0.0.1:8080/hook", "HTTPS://Example.com"])
def test_http_and_https_urls_are_accepted(url):
    assert webhook_url_problem(url) is None


def test_a_webhook_that_accepts_and_never_answers_costs_seconds_not_a_quarter_minute():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the connection; nobody ever reads or answers
    try:
        started = time.perf_counter()
        assert post_alert({"event": "x"}, url=f"http://127.0.0.1:{silent.getsockname()[1]}/hook", logger=lambda line: None) is False
        elapsed = time.perf_counter() - started
    finally:
        silent.close()
    assert elapsed < 9.0, f"one alert to a silent webhook took {elapsed:.1f} s"


def _observe_critique_a(instance: dg.DagsterInstance, days: int) -> None:
    for day in range(1, days + 1):
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=CLASSIFICATION_KEY,
                partition=f"2026-01-{day:02d}",
                metadata={"alert": ALERT_CLASS, "critique_a_count": 1},
            )
        )


def _sensor(name: str, ledger_root: Path) -> dg.SensorDefinition:
    return next(sensor for sensor in build_alert_sensors(ledger_root) if sensor.name == name)


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        result = sensor(context)
        return result, context.cursor


def test_a_tick_posts_at_most_the_bounded_number_of_alerts_and_the_rest_go_next_tick(monkeypatch, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    _observe_critique_a(instance, MAX_ALERTS_PER_TICK + 3)
    sensor = _sensor("critique_a_alert", tmp_path)
    with Receiver() as recorder:
        monkeypatch.setenv(WEBHOOK_ENV, recorder.url)
        _, cursor = _tick(sensor, instance, None)
        assert len(recorder.requests) == MAX_ALERTS_PER_TICK
        _tick(sensor, instance, cursor)
    partitions = [request["body"]["partition"] for request in recorder.requests]
    assert partitions == [f"2026-01-{day:02d}" for day in range(1, MAX_ALERTS_PER_TICK + 4)]


def test_a_tick_stops_at_the_first_alert_the_webhook_does_not_take(monkeypatch, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    _observe_critique_a(instance, 3)
    sensor = _sensor("critique_a_alert", tmp_path)
    with Receiver(status=503) as recorder:
        monkeypatch.setenv(WEBHOOK_ENV, recorder.url)
        result, _ = _tick(sensor, instance, None)
    assert [request["body"]["partition"] for request in recorder.requests] == ["2026-01-01"] * 2  # its 2 attempts
    assert "the rest waits" in result.skip_message


def test_a_refused_url_is_reported_at_definitions_load_and_each_tick_skips_without_raising(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv(WEBHOOK_ENV, "file:///etc/passwd")
    instance = dg.DagsterInstance.ephemeral()
    _observe_critique_a(instance, 1)
    with caplog.at_level(logging.WARNING, logger="reassort.alerts"):
        sensors = {sensor.name: sensor for sensor in build_alert_sensors(tmp_path)}
    assert any("REASSORT_ALERT_WEBHOOK refused: scheme 'file'" in record.getMessage() for record in caplog.records)

    result, cursor = _tick(sensors["critique_a_alert"], instance, None)
    assert isinstance(result, dg.SkipReason) and "refused" in result.skip_message
    assert not cursor, "the CRITIQUE_A alerts wait for a usable URL"

    @dg.asset
    def boom() -> None:
        raise ValueError("boom")

    failed = dg.materialize([boom], instance=instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="failed_run_alert",
        dagster_event=failed.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=failed.dagster_run,
    ).for_run_failure()
    verdict = sensors["failed_run_alert"](context)
    assert isinstance(verdict, dg.SkipReason) and "refused" in verdict.skip_message
