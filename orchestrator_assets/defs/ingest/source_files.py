"""Finding and reading the input files of one partition, as text.

Reference tables live in <data>/reference/<stem>.csv; daily extracts in
<data>/extracts/YYYY-MM-DD/<stem>.csv or .parquet (CSV is taken when both exist).
Everything is read as strings so that a malformed value becomes a rejected row, not a
crash of the whole read.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from orchestrator_assets.defs.ingest.table_contracts import TableContract

EXTRACT_SUFFIXES = (".csv", ".parquet")


class SourceFileError(RuntimeError):
    """An input file is missing or cannot be read; the message names the expected path."""


def extract_folder(data_root: Path, partition_date: date) -> Path:
    return data_root / "extracts" / partition_date.isoformat()


def source_path(contract: TableContract, data_root: Path, partition_date: date) -> Path:
    """The file this table is read from for that partition (raises if none exists)."""
    if contract.kind == "reference":
        path = data_root / "reference" / f"{contract.stem}.csv"
        if not path.exists():
            raise SourceFileError(f"Missing reference table: expected {path}")
        return path
    folder = extract_folder(data_root, partition_date)
    for suffix in EXTRACT_SUFFIXES:
        path = folder / f"{contract.stem}{suffix}"
        if path.exists():
            return path
    raise SourceFileError(
        f"Missing extract for {partition_date}: expected {folder / (contract.stem + '.csv')} "
        f"(or {contract.stem}.parquet)"
        + ("" if folder.exists() else f"; the folder {folder} does not exist")
    )


def read_as_text(path: Path) -> pl.DataFrame:
    """Read a CSV or Parquet file with every column as a string."""
    try:
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            return frame.with_columns(
                [
                    pl.col(name).dt.strftime("%Y-%m-%d") if dtype == pl.Date else pl.col(name).cast(pl.String)
                    for name, dtype in frame.schema.items()
                ]
            )
        return pl.read_csv(path, infer_schema=False)
    except Exception as error:  # polars raises several types for a corrupt file
        raise SourceFileError(f"Unreadable input file {path}: {error}") from error


def available_extract_dates(data_root: Path) -> list[date]:
    """Dates that have an extract folder (named YYYY-MM-DD), sorted."""
    root = data_root / "extracts"
    if not root.is_dir():
        return []
    dates = []
    for child in root.iterdir():
        if child.is_dir():
            try:
                dates.append(date.fromisoformat(child.name))
            except ValueError:
                continue
    return sorted(dates)
