"""What a table's checks see on one day: its rows, the other tables of that day, the thresholds.

A check sees the frame its step wrote (checks.py). A cross-table check reads the tables it
compares with through `CheckInputs.table`: the tables its step wrote from memory, any other
from the warehouse (`read_partitions`), once per (table, day) however many checks use them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl

from orchestrator_assets.defs.validation.config import ValidationSettings
from orchestrator_assets.warehouse import Warehouse, rows_by_partition


def read_partitions(warehouse: Warehouse, table: str, dates: Sequence[date]) -> dict[date, pl.DataFrame]:
    """The rows of `table` for each of `dates` (an empty frame for a date without rows),
    without the lineage columns, in the files' row order."""
    files = warehouse.table_files(table, [day.isoformat() for day in dates])
    try:
        rows = warehouse.read_files(table, files).drop("run_id", strict=False)
    except LookupError:
        raise dg.Failure(f"Table {table} does not exist yet: materialise {table.replace('.', '/')} first.") from None
    return {day: part.drop("partition_date") for day, part in rows_by_partition(rows, dates).items()}


@dataclass
class CheckInputs:
    """What a cross-table check sees: its table's rows for one day, the other tables of the
    same day (its step's from memory, others read on demand, once), the run's thresholds."""

    warehouse: Warehouse
    partition_date: date
    frame: pl.DataFrame
    config: ValidationSettings
    #: the run's knapsack.capacity overrides (a what-if's capacities), for the capacity check
    capacity_overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: (table, day) -> rows already at hand: the tables the check's step wrote, then each
    #: table read for this day
    tables: dict[tuple[str, date], pl.DataFrame] = field(default_factory=dict)

    def table(self, name: str, day: date | None = None) -> pl.DataFrame:
        day = day or self.partition_date
        if (name, day) not in self.tables:
            self.tables[(name, day)] = read_partitions(self.warehouse, name, [day])[day]
        return self.tables[(name, day)]
