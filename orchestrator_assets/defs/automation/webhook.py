"""Posting alert events as JSON to the operator's webhook (REASSORT_ALERT_WEBHOOK).

No URL set: the event is only logged. A webhook that is down never fails anything: the
POST is tried `attempts` times with exponential backoff and jitter, then the failure is
logged and the caller goes on.
"""

import json
import logging
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping

WEBHOOK_ENV = "REASSORT_ALERT_WEBHOOK"
UI_URL_ENV = "REASSORT_UI_URL"
log = logging.getLogger("reassort.alerts")


def run_url(run_id: str) -> str:
    """Link to the run in the Dagster UI (REASSORT_UI_URL, default http://127.0.0.1:3000)."""
    return f"{os.environ.get(UI_URL_ENV, 'http://127.0.0.1:3000').rstrip('/')}/runs/{run_id}"


def post_alert(
    payload: Mapping[str, object],
    url: str | None = None,
    attempts: int = 3,
    first_delay_s: float = 0.5,
    timeout_s: float = 5.0,
    logger: Callable[[str], None] | None = None,
) -> bool:
    """POST the payload; True when the webhook answered 2xx, False otherwise (never raises)."""
    say = logger or log.info
    url = url if url is not None else os.environ.get(WEBHOOK_ENV, "")
    body = json.dumps(payload, default=str).encode()
    if not url:
        say(f"alert (no {WEBHOOK_ENV} set, logged only): {body.decode()[:2000]}")
        return False
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if 200 <= response.status < 300:
                    say(f"alert posted to {url} ({payload.get('event')}, attempt {attempt})")
                    return True
                problem = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            problem = str(error)
        say(f"alert to {url} failed (attempt {attempt}/{attempts}): {problem}")
        if attempt < attempts:
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
    say(f"alert to {url} given up after {attempts} attempts; the pipeline goes on")
    return False
