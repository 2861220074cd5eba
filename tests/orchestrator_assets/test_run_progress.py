"""Progress bars of a `reassort run`: on stderr for the days of a range, silent elsewhere."""

from __future__ import annotations

import os
from datetime import date

from data_generation.field_service import generate
from orchestrator_assets import run_progress
from orchestrator_assets.cli import main


def test_a_range_run_shows_a_bar_with_an_eta_per_input_table(project_env, capsys):
    generate("tiny", date(2026, 1, 1), 3, project_env, seed=5)
    assert main(["run", "--from", "2026-01-01", "--to", "2026-01-03"]) == 0
    captured = capsys.readouterr()
    for table in ("raw.movements", "raw.stock_levels", "raw.articles"):
        assert f"{table}: day 0/3" in captured.err  # shown as the loop starts
        assert f"{table}: day 3/3" in captured.err  # and when every day is done
    assert "ETA" in captured.err
    assert "day 3/3" not in captured.out  # stdout keeps the per-partition lines only
    assert run_progress.ENV not in os.environ  # the CLI turns the bars off again


def test_bars_are_off_outside_the_cli(capsys):
    """A run launched from the UI, a schedule or a test: the loop gets its days, nothing printed."""
    days = [date(2026, 1, 1), date(2026, 1, 2)]
    assert run_progress.days(days, "raw.movements") is days
    assert capsys.readouterr().err == ""


def test_one_day_gets_no_bar(capsys):
    with run_progress.shown_on_stderr():
        assert list(run_progress.days([date(2026, 1, 1)], "raw.movements")) == [date(2026, 1, 1)]
        assert list(run_progress.days([1, 2], "raw.movements")) == [1, 2]
    err = capsys.readouterr().err
    assert "day 1/1" not in err and "raw.movements: day 2/2" in err
