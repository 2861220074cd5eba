"""A module's life in a run — started, completed, failed, skipped — told to the run log and,
when REASSORT_ALERT_EVENTS names them, to the webhook as module_* alert events.

module_gate.py decides each transition from the step events the run's executor sees; this
module only says it. Run log: one line per transition, at the level it deserves (a critical
failure is an error, a non-critical one a warning). Webhook: the events have the alert
envelope (alert_events.schema.json) and go through alert_dispatch.emit like every alert
(filter, exactly-once ledger); they are opt-in because a run has up to four modules and two
events each, which would flood a channel meant for run outcomes. Like every alert, sending
one never fails the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg

from orchestrator_assets.defs.automation import alert_events
from orchestrator_assets.defs.automation.alert_dispatch import emit

Say = Callable[[str], None]


class ModuleEvents:
    """Says the module transitions of one run (log lines, opt-in alert events)."""

    def __init__(self, root: Path, run: dg.DagsterRun, info: Say, warning: Say, error: Say):
        self._root, self._run = root, run
        self._info, self._warning, self._error = info, warning, error

    def _send(self, event: str, module: str, fields: dict) -> None:
        try:
            emit(self._root, alert_events.module_event(event, self._run, module, fields), self._info)
        except Exception as problem:  # noqa: BLE001 - an alert must never fail the run it reports on
            self._warning(f"alert {event} of module {module} not sent: {type(problem).__name__}: {problem}")

    def started(self, module: str, steps: int) -> None:
        self._info(f"module {module} started ({steps} step(s))")
        self._send("module_started", module, {"steps": steps})

    def completed(self, module: str, seconds: float, steps: int) -> None:
        self._info(f"module {module} completed: {steps} step(s) in {seconds:.1f} s")
        self._send("module_completed", module, {"duration_seconds": round(max(seconds, 0.0), 3), "steps": steps})

    def failed(self, module: str, critical: bool, failed_steps: Sequence[tuple[str, str]]) -> None:
        steps = ", ".join(step for step, _ in failed_steps[:5])
        first = failed_steps[0][1].strip().splitlines()[0] if failed_steps and failed_steps[0][1].strip() else ""
        if critical:
            message = f"module {module} failed (critical: the run fails): {steps}: {first}"
            self._error(message)
        else:
            message = (
                f"module {module} failed (not critical: the run goes on, its tables are not published, "
                f"the modules that need them are skipped): {steps}: {first}"
            )
            self._warning(message)
        self._send(
            "module_failed",
            module,
            {
                "critical": critical,
                "message": message[: alert_events.MESSAGE_CHARS],
                "failed_steps": [
                    {"step": step, "message": text[: alert_events.MESSAGE_CHARS]}
                    for step, text in list(failed_steps)[: alert_events.FAILED_STEPS_LISTED]
                ],
            },
        )

    def skipped(self, module: str, reason: str) -> None:
        self._info(f"module {module} skipped: {reason}")
        self._send("module_skipped", module, {"reason": reason[: alert_events.MESSAGE_CHARS]})
