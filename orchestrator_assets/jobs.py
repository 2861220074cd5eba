"""Job names and the reconstructable entry points the CLI launches runs through.

A run launched by `reassort run` goes through Dagster's instance (DAGSTER_HOME), so it shows
in the UI like any other, and its steps run in subprocesses (multiprocess executor), which
rebuild the job from these module-level functions.
"""

from __future__ import annotations

import dagster as dg

DAILY_JOB_NAME = "reassort_daily"
MONTHLY_JOB_NAME = "reassort_monthly"


def daily_job() -> dg.JobDefinition:
    from orchestrator_assets.definitions import build_definitions

    return build_definitions().resolve_job_def(DAILY_JOB_NAME)


def execution_config(executor: str) -> dict:
    """Run config selecting the executor of a run.

    in_process: every step in the run's process. Measured on the tiny profile (2 cores):
    ~5 s per daily partition, against ~45 s with one process per step, whose start-up
    (~2 s of imports and instance set-up each, 17 steps) dominates. The CLI's default.
    multiprocess: one process per step, two at a time, forked from a server that has
    already imported the code location; the warehouse's lock retries make concurrent
    steps safe.
    """
    if executor == "in_process":
        return {"execution": {"config": {"in_process": {}}}}
    if executor == "multiprocess":
        return {
            "execution": {
                "config": {
                    "multiprocess": {
                        "max_concurrent": 2,
                        "start_method": {
                            # great_expectations too: its import (5-10 s) would otherwise be paid by
                            # every check step.
                            "forkserver": {"preload_modules": ["orchestrator_assets.definitions", "great_expectations"]}
                        },
                    }
                }
            }
        }
    raise ValueError(f"unknown executor {executor!r}: in_process or multiprocess")
