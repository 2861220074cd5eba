"""Progress bars of a `reassort run`: on stderr for the days of a range, silent elsewhere
(a range run through the CLI shows them: tests/orchestrator_assets/test_cli.py)."""

from __future__ import annotations

from datetime import date

from orchestrator_assets import run_progress


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
