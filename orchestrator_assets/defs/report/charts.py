"""The daily report's four charts, each an inline <svg> (svg_drawing.py): the projected
stock of the most urgent pairs, the pairs per urgency class, the capacity used per site and
category, and the forecast's accuracy per method and ABC class."""

from __future__ import annotations

import math

import polars as pl

from orchestrator_assets.defs.report.svg_drawing import (
    AXIS_COLOUR,
    Panel,
    axes,
    below_zero,
    legend,
    nice_ticks,
    path,
    rect,
    svg,
    text,
)
from solvers.abc import ABC_CLASSES
from solvers.forecasting import FORECAST_METHODS

LEVEL_COLOURS = {"CRITIQUE": "#c0392b", "URGENT": "#e67e22", "SURVEILLANCE": "#d4ac0d", "NORMAL": "#27ae60"}
CATEGORY_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
TOTAL = "TOTAL"
SITES_DRAWN = 30  # sites in the capacity chart (fullest first); the table lists them all
WIDTH = 1100.0
SIZE = 11.0


def _padded(low: float, high: float, share: float = 0.08) -> tuple[float, float]:
    span = (high - low) or max(abs(high), 1.0)
    return low - share * span, high + share * span


def _empty(width: float, height: float, label: str, message: str) -> str:
    return svg(width, height, label, [
        path([(0, height - 1), (width, height - 1)], "#d5d8dc", 0.6), text(width / 2, height / 2, message, 11),
    ])  # fmt: skip


def projection_chart(urgent_pairs: pl.DataFrame, curves: pl.DataFrame, horizon_days: int) -> str:
    """Small multiples: S_0..S_H of each urgent pair, its stock_min, zero and its lead time."""
    label = "Projected stock of the most urgent pairs"
    n = urgent_pairs.height
    if not n:
        return _empty(WIDTH, 120, label, "no pair today")
    columns = min(3, n)
    rows = math.ceil(n / columns)
    cell_w, cell_h = WIDTH / columns, 240.0
    height = rows * cell_h + 30
    by_pair = curves.partition_by("site_id", "article_id", as_dict=True) if curves.height else {}
    horizon = max(horizon_days, 1)
    parts: list[str] = []
    for index, pair in enumerate(urgent_pairs.iter_rows(named=True)):
        column, row = index % columns, index // columns
        curve = by_pair.get((pair["site_id"], pair["article_id"]))
        points = list(zip(*(curve.sort("d")[c].to_list() for c in ("d", "stock")))) if curve is not None else []
        values = [stock for _, stock in points] + [float(pair["stock_min"]), 0.0]
        panel = Panel(
            left=column * cell_w + 52, top=row * cell_h + 40, width=cell_w - 72, height=cell_h - 90,
            x_range=(0.0, float(horizon)), y_range=_padded(min(values), max(values)),
        )
        colour = LEVEL_COLOURS.get(pair["level"], "#34495e")
        parts += axes(panel, nice_ticks(0, horizon, 5), nice_ticks(*panel.y_range, 4), "day d after D", size=SIZE - 1)
        parts.append(text(panel.left + panel.width / 2, row * cell_h + 14, f"{pair['site_id']} · {pair['article_id']}", SIZE))
        parts.append(text(panel.left + panel.width / 2, row * cell_h + 28, f"{pair['class']} · U = {pair['u_total']:.2f}", SIZE))
        for area in below_zero(points):
            parts.append(path([(panel.x(x), panel.y(y)) for x, y in area], "#c0392b", 0, fill="#c0392b", opacity=0.15, close=True))
        parts.append(path([(panel.left, panel.y(pair["stock_min"])), (panel.right, panel.y(pair["stock_min"]))], "#7f8c8d", 1, "4 3"))
        parts.append(path([(panel.left, panel.y(0)), (panel.right, panel.y(0))], "#c0392b", 0.8))
        lead_x = panel.x(min(int(pair["lead_time_days"]), horizon))
        parts.append(path([(lead_x, panel.top), (lead_x, panel.bottom)], AXIS_COLOUR, 1, "1.5 2.5"))
        parts.append(path([(panel.x(x), panel.y(y)) for x, y in points], colour, 1.6))
        parts += [f'<circle cx="{panel.x(x):.1f}" cy="{panel.y(y):.1f}" r="1.6" fill="{colour}"/>' for x, y in points]
    parts += legend(
        [("projected stock", "#34495e", "line"), ("stock_min", "#7f8c8d", "dash"), ("lead time", AXIS_COLOUR, "dot")],
        WIDTH / 2 - 150, height - 8,
    )
    return svg(WIDTH, height, label, parts)


def class_chart(counts: pl.DataFrame) -> str:
    """Pairs per class: 12 bars grouped by level, coloured by level, lighter from A to C."""
    rows = list(counts.iter_rows(named=True))
    height = 260.0
    opacity = {"A": 1.0, "B": 0.7, "C": 0.45}
    positions = [i + (i // len(ABC_CLASSES)) * 0.6 for i in range(len(rows))]
    top = max([row["pairs"] for row in rows] + [1])
    panel = Panel(60, 16, WIDTH - 80, height - 70, (-0.7, (positions[-1] if positions else 0) + 0.7), (0, top * 1.15))
    parts = axes(panel, None, nice_ticks(0, top * 1.15, 4), y_label="pairs", size=SIZE)
    bar = panel.x(0.8) - panel.x(0)
    for position, row in zip(positions, rows):
        x, y = panel.x(position) - bar / 2, panel.y(row["pairs"])
        parts.append(rect(x, y, bar, panel.bottom - y, LEVEL_COLOURS[row["level"]], opacity.get(row["abc"], 1.0),
                          AXIS_COLOUR, 0.4))  # fmt: skip
        parts.append(text(panel.x(position), y - 3, row["pairs"], SIZE - 1))
        parts.append(text(panel.x(position), panel.bottom + 12, row["abc"], SIZE))
    for start in range(0, len(rows), len(ABC_CLASSES)):
        middle = sum(positions[start : start + len(ABC_CLASSES)]) / len(ABC_CLASSES)
        level = rows[start]["level"]
        parts.append(text(panel.x(middle), panel.bottom + 30, level, SIZE + 1, colour=LEVEL_COLOURS[level]))
    return svg(WIDTH, height, "Pairs per urgency class", parts)


def capacity_chart(use: pl.DataFrame, max_sites: int = SITES_DRAWN) -> str:
    """Share of each capacity used, per site (fullest sites first), one bar per category."""
    limited = use.filter(pl.col("share").is_not_null())
    fullest = (
        limited.group_by("site_id").agg(pl.col("share").max().alias("top"))
        .sort(["top", "site_id"], descending=[True, False]).head(max_sites)["site_id"].to_list()
    )  # fmt: skip
    if not fullest:
        return _empty(WIDTH, 90, "Capacity used per site", "no site solved")
    categories = [TOTAL] + sorted(c for c in limited["category"].unique().to_list() if c != TOTAL)
    row_h = max(16.0, 8.0 * len(categories))
    height = len(fullest) * row_h + 60
    high = max(105.0, 100.0 * (limited["share"].max() or 0.0) + 5)
    panel = Panel(100, 10, WIDTH - 240, len(fullest) * row_h, (0, high), (len(fullest), 0))
    parts = axes(panel, nice_ticks(0, high, 6), None, "% of capacity used", grid="x", size=SIZE)
    band = 0.8 / len(categories)
    lookup = {(row["site_id"], row["category"]): row["share"] for row in limited.iter_rows(named=True)}
    colours = {
        category: AXIS_COLOUR if category == TOTAL else CATEGORY_COLOURS[(k - 1) % len(CATEGORY_COLOURS)]
        for k, category in enumerate(categories)
    }
    for i, site in enumerate(fullest):
        parts.append(text(panel.left - 5, panel.y(i + 0.5) + SIZE / 3, site, SIZE - 1, "end"))
        for k, category in enumerate(categories):
            share = lookup.get((site, category))
            if share is not None:
                top = panel.y(i + 0.1 + band * k)
                parts.append(rect(panel.left, top, panel.x(100.0 * share) - panel.left, band * row_h * 0.92, colours[category]))
    parts.append(path([(panel.x(100), panel.top), (panel.x(100), panel.bottom)], "#c0392b", 1, "4 3"))
    parts += legend([(category, colours[category], "box") for category in categories], panel.right + 20, 24, SIZE, True)
    return svg(WIDTH, height, "Capacity used per site and category", parts)


def accuracy_chart(accuracy: pl.DataFrame) -> str:
    """Per ABC class and overall: MAE (pieces per day) and scaled error of each method, one
    bar per method; sba, the default, outlined."""
    label = "Forecast accuracy per method and ABC class"
    if not accuracy.height:
        return _empty(WIDTH, 90, "Forecast accuracy per method", "no backtest for this day")
    classes = accuracy["abc"].unique(maintain_order=True).to_list()
    methods = [m for m in FORECAST_METHODS if m in set(accuracy["method"])]
    band = 0.8 / len(methods)
    lookup = {(row["abc"], row["method"]): row for row in accuracy.iter_rows(named=True)}
    height, half = 270.0, WIDTH / 2
    parts: list[str] = []
    for index, (metric, title) in enumerate((("mae", "MAE (pieces / day)"), ("scaled_error", "scaled error"))):
        values = [row.get(metric) for row in lookup.values()]
        top = max([v for v in values if v is not None and math.isfinite(v)] + [1e-9]) * 1.1
        panel = Panel(index * half + 60, 28, half - 80, height - 86, (-0.5, len(classes) - 0.5), (0, top))
        parts += axes(panel, None, nice_ticks(0, top, 4), size=SIZE)
        parts.append(text(panel.left + panel.width / 2, 14, title, SIZE + 1))
        bar = panel.x(band * 0.92) - panel.x(0)
        for i, abc in enumerate(classes):
            parts.append(text(panel.x(i), panel.bottom + 13, abc, SIZE))
            for k, method in enumerate(methods):
                value = lookup.get((abc, method), {}).get(metric)
                if value is None or not math.isfinite(value):
                    continue
                x, y = panel.x(i - 0.4 + band * (k + 0.5)) - bar / 2, panel.y(value)
                parts.append(rect(x, y, bar, panel.bottom - y, CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)],
                                  outline=AXIS_COLOUR, outline_width=1.2 if method == "sba" else 0.0))  # fmt: skip
    parts += legend(
        [(method, CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)], "box") for k, method in enumerate(methods)],
        WIDTH / 2 - 45 * len(methods), height - 10, SIZE,
    )
    return svg(WIDTH, height, label, parts)
