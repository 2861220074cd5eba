"""Réassort's Dagster code location: wiring of solvers/ into partitioned assets over DuckDB."""

import warnings

import dagster as dg

# backfill_policy and allow_nonexistent_upstream_partitions are marked beta in Dagster 1.13;
# we use them on purpose (single-run backfills of the ingestion, history windows reaching
# before the first partition), so their notices would only be noise on every command.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
# The daily job mixes single-run ingestion with per-partition modules; Dagster then uses
# one partition per run for job backfills, which is what we want, and says so each load.
warnings.filterwarnings("ignore", message=".*materializes assets with varying BackfillPolicies.*")
