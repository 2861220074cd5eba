"""report/daily_report: the HTML page of a tiny partition, written by the daily job."""

import re
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from data_generation.field_service import generate
from orchestrator_assets.defs.report.assets import REPORT_KEY, report_path
from orchestrator_assets.defs.report.daily_report import DailyReportData, render_daily_report
from solvers.knapsack.batch import category_use_frame
from solvers.urgency import LEVELS
from tests.orchestrator_assets.pipeline_runs import frame, query, run_partition

DAY = "2026-01-10"
SECTIONS = ["kpis", "projection", "classes", "capacity", "allocation", "accuracy"]
# an attribute or CSS url() naming a scheme (http:, file:, data: ...) or a protocol-relative //host
OUTSIDE = re.compile(
    r"""\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)"""
    r"""|url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)|@import""",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """One partition of the tiny profile through the whole daily job (the report included)."""
    data = tmp_path_factory.mktemp("report") / "data"
    generate("tiny", date(2026, 1, 1), 10, data, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    result = run_partition(data, DAY, instance)
    return data, instance, result


def page(data: Path) -> str:
    return report_path(data, date.fromisoformat(DAY)).read_text(encoding="utf-8")


def materialization(result: dg.ExecuteInProcessResult) -> dg.AssetMaterialization:
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key == REPORT_KEY]
    return event.materialization


def test_the_daily_job_writes_the_report_of_its_partition(report_run):
    data, _, result = report_run
    assert result.success
    assert (data / "reports" / f"{DAY}.html").is_file()


def test_the_report_has_every_section(report_run):
    text = page(report_run[0])
    for section in SECTIONS:
        assert f'id="{section}"' in text, section
    for tile in ["pairs", "below_min_now", "stockouts_within_horizon", "critique_a", "sites_solved",
                 "value_shipped", "volume_shipped", "critical_coverage"]:  # fmt: skip
        assert f'id="kpi-{tile}"' in text, tile
    for level in LEVELS:
        assert f"<th>{level}</th>" in text
    for table in ["class-counts", "capacity-table", "allocation-table", "urgent-pairs", "accuracy-table"]:
        assert f'<table id="{table}">' in text, table


def test_the_charts_are_inline_svg(report_run):
    text = page(report_run[0])
    for chart in ["projection-chart", "class-chart", "capacity-chart", "accuracy-chart"]:
        figure = re.search(rf'<figure id="{chart}">(.*?)</figure>', text, flags=re.DOTALL)
        assert figure and "<svg" in figure.group(1) and "<path" in figure.group(1), chart
    assert "<img" not in text and "<?xml" not in text and "<!DOCTYPE svg" not in text


def test_the_report_opens_offline(report_run):
    text = page(report_run[0])
    assert not OUTSIDE.search(text), OUTSIDE.search(text).group(0)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text and "<iframe" not in text
    internal = re.findall(r'(?:href="#|url\(#)([^")]+)', text)
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert internal and set(internal) <= set(ids)  # every internal reference resolves
    assert len(ids) == len(set(ids))  # ids are unique on the page, charts included


def test_the_figures_match_the_warehouse(report_run):
    data, _, result = report_run
    metadata = materialization(result).metadata
    day = date.fromisoformat(DAY)
    assert metadata["pairs"].value == query(data, "SELECT count(*) FROM stock.stock_projection WHERE partition_date = ?", [day])[0][0]
    assert metadata["critique_a"].value == query(
        data, "SELECT count(*) FROM urgence.urgency_classification WHERE partition_date = ? AND class = 'CRITIQUE_A'", [day]
    )[0][0]
    shipped = frame(data, "SELECT * FROM knapsack.allocation WHERE partition_date = ? AND lots > 0", [day])
    assert metadata["lots_shipped"].value == shipped["lots"].sum()
    assert f"{shipped.height} pairs with lots to ship" in page(data)
    assert metadata["curves_match_projection"].value is True


def test_the_metadata_links_the_file(report_run):
    data, _, result = report_run
    metadata = materialization(result).metadata
    path = report_path(data, date.fromisoformat(DAY)).resolve()
    assert metadata["report"] == dg.MetadataValue.path(str(path))
    assert metadata["report_url"].value == path.as_uri()
    assert metadata["bytes"].value == path.stat().st_size


def test_rerunning_the_report_overwrites_it(report_run):
    data, instance, _ = report_run
    path = report_path(data, date.fromisoformat(DAY))
    path.write_text("stale")
    assert run_partition(data, DAY, instance, selection=[REPORT_KEY]).success
    assert page(data).startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{DAY}.html"]  # no temporary file left


def empty_day(**fields) -> DailyReportData:
    """A day with no pair, no lot, no site (fields override any of them)."""
    empty = pl.DataFrame(
        schema={"site_id": pl.String, "article_id": pl.String, "class": pl.String, "level": pl.String,
                "u_total": pl.Float64, "on_hand": pl.Float64, "stock_min": pl.Int64, "lead_time_days": pl.Int64,
                "days_to_min": pl.Int64, "days_to_stockout": pl.Int64, "min_projected": pl.Float64}
    )  # fmt: skip
    allocation = pl.DataFrame(
        schema={"site_id": pl.String, "article_id": pl.String, "level": pl.String, "lots": pl.Int64,
                "quantity": pl.Int64, "volume": pl.Float64, "value": pl.Float64, "lots_hi": pl.Int64,
                "n_min": pl.Int64}
    )  # fmt: skip
    summary = pl.DataFrame(schema={"site_id": pl.String, "volume_used": pl.Float64, "capacity_total": pl.Float64})
    curves = pl.DataFrame(schema={"site_id": pl.String, "article_id": pl.String, "d": pl.Int64, "stock": pl.Float64})
    return DailyReportData(**{
        "partition_date": date(2026, 1, 10), "horizon_days": 30, "projection": empty, "classification": empty,
        "allocation": allocation, "site_summary": summary, "urgent_pairs": empty,
        "category_use": category_use_frame(pl.DataFrame()), "curves": curves, **fields,
    })


def test_a_day_without_urgent_pairs_or_lots_still_renders():
    text = render_daily_report(empty_day())
    assert "No lot to ship today." in text and text.count("<svg") == 4
    assert "No backtest for this day" in text


def test_the_page_shows_what_each_depot_ships_and_its_scarce_articles():
    from orchestrator_assets.defs.report.daily_report import depot_shipments

    supply = pl.DataFrame({
        "site_id": ["DEP1", "DEP1", "DEP2"], "article_id": ["A", "B", "A"], "supply": [3, 50, 9],
        "requested": [10, 4, 2], "shipped": [3, 4, 2], "remaining": [0, 46, 7], "critical_short": [5, 0, 0],
    })
    table = depot_shipments(supply)
    assert table.rows() == [("DEP1", 2, 14, 7, 1, 5), ("DEP2", 1, 2, 2, 0, 0)]
    text = render_daily_report(empty_day(depot_supply=supply))
    assert 'id="depot-table"' in text and 'id="critical-short-table"' in text and "DEP1" in text


def test_the_forecast_accuracy_table_matches_the_warehouse(report_run):
    data = report_run[0]
    text = page(data)
    table = re.search(r'<table id="accuracy-table">(.*?)</table>', text, flags=re.DOTALL).group(1)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
    shown = {(row[0], row[1]): (row[2], row[3]) for row in cells if row}
    overall = query(
        data,
        "SELECT method, count(*), avg(abs(forecast_rate - actual_rate)) FROM stock.forecast_backtest "
        "WHERE partition_date = ? GROUP BY 1",
        [date.fromisoformat(DAY)],
    )
    assert len(overall) == 5
    for method, pairs, mae in overall:
        assert shown[("ALL", method)] == (str(pairs), f"{mae:.4f}"), method
    classes = {row[0] for row in cells if row} - {"ALL"}
    assert classes and classes <= {"A", "B", "C"}
    assert "Today's forecast: sba" in text
