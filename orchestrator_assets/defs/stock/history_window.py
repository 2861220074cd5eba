"""The consumption history window D-N+1..D, read from the ingested raw.movements partitions.

A window day counts as zero consumption only when it has no extract folder (SPEC §3). A
day whose folder exists but whose raw.movements partition is not loaded yet (a first run
on a fresh warehouse, or a partition launched alone from the UI) is read from its file and
validated with the same rules as the ingestion, so the answer never depends on what
happened to be loaded; `reassort run` loads those partitions into the warehouse first, so
this fallback is then empty.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from orchestrator_assets.defs.ingest.assets import failure_message, known_ids, load_validated
from orchestrator_assets.defs.ingest.config import MAX_REJECTED_SHARE
from orchestrator_assets.defs.ingest.source_files import available_extract_dates
from orchestrator_assets.defs.ingest.table_contracts import MOVEMENTS
from orchestrator_assets.warehouse import Warehouse
from orchestrator_assets.warehouse_views import file_partition
from solvers.horizon import DEFAULT_HISTORY_DAYS

MOVEMENTS_KEY = dg.AssetKey(["raw", "movements"])


def history_window_dep(days: int = DEFAULT_HISTORY_DAYS) -> dg.AssetDep:
    """The lineage of an asset that reads the history window: raw/movements of D-days+1..D,
    by default D-N+1..D with the default N (a run with another stock.history_days reads its
    own window through SQL; the forecast backtest reads N + H days)."""
    return dg.AssetDep(
        MOVEMENTS_KEY,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-(days - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
        ),
    )
WINDOW_COLUMNS = ["date", "site_id", "article_id", "movement_type", "quantity"]


@dataclass(frozen=True)
class HistoryWindow:
    movements: pl.DataFrame
    first_day: date
    days_loaded: int
    days_read_from_files: list[date]
    days_without_extract: int


def window_days(partition_date: date, history_days: int) -> list[date]:
    return [partition_date - timedelta(days=offset) for offset in range(history_days - 1, -1, -1)]


def loaded_movement_files(warehouse: Warehouse, first: date, last: date) -> list[Path]:
    """The files of the window days whose raw.movements partition this reader sees in the
    warehouse: published (or written by the run itself). Dagster's materialisation records do
    not count: a run that materialised a day but has not published it yet (beside this one in
    a backfill spread over workers) or never will (it failed) leaves the table without that
    day, which would then be read as a day of zero consumption instead of from its file."""
    keys = [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]
    return warehouse.table_files("raw.movements", keys)


def loaded_movement_days(warehouse: Warehouse, first: date, last: date) -> set[date]:
    """The days of `loaded_movement_files`."""
    return {date.fromisoformat(file_partition(path)) for path in loaded_movement_files(warehouse, first, last)}


def consumption_rows(files: list[Path]) -> pl.DataFrame:
    """The CONSUMPTION rows of these raw.movements files, window columns only: one lazy scan
    with the filter pushed down (issue 14: the DuckDB view it replaces took ~0.3 s on tiny,
    most of it importing pandas for the result)."""
    scans = [pl.scan_parquet(path) for path in files]
    return (
        pl.concat(scans, how="diagonal_relaxed")
        .filter(pl.col("movement_type") == "CONSUMPTION")
        .select(WINDOW_COLUMNS)
        .collect()
    )


def unloaded_days_with_extracts(
    instance: dg.DagsterInstance, warehouse: Warehouse, data_root: Path, partition_date: date, history_days: int
) -> list[date]:
    """Window days with an extract folder whose raw.movements partition the warehouse does
    not show (`instance` is not consulted: see loaded_movement_days)."""
    days = window_days(partition_date, history_days)
    available = set(available_extract_dates(data_root)) & set(days)
    return sorted(available - loaded_movement_days(warehouse, days[0], days[-1]))


def read_history_window(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    data_root: Path,
    partition_date: date,
    history_days: int,
    log: "dg.DagsterLogManager | None" = None,
    max_rejected_share: float = MAX_REJECTED_SHARE,
) -> HistoryWindow:
    """CONSUMPTION movements of the window (only what the forecast needs: the window and the type).

    A day read from its file fails the run when more than ``max_rejected_share`` of its
    rows break a rule, as its ingestion does (`stock.` / `urgence.max_rejected_share`,
    which follow `ingest.max_rejected_share`)."""
    days = window_days(partition_date, history_days)
    first = days[0]
    frame = pl.DataFrame(schema={"date": pl.Date, "site_id": pl.String, "article_id": pl.String, "movement_type": pl.String, "quantity": pl.Float64})
    # One look at which days are loaded decides both what the table gives and what is read
    # from files: a day another run publishes in between is then read from its file only,
    # neither lost nor counted twice.
    files = loaded_movement_files(warehouse, first, partition_date)
    loaded = {date.fromisoformat(file_partition(path)) for path in files}
    if files:
        frame = consumption_rows(files)
    missing = sorted((set(available_extract_dates(data_root)) & set(days)) - loaded)
    extra = []
    if missing:
        ids = known_ids(warehouse, MOVEMENTS, partition_date)
        for day in missing:
            result, file = load_validated(MOVEMENTS, data_root, day, ids)
            if result.rejected_share > max_rejected_share:  # the same stop as its ingestion
                raise dg.Failure(
                    description=f"history window of {partition_date}: {failure_message(result, file, max_rejected_share)}",
                    allow_retries=False,
                )
            extra.append(result.accepted.filter(pl.col("movement_type") == "CONSUMPTION").select(WINDOW_COLUMNS))
        if log:
            log.warning(
                f"{len(missing)} day(s) of the history window have extracts but no raw.movements partition yet "
                f"({missing[0]} .. {missing[-1]}); read from their files. Backfill raw/movements to store them."
            )
    movements = pl.concat([frame, *extra]) if extra else frame
    with_extract = set(available_extract_dates(data_root)) & set(days)
    return HistoryWindow(
        movements=movements,
        first_day=first,
        days_loaded=len(with_extract) - len(missing),
        days_read_from_files=missing,
        days_without_extract=len(days) - len(with_extract),
    )
