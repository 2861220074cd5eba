"""Webhook alerts against a small HTTP server on 127.0.0.1 started by the test."""


import pytest

from orchestrator_assets.defs.automation.webhook import post_alert, run_url
from tests.orchestrator_assets.webhook_receiver import Receiver


def test_alert_is_posted_as_json():
    with Receiver() as receiver:
        assert post_alert({"event": "critique_a", "partition": "2026-01-10"}, url=receiver.url)
    assert receiver.bodies == [{"event": "critique_a", "partition": "2026-01-10"}]


def test_a_webhook_that_is_down_is_retried_then_logged_without_raising():
    with Receiver() as receiver:
        url = receiver.url
    lines: list[str] = []
    assert post_alert({"event": "run_failed"}, url=url, attempts=3, first_delay_s=0.01, timeout_s=1, logger=lines.append) is False
    assert sum("failed (attempt" in line for line in lines) == 3 and "given up" in lines[-1]


def test_a_webhook_answering_an_error_is_retried():
    with Receiver(status=500) as receiver:
        assert post_alert({"event": "x"}, url=receiver.url, attempts=2, first_delay_s=0.01) is False
    assert len(receiver.bodies) == 2


def test_without_a_webhook_the_alert_is_only_logged(monkeypatch):
    monkeypatch.delenv("REASSORT_ALERT_WEBHOOK", raising=False)
    lines: list[str] = []
    assert post_alert({"event": "critique_a"}, logger=lines.append) is False
    assert "logged only" in lines[0]


def test_run_link_points_at_the_ui(monkeypatch):
    monkeypatch.setenv("REASSORT_UI_URL", "http://ops.example:3000/")
    assert run_url("abc") == "http://ops.example:3000/runs/abc"


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as server:
        yield server
