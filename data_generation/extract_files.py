"""Where and how the generated tables land on disk (the layout of SPEC section 2).

    out/reference/{articles,sites,site_capacities,technicians,bom}.csv      always CSV
    out/extracts/YYYY-MM-DD/{stock_levels,movements,purchase_orders,planned_interventions}.{csv|parquet}
    out/extracts/YYYY-MM-DD/_SUCCESS                                        written last

A folder's ``_SUCCESS`` is removed before its files are rewritten and written after all
four, so a sensor that waits for it never reads a half-written day. Rewriting a day in
the other format removes the previous format's files of the same stems, so a folder
never holds two versions of one table.

CSV: header row, comma separator, ISO dates, ``true``/``false``, empty field for null.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

REFERENCE_TABLES = ("articles", "sites", "site_capacities", "technicians", "bom")
EXTRACT_TABLES = ("stock_levels", "movements", "purchase_orders", "planned_interventions")
EXTRACT_FORMATS = ("csv", "parquet")
SUCCESS_MARKER = "_SUCCESS"
_FLOAT_DECIMALS = {"articles": 2}  # unit_cost, unit_volume: cents and hundredths of a unit


def extract_folder(out: Path, day: dt.date) -> Path:
    return out / "extracts" / day.isoformat()


def write_reference(out: Path, frames: dict[str, pl.DataFrame]) -> int:
    """Write the reference tables as CSV; returns the bytes written."""
    folder = out / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for table in REFERENCE_TABLES:
        path = folder / f"{table}.csv"
        frames[table].write_csv(path, float_precision=_FLOAT_DECIMALS.get(table))
        written += path.stat().st_size
    return written


def write_extract_folder(out: Path, day: dt.date, tables: dict[str, pl.DataFrame], fmt: str) -> int:
    """Write one day's four extracts then its ``_SUCCESS`` marker; returns the bytes written."""
    folder = extract_folder(out, day)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / SUCCESS_MARKER
    marker.unlink(missing_ok=True)
    for table in EXTRACT_TABLES:
        for other in EXTRACT_FORMATS:
            if other != fmt:
                (folder / f"{table}.{other}").unlink(missing_ok=True)
    written = 0
    for table in EXTRACT_TABLES:
        path = folder / f"{table}.{fmt}"
        if fmt == "csv":
            tables[table].write_csv(path)
        else:
            tables[table].write_parquet(path)
        written += path.stat().st_size
    marker.touch()
    return written
