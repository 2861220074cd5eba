"""Job names and the reconstructable entry points the CLI launches runs through.

A run launched by `reassort run` goes through Dagster's instance (DAGSTER_HOME), so it shows
in the UI like any other, and its steps run in subprocesses (multiprocess executor), which
rebuild the job from these module-level functions.
"""

from __future__ import annotations

import dagster as dg

DAILY_JOB_NAME = "reassort_daily"


def daily_job() -> dg.JobDefinition:
    from orchestrator_assets.definitions import build_definitions

    return build_definitions().resolve_job_def(DAILY_JOB_NAME)
