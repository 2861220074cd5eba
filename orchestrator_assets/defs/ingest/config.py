"""Run parameters of the ingestion (`reassort run --set ingest.NAME=V`)."""


import dagster as dg
from pydantic import Field


class IngestConfig(dg.Config):
    """How much bad input a table may carry before the run stops (SPEC §2)."""

    max_rejected_share: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Share of a table's rows that may be rejected before the run fails (strictly above fails).",
    )
