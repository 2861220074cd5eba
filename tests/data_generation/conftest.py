"""Generated data sets shared by the data-generation tests, each built once per session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from data_generation.field_service import GenerationSummary, generate

START = dt.date(2025, 3, 3)  # a Monday


class GeneratedData:
    """A generated folder plus readers that keep every column as text (as written)."""

    def __init__(self, root: Path, summary: GenerationSummary) -> None:
        self.root = root
        self.summary = summary

    @property
    def days(self) -> list[dt.date]:
        return [START + dt.timedelta(days=i) for i in range(self.summary.days)]

    def reference(self, table: str) -> pl.DataFrame:
        return pl.read_csv(self.root / "reference" / f"{table}.csv", infer_schema=False)

    def extract(self, table: str, day: dt.date) -> pl.DataFrame:
        path = self.root / "extracts" / day.isoformat() / f"{table}.{self.summary.fmt}"
        if self.summary.fmt == "parquet":
            return pl.read_parquet(path).cast(pl.String)
        return pl.read_csv(path, infer_schema=False)

    def all_days(self, table: str) -> pl.DataFrame:
        """The table over every day, with the extract day in an ``extract_day`` column."""
        return pl.concat([self.extract(table, day).with_columns(extract_day=pl.lit(day)) for day in self.days])


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[tuple, GeneratedData] = {}

    def _generate(profile: str = "tiny", days: int = 10, seed: int = 11, bad_rows: float = 0.0,
               fmt: str = "csv") -> GeneratedData:
        key = (profile, days, seed, bad_rows, fmt)
        if key not in cache:
            root = tmp_path_factory.mktemp(f"{profile}_{days}_{seed}_{bad_rows}_{fmt}")
            cache[key] = GeneratedData(root, generate(profile, START, days, root, seed, bad_rows=bad_rows, fmt=fmt))
        return cache[key]

    return _generate


@pytest.fixture(scope="session")
def tiny_run(generated) -> GeneratedData:
    return generated()


@pytest.fixture(scope="session")
def small_run(generated) -> GeneratedData:
    return generated("small", days=21)
