"""The daily report: one self-contained HTML page per partition, for a planner's morning.

Sections: KPI tiles, the projected stock of the most urgent pairs, the 12 urgency classes,
capacity use per site and category, the lots to ship (largest value first), and the
forecast's accuracy per method and ABC class (stock.forecast_backtest, solvers.backtest).

Charts (charts.py): SVG written inline into the page. Why inline SVG rather than plotly (or
altair, already installed with great-expectations): the page must open offline, on any
machine, and be mailed or archived as one file; inline SVG needs no JavaScript at all, where
plotly would embed ~3.5 MB of plotly.js into every report (or load it from a CDN, which is not
allowed) and altair needs vega-embed's JS; SVG is vector (sharp when zoomed or printed) and
small. The SVG is written by the report itself (svg_drawing.py), not by matplotlib, which
took 2.3-5.6 s per day for these four charts (issue 14). What the page loses is
interactivity (hover, zoom); the numbers behind every chart are in the tables beside it, and
the warehouse answers the rest (docs/sql-recipes.md).

Nothing here computes a SPEC formula: the curves come from solvers.projection, the critical
coverage from the knapsack assets; this module counts, sorts and draws.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from orchestrator_assets.defs.report.charts import (
    SITES_DRAWN,
    TOTAL,
    accuracy_chart,
    capacity_chart,
    class_chart,
    projection_chart,
)
from orchestrator_assets.defs.urgence.assets import ALERT_CLASS
from solvers.abc import ABC_CLASSES
from solvers.backtest import ALL_CLASSES
from solvers.knapsack.alternatives import critical_coverage
from solvers.urgency import LEVELS, URGENCY_CLASSES

CURVES_DRAWN = 6  # most urgent pairs whose projected stock is drawn
ALLOCATION_ROWS_SHOWN = 300  # rows of the allocation table; the warehouse has the rest


@dataclass(frozen=True)
class DailyReportData:
    """What the page shows, as read from the warehouse for one partition."""

    partition_date: date
    horizon_days: int
    projection: pl.DataFrame  # stock.stock_projection of D
    classification: pl.DataFrame  # urgence.urgency_classification of D
    allocation: pl.DataFrame  # knapsack.allocation of D (+ designation, unit_cost)
    site_summary: pl.DataFrame  # knapsack.site_summary of D
    category_use: pl.DataFrame  # knapsack.category_use of D
    urgent_pairs: pl.DataFrame  # most_urgent_pairs(...)
    curves: pl.DataFrame  # site_id, article_id, d, stock of urgent_pairs (solvers.projection.projection_series)
    depot_supply: pl.DataFrame = field(default_factory=pl.DataFrame)  # knapsack.depot_supply of D (SPEC §5.2)
    sources: dict[str, list[str]] = field(default_factory=dict)  # table -> run ids that wrote D's rows
    accuracy: pl.DataFrame = field(default_factory=pl.DataFrame)  # solvers.backtest.accuracy_summary of D
    methods_used: dict[str, int] = field(default_factory=dict)  # consumption_forecast.method -> pairs
    generated_at: datetime | None = None


# --- what the page counts --------------------------------------------------------------


def most_urgent_pairs(classification: pl.DataFrame, projection: pl.DataFrame, n: int = CURVES_DRAWN) -> pl.DataFrame:
    """The n pairs a planner looks at first: most severe level, then highest U, then the
    earliest stock-out (none last), then site and article."""
    level_rank = {level: rank for rank, level in enumerate(LEVELS)}
    return (
        classification.select("site_id", "article_id", "u_total", "level", "class")
        .join(
            projection.select(
                "site_id", "article_id", "on_hand", "stock_min", "lead_time_days", "days_to_min",
                "days_to_stockout", "min_projected",
            ),
            on=["site_id", "article_id"],
            how="inner",
        )
        .with_columns(level_rank=pl.col("level").replace_strict(level_rank, default=len(LEVELS), return_dtype=pl.Int64))
        .sort(
            ["level_rank", "u_total", "days_to_stockout", "site_id", "article_id"],
            descending=[False, True, False, False, False],
            nulls_last=True,
        )
        .head(n)
        .drop("level_rank")
    )


def class_counts(classification: pl.DataFrame) -> pl.DataFrame:
    """Pairs per class, the 12 classes in SPEC order (zeros included): class, level, abc, pairs."""
    per_class = dict(classification.group_by("class").len().iter_rows()) if classification.height else {}
    return pl.DataFrame(
        {
            "class": list(URGENCY_CLASSES),
            "level": [label.rsplit("_", 1)[0] for label in URGENCY_CLASSES],
            "abc": [label.rsplit("_", 1)[1] for label in URGENCY_CLASSES],
            "pairs": [int(per_class.get(label, 0)) for label in URGENCY_CLASSES],
        }
    )


def capacity_use_per_site(site_summary: pl.DataFrame, category_use: pl.DataFrame) -> pl.DataFrame:
    """Volume used against capacity per site: TOTAL and each limited category.

    Columns site_id, category, used, capacity, share (used / capacity; null when the
    capacity is 0). Categories without a limit at a site have no knapsack.category_use row:
    only the total applies to them (SPEC §2).
    """
    schema = {"site_id": pl.String, "category": pl.String, "used": pl.Float64, "capacity": pl.Float64}
    frames = [
        site_summary.select(
            "site_id", category=pl.lit(TOTAL), used=pl.col("volume_used"), capacity=pl.col("capacity_total")
        ).cast(schema),
        category_use.filter(pl.col("capacity").is_not_null()).select(list(schema)).cast(schema),
    ]
    return (
        pl.concat(frames)
        .with_columns(share=pl.when(pl.col("capacity") > 0).then(pl.col("used") / pl.col("capacity")))
        .sort("site_id", pl.col("category") != TOTAL, "category")
    )


def shipped_lots(allocation: pl.DataFrame) -> pl.DataFrame:
    """Rows with lots > 0, largest value first (ties: site, article)."""
    if not allocation.height:
        return allocation
    return allocation.filter(pl.col("lots") > 0).sort(
        ["value", "site_id", "article_id"], descending=[True, False, False]
    )


def method_counts(forecast: pl.DataFrame) -> dict[str, int]:
    """Pairs per method of the day's stock.consumption_forecast (one method, or several with auto)."""
    if not forecast.height:
        return {}
    return {method: int(n) for method, n in forecast.group_by("method").len().sort("method").iter_rows()}


def report_kpis(data: DailyReportData) -> dict[str, float | int]:
    """The tiles of the page, also recorded as the asset's metadata."""
    projection, allocation = data.projection, data.allocation
    shipped = shipped_lots(allocation)
    cost = (shipped["quantity"] * shipped["unit_cost"]).sum() if "unit_cost" in shipped.columns and shipped.height else 0.0
    return {
        "pairs": projection.height,
        "below_min_now": projection.filter(pl.col("days_to_min") == 0).height,
        "stockouts_within_horizon": projection.filter(pl.col("days_to_stockout").is_not_null()).height,
        "critique_a": data.classification.filter(pl.col("class") == ALERT_CLASS).height,
        "sites_solved": data.site_summary.height,
        "pairs_shipped": shipped.height,
        "lots_shipped": int(shipped["lots"].sum()) if shipped.height else 0,
        "value_shipped": round(float(shipped["value"].sum()) if shipped.height else 0.0, 4),
        "volume_shipped": round(float(shipped["volume"].sum()) if shipped.height else 0.0, 4),
        "cost_shipped": round(float(cost or 0.0), 2),
        "critical_coverage": round(critical_coverage(allocation), 4) if allocation.height else 1.0,
    }


# --- the page ------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:1.5rem auto;max-width:1200px;
color:#2c3e50;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.muted{color:#7f8c8d;font-size:.85rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.6rem;margin-top:1rem}
.tile{border:1px solid #dfe4ea;border-radius:6px;padding:.6rem .8rem;background:#fafbfc}
.tile .value{font-size:1.45rem;font-weight:600} .tile .label{font-size:.78rem;color:#57606a}
.tile.alert{border-color:#c0392b;background:#fdf2f1} .tile.alert .value{color:#c0392b}
table{border-collapse:collapse;font-size:.8rem;margin:.6rem 0} th,td{border:1px solid #e1e4e8;padding:.2rem .45rem}
th{background:#f3f5f7;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
td.full{background:#fdecea} figure{margin:.6rem 0} figure svg{max-width:100%;height:auto}
figcaption{font-size:.8rem;color:#57606a} nav a{margin-right:.8rem;font-size:.85rem}
"""


def _text(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _number(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.{digits}f}".replace(",", "\u202f")
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")
    return _text(value)


def _table(frame: pl.DataFrame, numeric_digits: dict[str, int] | None = None, element_id: str = "") -> str:
    digits = numeric_digits or {}
    head = "".join(f"<th>{_text(column)}</th>" for column in frame.columns)
    numeric = {c for c, dtype in frame.schema.items() if dtype.is_numeric()}
    body = []
    for row in frame.iter_rows():
        cells = []
        for column, value in zip(frame.columns, row):
            if column in numeric:
                cells.append(f'<td class="num">{_number(value, digits.get(column, 2))}</td>')
            else:
                cells.append(f"<td>{_text(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{element_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _tiles(kpis: dict[str, float | int], horizon_days: int) -> str:
    tiles = [
        ("pairs", kpis["pairs"], "pairs (site, article)", False),
        ("below_min_now", kpis["below_min_now"], "below minimum now", kpis["below_min_now"] > 0),
        ("stockouts_within_horizon", kpis["stockouts_within_horizon"], f"stock-outs within {horizon_days} days",
         kpis["stockouts_within_horizon"] > 0),
        ("critique_a", kpis["critique_a"], f"{ALERT_CLASS} pairs", kpis["critique_a"] > 0),
        ("sites_solved", kpis["sites_solved"], "sites solved", False),
        ("lots_shipped", kpis["lots_shipped"], f"lots shipped ({kpis['pairs_shipped']} pairs)", False),
        ("value_shipped", kpis["value_shipped"], "value shipped (urgency-weighted)", False),
        ("volume_shipped", kpis["volume_shipped"], "volume shipped (capacity units)", False),
        ("cost_shipped", kpis["cost_shipped"], "cost shipped (unit_cost x quantity)", False),
        ("critical_coverage", f"{100 * kpis['critical_coverage']:.1f} %", "critical minimum need covered",
         kpis["critical_coverage"] < 1.0),
    ]  # fmt: skip
    return "".join(
        f'<div class="tile{" alert" if alert else ""}" id="kpi-{name}"><div class="value">'
        f'{_number(value, 1) if not isinstance(value, str) else _text(value)}</div>'
        f'<div class="label">{_text(label)}</div></div>'
        for name, value, label, alert in tiles
    )


def _class_matrix(counts: pl.DataFrame) -> str:
    lookup = {(row["level"], row["abc"]): row["pairs"] for row in counts.iter_rows(named=True)}
    head = "<th>level \\ ABC</th>" + "".join(f"<th>{abc}</th>" for abc in ABC_CLASSES) + "<th>all</th>"
    rows = []
    for level in LEVELS:
        cells = [lookup.get((level, abc), 0) for abc in ABC_CLASSES]
        rows.append(
            f"<tr><th>{level}</th>" + "".join(f'<td class="num">{_number(n)}</td>' for n in cells)
            + f'<td class="num">{_number(sum(cells))}</td></tr>'
        )
    return f'<table id="class-counts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _capacity_table(use: pl.DataFrame) -> str:
    """One row per site; per category 'used / capacity (share)', red when full (>= 99.5 %)."""
    categories = [TOTAL] + sorted(c for c in use["category"].unique().to_list() if c != TOTAL)
    by_site: dict[str, dict[str, dict]] = {}
    for row in use.iter_rows(named=True):
        by_site.setdefault(row["site_id"], {})[row["category"]] = row
    head = "<th>site</th>" + "".join(f"<th>{_text(c)}</th>" for c in categories)
    rows = []
    for site, cells in by_site.items():
        tds = []
        for category in categories:
            cell = cells.get(category)
            if cell is None:
                tds.append('<td class="num muted">no limit</td>')
                continue
            share = cell["share"]
            text = f"{_number(cell['used'], 1)} / {_number(cell['capacity'], 1)}"
            if share is not None:
                text += f" ({100 * share:.0f} %)"
            full = share is not None and share >= 0.995
            tds.append(f'<td class="num{" full" if full else ""}">{text}</td>')
        rows.append(f"<tr><td>{_text(site)}</td>{''.join(tds)}</tr>")
    return f'<table id="capacity-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _figure(svg: str, caption: str, element_id: str) -> str:
    return f'<figure id="{element_id}">{svg}<figcaption>{_text(caption)}</figcaption></figure>'


def depot_shipments(depot_supply: pl.DataFrame) -> pl.DataFrame:
    """Per depot supplying vans: articles its vans asked for, pieces requested and shipped,
    and how many articles are critically short (supply below the CRITIQUE minimum need)."""
    if not depot_supply.height:
        return pl.DataFrame()
    return (
        depot_supply.group_by("site_id")
        .agg(
            pl.len().alias("articles"),
            pl.col("requested").sum(),
            pl.col("shipped").sum(),
            (pl.col("critical_short") > 0).sum().alias("articles_critical_short"),
            pl.col("critical_short").sum().alias("pieces_critical_short"),
        )
        .sort("site_id")
    )


def _accuracy_section(data: DailyReportData) -> list[str]:
    """Forecast accuracy: chart, the summary table, and the methods the day's forecast used."""
    used = ", ".join(f"{method} {_number(n)} pairs" for method, n in data.methods_used.items()) or "none"
    accuracy = data.accuracy
    table = (
        _table(accuracy, {"mae": 4, "bias": 4, "scaled_error": 3, "best_share": 3}, "accuracy-table")
        if accuracy.height else "<p>No backtest for this day (stock/forecast_backtest has no row).</p>"
    )  # fmt: skip
    return [
        '<h2 id="accuracy">Forecast accuracy</h2>',
        f'<p class="muted">Each method\'s rate as forecast on D−{data.horizon_days}, against the consumption of the '
        f"{data.horizon_days} days since (per day). MAE and bias in pieces per day (bias &gt; 0: over-forecast); "
        "scaled error: absolute error / the pair's mean daily consumption while fitting (pairs that consumed "
        f"nothing then are left out: scaled_pairs); best_share: pairs for which stock.forecast_method=auto picks "
        f"the method. {ALL_CLASSES}: every pair. Today's forecast: {_text(used)}.</p>",
        _figure(accuracy_chart(accuracy), "Per ABC class and overall; sba (the default) outlined.", "accuracy-chart"),
        table,
    ]


def render_daily_report(data: DailyReportData) -> str:
    """The whole page as one HTML string (no script, no stylesheet or image from outside)."""
    kpis = report_kpis(data)
    counts = class_counts(data.classification)
    use = capacity_use_per_site(data.site_summary, data.category_use)
    shipped = shipped_lots(data.allocation)
    if "unit_cost" in shipped.columns:
        shipped = shipped.with_columns(cost=pl.col("quantity") * pl.col("unit_cost"))
    allocation_columns = [
        c for c in ("site_id", "article_id", "designation", "category", "class", "lots", "quantity", "volume",
                    "value", "cost", "strategy", "status")
        if c in shipped.columns
    ]  # fmt: skip
    shown = shipped.select(allocation_columns).head(ALLOCATION_ROWS_SHOWN)
    more = shipped.height - shown.height
    urgent = data.urgent_pairs.select(
        "site_id", "article_id", "class", "u_total", "on_hand", "stock_min", "lead_time_days", "days_to_min",
        "days_to_stockout", "min_projected",
    )  # fmt: skip
    depots = depot_shipments(data.depot_supply)
    short = (
        data.depot_supply.filter(pl.col("critical_short") > 0)
        .sort(["critical_short", "site_id", "article_id"], descending=[True, False, False])
        .select("site_id", "article_id", "supply", "requested", "shipped", "critical_short")
        if data.depot_supply.height else pl.DataFrame()
    )
    sources = "; ".join(f"{table}: {', '.join(run[:8] for run in runs)}" for table, runs in data.sources.items())
    generated = data.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip() if data.generated_at else ""
    day = data.partition_date.isoformat()
    more_note = (
        f'<p class="muted">{more} more rows: <code>uv run reassort query "SELECT * FROM knapsack.allocation '
        f"WHERE partition_date = DATE '{day}' AND lots &gt; 0 ORDER BY value DESC\"</code></p>"
        if more > 0 else ""
    )  # fmt: skip
    sections = [
        f"<h1>Réassort — daily report {day}</h1>",
        f'<p class="muted">Partition {day} · horizon {data.horizon_days} days · generated {_text(generated)}'
        f"<br>Rows written by runs {_text(sources)}</p>",
        '<nav><a href="#kpis">KPIs</a><a href="#projection">Projected stock</a><a href="#classes">Classes</a>'
        '<a href="#capacity">Capacity</a><a href="#depots">Depots</a><a href="#allocation">Allocation</a>'
        '<a href="#accuracy">Forecast accuracy</a></nav>',
        f'<h2 id="kpis">Key figures</h2><div class="tiles">{_tiles(kpis, data.horizon_days)}</div>',
        f'<h2 id="projection">Projected stock of the {urgent.height} most urgent pairs</h2>',
        _figure(
            projection_chart(data.urgent_pairs, data.curves, data.horizon_days),
            "S_d for d = 0..H (SPEC §3); dashed: stock_min; dotted: lead time; red area: below zero.",
            "projection-chart",
        ),
        _table(urgent, {"u_total": 3, "on_hand": 0, "min_projected": 1}, "urgent-pairs"),
        '<h2 id="classes">Pairs per urgency class</h2>',
        _figure(class_chart(counts), "12 classes: level (colour) x ABC (A dark … C light).", "class-chart"),
        _class_matrix(counts),
        '<h2 id="capacity">Capacity use per site</h2>',
        _figure(
            capacity_chart(use),
            f"Volume allocated over capacity, total and per limited category (fullest {SITES_DRAWN} sites at most); "
            "dashed line: 100 %.",
            "capacity-chart",
        ),
        _capacity_table(use),
        '<h2 id="depots">What each depot ships to its vans</h2>',
        _table(depots, {}, "depot-table") if depots.height
        else "<p>No depot supplies vans in this plan (no parent_site_id, or knapsack.sourcing=false).</p>",
        f'<h3>Scarce articles: supply below the vans\' critical need ({short.height})</h3>' if short.height else "",
        _table(short.head(ALLOCATION_ROWS_SHOWN), {}, "critical-short-table") if short.height else "",
        f'<h2 id="allocation">Allocation: {shipped.height} pairs with lots to ship, largest value first</h2>',
        _table(shown, {"volume": 2, "value": 3, "cost": 2}, "allocation-table") if shown.height
        else "<p>No lot to ship today.</p>",
        more_note,
        *_accuracy_section(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Réassort daily report {day}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
