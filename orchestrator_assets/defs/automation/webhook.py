"""Posting alert events as JSON to the operator's webhook (REASSORT_ALERT_WEBHOOK).

No URL set: the event is only logged. A webhook that is down never fails anything: the
POST is tried `attempts` times with exponential backoff and jitter, then the failure is
logged and the caller goes on.

The URL is a secret: webhook URLs carry credentials (user:password@), tokens in the query
(?token=...) and, for Slack / Teams / Discord style hooks, tokens in the path. Every log
line shows it through `redact_url` (scheme, host and port only; the rest as ***).

The URL is checked before use (`webhook_url_problem`): only http and https with a host and
a valid port. Anything else (file://, ftp://, a malformed address) is refused with one clear
line, never opened; redirects are not followed (a redirect could send the alert, or reach a
scheme, that the operator did not choose).

Cost of a webhook that accepts and never answers: `timeout_s` (3 s) bounds the connection
and each read, so with the defaults one alert costs about 6.5 s (2 attempts of a 3 s read
timeout plus the backoff), about 13 s if every connection also waits to its limit, instead
of 16.7 s before. The sensors bound how many alerts they post per tick
(alert_sensors.MAX_ALERTS_PER_TICK).
"""

import base64
import json
import logging
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

WEBHOOK_ENV = "REASSORT_ALERT_WEBHOOK"
UI_URL_ENV = "REASSORT_UI_URL"
ALLOWED_SCHEMES = ("http", "https")
TIMEOUT_S = 3.0  # connect, and each read of the answer
ATTEMPTS = 2
log = logging.getLogger("reassort.alerts")


def run_url(run_id: str) -> str:
    """Link to the run in the Dagster UI (REASSORT_UI_URL, default http://127.0.0.1:3000)."""
    return f"{os.environ.get(UI_URL_ENV, 'http://127.0.0.1:3000').rstrip('/')}/runs/{run_id}"


def configured_webhook() -> str:
    """The webhook URL from the environment, '' when alerts are only logged."""
    return os.environ.get(WEBHOOK_ENV, "").strip()


def redact_url(url: str) -> str:
    """The URL as it may appear in a log: scheme://host:port, with credentials, path, query
    and fragment each shown as *** (they are where webhook secrets live)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<malformed URL>"
    if ":" in host:
        host = f"[{host}]"
    userinfo = "***@" if "@" in parts.netloc else ""
    path = "/***" if parts.path.strip("/") else parts.path
    query = "?***" if parts.query else ""
    fragment = "#***" if parts.fragment else ""
    scheme = parts.scheme if parts.scheme.isalnum() else "?"
    return f"{scheme}://{userinfo}{host}{port}{path}{query}{fragment}"


def scrub(text: str, url: str) -> str:
    """`text` (an error message) with the URL and each of its secret parts replaced by ***."""
    text = text.replace(url, redact_url(url))
    try:
        parts = urllib.parse.urlsplit(url)
        secrets = [parts.netloc if "@" in parts.netloc else "", parts.password, parts.username, parts.query, parts.path]
    except ValueError:
        return text
    for secret in secrets:
        if secret and len(secret.strip("/")) >= 3:
            text = text.replace(secret, "***")
    return text


def webhook_url_problem(url: str) -> str | None:
    """Why this webhook URL is refused (one line, URL redacted), or None when it may be used."""
    if any(ord(character) < 33 or ord(character) == 127 for character in url):
        reason = "contains spaces or control characters"
    else:
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a non-numeric or out-of-range port
        except ValueError as error:
            reason = f"malformed URL ({error})"
        else:
            if parts.scheme.lower() not in ALLOWED_SCHEMES:
                reason = f"scheme {parts.scheme or '(none)'!r} is not http or https"
            elif not parts.hostname:
                reason = "no host"
            else:
                return None
    return f"{WEBHOOK_ENV} refused: {reason} (got {redact_url(url)}); alerts are not posted until it is fixed"


def _request(url: str, body: bytes) -> urllib.request.Request:
    """The POST request; credentials in the URL go in a Basic Authorization header (urllib
    would otherwise take "user:password@host" for the host name)."""
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json"}
    if parts.username is not None:
        pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        netloc = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises HTTPError 3xx: a webhook answers, it does not redirect


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_alert(
    payload: Mapping[str, object],
    url: str | None = None,
    attempts: int = ATTEMPTS,
    first_delay_s: float = 0.5,
    timeout_s: float = TIMEOUT_S,
    logger: Callable[[str], None] | None = None,
) -> bool:
    """POST the payload; True when the webhook answered 2xx, False otherwise (never raises)."""
    say = logger or log.info
    url = (url if url is not None else configured_webhook()).strip()
    body = json.dumps(payload, default=str).encode()
    if not url:
        say(f"alert (no {WEBHOOK_ENV} set, logged only): {body.decode()[:2000]}")
        return False
    problem = webhook_url_problem(url)
    if problem:
        say(f"alert not posted ({payload.get('event')}): {problem}")
        return False
    shown = redact_url(url)
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            with _OPENER.open(_request(url, body), timeout=timeout_s) as response:
                if 200 <= response.status < 300:
                    say(f"alert posted to {shown} ({payload.get('event')}, attempt {attempt})")
                    return True
                problem = f"HTTP {response.status}"
        except Exception as error:  # noqa: BLE001 - an alert must never fail its caller
            problem = scrub(str(error), url) or type(error).__name__
        say(f"alert to {shown} failed (attempt {attempt}/{attempts}): {problem}")
        if attempt < attempts:
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
    say(f"alert to {shown} given up after {attempts} attempts; the pipeline goes on")
    return False
