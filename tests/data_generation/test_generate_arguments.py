"""generate() refuses bad arguments with a clear message and reports what it did."""

from __future__ import annotations

import datetime as dt

import pytest

from data_generation.field_service import PROFILES, GenerationSummary, generate

START = dt.date(2025, 6, 2)


def test_unknown_profile_is_refused_with_the_known_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown profile 'huge': expected one of tiny, small, large, xl"):
        generate("huge", START, 1, tmp_path, seed=1)


@pytest.mark.parametrize("days", [0, -3])
def test_fewer_than_one_day_is_refused(tmp_path, days):
    with pytest.raises(ValueError, match=r"days must be a whole number >= 1"):
        generate("tiny", START, days, tmp_path, seed=1)


@pytest.mark.parametrize("share", [-0.01, 0.51, float("nan")])
def test_bad_row_share_outside_zero_to_one_half_is_refused(tmp_path, share):
    with pytest.raises(ValueError, match=r"bad_rows must be a share between 0 and 0.5"):
        generate("tiny", START, 1, tmp_path, seed=1, bad_rows=share)


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"fmt must be one of csv, parquet, got 'json'"):
        generate("tiny", START, 1, tmp_path, seed=1, fmt="json")


def test_negative_seed_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer"):
        generate("tiny", START, 1, tmp_path, seed=-1)


def test_nothing_is_written_when_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        generate("tiny", START, 0, tmp_path / "out", seed=1)
    assert not (tmp_path / "out").exists()


def test_profiles_cover_tiny_to_xl_in_growing_sizes():
    sizes = [PROFILES[name].approximate_pairs for name in ("tiny", "small", "large", "xl")]
    assert sizes == sorted(sizes)
    assert 280_000 <= PROFILES["large"].approximate_pairs <= 320_000
    assert PROFILES["xl"].articles == 5 * PROFILES["large"].articles


def test_progress_reports_about_every_tenth_of_the_days(tmp_path):
    lines: list[str] = []
    generate("tiny", START, 20, tmp_path, seed=1, progress=lines.append)
    day_lines = [line for line in lines if line.startswith("day ")]
    assert [line.split(",")[0] for line in day_lines] == [f"day {i}/20 written" for i in range(2, 21, 2)]


def test_summary_counts_what_was_written_and_prints_it(tmp_path):
    summary = generate("tiny", START, 3, tmp_path, seed=1, bad_rows=0.05)
    assert isinstance(summary, GenerationSummary)
    assert summary.stocked_pairs * 3 <= summary.rows["stock_levels"]
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert summary.bytes_written == written
    text = str(summary)
    assert "tiny" in text and "stock_levels" in text and "bad:" in text
    assert summary.elapsed_s > 0
