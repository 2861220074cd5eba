"""`reassort explain`: why a pair has its class and its lots, read back from the tables.

For one (day, site, article) this gathers the chain SPEC §3-§5 computes, in order: the
article and the site, the stock on hand, the forecast method and rate, the planned demand,
the open orders, the projection's key days, U_t / U_q / U and the rule that set the level,
the ABC rank and value share, then the knapsack's decision, its source and what held the
pair back. Every value is a **fact** with its source: a stored column
(`schema.table.column`, read as stored) or a computation over stored rows, named, done here
the way the pipeline does it (planned demand by `solvers.planned_demand`, ABC running
shares as `solvers.abc`). Nothing is recomputed from a formula of its own, so what is
printed is what the tables hold; floats are printed in full (shortest round-trip form).

Reads go through the `Warehouse` resource, like `reassort curve`: one in-memory DuckDB with
views over the day's published files, and parameterised SQL whose identifiers are code
constants (`_PartitionReader.rows` is the one place a filter is built, docs/security.md).
A scenario (issue 16 point 1) is one more filter there, or the scenario's view of the
warehouse passed in as `warehouse`; the facts do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import polars as pl

from orchestrator_assets.table_files import NAME, check_table
from orchestrator_assets.warehouse import Warehouse
from solvers.planned_demand import planned_demand

Value = int | float | str | date | bool | None

#: What each value of urgency_classification.reason means (docs/domain.md §4).
REASON_MEANINGS = {
    "U_CRITIQUE_THRESHOLD": "U reached the CRITIQUE threshold",
    "STOCKOUT_WITHIN_LEAD_TIME": "below the CRITIQUE threshold, but the stock runs out within the lead time",
    "U_URGENT_THRESHOLD": "U reached the URGENT threshold",
    "U_SURVEILLANCE_THRESHOLD": "U reached the SURVEILLANCE threshold",
    "BELOW_THRESHOLDS": "U below every threshold and no stockout within the lead time",
}
ESCALATION_MEANING = "then one level up: the article's importance is CRITIQUE"
#: What each value of knapsack.allocation.bound_by means (docs/domain.md §5.3).
BOUND_BY_MEANINGS = {
    None: "the pair got its whole need (lots = u)",
    "DEPOT_SUPPLY": "its depot has less than one lot of the article left to ship",
    "SITE_CAPACITY_TOTAL": "the room left in the site's total capacity is smaller than one more lot",
    "CATEGORY_CAPACITY": "the room left under its category's limit is smaller than one more lot",
    "LOWER_VALUE": "where its next lot does not fit, every lot taken ranks at or above it (value per volume)",
    "UNUSED_ROOM": "one more lot would fit: the plan is not proven optimal",
}


@dataclass(frozen=True)
class Fact:
    """One value of the chain and where it comes from: `schema.table.column` when stored,
    else the computation over stored rows that gives it."""

    label: str
    value: Value
    source: str

    @property
    def stored_in(self) -> tuple[str, str] | None:
        """(schema.table, column) of a stored value; None for a computed one."""
        parts = self.source.split(".")
        if len(parts) == 3 and all(NAME.fullmatch(part) for part in parts):
            return f"{parts[0]}.{parts[1]}", parts[2]
        return None


@dataclass(frozen=True)
class Section:
    """A step of the chain: its facts, then plain-text notes (no number in them)."""

    title: str
    facts: tuple[Fact, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairExplanation:
    day: date
    site_id: str
    article_id: str
    run_id: str | None
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def facts(self) -> list[Fact]:
        return [fact for section in self.sections for fact in section.facts]

    def render(self) -> str:
        """The text `reassort explain` prints: one fact a line, `label  value  source`."""
        run = f" (tables of run {self.run_id})" if self.run_id else ""
        lines = [f"Pair {self.site_id} / {self.article_id} on {self.day.isoformat()}{run}"]
        width = max((len(fact.label) for fact in self.facts()), default=0)
        value_width = min(24, max((len(format_value(fact.value)) for fact in self.facts()), default=0))
        for section in self.sections:
            lines += ["", section.title]
            lines += [
                f"  {fact.label:<{width}}  {format_value(fact.value):<{value_width}}  {fact.source}"
                for fact in section.facts
            ]
            lines += [f"  -> {note}" for note in section.notes]
        return "\n".join(lines)


def format_value(value: Value) -> str:
    """A value as printed: floats in their shortest round-trip form (the stored number,
    exactly), dates in ISO form, a null as `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class _PartitionReader:
    """Rows of one partition's tables through parameterised SQL: table and column names are
    code constants (checked identifiers), every value is a bound parameter."""

    def __init__(self, con: duckdb.DuckDBPyConnection, day: date) -> None:
        self.con = con
        self.day = day
        self.present = {
            f"{schema}.{name}"
            for schema, name in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        }

    def rows(self, table: str, order_by: Sequence[str] = (), **key: object) -> list[dict]:
        """The partition's rows of `table` whose columns equal `key` ([] when the table has no file)."""
        if table not in self.present:
            return []
        schema, name = check_table(table)
        columns = [*key, *order_by]
        if not all(NAME.fullmatch(column) for column in columns):
            raise ValueError(f"not a column name in {columns!r}")
        where = " AND ".join(["partition_date = ?", *(f'"{column}" = ?' for column in key)])
        order = " ORDER BY " + ", ".join(f'"{column}"' for column in order_by) if order_by else ""
        cursor = self.con.execute(f'SELECT * FROM "{schema}"."{name}" WHERE {where}{order}', [self.day, *key.values()])
        names = [description[0] for description in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def row(self, table: str, **key: object) -> dict:
        """The one row of `table` for `key`, {} when there is none."""
        found = self.rows(table, **key)
        return found[0] if found else {}


TABLES = (
    "raw.articles", "raw.sites", "raw.technicians", "raw.bom", "raw.planned_interventions", "raw.purchase_orders",
    "stock.stock_initial", "stock.consumption_forecast", "stock.stock_projection",
    "urgence.urgency_temporal", "urgence.urgency_quantitative", "urgence.urgency_total",
    "urgence.abc_classification", "urgence.urgency_classification",
    "knapsack.allocation", "knapsack.site_summary", "knapsack.category_use", "knapsack.depot_supply",
)


def _stored(row: dict, table: str, columns: Sequence[str], labels: dict[str, str] | None = None) -> list[Fact]:
    """Facts of the stored columns of one row (a column the table lacks is left out)."""
    labels = labels or {}
    return [Fact(labels.get(column, column), row[column], f"{table}.{column}") for column in columns if column in row]


def explain_pair(warehouse: Warehouse, day: date, site_id: str, article_id: str) -> PairExplanation:
    """The chain of one pair on `day` from the published tables (module docstring).

    Raises LookupError when the day has no stock partition or the pair is not in it."""
    with warehouse.connection(TABLES, partitions=[day]) as con:
        reader = _PartitionReader(con, day)
        pair = {"site_id": site_id, "article_id": article_id}
        stock = reader.row("stock.stock_initial", **pair)
        if not stock:
            if not reader.rows("stock.stock_initial"):
                raise LookupError(f"no stock partition {day} in the warehouse: run `reassort run --date {day}` first")
            raise LookupError(f"no pair (site {site_id}, article {article_id}) in the stock of {day}")
        article = reader.row("raw.articles", article_id=article_id)
        allocation = reader.row("knapsack.allocation", **pair)
        sections = [
            _article_and_site(article, reader.row("raw.sites", site_id=site_id)),
            Section("Stock on hand at the end of D", tuple(_stored(
                stock, "stock.stock_initial", ("on_hand", "stock_min", "stock_max", "lead_time_days", "lot_size")
            ))),
            _demand(reader, day, site_id, article_id, reader.row("stock.consumption_forecast", **pair)),
            _receipts(reader, day, site_id, article_id),
            Section("Projection over the horizon", tuple(_stored(
                reader.row("stock.stock_projection", **pair), "stock.stock_projection",
                ("days_to_min", "days_to_stockout", "min_projected", "projected_at_lead_time", "end_projected"),
            ))),
            _urgency(reader, pair),
            _abc(reader, article_id),
            _knapsack(reader, allocation),
        ]
    return PairExplanation(day, site_id, article_id, stock.get("run_id"), tuple(sections))


def _article_and_site(article: dict, site: dict) -> Section:
    facts = _stored(article, "raw.articles", ("category", "importance", "unit_volume", "unit_cost"))
    facts += _stored(site, "raw.sites", ("site_type", "parent_site_id"))
    return Section("Article and site", tuple(facts))


def _demand(reader: _PartitionReader, day: date, site_id: str, article_id: str, forecast: dict) -> Section:
    """The rate, and the planned quantities of the days the plan covers (SPEC §3 demand)."""
    facts = _stored(forecast, "stock.consumption_forecast", ("method", "rate", "planned_days"),
                    {"rate": "rate (pieces a day)", "planned_days": "days from the plan"})
    planned_days = forecast.get("planned_days") or 0
    notes = []
    if planned_days:
        technicians = pl.DataFrame(reader.rows("raw.technicians", ("technician_id",), site_id=site_id))
        plan_rows = [
            row for technician in technicians.iter_rows(named=True)
            for row in reader.rows("raw.planned_interventions", ("date", "intervention_type"), technician_id=technician["technician_id"])
        ]
        bom = reader.rows("raw.bom", ("intervention_type",), article_id=article_id)
        quantities = planned_demand(pl.DataFrame(plan_rows), technicians, pl.DataFrame(bom), day).quantities if plan_rows and bom else None
        planned = (
            quantities.filter((pl.col("site_id") == site_id) & (pl.col("article_id") == article_id) & (pl.col("d") <= planned_days))
            if quantities is not None else pl.DataFrame(schema={"d": pl.Int64, "quantity": pl.Float64})
        )
        source = "raw.planned_interventions x raw.technicians x raw.bom (solvers.planned_demand)"
        facts += [Fact(f"planned for {day + timedelta(days=d)}", quantity, source) for d, quantity in planned.select("d", "quantity").iter_rows()]
        notes.append("the days from the plan without a line above plan none of this article; after them, the rate")
    else:
        notes.append("the site has no counted plan rows: the rate every day of the horizon")
    return Section("Demand", tuple(facts), tuple(notes))


def _receipts(reader: _PartitionReader, day: date, site_id: str, article_id: str) -> Section:
    """The pair's open orders, each on the day it counts (max(expected_date - D, 1))."""
    facts = []
    for order in reader.rows("raw.purchase_orders", ("expected_date", "order_id"), site_id=site_id, article_id=article_id):
        counts_on = day + timedelta(days=max((order["expected_date"] - day).days, 1))
        facts += [
            Fact(f"order {order['order_id']} expected_date", order["expected_date"], "raw.purchase_orders.expected_date"),
            Fact(f"order {order['order_id']} received on", counts_on, "expected_date, or the day after D if earlier"),
            Fact(f"order {order['order_id']} quantity_open", order["quantity_open"], "raw.purchase_orders.quantity_open"),
        ]
    notes = ("an order received after the horizon's last day does not count",) if facts else ("no open order",)
    return Section("Receipts (open orders)", tuple(facts), notes)


def _urgency(reader: _PartitionReader, pair: dict) -> Section:
    classification = reader.row("urgence.urgency_classification", **pair)
    facts = (
        _stored(reader.row("urgence.urgency_temporal", **pair), "urgence.urgency_temporal", ("u_temporal",), {"u_temporal": "U_t"})
        + _stored(reader.row("urgence.urgency_quantitative", **pair), "urgence.urgency_quantitative", ("u_quantitative",), {"u_quantitative": "U_q"})
        + _stored(reader.row("urgence.urgency_total", **pair), "urgence.urgency_total", ("u_total",), {"u_total": "U"})
        + _stored(classification, "urgence.urgency_classification", ("reason", "level", "class"), {"reason": "level rule"})
    )
    rule, _, escalation = (classification.get("reason") or "").partition("+")
    notes = [REASON_MEANINGS[rule]] if rule in REASON_MEANINGS else []
    if escalation:
        notes.append(ESCALATION_MEANING)
    return Section("Urgency", tuple(facts), tuple(notes))


def _abc(reader: _PartitionReader, article_id: str) -> Section:
    """The article's ABC class, its rank by consumption value and its shares, from the day's
    urgence.abc_classification in rank order (value desc, article_id), as solvers.abc ranks."""
    ranked = pl.DataFrame(
        reader.rows("urgence.abc_classification"), schema_overrides={"consumption_value": pl.Float64}
    )
    if ranked.is_empty() or article_id not in ranked["article_id"]:
        return Section("ABC", (), ("the article has no ABC row on this day",))
    value = pl.col("consumption_value")
    ranked = (
        ranked.sort(["consumption_value", "article_id"], descending=[True, False])
        .with_row_index("rank", offset=1)
        .with_columns(running=value.cum_sum())
        .with_columns(
            share=value / pl.col("running").last(),
            share_before=pl.col("running").shift(1, fill_value=0.0) / pl.col("running").last(),
        )
    )
    row = ranked.filter(pl.col("article_id") == article_id).row(0, named=True)
    table = "urgence.abc_classification"
    facts = _stored(row, table, ("consumption_value", "abc")) + [
        Fact("rank by value", int(row["rank"]), f"position in {table}, value desc then article_id"),
        Fact("articles ranked", ranked.height, f"rows of {table}"),
        Fact("value share", row["share"], "consumption_value / total consumption_value"),
        Fact("share ranked above", row["share_before"], "running total before it / total (the class cut-offs)"),
    ]
    return Section("ABC", tuple(facts))


def _knapsack(reader: _PartitionReader, allocation: dict) -> Section:
    """The pair's lots, their source, what held it back, and the capacities it met."""
    if not allocation:
        return Section("Knapsack", (), ("the pair is not in this day's allocation (knapsack.categories)",))
    table = "knapsack.allocation"
    facts = _stored(allocation, table, (
        "need_min", "need_max", "n_min", "u", "v_hi", "v_lo", "lots_hi", "lots_lo", "lots", "quantity", "volume",
        "value", "strategy", "status", "source_site_id", "bound_by",
    ), {"source_site_id": "source depot", "bound_by": "bound by"})
    site_id, category = allocation["site_id"], allocation.get("category")
    summary = reader.row("knapsack.site_summary", site_id=site_id)
    facts += _stored(summary, "knapsack.site_summary", ("capacity_total", "volume_used"),
                     {"capacity_total": "site capacity_total", "volume_used": "site volume_used"})
    use = reader.row("knapsack.category_use", site_id=site_id, category=category) if category else {}
    facts += _stored(use, "knapsack.category_use", ("capacity", "used"),
                     {"capacity": f"{category} capacity", "used": f"{category} used"})
    depot = allocation.get("source_site_id")
    if depot:
        supply = reader.row("knapsack.depot_supply", site_id=depot, article_id=allocation["article_id"])
        facts += _stored(supply, "knapsack.depot_supply", ("supply", "shipped", "remaining"),
                         {column: f"depot {column}" for column in ("supply", "shipped", "remaining")})
    notes = ["source: the depot ships it" if depot else "source: outside supply (a purchase proposal)"]
    if use and use.get("capacity") is None:
        notes.append(f"{category} has no limit of its own at this site: only the total applies")
    if "bound_by" in allocation:
        notes.append(f"bound by: {BOUND_BY_MEANINGS.get(allocation['bound_by'], allocation['bound_by'])}")
    return Section("Knapsack", tuple(facts), tuple(notes))
