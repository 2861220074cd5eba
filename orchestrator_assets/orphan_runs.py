"""Runs whose process died (kill -9, a closed terminal) are marked failed, not STARTED forever.

A run launched by `reassort run` executes in the CLI's own process and is tagged with that
process's host and pid. At the next start of the CLI, a run still marked as started whose
process no longer exists on this host is reported failed (its tables were never published,
so nothing else needs undoing). Runs launched by the UI or a schedule run in worker
processes that Dagster's own run monitoring watches (`run_monitoring` in the instance's
dagster.yaml, active where the daemon runs).
"""

from __future__ import annotations

import os
import socket

import dagster as dg

from orchestrator_assets.process_liveness import process_alive

HOST_TAG = "reassort/host"
PID_TAG = "reassort/pid"
_ACTIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]


def launch_tags() -> dict[str, str]:
    """Tags of a run executed in this process."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs of this host whose process is gone; returns their ids."""
    host = socket.gethostname()
    orphaned = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE, tags={HOST_TAG: host})):
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            instance.report_run_failed(run, f"the process that ran it (pid {pid} on {host}) is gone; its tables were not published")
            orphaned.append(run.run_id)
    return orphaned
