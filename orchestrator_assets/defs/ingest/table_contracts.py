"""The input tables of SPEC §2 as data: columns, types, ranges, keys and references.

Everything the ingestion knows about a table is here, so a reader holding the SPEC can check
it line by line; rejection_rules.py turns these contracts into Polars expressions.

Every numeric column has an upper bound besides the SPEC's lower one: a float without bound
let 1e300 through and the modules then wrote -2.37e299 (issue 13). The bounds are far above
any real operator's figures and far below what overflows downstream; docs/table-contracts.md
lists them with their reasons. Every id and category value is an identifier (IDENTIFIER_*):
they end up in file names, metadata and SQL parameters, so none may carry quotes, separators
or control characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["str", "int", "float", "date", "bool"]
Kind = Literal["reference", "extract"]


#: An id or category value: 1 to 64 of these characters (rule bad_identifier).
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.\-]+$"
IDENTIFIER_MAX_LENGTH = 64

# Plausible upper bounds (inclusive) of the numeric columns; docs/table-contracts.md says why.
MAX_QUANTITY = 1e9  # pieces: on hand, moved, ordered, stock_min / stock_max, site capacities
MAX_UNIT_COST = 1e7  # currency units per piece
MAX_UNIT_VOLUME = 1e6  # capacity units per piece
MAX_LEAD_TIME_DAYS = 3650  # ten years
MAX_LOT_SIZE = 1e6  # pieces per lot
MAX_EFFICIENCY_FACTOR = 100.0
MAX_BOM_QUANTITY = 1e6  # pieces per intervention
MAX_PLANNED_COUNT = 1e6  # interventions of one type, one technician, one day


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    # Inclusive/exclusive numeric bounds, as in the SPEC (">=0", ">0", ">=1").
    min_inclusive: float | None = None
    min_exclusive: float | None = None
    # Plausible upper bound of every numeric column (out_of_range above it, NaN and inf included).
    max_inclusive: float | None = None
    domain: tuple[str, ...] | None = None
    # An id or category: IDENTIFIER_PATTERN, at most IDENTIFIER_MAX_LENGTH characters (bad_identifier).
    identifier: bool = False
    # The column may be absent from the file: it is then read as empty on every row.
    optional: bool = False


@dataclass(frozen=True)
class ParentRule:
    """column, when set, names an accepted row of the same table whose type_column is
    parent_type; a row of parent_type itself has no parent (rule bad_parent, SPEC §5.2)."""

    column: str
    type_column: str
    parent_type: str


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
    # sites.parent_site_id: a van's supplying depot (SPEC §5.2).
    parent: ParentRule | None = None
    # A file with a header and no row is legitimate (no movement, no open order that day);
    # otherwise it fails the run, naming the file (docs/table-contracts.md).
    may_be_empty: bool = False
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
        Column("article_id", "str", identifier=True),
        Column("designation", "str", nullable=True),
        Column("category", "str", identifier=True),
        Column("importance", "str", domain=IMPORTANCE),
        Column("unit_cost", "float", min_inclusive=0, max_inclusive=MAX_UNIT_COST),
        Column("unit_volume", "float", min_exclusive=0, max_inclusive=MAX_UNIT_VOLUME),
        Column("stock_min", "int", min_inclusive=0, max_inclusive=MAX_QUANTITY),
        Column("stock_max", "int", min_inclusive=0, max_inclusive=MAX_QUANTITY),
        Column("lead_time_days", "int", min_inclusive=0, max_inclusive=MAX_LEAD_TIME_DAYS),
        Column("lot_size", "int", min_inclusive=1, max_inclusive=MAX_LOT_SIZE),
        Column("active", "bool"),
    ),
    key=("article_id",),
    not_below=("stock_max", "stock_min"),
)

SITES = TableContract(
    stem="sites",
    kind="reference",
    columns=(
        Column("site_id", "str", identifier=True),
        Column("site_type", "str", domain=SITE_TYPES),
        Column("capacity_total", "float", nullable=True, min_exclusive=0, max_inclusive=MAX_QUANTITY),
        Column("parent_site_id", "str", nullable=True, identifier=True, optional=True),
    ),
    key=("site_id",),
    parent=ParentRule("parent_site_id", "site_type", "DEPOT"),
)

SITE_CAPACITIES = TableContract(
    stem="site_capacities",
    kind="reference",
    columns=(
        Column("site_id", "str", identifier=True),
        Column("category", "str", identifier=True),
        Column("capacity", "float", min_inclusive=0, max_inclusive=MAX_QUANTITY),
    ),
    key=("site_id", "category"),
    may_be_empty=True,
    references=(Reference("site_id", "sites", "unknown_site"),),
    depends_on=("sites",),
)

TECHNICIANS = TableContract(
    stem="technicians",
    kind="reference",
    columns=(
        Column("technician_id", "str", identifier=True),
        Column("site_id", "str", identifier=True),
        Column("efficiency_factor", "float", min_exclusive=0, max_inclusive=MAX_EFFICIENCY_FACTOR),
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
        Column("intervention_type", "str", identifier=True),
        Column("article_id", "str", identifier=True),
        Column("quantity", "float", min_exclusive=0, max_inclusive=MAX_BOM_QUANTITY),
    ),
    key=("intervention_type", "article_id"),
    references=(Reference("article_id", "articles", "unknown_article"),),
    depends_on=("articles",),
)

STOCK_LEVELS = TableContract(
    stem="stock_levels",
    kind="extract",
    columns=(
        Column("site_id", "str", identifier=True),
        Column("article_id", "str", identifier=True),
        Column("quantity_on_hand", "int", min_inclusive=0, max_inclusive=MAX_QUANTITY),
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
        Column("site_id", "str", identifier=True),
        Column("article_id", "str", identifier=True),
        Column("technician_id", "str", nullable=True, identifier=True),
        Column("movement_type", "str", domain=MOVEMENT_TYPES),
        Column("quantity", "float", min_exclusive=0, max_inclusive=MAX_QUANTITY),
    ),
    references=(
        Reference("site_id", "sites", "unknown_site"),
        Reference("article_id", "articles", "unknown_article"),
        Reference("technician_id", "technicians", "unknown_technician"),
    ),
    date_rule=("date", "equals"),
    may_be_empty=True,
    depends_on=("sites", "articles", "technicians"),
)

PURCHASE_ORDERS = TableContract(
    stem="purchase_orders",
    kind="extract",
    columns=(
        Column("order_id", "str", identifier=True),
        Column("site_id", "str", identifier=True),
        Column("article_id", "str", identifier=True),
        Column("expected_date", "date"),
        Column("quantity_open", "float", min_exclusive=0, max_inclusive=MAX_QUANTITY),
    ),
    key=("order_id",),
    may_be_empty=True,
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
        Column("technician_id", "str", identifier=True),
        Column("intervention_type", "str", identifier=True),
        Column("count", "int", min_inclusive=0, max_inclusive=MAX_PLANNED_COUNT),
    ),
    key=("date", "technician_id", "intervention_type"),
    references=(Reference("technician_id", "technicians", "unknown_technician"),),
    date_rule=("date", "after"),
    may_be_empty=True,
    depends_on=("technicians",),
)

REFERENCE_TABLES = (ARTICLES, SITES, SITE_CAPACITIES, TECHNICIANS, BOM)
EXTRACT_TABLES = (STOCK_LEVELS, MOVEMENTS, PURCHASE_ORDERS, PLANNED_INTERVENTIONS)
ALL_TABLES = REFERENCE_TABLES + EXTRACT_TABLES
CONTRACTS = {contract.stem: contract for contract in ALL_TABLES}

# The id column each reference table offers to the others.
ID_COLUMNS = {"articles": "article_id", "sites": "site_id", "technicians": "technician_id"}
