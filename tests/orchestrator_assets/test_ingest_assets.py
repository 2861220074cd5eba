"""The raw.* assets materialised into a temporary warehouse, through Dagster."""

from datetime import date

import dagster as dg
import pytest

from tests.conftest import HANDMADE_DAY, write_handmade_dataset
from tests.orchestrator_assets.pipeline_runs import query, run_partition

RAW_TABLES = [
    "articles", "sites", "site_capacities", "technicians", "bom",
    "stock_levels", "movements", "purchase_orders", "planned_interventions",
]
RAW_KEYS = [dg.AssetKey(["raw", stem]) for stem in RAW_TABLES]


def run_ingest(data, day: date, run_config=None, raise_on_error=True):
    return run_partition(data, day.isoformat(), dg.DagsterInstance.ephemeral(), run_config=run_config,
                         selection=RAW_KEYS, raise_on_error=raise_on_error)


def counts(data, day: date) -> dict[str, int]:
    return {
        stem: query(data, f"SELECT count(*) FROM raw.{stem} WHERE partition_date = ?", [day])[0][0]
        for stem in RAW_TABLES
    }


def test_handmade_partition_loads_every_input_table(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    result = run_ingest(project_env, HANDMADE_DAY)
    assert result.success
    assert counts(project_env, HANDMADE_DAY) == {
        "articles": 3, "sites": 2, "site_capacities": 1, "technicians": 2, "bom": 2,
        "stock_levels": 4, "movements": 3, "purchase_orders": 1, "planned_interventions": 1,
    }
    run_ids = query(project_env, "SELECT DISTINCT run_id FROM raw.movements")
    types = dict(query(project_env, "SELECT column_name, column_type FROM (DESCRIBE raw.articles)"))
    assert run_ids == [(result.run_id,)]
    assert types["stock_min"] == "BIGINT" and types["active"] == "BOOLEAN" and types["partition_date"] == "DATE"


def test_rerunning_a_partition_replaces_its_rows_and_nothing_else(project_env):
    other_day = date(2026, 3, 3)
    write_handmade_dataset(project_env, [HANDMADE_DAY, other_day])
    run_ingest(project_env, HANDMADE_DAY)
    run_ingest(project_env, other_day)
    before = (counts(project_env, HANDMADE_DAY), counts(project_env, other_day))
    second = run_ingest(project_env, HANDMADE_DAY)
    assert (counts(project_env, HANDMADE_DAY), counts(project_env, other_day)) == before
    run_ids = query(project_env, "SELECT DISTINCT run_id FROM raw.stock_levels WHERE partition_date = ?", [HANDMADE_DAY])
    assert run_ids == [(second.run_id,)]


def test_bad_rows_go_to_rejected_rows_with_rule_and_metadata(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    path = project_env / "extracts" / HANDMADE_DAY.isoformat() / "stock_levels.csv"
    path.write_text(path.read_text() + "DEP1,A3,-4\n")  # 1 bad row of 5 = 20 %
    result = run_ingest(project_env, HANDMADE_DAY, run_config={"ops": {"raw__stock_levels": {"config": {"max_rejected_share": 0.5}}}})
    assert result.success
    materialization = result.asset_materializations_for_node("raw__stock_levels")[0]
    assert materialization.metadata["rows_rejected"].value == 1
    assert materialization.metadata["rejected_by_rule"].value == {"out_of_range": 1}
    rows = query(project_env, "SELECT source, row, rule FROM validation.rejected_rows")
    assert rows == [("stock_levels", 5, "out_of_range")]


def test_share_of_bad_rows_above_the_limit_fails_naming_file_rule_and_row(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    path = project_env / "extracts" / HANDMADE_DAY.isoformat() / "stock_levels.csv"
    path.write_text(path.read_text() + "DEP1,A3,-4\n")
    result = run_ingest(project_env, HANDMADE_DAY, raise_on_error=False)
    assert not result.success
    failure = [event for event in result.get_step_failure_events() if event.step_key == "raw__stock_levels"][0]
    message = failure.step_failure_data.user_failure_data.description
    assert str(path) in message and "out_of_range" in message and "row 5" in message and "-4" in message
    # The rejected rows are kept for inspection even though the run failed.
    assert query(project_env, "SELECT count(*) FROM validation.rejected_rows") == [(1,)]


def test_missing_extract_fails_with_the_expected_path(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    (project_env / "extracts" / HANDMADE_DAY.isoformat() / "movements.csv").unlink()
    result = run_ingest(project_env, HANDMADE_DAY, raise_on_error=False)
    failure = [event for event in result.get_step_failure_events() if event.step_key == "raw__movements"][0]
    expected = project_env / "extracts" / HANDMADE_DAY.isoformat() / "movements.csv"
    assert f"expected {expected}" in failure.step_failure_data.user_failure_data.description


def test_parquet_extract_is_read_like_csv(project_env):
    import polars as pl

    write_handmade_dataset(project_env, [HANDMADE_DAY])
    folder = project_env / "extracts" / HANDMADE_DAY.isoformat()
    frame = pl.read_csv(folder / "movements.csv", try_parse_dates=True)
    frame.write_parquet(folder / "movements.parquet")
    (folder / "movements.csv").unlink()
    assert run_ingest(project_env, HANDMADE_DAY).success
    assert counts(project_env, HANDMADE_DAY)["movements"] == 3


# --------------------------------------------------------------------------- issue 13: header-only files


def header_only(data, stem: str) -> str:
    path = data / "reference" / f"{stem}.csv"
    if not path.exists():
        path = data / "extracts" / HANDMADE_DAY.isoformat() / f"{stem}.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    return str(path)


def step_failures(result) -> dict[str, str]:
    return {
        event.step_key: event.step_failure_data.user_failure_data.description
        for event in result.get_step_failure_events()
        if event.step_failure_data.user_failure_data is not None
    }


@pytest.mark.parametrize("stem", ["stock_levels", "articles", "sites", "technicians", "bom"])
def test_a_header_only_required_table_fails_its_ingestion_naming_the_file(project_env, stem):
    """A header-only stock_levels loaded 0 rows and the knapsack died three steps later on
    ColumnNotFoundError 'solve_ms' (issue 13 point 4)."""
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    path = header_only(project_env, stem)
    result = run_partition(project_env, HANDMADE_DAY.isoformat(), dg.DagsterInstance.ephemeral(),
                           selection=RAW_KEYS, raise_on_error=False)
    assert not result.success
    message = step_failures(result)[f"raw__{stem}"]
    assert message == f"{path}: a header and no data row; {stem} cannot be empty (docs/table-contracts.md, empty files)"


def test_header_only_movements_orders_plan_and_capacities_are_days_without_rows(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    for stem in ["movements", "purchase_orders", "planned_interventions", "site_capacities"]:
        header_only(project_env, stem)
    result = run_partition(project_env, HANDMADE_DAY.isoformat(), dg.DagsterInstance.ephemeral(), selection=RAW_KEYS)
    assert result.success
    for stem in ["movements", "purchase_orders", "planned_interventions", "site_capacities"]:
        assert query(project_env, f"SELECT count(*) FROM raw.{stem}") == [(0,)], stem
    assert query(project_env, "SELECT count(*) FROM raw.stock_levels") == [(4,)]


def test_a_required_table_whose_every_row_is_rejected_fails_even_with_the_limit_at_one(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    path = project_env / "extracts" / HANDMADE_DAY.isoformat() / "stock_levels.csv"
    path.write_text("site_id,article_id,quantity_on_hand\nDEP1,A1,-1\nDEP1,A2,1e300\n")
    config = {"ops": {"raw__stock_levels": {"config": {"max_rejected_share": 1.0}}}}
    result = run_partition(project_env, HANDMADE_DAY.isoformat(), dg.DagsterInstance.ephemeral(),
                           run_config=config, selection=RAW_KEYS, raise_on_error=False)
    message = step_failures(result)["raw__stock_levels"]
    assert message == f"{path}: none of its 2 rows is valid (out_of_range (2)); stock_levels cannot be empty"


def test_a_huge_quantity_is_rejected_at_ingestion_and_never_reaches_raw(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    path = project_env / "extracts" / HANDMADE_DAY.isoformat() / "stock_levels.csv"
    path.write_text(path.read_text().replace("DEP1,A1,20", "DEP1,A1,1e300"))
    config = {"ops": {"raw__stock_levels": {"config": {"max_rejected_share": 0.5}}}}
    result = run_partition(project_env, HANDMADE_DAY.isoformat(), dg.DagsterInstance.ephemeral(),
                           run_config=config, selection=RAW_KEYS)
    assert result.success
    assert query(project_env, "SELECT rule, detail FROM validation.rejected_rows") == [
        ("out_of_range", "quantity_on_hand='1e300' must be <= 1000000000")
    ]
    assert query(project_env, "SELECT max(quantity_on_hand) FROM raw.stock_levels") == [(8,)]


def test_sites_keep_their_parent_and_a_bad_parent_is_rejected(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    (project_env / "reference" / "sites.csv").write_text(
        "site_id,site_type,capacity_total,parent_site_id\nDEP1,DEPOT,500,\nVAN1,VAN,,DEP1\nVAN2,VAN,,VAN1\n"
    )
    config = {"ops": {"raw__sites": {"config": {"max_rejected_share": 0.5}}}}
    result = run_partition(project_env, HANDMADE_DAY.isoformat(), dg.DagsterInstance.ephemeral(),
                           run_config=config, selection=RAW_KEYS)
    assert result.success
    assert query(project_env, "SELECT site_id, parent_site_id FROM raw.sites ORDER BY site_id") == [
        ("DEP1", None), ("VAN1", "DEP1")
    ]
    assert query(project_env, "SELECT source, row, rule FROM validation.rejected_rows") == [("sites", 3, "bad_parent")]
