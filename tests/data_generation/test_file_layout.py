"""The generated folder has the layout, columns and text formats of SPEC section 2."""

from __future__ import annotations

from data_generation.extract_files import EXTRACT_TABLES, REFERENCE_TABLES, SUCCESS_MARKER

SPEC_COLUMNS = {
    "articles": ["article_id", "designation", "category", "importance", "unit_cost", "unit_volume",
                 "stock_min", "stock_max", "lead_time_days", "lot_size", "active"],
    "sites": ["site_id", "site_type", "capacity_total", "parent_site_id"],
    "site_capacities": ["site_id", "category", "capacity"],
    "technicians": ["technician_id", "site_id", "efficiency_factor", "active"],
    "bom": ["intervention_type", "article_id", "quantity"],
    "stock_levels": ["site_id", "article_id", "quantity_on_hand"],
    "movements": ["date", "site_id", "article_id", "technician_id", "movement_type", "quantity"],
    "purchase_orders": ["order_id", "site_id", "article_id", "expected_date", "quantity_open"],
    "planned_interventions": ["date", "technician_id", "intervention_type", "count"],
}


def test_every_day_folder_holds_the_four_extracts_and_a_success_marker(tiny_run):
    folders = sorted(p.name for p in (tiny_run.root / "extracts").iterdir())
    assert folders == [day.isoformat() for day in tiny_run.days]
    for folder in (tiny_run.root / "extracts").iterdir():
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{table}.csv" for table in EXTRACT_TABLES] + [SUCCESS_MARKER])
        assert (folder / SUCCESS_MARKER).stat().st_size == 0


def test_success_marker_is_written_after_the_extracts(tiny_run):
    for folder in (tiny_run.root / "extracts").iterdir():
        marker_time = (folder / SUCCESS_MARKER).stat().st_mtime_ns
        assert all((folder / f"{t}.csv").stat().st_mtime_ns <= marker_time for t in EXTRACT_TABLES)


def test_reference_tables_have_the_spec_columns_in_order(tiny_run):
    for table in REFERENCE_TABLES:
        assert tiny_run.reference(table).columns == SPEC_COLUMNS[table]


def test_extract_tables_have_the_spec_columns_in_order(tiny_run):
    for table in EXTRACT_TABLES:
        assert tiny_run.extract(table, tiny_run.days[0]).columns == SPEC_COLUMNS[table]


def test_parquet_extracts_have_the_same_columns_and_rows_as_csv(generated):
    csv = generated("tiny", days=3, seed=5)
    parquet = generated("tiny", days=3, seed=5, fmt="parquet")
    for table in EXTRACT_TABLES:
        for day in csv.days:
            assert parquet.extract(table, day).equals(csv.extract(table, day))


def test_csv_uses_iso_dates_lowercase_booleans_and_empty_nulls(tiny_run):
    articles = (tiny_run.root / "reference" / "articles.csv").read_text().splitlines()
    assert {line.rsplit(",", 1)[1] for line in articles[1:]} <= {"true", "false"}
    sites = (tiny_run.root / "reference" / "sites.csv").read_text().splitlines()
    assert any(line.endswith(",") for line in sites[1:]), "vans without capacity_total have an empty field"
    movements = tiny_run.extract("movements", tiny_run.days[0])
    assert movements["date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    depot_rows = movements.filter(movements["site_id"].str.starts_with("DEP"))
    assert depot_rows["technician_id"].is_null().all()


def test_unit_cost_is_written_with_two_decimals(tiny_run):
    assert tiny_run.reference("articles")["unit_cost"].str.contains(r"^\d+\.\d{2}$").all()
