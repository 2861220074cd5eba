"""The report's SVG primitives and charts (defs/report/svg_drawing.py, charts.py): round
ticks, the shaded area below zero with its crossings, scales, and text from data escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import polars as pl
import pytest

from orchestrator_assets.defs.report.charts import capacity_chart, projection_chart
from orchestrator_assets.defs.report.svg_drawing import Panel, below_zero, nice_ticks


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0, 30, [0, 10, 20, 30]),
    (0, 1.15, [0, 0.5, 1.0, 1.5]),
    (-17.3, 10.2, [-20, -10, 0, 10, 20]),
    (0, 0, [0, 0.5, 1.0]),
    (5, 5, [5, 5.5, 6]),
])
def test_ticks_are_round_and_cover_the_range(low, high, expected):
    assert nice_ticks(low, high, 4) == expected


def test_the_area_below_zero_closes_on_the_interpolated_crossings():
    # 2 -> -2 crosses at x = 0.5; -2 -> -2; -2 -> 2 crosses at x = 2.5
    assert below_zero([(0, 2), (1, -2), (2, -2), (3, 2)]) == [
        [(0.5, 0.0), (1, -2), (2, -2), (2.5, 0.0)]
    ]
    assert below_zero([(0, 1), (1, 2)]) == []
    # starts below zero and stays there: closed at both ends on y = 0
    assert below_zero([(0, -1), (1, -3)]) == [[(0, 0.0), (0, -1), (1, -3), (1, 0.0)]]


def test_a_panel_maps_its_range_onto_its_box_with_y_upwards():
    panel = Panel(left=10, top=20, width=100, height=50, x_range=(0, 10), y_range=(-5, 5))
    assert (panel.x(0), panel.x(10), panel.x(5)) == (10, 110, 60)
    assert (panel.y(-5), panel.y(5), panel.y(0)) == (70, 20, 45)


def test_text_from_data_is_escaped_and_every_chart_is_well_formed_xml():
    use = pl.DataFrame({
        "site_id": ["<script>alert(1)</script>", "S&2"], "category": ["TOTAL", "TOTAL"],
        "share": [0.5, 1.1], "used": [60.0, 132.0], "capacity": [120.0, 120.0],
    })
    chart = capacity_chart(use)
    assert "<script>" not in chart and "&lt;script&gt;" in chart and "S&amp;2" in chart
    ET.fromstring(chart)  # parses: nothing unescaped

    urgent = pl.DataFrame({
        "site_id": ["V1"], "article_id": ['A"1'], "level": ["CRITIQUE"], "class": ["CRITIQUE_A"], "u_total": [1.0],
        "stock_min": [3], "lead_time_days": [40],
    })
    curves = pl.DataFrame({"site_id": ["V1"] * 3, "article_id": ['A"1'] * 3, "d": [0, 1, 2], "stock": [2.0, -1.0, -4.0]})
    drawn = projection_chart(urgent, curves, horizon_days=30)
    root = ET.fromstring(drawn)
    assert root.get("aria-label") == "Projected stock of the most urgent pairs"
    shaded = [el for el in root.iter("path") if el.get("fill") == "#c0392b" and el.get("opacity") == "0.15"]
    assert len(shaded) == 1  # the stock below zero from d = 2/3 on
    assert 'A"1' in "".join(root.itertext())
