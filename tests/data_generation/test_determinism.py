"""Same arguments, same bytes; re-running into a folder replaces what was there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from data_generation.field_service import generate

START = dt.date(2025, 6, 2)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_write_byte_identical_csv_files(tmp_path):
    generate("tiny", START, 4, tmp_path / "a", seed=3, bad_rows=0.1)
    generate("tiny", START, 4, tmp_path / "b", seed=3, bad_rows=0.1)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_same_arguments_write_byte_identical_parquet_files(tmp_path):
    generate("tiny", START, 3, tmp_path / "a", seed=3, bad_rows=0.1, fmt="parquet")
    generate("tiny", START, 3, tmp_path / "b", seed=3, bad_rows=0.1, fmt="parquet")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_another_seed_writes_other_data(tmp_path):
    generate("tiny", START, 2, tmp_path / "a", seed=3)
    generate("tiny", START, 2, tmp_path / "b", seed=4)
    assert _files(tmp_path / "a")["reference/articles.csv"] != _files(tmp_path / "b")["reference/articles.csv"]


def test_bad_rows_leave_the_reference_tables_unchanged(tmp_path):
    generate("tiny", START, 2, tmp_path / "clean", seed=3)
    generate("tiny", START, 2, tmp_path / "broken", seed=3, bad_rows=0.2)
    clean, broken = _files(tmp_path / "clean"), _files(tmp_path / "broken")
    assert {k: v for k, v in clean.items() if k.startswith("reference")} == {
        k: v for k, v in broken.items() if k.startswith("reference")}


def test_rerunning_in_another_format_replaces_the_previous_files(tmp_path):
    generate("tiny", START, 2, tmp_path, seed=3)
    generate("tiny", START, 2, tmp_path, seed=3, fmt="parquet")
    folder = tmp_path / "extracts" / START.isoformat()
    assert sorted(p.name for p in folder.iterdir()) == [
        "_SUCCESS", "movements.parquet", "planned_interventions.parquet", "purchase_orders.parquet",
        "stock_levels.parquet"]


def test_rerunning_with_the_same_arguments_gives_the_same_folder(tmp_path):
    generate("tiny", START, 2, tmp_path, seed=3)
    first = _files(tmp_path)
    generate("tiny", START, 2, tmp_path, seed=3)
    assert _files(tmp_path) == first


def test_a_longer_run_begins_with_the_days_of_a_shorter_one(tmp_path):
    generate("tiny", START, 2, tmp_path / "short", seed=3, bad_rows=0.1)
    generate("tiny", START, 5, tmp_path / "long", seed=3, bad_rows=0.1)
    short, long = _files(tmp_path / "short"), _files(tmp_path / "long")
    assert all(long[name] == content for name, content in short.items())
