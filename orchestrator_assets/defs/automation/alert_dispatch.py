"""Sending one alert event: chosen by REASSORT_ALERT_EVENTS, claimed once, posted, recorded.

Every emitter (the run's executor, the sensors, the CLI) goes through `emit`, so the rules
are the same however a run was started:
- no webhook set: the event is logged only (and not claimed: setting a webhook later does
  not replay the past);
- a refused URL (webhook.webhook_url_problem): logged with the reason, not claimed, so the
  sensors post it once the URL is fixed;
- REASSORT_ALERT_EVENTS (comma-separated event names, default all the run events: every
  event but the module_* ones, which are sent only when named): an event not listed is not
  sent; an unknown name in the list is reported on every emit and ignored, the valid names
  still apply;
- otherwise the event is claimed in the ledger (alert_ledger.py) and posted by whoever
  claims it first: once per event id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from orchestrator_assets.defs.automation import alert_ledger
from orchestrator_assets.defs.automation.alert_events import ALL_EVENTS, EVENTS
from orchestrator_assets.defs.automation.webhook import configured_webhook, log, post_alert, webhook_url_problem

EVENTS_ENV = "REASSORT_ALERT_EVENTS"


def selected_events() -> tuple[frozenset[str], list[str]]:
    """(events to send, unknown names in REASSORT_ALERT_EVENTS)."""
    text = os.environ.get(EVENTS_ENV, "").strip()
    if not text:
        return frozenset(EVENTS), []
    names = [name.strip() for name in text.split(",") if name.strip()]
    return frozenset(name for name in names if name in ALL_EVENTS), [name for name in names if name not in ALL_EVENTS]


def alerts_active() -> bool:
    """A usable webhook is set: the sensors start running by default."""
    url = configured_webhook()
    return bool(url) and webhook_url_problem(url) is None


def emit(root: Path, payload: dict, say: Callable[[str], None] | None = None) -> bool | None:
    """Send `payload` unless it is filtered out or was already sent: True when the webhook
    took it, False when it did not (the sensors retry it), None when it was not to be posted
    (filtered out, no usable webhook, already sent)."""
    say = say or log.info
    event = str(payload["event"])
    wanted, unknown = selected_events()
    if unknown:
        say(f"{EVENTS_ENV}: unknown event name(s) {', '.join(map(repr, unknown))} ignored; known: {', '.join(ALL_EVENTS)}")
    if event not in wanted:
        return None
    url = configured_webhook()
    if not url or webhook_url_problem(url):
        post_alert(payload, logger=say)  # logs it, says why it is not posted
        return None
    if not alert_ledger.claim(root, payload):
        say(f"alert {payload['event_id']} already sent by another process: not posted again")
        return None
    delivered = post_alert(payload, url=url, logger=say)
    alert_ledger.record_attempt(root, str(payload["event_id"]), delivered)
    return delivered


def retry_undelivered(root: Path, limit: int, say: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Post again up to `limit` claimed events the webhook did not take; stops at the first
    refusal (the webhook is down: later ticks go on). Returns (tried, delivered)."""
    url = configured_webhook()
    if not url or webhook_url_problem(url):
        return 0, 0
    tried = delivered = 0
    for payload in alert_ledger.undelivered(root)[:limit]:
        tried += 1
        ok = post_alert(payload, url=url, logger=say or log.info)
        alert_ledger.record_attempt(root, str(payload["event_id"]), ok)
        if not ok:
            break
        delivered += 1
    return tried, delivered
