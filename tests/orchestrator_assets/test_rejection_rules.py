"""Every rejection rule of SPEC §2, one test each, on tables built in the test."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from orchestrator_assets.defs.ingest.rejection_rules import validate_table
from orchestrator_assets.defs.ingest.table_contracts import (
    ALL_TABLES,
    ARTICLES,
    MOVEMENTS,
    PLANNED_INTERVENTIONS,
    PURCHASE_ORDERS,
    SITES,
    STOCK_LEVELS,
    TECHNICIANS,
)

D = date(2026, 3, 2)
KNOWN = {
    "sites": pl.Series(["S1", "S2"]),
    "articles": pl.Series(["A1", "A2"]),
    "technicians": pl.Series(["T1"]),
}


def stock(rows: list[tuple[str | None, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["site_id", "article_id", "quantity_on_hand"], orient="row")


def movement(**changes: str | None) -> dict[str, str | None]:
    row = {"date": D.isoformat(), "site_id": "S1", "article_id": "A1", "technician_id": "T1", "movement_type": "CONSUMPTION", "quantity": "2"}
    row.update(changes)
    return row


def rules_of(result) -> list[str]:
    return result.rejected.sort("row")["rule"].to_list()


def test_valid_rows_are_accepted_and_typed():
    result = validate_table(stock([("S1", "A1", "3"), ("S2", "A2", "0")]), STOCK_LEVELS, D, KNOWN)
    assert result.rejected.is_empty()
    assert result.accepted.schema["quantity_on_hand"] == pl.Int64
    assert result.accepted["quantity_on_hand"].to_list() == [3, 0]


def test_unparsable_number_is_rejected_as_bad_type():
    result = validate_table(stock([("S1", "A1", "abc"), ("S1", "A2", "1.5")]), STOCK_LEVELS, D, KNOWN)
    assert rules_of(result) == ["bad_type", "bad_type"]
    assert "quantity_on_hand='abc'" in result.rejected["detail"][0]


def test_whole_float_is_accepted_as_integer():
    result = validate_table(stock([("S1", "A1", "4.0")]), STOCK_LEVELS, D, KNOWN)
    assert result.accepted["quantity_on_hand"].to_list() == [4]


def test_negative_quantity_is_rejected_as_out_of_range():
    result = validate_table(stock([("S1", "A1", "-1")]), STOCK_LEVELS, D, KNOWN)
    assert rules_of(result) == ["out_of_range"]


def test_empty_required_value_is_rejected_as_missing():
    result = validate_table(stock([("S1", None, "1")]), STOCK_LEVELS, D, KNOWN)
    assert rules_of(result) == ["missing_value"]


def test_unknown_article_and_site_are_rejected():
    result = validate_table(stock([("S1", "A9", "1"), ("S9", "A1", "1")]), STOCK_LEVELS, D, KNOWN)
    assert rules_of(result) == ["unknown_article", "unknown_site"]


def test_every_row_of_a_duplicated_key_is_rejected():
    result = validate_table(stock([("S1", "A1", "1"), ("S1", "A1", "2"), ("S1", "A2", "1")]), STOCK_LEVELS, D, KNOWN)
    assert rules_of(result) == ["duplicate_key", "duplicate_key"]
    assert result.accepted.height == 1


def test_unknown_technician_is_rejected_but_an_empty_one_is_allowed():
    frame = pl.DataFrame([movement(technician_id="T9"), movement(technician_id=None)])
    result = validate_table(frame, MOVEMENTS, D, KNOWN)
    assert rules_of(result) == ["unknown_technician"]
    assert result.accepted.height == 1


def test_movement_of_another_day_is_rejected_as_wrong_date():
    frame = pl.DataFrame([movement(date="2026-03-01")])
    assert rules_of(validate_table(frame, MOVEMENTS, D, KNOWN)) == ["wrong_date"]


def test_movement_type_outside_the_list_is_rejected():
    frame = pl.DataFrame([movement(movement_type="THEFT")])
    assert rules_of(validate_table(frame, MOVEMENTS, D, KNOWN)) == ["not_in_domain"]


def test_zero_movement_quantity_is_out_of_range():
    frame = pl.DataFrame([movement(quantity="0")])
    assert rules_of(validate_table(frame, MOVEMENTS, D, KNOWN)) == ["out_of_range"]


def test_bad_date_is_a_bad_type():
    frame = pl.DataFrame([movement(date="02/03/2026")])
    assert rules_of(validate_table(frame, MOVEMENTS, D, KNOWN)) == ["bad_type"]


def test_plan_for_the_partition_day_itself_is_rejected():
    frame = pl.DataFrame(
        {"date": [D.isoformat(), "2026-03-03"], "technician_id": ["T1", "T1"], "intervention_type": ["R", "R"], "count": ["1", "0"]}
    )
    result = validate_table(frame, PLANNED_INTERVENTIONS, D, KNOWN)
    assert rules_of(result) == ["wrong_date"]
    assert result.accepted["count"].to_list() == [0]


def test_overdue_purchase_order_is_valid_and_duplicate_order_id_is_not():
    frame = pl.DataFrame(
        {
            "order_id": ["P1", "P2", "P2"],
            "site_id": ["S1", "S1", "S2"],
            "article_id": ["A1", "A1", "A2"],
            "expected_date": ["2026-02-01", "2026-03-05", "2026-03-06"],
            "quantity_open": ["5", "1", "2"],
        }
    )
    result = validate_table(frame, PURCHASE_ORDERS, D, KNOWN)
    assert result.accepted["order_id"].to_list() == ["P1"]
    assert rules_of(result) == ["duplicate_key", "duplicate_key"]


def article(**changes: str | None) -> dict[str, str | None]:
    row = {
        "article_id": "A1", "designation": "x", "category": "FIBRE", "importance": "CRITIQUE", "unit_cost": "1.5",
        "unit_volume": "0.2", "stock_min": "2", "stock_max": "5", "lead_time_days": "3", "lot_size": "1", "active": "true",
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"importance": "VITAL"}, "not_in_domain"),
        ({"unit_cost": "-0.01"}, "out_of_range"),
        ({"unit_volume": "0"}, "out_of_range"),
        ({"stock_min": "-1"}, "out_of_range"),
        ({"stock_max": "1"}, "out_of_range"),
        ({"lead_time_days": "-2"}, "out_of_range"),
        ({"lot_size": "0"}, "out_of_range"),
        ({"active": "peut-etre"}, "bad_type"),
        ({"category": None}, "missing_value"),
    ],
)
def test_article_rules(changes, rule):
    frame = pl.DataFrame([article(), article(article_id="A2", **changes)])
    result = validate_table(frame, ARTICLES, D)
    assert rules_of(result) == [rule]
    assert result.accepted["article_id"].to_list() == ["A1"]


def test_empty_capacity_means_default_and_zero_capacity_is_rejected():
    frame = pl.DataFrame({"site_id": ["S1", "S2"], "site_type": ["VAN", "DEPOT"], "capacity_total": [None, "0"]})
    result = validate_table(frame, SITES, D)
    assert result.accepted["site_id"].to_list() == ["S1"]
    assert result.accepted["capacity_total"].to_list() == [None]
    assert rules_of(result) == ["out_of_range"]


def test_technician_efficiency_must_be_positive():
    frame = pl.DataFrame({"technician_id": ["T1"], "site_id": ["S1"], "efficiency_factor": ["0"], "active": ["false"]})
    assert rules_of(validate_table(frame, TECHNICIANS, D, KNOWN)) == ["out_of_range"]


def test_first_rule_wins_and_detail_lists_every_failure():
    frame = pl.DataFrame([movement(quantity="-3", movement_type="X", article_id="A9")])
    result = validate_table(frame, MOVEMENTS, D, KNOWN)
    assert rules_of(result) == ["out_of_range"]
    detail = result.rejected["detail"][0]
    assert "quantity='-3'" in detail and "movement_type='X'" in detail and "article_id='A9'" in detail


def test_missing_column_is_refused_with_its_name():
    with pytest.raises(ValueError, match="quantity_on_hand"):
        validate_table(pl.DataFrame({"site_id": ["S1"], "article_id": ["A1"]}), STOCK_LEVELS, D, KNOWN)


def test_rejected_row_keeps_row_number_and_raw_values():
    result = validate_table(stock([("S1", "A1", "1"), ("S1", "A2", "x")]), STOCK_LEVELS, D, KNOWN)
    row = result.rejected.row(0, named=True)
    assert row["row"] == 2
    assert '"quantity_on_hand":"x"' in row["raw"]


def test_several_bad_rows_of_a_multi_chunk_table_are_all_reported():
    """A CSV read in parallel comes in chunks; the rejected rows then sit in chunks of 0 to n
    rows, on which Polars' str.format panicked (2 bad rows of a 2,000-row articles.csv made
    the whole run fail). Every kind of rule, bad rows in several chunks."""

    def article(i: int, **changes: str | None) -> dict[str, str | None]:
        row = {
            "article_id": f"A{i:04d}", "designation": "x", "category": "FIBRE", "importance": "STANDARD",
            "unit_cost": "1.5", "unit_volume": "0.1", "stock_min": "1", "stock_max": "3",
            "lead_time_days": "2", "lot_size": "1", "active": "true",
        }
        row.update(changes)
        return row

    bad = {
        3: {"lot_size": "0"}, 40: {"lot_size": "0"},                       # out_of_range, twice
        7: {"importance": "VITAL"}, 55: {"importance": "VITAL"},           # not_in_domain
        12: {"unit_cost": "abc"}, 61: {"unit_cost": "abc"},                # bad_type
        20: {"stock_max": "0"}, 70: {"stock_max": "0"},                    # stock_max < stock_min
        25: {"category": None}, 75: {"article_id": "A0076"},               # missing, duplicate
    }
    rows = [article(i, **bad.get(i, {})) for i in range(100)]
    chunks = [pl.DataFrame(rows[a:b]) for a, b in ((0, 30), (30, 31), (31, 60), (60, 100))]
    frame = pl.concat(chunks, rechunk=False)
    assert frame.n_chunks() > 1
    result = validate_table(frame, ARTICLES, D)
    rejected = result.rejected.sort("row")
    assert rejected["row"].to_list() == sorted([i + 1 for i in bad if i != 25] + [26, 77])
    assert set(rejected["rule"]) == {"out_of_range", "not_in_domain", "bad_type", "missing_value", "duplicate_key"}
    assert rejected.filter(pl.col("row") == 4)["detail"].item() == "lot_size='0' must be >= 1"
    assert result.accepted.height == 100 - rejected.height


# --------------------------------------------------------------------------- issue 13: ranges, identifiers

VALID_ROWS = {
    "articles": article(),
    "sites": {"site_id": "S1", "site_type": "VAN", "capacity_total": "100", "parent_site_id": None},
    "site_capacities": {"site_id": "S1", "category": "FIBRE", "capacity": "50"},
    "technicians": {"technician_id": "T1", "site_id": "S1", "efficiency_factor": "1.2", "active": "true"},
    "bom": {"intervention_type": "RACCO", "article_id": "A1", "quantity": "2"},
    "stock_levels": {"site_id": "S1", "article_id": "A1", "quantity_on_hand": "3"},
    "movements": movement(),
    "purchase_orders": {"order_id": "PO1", "site_id": "S1", "article_id": "A1", "expected_date": "2026-03-05", "quantity_open": "5"},
    "planned_interventions": {"date": "2026-03-03", "technician_id": "T1", "intervention_type": "RACCO", "count": "2"},
}
NUMERIC_COLUMNS = [
    (contract, column) for contract in ALL_TABLES for column in contract.columns if column.type in ("int", "float")
]
IDENTIFIER_COLUMNS = [(contract, column) for contract in ALL_TABLES for column in contract.columns if column.identifier]


def one_row(contract, **changes):
    row = dict(VALID_ROWS[contract.stem])
    row.update(changes)
    return pl.DataFrame([row], schema={name: pl.String for name in row})


def test_valid_rows_of_every_table_are_accepted():
    for contract in ALL_TABLES:
        result = validate_table(one_row(contract), contract, D, KNOWN)
        assert result.rejected.is_empty(), (contract.stem, result.rejected["detail"].to_list())


def test_every_numeric_column_has_a_documented_upper_bound():
    documented = (Path(__file__).resolve().parents[2] / "docs" / "table-contracts.md").read_text()
    for contract, column in NUMERIC_COLUMNS:
        assert column.max_inclusive is not None, f"{contract.stem}.{column.name}"
        assert f"| {contract.stem} | {column.name} |" in documented, f"{contract.stem}.{column.name} not in the range table"


@pytest.mark.parametrize(("contract", "column"), NUMERIC_COLUMNS, ids=lambda x: getattr(x, "name", getattr(x, "stem", "")))
@pytest.mark.parametrize("value", ["above", "nan", "NaN", "inf", "-inf", "1e300", "1e400"])
def test_numbers_beyond_their_plausible_range_are_out_of_range(contract, column, value):
    """1e300 went through as a float and the modules wrote -2.37e299 (issue 13 point 4)."""
    text = str(int(column.max_inclusive) + 1) if value == "above" else value
    changes = {column.name: text}
    if column.name == "stock_min" and value in ("above", "1e300"):
        changes["stock_max"] = text  # so that only the bound is broken, not stock_max >= stock_min
    result = validate_table(one_row(contract, **changes), contract, D, KNOWN)
    assert rules_of(result) == ["out_of_range"], result.rejected["detail"].to_list()
    assert result.accepted.is_empty()


@pytest.mark.parametrize(("contract", "column"), NUMERIC_COLUMNS, ids=lambda x: getattr(x, "name", getattr(x, "stem", "")))
def test_a_number_at_its_upper_bound_is_accepted(contract, column):
    bound = str(int(column.max_inclusive))
    changes = {column.name: bound} | ({"stock_max": bound} if column.name == "stock_min" else {})
    result = validate_table(one_row(contract, **changes), contract, D, KNOWN)
    assert result.rejected.is_empty(), result.rejected["detail"].to_list()


def test_an_out_of_range_detail_names_the_bound():
    result = validate_table(stock([("S1", "A1", "1e300")]), STOCK_LEVELS, D, KNOWN)
    assert result.rejected["detail"].item() == "quantity_on_hand='1e300' must be <= 1000000000"
    result = validate_table(stock([("S1", "A1", "nan")]), STOCK_LEVELS, D, KNOWN)
    assert result.rejected["detail"].item() == "quantity_on_hand='nan' must be a finite number"


def test_text_that_is_no_number_stays_a_bad_type():
    assert rules_of(validate_table(stock([("S1", "A1", "1e3x")]), STOCK_LEVELS, D, KNOWN)) == ["bad_type"]


def test_every_id_and_category_column_is_an_identifier():
    names = {(contract.stem, column.name) for contract, column in IDENTIFIER_COLUMNS}
    expected = {
        ("articles", "article_id"), ("articles", "category"), ("sites", "site_id"), ("sites", "parent_site_id"),
        ("site_capacities", "site_id"), ("site_capacities", "category"), ("technicians", "technician_id"),
        ("technicians", "site_id"), ("bom", "intervention_type"), ("bom", "article_id"),
        ("stock_levels", "site_id"), ("stock_levels", "article_id"), ("movements", "site_id"),
        ("movements", "article_id"), ("movements", "technician_id"), ("purchase_orders", "order_id"),
        ("purchase_orders", "site_id"), ("purchase_orders", "article_id"),
        ("planned_interventions", "technician_id"), ("planned_interventions", "intervention_type"),
    }
    assert names == expected


@pytest.mark.parametrize(("contract", "column"), IDENTIFIER_COLUMNS, ids=lambda x: getattr(x, "name", getattr(x, "stem", "")))
@pytest.mark.parametrize("value", ['A"1', "A 1", "A;1", "A1\n", "Â1", "x" * 65])
def test_identifiers_outside_the_pattern_or_too_long_are_rejected(contract, column, value):
    result = validate_table(one_row(contract, **{column.name: value}), contract, D, KNOWN)
    assert rules_of(result) == ["bad_identifier"], result.rejected["detail"].to_list()


def test_an_identifier_of_sixty_four_allowed_characters_is_accepted():
    ids = {"sites": pl.Series(["S1"]), "articles": pl.Series(["A-1._" + "z" * 59])}
    result = validate_table(stock([("S1", "A-1._" + "z" * 59, "1")]), STOCK_LEVELS, D, ids)
    assert result.rejected.is_empty()


def test_a_bad_identifier_detail_is_one_line():
    result = validate_table(stock([("S1", "A1\nDROP", "1")]), STOCK_LEVELS, D, KNOWN)
    assert "\n" not in result.rejected["detail"].item()
    assert "article_id='A1?DROP'" in result.rejected["detail"].item()


# --------------------------------------------------------------------------- issue 15: sites.parent_site_id


def sites(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(site, kind, None, parent) for site, kind, parent in rows],
        schema=["site_id", "site_type", "capacity_total", "parent_site_id"],
        orient="row",
    )


def test_a_van_may_name_its_depot_or_no_parent():
    result = validate_table(sites([("D1", "DEPOT", None), ("V1", "VAN", "D1"), ("V2", "VAN", None), ("V3", "VAN", "")]), SITES, D)
    assert result.rejected.is_empty()
    assert result.accepted["parent_site_id"].to_list() == [None, "D1", None, None]


@pytest.mark.parametrize(
    ("rows", "detail"),
    [
        ([("D1", "DEPOT", None), ("V1", "VAN", "D9")], "parent_site_id='D9' is not an accepted DEPOT site"),
        ([("D1", "DEPOT", None), ("V0", "VAN", None), ("V1", "VAN", "V0")], "parent_site_id='V0' is not an accepted DEPOT site"),
        ([("D1", "DEPOT", None), ("V1", "VAN", "V1")], "parent_site_id='V1' is not an accepted DEPOT site"),
        ([("D1", "DEPOT", None), ("D2", "DEPOT", "D1")], "parent_site_id='D1' given on a DEPOT (a DEPOT has no parent)"),
    ],
    ids=["unknown", "a van", "itself", "on a depot"],
)
def test_a_parent_that_is_not_a_depot_or_a_parent_on_a_depot_is_a_bad_parent(rows, detail):
    result = validate_table(sites(rows), SITES, D)
    assert rules_of(result) == ["bad_parent"]
    assert result.rejected["detail"].item() == detail
    assert result.accepted.height == len(rows) - 1


def test_a_van_whose_depot_is_rejected_is_rejected_too():
    frame = sites([("D1", "DEPOT", None), ("V1", "VAN", "D1")]).with_columns(capacity_total=pl.Series(["-5", None]))
    assert rules_of(validate_table(frame, SITES, D)) == ["out_of_range", "bad_parent"]


def test_a_sites_file_without_the_parent_column_means_every_site_is_supplied_from_outside():
    frame = pl.DataFrame({"site_id": ["D1", "V1"], "site_type": ["DEPOT", "VAN"], "capacity_total": [None, "80"]})
    result = validate_table(frame, SITES, D)
    assert result.rejected.is_empty()
    assert result.accepted.columns == SITES.column_names
    assert result.accepted["parent_site_id"].to_list() == [None, None]
