"""Bad rows: each kind is injected at about the requested share and reported exactly."""

from __future__ import annotations

import polars as pl
import pytest

from data_generation.bad_rows import QUANTITY_COLUMN, TABLE_KINDS
from data_generation.extract_files import EXTRACT_TABLES

SHARE = 0.1
KEYS = {
    "stock_levels": ("site_id", "article_id"),
    "purchase_orders": ("order_id",),
    "planned_interventions": ("date", "technician_id", "intervention_type"),
}


@pytest.fixture(scope="module")
def broken_run(generated):
    return generated("small", days=5, seed=21, bad_rows=SHARE)


@pytest.fixture(scope="module")
def clean_run(generated):
    return generated("small", days=5, seed=21)


def _observed_kinds(run, table: str) -> dict[str, int]:
    """Count each kind of bad row by re-checking the written files against the reference."""
    frame = run.all_days(table)
    quantity = frame[QUANTITY_COLUMN[table]]
    number = quantity.cast(pl.Int64, strict=False)
    observed = {"unparsable_number": number.is_null().sum(), "negative_quantity": (number < 0).sum()}
    for kind, column, reference in (("unknown_article", "article_id", "articles"),
                                    ("unknown_site", "site_id", "sites"),
                                    ("unknown_technician", "technician_id", "technicians")):
        if kind in TABLE_KINDS[table]:
            known = run.reference(reference)[column].implode()
            observed[kind] = (~frame[column].is_in(known)).sum()
    if table in KEYS:
        observed["duplicate_key"] = frame.select("extract_day", *KEYS[table]).is_duplicated().sum() // 2
    return observed


@pytest.mark.parametrize("table", EXTRACT_TABLES)
def test_reported_bad_rows_match_what_the_files_contain(broken_run, table):
    assert _observed_kinds(broken_run, table) == broken_run.summary.bad_rows[table]


@pytest.mark.parametrize("table", EXTRACT_TABLES)
def test_bad_rows_appear_at_about_the_requested_share(broken_run, table):
    share = broken_run.summary.bad_rows_total(table) / broken_run.summary.rows[table]
    assert abs(share - SHARE) < 0.03, share


@pytest.mark.parametrize("table", EXTRACT_TABLES)
def test_every_kind_the_table_can_have_is_injected(broken_run, table):
    assert all(count > 0 for count in broken_run.summary.bad_rows[table].values())


def test_duplicates_add_rows_while_other_kinds_replace_them(broken_run, clean_run):
    for table in EXTRACT_TABLES:
        added = broken_run.summary.bad_rows[table].get("duplicate_key", 0)
        assert broken_run.summary.rows[table] == clean_run.summary.rows[table] + added, table


def test_a_clean_run_reports_no_bad_rows(clean_run):
    assert all(clean_run.summary.bad_rows_total(table) == 0 for table in EXTRACT_TABLES)


def test_unknown_ids_are_never_reused(broken_run):
    articles = broken_run.all_days("stock_levels")["article_id"]
    unknown = articles.filter(articles.str.starts_with("ART_UNKNOWN_"))
    assert unknown.is_unique().all() and len(unknown) > 0


def test_parquet_quantity_columns_are_text_when_bad_rows_are_requested(generated):
    run = generated("tiny", days=2, seed=21, bad_rows=SHARE, fmt="parquet")
    path = run.root / "extracts" / run.days[0].isoformat() / "stock_levels.parquet"
    assert pl.read_parquet_schema(path)["quantity_on_hand"] == pl.String
