"""The few SVG primitives the daily report's charts need: plot areas with linear scales,
axes with round ticks, lines, bars, text and legends, written as SVG elements.

Why not a plotting library: matplotlib drew the report's four charts in 2.3-5.6 s per
day (2 cores, tiny and large alike: constrained layout, tight bounding boxes, glyphs as
paths), more than the rest of the report, and imported ~0.7 s more into every run. These
charts are simple (lines, bars, reference lines, labels), so they are written directly
(milliseconds). Every text drawn from data is escaped; no element carries an id, so a
page holding several charts has no id to clash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,Arial,sans-serif"'
AXIS_COLOUR = "#2c3e50"
GRID_COLOUR = "#d5d8dc"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 x 10^k apart) covering [low, high], about `count` of them."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.2g}"


@dataclass(frozen=True)
class Panel:
    """A plot area: its box on the canvas (pixels, y downwards) and the data range it shows."""

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def x(self, value: float) -> float:
        low, high = self.x_range
        return self.left + (value - low) / ((high - low) or 1.0) * self.width

    def y(self, value: float) -> float:
        low, high = self.y_range
        return self.top + self.height - (value - low) / ((high - low) or 1.0) * self.height

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def right(self) -> float:
        return self.left + self.width


def text(x: float, y: float, value: object, size: float = 10, anchor: str = "middle", colour: str = AXIS_COLOUR,
         weight: str = "normal", rotate: float | None = None) -> str:
    transform = f' transform="rotate({rotate:.0f} {x:.1f} {y:.1f})"' if rotate is not None else ""
    bold = ' font-weight="bold"' if weight != "normal" else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" fill="{colour}"{bold}{transform}>'
        f"{html.escape(str(value))}</text>"
    )


def path(points: Sequence[tuple[float, float]], colour: str, width: float = 1.0, dash: str | None = None,
         fill: str = "none", opacity: float = 1.0, close: bool = False) -> str:
    if not points:
        return ""
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + (" Z" if close else "")
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    faded = f' opacity="{opacity:g}"' if opacity < 1 else ""
    stroke = f'stroke="{colour}" stroke-width="{width:g}"' if width > 0 else 'stroke="none"'
    return f'<path d="{d}" fill="{fill}" {stroke}{dashed}{faded}/>'


def rect(x: float, y: float, width: float, height: float, colour: str, opacity: float = 1.0,
         outline: str | None = None, outline_width: float = 0.0) -> str:
    faded = f' fill-opacity="{opacity:g}"' if opacity < 1 else ""
    border = f' stroke="{outline}" stroke-width="{outline_width:g}"' if outline and outline_width > 0 else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.0):.1f}" height="{max(height, 0.0):.1f}" '
        f'fill="{colour}"{faded}{border}/>'
    )


def _inside(ticks: Sequence[float] | None, limits: tuple[float, float]) -> list[float]:
    low, high = min(limits), max(limits)
    slack = (high - low) * 1e-9
    return [value for value in ticks or () if low - slack <= value <= high + slack]


def axes(panel: Panel, x_ticks: Sequence[float] | None, y_ticks: Sequence[float] | None, x_label: str = "",
         y_label: str = "", grid: str = "y", size: float = 9) -> list[str]:
    """The panel's frame (left and bottom), ticks with labels, light grid lines, axis titles."""
    parts = [path([(panel.left, panel.top), (panel.left, panel.bottom), (panel.right, panel.bottom)], AXIS_COLOUR, 0.8)]
    for value in _inside(y_ticks, panel.y_range):
        y = panel.y(value)
        if grid in ("y", "both"):
            parts.append(path([(panel.left, y), (panel.right, y)], GRID_COLOUR, 0.6))
        parts.append(path([(panel.left - 3, y), (panel.left, y)], AXIS_COLOUR, 0.8))
        parts.append(text(panel.left - 5, y + size / 3, tick_label(value), size, "end"))
    for value in _inside(x_ticks, panel.x_range):
        x = panel.x(value)
        if grid in ("x", "both"):
            parts.append(path([(x, panel.top), (x, panel.bottom)], GRID_COLOUR, 0.6))
        parts.append(path([(x, panel.bottom), (x, panel.bottom + 3)], AXIS_COLOUR, 0.8))
        parts.append(text(x, panel.bottom + 4 + size, tick_label(value), size))
    if x_label:
        parts.append(text(panel.left + panel.width / 2, panel.bottom + 2 * size + 12, x_label, size))
    if y_label:
        parts.append(text(panel.left - 36, panel.top + panel.height / 2, y_label, size, rotate=-90))
    return parts


def below_zero(points: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """The parts of a polyline (data coordinates) under 0, each closed along y = 0, crossings
    interpolated: the area to shade where a projected stock is negative."""
    areas: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 < 0 and not current:
            current = [(x0, 0.0), (x0, y0)]
        if (y0 < 0) != (y1 < 0):
            crossing = x0 + (x1 - x0) * (0 - y0) / (y1 - y0)
            if current:
                current.append((crossing, 0.0))
                areas.append(current)
                current = []
            else:
                current = [(crossing, 0.0)]
        if y1 < 0:
            current.append((x1, y1))
    if current:
        current.append((current[-1][0], 0.0))
        areas.append(current)
    return areas


def legend(items: Sequence[tuple[str, str, str]], x: float, y: float, size: float = 9, vertical: bool = False) -> list[str]:
    """(label, colour, kind) entries, kind 'line', 'dash', 'dot' or 'box', from (x, y) onwards."""
    parts = []
    for label, colour, kind in items:
        if kind == "box":
            parts.append(rect(x, y - size * 0.8, size, size * 0.8, colour))
        else:
            dash = {"dash": "4 3", "dot": "1.5 2.5"}.get(kind)
            parts.append(path([(x, y - size / 3), (x + 18, y - size / 3)], colour, 1.6, dash))
        parts.append(text(x + 22, y, label, size, "start"))
        if vertical:
            y += size + 6
        else:
            x += 30 + 0.6 * size * len(label)
    return parts


def svg(width: float, height: float, label: str, parts: Sequence[str]) -> str:
    """One inline <svg> element (no XML prolog: HTML5 gives inline SVG its namespace)."""
    return (
        f'<svg role="img" aria-label="{html.escape(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" {FONT}>' + "".join(part for part in parts if part) + "</svg>"
    )
