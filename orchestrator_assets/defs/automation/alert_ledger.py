"""Which alert events have been sent: one small file per event id under <warehouse>/_alerts/.

An event can be noticed by more than one process: the run's own executor posts run_failed
and critique_a as the run ends, and the daemon's sensors look for the same facts (a run that
died without reaching its executor's end, an observation of a run launched before the
executor posted). Whoever creates the event's file first (O_CREAT | O_EXCL: atomic on a
local disk and on the NFS/SMB shares a cluster mounts) posts it; the others see the file
and stay quiet, so an event reaches the webhook once.

The file keeps the payload and the delivery state (sending, delivered, failed, with the
number of attempts): an event the webhook did not take is posted again by the sensors'
next ticks (`undelivered`), up to MAX_ATTEMPTS times within RETRY_WINDOW_S; it is never
duplicated by it. The warehouse folder is the one place every process of a deployment
already shares (issue 18's cluster mode too), which is why the ledger lives there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

LEDGER_DIR = "_alerts"
MAX_ATTEMPTS = 5
RETRY_WINDOW_S = 24 * 3600
#: a claim still "sending" after this long belongs to a process that died mid-POST
STALE_SENDING_S = 600
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,150}$")


def _path(root: Path, event_id: str) -> Path:
    name = event_id.replace(":", "__")
    if not _SAFE.match(name):  # never a path built from an odd id: its hash instead
        name = "h_" + hashlib.sha256(event_id.encode()).hexdigest()
    return root / LEDGER_DIR / f"{name}.json"


def _write(path: Path, entry: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry, default=str))
    os.replace(tmp, path)


def claim(root: Path, payload: dict) -> bool:
    """True when this process is the first to claim the payload's event_id (it must post it)."""
    path = _path(root, str(payload["event_id"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    entry = {"state": "sending", "attempts": 0, "claimed_at": time.time(), "payload": payload}
    with os.fdopen(fd, "w") as handle:
        json.dump(entry, handle, default=str)
    return True


def was_claimed(root: Path, event_id: str) -> bool:
    return _path(root, event_id).exists()


def record_attempt(root: Path, event_id: str, delivered: bool) -> None:
    """The outcome of one POST of a claimed event."""
    path = _path(root, event_id)
    entry = json.loads(path.read_text())
    entry["attempts"] += 1
    entry["state"] = "delivered" if delivered else "failed"
    entry["last_attempt_at"] = time.time()
    _write(path, entry)


def undelivered(root: Path, now: float | None = None) -> list[dict]:
    """Payloads of claimed events the webhook has not taken yet and that may be tried again,
    oldest first."""
    folder = root / LEDGER_DIR
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    waiting = []
    for path in folder.glob("*.json"):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced this instant: the next tick reads it
        state, last = entry.get("state"), entry.get("last_attempt_at", entry.get("claimed_at", 0))
        retry = state == "failed" or (state == "sending" and now - last > STALE_SENDING_S)
        if (
            retry
            and entry.get("attempts", 0) < MAX_ATTEMPTS
            and now - entry.get("claimed_at", 0) < RETRY_WINDOW_S
        ):
            waiting.append(entry)
    return [entry["payload"] for entry in sorted(waiting, key=lambda entry: entry["claimed_at"])]


def delivery_counts(root: Path) -> dict[str, int]:
    """How many events are in each state (delivered, failed, sending): what a look at the
    ledger tells an operator (the tests read it; no metric shows it yet)."""
    counts: dict[str, int] = {}
    folder = root / LEDGER_DIR
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            state = json.loads(path.read_text()).get("state", "unknown")
        except (OSError, ValueError):
            continue
        counts[state] = counts.get(state, 0) + 1
    return counts
