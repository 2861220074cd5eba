"""Job names and the executor choice of a run: the names the wiring shares, kept below
definitions.py so that nothing imports back up (the reconstructable entry point the CLI
launches runs through, `daily_job`, lives beside `build_definitions`)."""

from __future__ import annotations

DAILY_JOB_NAME = "reassort_daily"
MONTHLY_JOB_NAME = "reassort_monthly"


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
                            # Not great_expectations: the checks' default engine is Polars (a run
                            # with validation.engine=great_expectations pays its import per check step).
                            "forkserver": {"preload_modules": ["orchestrator_assets.definitions"]}
                        },
                    }
                }
            }
        }
    raise ValueError(f"unknown executor {executor!r}: in_process or multiprocess")
