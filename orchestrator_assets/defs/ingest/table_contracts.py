"""The input tables of SPEC §2 as data: columns, types, ranges, keys and references.

Everything the ingestion knows about a table is here, so a reader holding the SPEC can check
it line by line; rejection_rules.py turns these contracts into Polars expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["str", "int", "float", "date", "bool"]
Kind = Literal["reference", "extract"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    # Inclusive/exclusive numeric bounds, as in the SPEC (">=0", ">0", ">=1").
    min_inclusive: float | None = None
    min_exclusive: float | None = None
    domain: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Reference:
    """column must be one of the accepted ids of another input table (same partition)."""

    column: str
    table: str
    rule: str  # unknown_article / unknown_site / unknown_technician


@dataclass(frozen=True)
class TableContract:
    stem: str
    kind: Kind
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    # Date rules relative to the partition date D: "equals" (movements.date = D) or "after" (plan date > D).
    date_rule: tuple[str, Literal["equals", "after"]] | None = None
    # Cross-column rule stock_max >= stock_min (articles).
    not_below: tuple[str, str] | None = None
    depends_on: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


IMPORTANCE = ("CRITIQUE", "IMPORTANT", "STANDARD")
SITE_TYPES = ("DEPOT", "VAN")
MOVEMENT_TYPES = ("CONSUMPTION", "RECEIPT", "TRANSFER", "ADJUSTMENT")

ARTICLES = TableContract(
    stem="articles",
    kind="reference",
    columns=(
        Column("article_id", "str"),
        Column("designation", "str", nullable=True),
        Column("category", "str"),
        Column("importance", "str", domain=IMPORTANCE),
        Column("unit_cost", "float", min_inclusive=0),
        Column("unit_volume", "float", min_exclusive=0),
        Column("stock_min", "int", min_inclusive=0),
        Column("stock_max", "int", min_inclusive=0),
        Column("lead_time_days", "int", min_inclusive=0),
        Column("lot_size", "int", min_inclusive=1),
        Column("active", "bool"),
    ),
    key=("article_id",),
    not_below=("stock_max", "stock_min"),
)

SITES = TableContract(
    stem="sites",
    kind="reference",
    columns=(
        Column("site_id", "str"),
        Column("site_type", "str", domain=SITE_TYPES),
        Column("capacity_total", "float", nullable=True, min_exclusive=0),
    ),
    key=("site_id",),
)

SITE_CAPACITIES = TableContract(
    stem="site_capacities",
    kind="reference",
    columns=(
        Column("site_id", "str"),
        Column("category", "str"),
        Column("capacity", "float", min_inclusive=0),
    ),
    key=("site_id", "category"),
    references=(Reference("site_id", "sites", "unknown_site"),),
    depends_on=("sites",),
)

TECHNICIANS = TableContract(
    stem="technicians",
    kind="reference",
    columns=(
        Column("technician_id", "str"),
        Column("site_id", "str"),
        Column("efficiency_factor", "float", min_exclusive=0),
        Column("active", "bool"),
    ),
    key=("technician_id",),
    references=(Reference("site_id", "sites", "unknown_site"),),
    depends_on=("sites",),
)

BOM = TableContract(
    stem="bom",
    kind="reference",
    columns=(
        Column("intervention_type", "str"),
        Column("article_id", "str"),
        Column("quantity", "float", min_exclusive=0),
    ),
    key=("intervention_type", "article_id"),
    references=(Reference("article_id", "articles", "unknown_article"),),
    depends_on=("articles",),
)

STOCK_LEVELS = TableContract(
    stem="stock_levels",
    kind="extract",
    columns=(
        Column("site_id", "str"),
        Column("article_id", "str"),
        Column("quantity_on_hand", "int", min_inclusive=0),
    ),
    key=("site_id", "article_id"),
    references=(
        Reference("site_id", "sites", "unknown_site"),
        Reference("article_id", "articles", "unknown_article"),
    ),
    depends_on=("sites", "articles"),
)

MOVEMENTS = TableContract(
    stem="movements",
    kind="extract",
    columns=(
        Column("date", "date"),
        Column("site_id", "str"),
        Column("article_id", "str"),
        Column("technician_id", "str", nullable=True),
        Column("movement_type", "str", domain=MOVEMENT_TYPES),
        Column("quantity", "float", min_exclusive=0),
    ),
    references=(
        Reference("site_id", "sites", "unknown_site"),
        Reference("article_id", "articles", "unknown_article"),
        Reference("technician_id", "technicians", "unknown_technician"),
    ),
    date_rule=("date", "equals"),
    depends_on=("sites", "articles", "technicians"),
)

PURCHASE_ORDERS = TableContract(
    stem="purchase_orders",
    kind="extract",
    columns=(
        Column("order_id", "str"),
        Column("site_id", "str"),
        Column("article_id", "str"),
        Column("expected_date", "date"),
        Column("quantity_open", "float", min_exclusive=0),
    ),
    key=("order_id",),
    references=(
        Reference("site_id", "sites", "unknown_site"),
        Reference("article_id", "articles", "unknown_article"),
    ),
    depends_on=("sites", "articles"),
)

PLANNED_INTERVENTIONS = TableContract(
    stem="planned_interventions",
    kind="extract",
    columns=(
        Column("date", "date"),
        Column("technician_id", "str"),
        Column("intervention_type", "str"),
        Column("count", "int", min_inclusive=0),
    ),
    key=("date", "technician_id", "intervention_type"),
    references=(Reference("technician_id", "technicians", "unknown_technician"),),
    date_rule=("date", "after"),
    depends_on=("technicians",),
)

REFERENCE_TABLES = (ARTICLES, SITES, SITE_CAPACITIES, TECHNICIANS, BOM)
EXTRACT_TABLES = (STOCK_LEVELS, MOVEMENTS, PURCHASE_ORDERS, PLANNED_INTERVENTIONS)
ALL_TABLES = REFERENCE_TABLES + EXTRACT_TABLES
CONTRACTS = {contract.stem: contract for contract in ALL_TABLES}

# The id column each reference table offers to the others.
ID_COLUMNS = {"articles": "article_id", "sites": "site_id", "technicians": "technician_id"}
