"""Réassort's Dagster code location: wiring of solvers/ into partitioned assets over table files."""

import warnings

# dagster's own warning class, from the light module that defines it: importing dagster here
# would cost every `reassort` command ~1 s, including those the warm runner takes
from dagster_shared.utils.warnings import BetaWarning

# before anything imports numpy (dagster_shared above does not): one BLAS thread per process
# (solvers/blas_threads.py)
import solvers  # noqa: F401

# backfill_policy and allow_nonexistent_upstream_partitions are marked beta in Dagster 1.13;
# we use them on purpose (single-run backfills of the ingestion, history windows reaching
# before the first partition), so their notices would only be noise on every command.
warnings.filterwarnings("ignore", category=BetaWarning)
# The daily job mixes single-run ingestion with per-partition modules; Dagster then uses
# one partition per run for job backfills, which is what we want, and says so each load.
warnings.filterwarnings("ignore", message=".*materializes assets with varying BackfillPolicies.*")
