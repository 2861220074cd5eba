"""Run parameters of the ingestion (`reassort run --set ingest.NAME=V`)."""


import dagster as dg
from pydantic import Field

#: SPEC §2: above 5 % of bad rows in a table, the run fails.
MAX_REJECTED_SHARE = 0.05


class IngestConfig(dg.Config):
    """How much bad input a table may carry before the run stops (SPEC §2)."""

    max_rejected_share: float = Field(
        default=MAX_REJECTED_SHARE,
        ge=0.0,
        le=1.0,
        description="Share of a table's rows that may be rejected before the run fails (strictly above fails).",
    )


def history_rejected_share_field():
    """The `max_rejected_share` of the modules that read history days from their files
    (stock, urgence): the same stop as the ingestion, which it follows (run_parameters)."""
    return Field(
        default=MAX_REJECTED_SHARE, ge=0.0, le=1.0,
        description="A history-window day read from its file (not loaded yet) fails the run above this share of "
        "bad rows, as its ingestion would; follows ingest.max_rejected_share when that is set.",
    )
