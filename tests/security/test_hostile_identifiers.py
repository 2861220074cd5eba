"""Hostile id and category values (tests/security/identifiers.txt) are refused at ingestion
with rule bad_identifier, and a crafted category cannot reach SQL (issue 13 point 2: a
category in articles.csv dropped raw.movements)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from data_generation.field_service import generate
from orchestrator_assets.defs.ingest.rejection_rules import validate_table
from orchestrator_assets.defs.ingest.source_files import read_as_text
from orchestrator_assets.defs.ingest.table_contracts import ALL_TABLES, ARTICLES
from tests.orchestrator_assets.pipeline_runs import query, run_partition

D = date(2026, 3, 2)
CRAFTED_CATEGORY = 'FIBRE"; DROP TABLE raw.movements; --'


def hostile_identifiers() -> list[str]:
    lines = (Path(__file__).parent / "identifiers.txt").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("#")]


HOSTILE = hostile_identifiers()
VALID_ROWS = {
    "articles": {
        "article_id": "A1", "designation": "x", "category": "FIBRE", "importance": "CRITIQUE", "unit_cost": "1.5",
        "unit_volume": "0.2", "stock_min": "2", "stock_max": "5", "lead_time_days": "3", "lot_size": "1", "active": "true",
    },
    "sites": {"site_id": "S1", "site_type": "VAN", "capacity_total": "100", "parent_site_id": None},
    "site_capacities": {"site_id": "S1", "category": "FIBRE", "capacity": "50"},
    "technicians": {"technician_id": "T1", "site_id": "S1", "efficiency_factor": "1.2", "active": "true"},
    "bom": {"intervention_type": "RACCO", "article_id": "A1", "quantity": "2"},
    "stock_levels": {"site_id": "S1", "article_id": "A1", "quantity_on_hand": "3"},
    "movements": {"date": D.isoformat(), "site_id": "S1", "article_id": "A1", "technician_id": "T1",
                  "movement_type": "CONSUMPTION", "quantity": "2"},
    "purchase_orders": {"order_id": "PO1", "site_id": "S1", "article_id": "A1", "expected_date": "2026-03-05",
                        "quantity_open": "5"},
    "planned_interventions": {"date": "2026-03-03", "technician_id": "T1", "intervention_type": "RACCO", "count": "2"},
}
KNOWN = {"sites": pl.Series(["S1"]), "articles": pl.Series(["A1"]), "technicians": pl.Series(["T1"])}


def test_the_sample_file_holds_the_values_the_issue_names():
    assert CRAFTED_CATEGORY in HOSTILE
    assert any("\n" in value for value in HOSTILE) and any(len(value) > 1000 for value in HOSTILE)
    assert any(not value.isascii() for value in HOSTILE) and any(";" in value for value in HOSTILE)


@pytest.mark.parametrize("contract", ALL_TABLES, ids=lambda contract: contract.stem)
def test_every_hostile_value_is_a_bad_identifier_in_every_id_column(contract):
    columns = [column.name for column in contract.columns if column.identifier]
    assert columns, contract.stem
    schema = {name: pl.String for name in VALID_ROWS[contract.stem]}
    assert validate_table(pl.DataFrame([VALID_ROWS[contract.stem]], schema=schema), contract, D, KNOWN).rejected.is_empty()
    for column in columns:
        for value in HOSTILE:
            frame = pl.DataFrame([{**VALID_ROWS[contract.stem], column: value}], schema=schema)
            result = validate_table(frame, contract, D, KNOWN)
            assert result.rejected["rule"].to_list() == ["bad_identifier"], (column, value)
            assert result.accepted.is_empty()
            detail = result.rejected["detail"].item()
            assert "\n" not in detail and "\r" not in detail and len(detail) < 400, (column, value)


def test_hostile_values_read_back_from_a_csv_file_are_bad_identifiers(tmp_path):
    """The same values through the real reader: quoted CSV fields with newlines, quotes, NUL."""
    valid = VALID_ROWS["articles"]
    rows = [valid] + [{**valid, "article_id": f"A{index}", "category": value} for index, value in enumerate(HOSTILE, 2)]
    path = tmp_path / "articles.csv"
    pl.DataFrame(rows, schema={name: pl.String for name in valid}).write_csv(path)
    result = validate_table(read_as_text(path), ARTICLES, D)
    assert result.rejected.height == len(HOSTILE)
    assert set(result.rejected["rule"]) == {"bad_identifier"}
    assert result.accepted["category"].to_list() == ["FIBRE"]
    # the raw column keeps each value exactly, JSON-escaped
    kept = sorted(json.loads(raw)["category"] for raw in result.rejected["raw"])
    assert kept == sorted(HOSTILE)


def quiet_article(data: Path, day: str) -> str:
    """An article in no bill of materials, no movement of any day and no open order of the
    day: rejecting it leaves every other table under the 5 % limit."""
    used = set(pl.read_csv(data / "reference" / "bom.csv", infer_schema=False)["article_id"])
    for path in (data / "extracts").glob("*/movements.csv"):
        used |= set(pl.read_csv(path, infer_schema=False)["article_id"])
    used |= set(pl.read_csv(data / "extracts" / day / "purchase_orders.csv", infer_schema=False)["article_id"])
    articles = pl.read_csv(data / "reference" / "articles.csv", infer_schema=False)["article_id"].to_list()
    return next(article for article in articles if article not in used)


def test_a_full_run_with_a_crafted_category_succeeds_and_leaves_raw_movements_intact(tmp_path):
    data = tmp_path / "data"
    generate("tiny", date(2026, 1, 1), 10, data, seed=3)
    day = "2026-01-08"
    article = quiet_article(data, day)
    path = data / "reference" / "articles.csv"
    articles = pl.read_csv(path, infer_schema=False)
    articles.with_columns(
        pl.when(pl.col("article_id") == article).then(pl.lit(CRAFTED_CATEGORY)).otherwise("category").alias("category")
    ).write_csv(path)
    movements_in_file = pl.read_csv(data / "extracts" / day / "movements.csv", infer_schema=False).height

    result = run_partition(data, day, dg.DagsterInstance.ephemeral())

    assert result.success
    assert query(data, "SELECT count(*) FROM raw.movements WHERE partition_date = ?", [date.fromisoformat(day)]) == [
        (movements_in_file,)
    ]
    assert query(
        data, "SELECT row, rule FROM validation.rejected_rows WHERE source = 'articles' AND partition_date = ?",
        [date.fromisoformat(day)],
    ) == [(articles["article_id"].to_list().index(article) + 1, "bad_identifier")]
    categories = {row[0] for row in query(data, "SELECT DISTINCT category FROM knapsack.allocation")}
    assert CRAFTED_CATEGORY not in categories and categories
    columns = [name for (name,) in query(data, "SELECT column_name FROM (DESCRIBE knapsack.site_summary)")]
    assert not any("DROP" in name or '"' in name for name in columns)
