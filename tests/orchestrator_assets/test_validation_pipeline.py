"""VALIDATION_FINALE through Dagster on the tiny profile: a clean run passes every check, a
corrupted table stops the steps downstream of it, and every result lands in
validation.check_results.

How the corruption is injected: for these runs only, the function an asset body takes its
frame from is wrapped (`CORRUPTIONS`: the projection, the allocation before it is yielded, the
ingestion of raw.stock_levels), so the asset yields a bad frame, which its step stores and
checks exactly as if the asset had produced it. Each corrupted run works on a copy of the
clean data folder and warehouse and re-runs the partition from the corrupted asset down (its
upstream is already there), with the real assets and checks of `build_definitions` plus a
test-only consumer of knapsack/allocation, so that "the step downstream does not run" holds
whatever the report module does.
"""

import importlib
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.defs.validation.check_registry import CROSS_CHECKS
from orchestrator_assets.defs.validation.suites import TABLE_SUITES
from orchestrator_assets.jobs import DAILY_JOB_NAME
from orchestrator_assets.partitions import daily_partitions
from tests.orchestrator_assets.pipeline_runs import QUIET, frame, query, run_partition

START = date(2026, 1, 1)
CLEAN_DAYS = ["2026-01-09", "2026-01-10"]
DOWNSTREAM_OF_ALLOCATION = dg.AssetKey(["report", "allocation_consumer"])


def _swap_days(projection: pl.DataFrame) -> pl.DataFrame:
    """days_to_min after days_to_stockout on every pair that runs out."""
    return projection.with_columns(
        pl.when(pl.col("days_to_stockout").is_not_null())
        .then(pl.col("days_to_stockout") + 1)
        .otherwise(pl.col("days_to_min"))
        .alias("days_to_min")
    )


def _overfill_a_site(allocation: pl.DataFrame) -> pl.DataFrame:
    """A million times the lots of the first pair that gets any: still whole lots, far over capacity."""
    first = (pl.col("lots") > 0) & ((pl.col("lots") > 0).cum_sum() == 1)
    return allocation.with_columns(
        pl.when(first).then(pl.col(column) * 1_000_000).otherwise(pl.col(column)).alias(column)
        for column in ("lots", "quantity", "volume")
    )


def _duplicate_a_key(stock_levels: dg.Output) -> dg.Output:
    return dg.Output(pl.concat([stock_levels.value, stock_levels.value.head(3)]), metadata=stock_levels.metadata)


#: corruption -> (module, the function of it whose result is corrupted, how)
CORRUPTIONS = {
    "swap_days": ("orchestrator_assets.defs.stock.assets", "project_stock", _swap_days),
    "overfill_a_site": ("orchestrator_assets.defs.knapsack.assets", "with_bound_by", _overfill_a_site),
    "duplicate_a_key": ("orchestrator_assets.defs.ingest.assets", "ingest_table", _duplicate_a_key),
}


def corrupt(monkeypatch: pytest.MonkeyPatch, corruption: str) -> None:
    """Wrap the function so that its result is corrupted (raw.stock_levels only, for ingestion)."""
    module_name, function_name, alter = CORRUPTIONS[corruption]
    module = importlib.import_module(module_name)
    original = getattr(module, function_name)

    def corrupted(*args, **kwargs):
        result = original(*args, **kwargs)
        if function_name == "ingest_table" and args[0].stem != "stock_levels":
            return result
        return alter(result)

    monkeypatch.setattr(module, function_name, corrupted)


def allocation_consumer(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(key=DOWNSTREAM_OF_ALLOCATION, deps=[dg.AssetKey(["knapsack", "allocation"])], partitions_def=partitions_def)
    def consumer() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    return consumer


def run_corrupted(
    clean: Path, copy: Path, day: str, instance, target: list[str], corruption: str, monkeypatch: pytest.MonkeyPatch
) -> dg.ExecuteInProcessResult:
    """Re-run `day` from `target` down (on a copy of the clean data folder and warehouse),
    with the target's output corrupted; a consumer of the allocation is added downstream."""
    shutil.copytree(clean, copy)
    corrupt(monkeypatch, corruption)
    base = build_definitions(copy, copy / "warehouse")
    daily = daily_partitions(copy)
    assets = [*base.assets, allocation_consumer(daily)]
    daily_assets = [a for a in assets if isinstance(a, dg.AssetsDefinition) and a.partitions_def == daily]
    from_target = dg.AssetSelection.assets(dg.AssetKey(target)).required_multi_asset_neighbors().downstream()
    selection = from_target & dg.AssetSelection.assets(*daily_assets)
    job = dg.define_asset_job("corrupted_daily", selection=selection, partitions_def=daily)
    defs = dg.Definitions(assets=assets, asset_checks=base.asset_checks, jobs=[job], resources=base.resources)
    return defs.resolve_job_def("corrupted_daily").execute_in_process(
        partition_key=day, instance=instance, run_config=QUIET, raise_on_error=False
    )


def materialised(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(event.step_failure_data.error.message for event in result.get_step_failure_events())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Two clean consecutive partitions of the tiny profile, with their check results."""
    data = tmp_path_factory.mktemp("validation") / "data"
    generate("tiny", START, 10, data, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    results = [run_partition(data, day, instance) for day in CLEAN_DAYS]
    return data, instance, results


def warehouse_tables(defs: dg.Definitions) -> set[str]:
    """Asset keys of the daily job stored as DuckDB tables (the report, an HTML page, is not)."""
    selected = defs.resolve_job_def(DAILY_JOB_NAME).asset_layer.selected_asset_keys
    return {
        key.to_user_string()
        for assets_def in defs.assets
        if isinstance(assets_def, dg.AssetsDefinition)
        for key in assets_def.keys
        if key in selected
        and assets_def.node_def.output_def_named(assets_def.get_output_name_for_asset_key(key)).io_manager_key
        == "warehouse_io_manager"
    }


def test_every_table_of_the_daily_job_has_a_blocking_check():
    defs = build_definitions(Path("/nonexistent"), Path("/nonexistent/warehouse"))
    checked = {
        spec.asset_key.to_user_string()
        for definition in [*defs.assets, *defs.asset_checks]
        for spec in getattr(definition, "check_specs", ())
        if spec.blocking
    }
    tables = warehouse_tables(defs)
    assert len(tables) == 24 and tables == checked
    assert {name.replace(".", "/") for name in TABLE_SUITES} == checked
    check_keys = defs.resolve_job_def(DAILY_JOB_NAME).asset_layer.asset_graph.asset_check_keys
    assert len(check_keys) == sum(
        len(suite.check_names()) + len(CROSS_CHECKS.get(name, ())) for name, suite in TABLE_SUITES.items()
    )


def test_a_tables_checks_run_in_the_step_that_writes_it():
    """One step per asset (21 a day): a table's checks are check specs of its asset, but for
    knapsack.alternatives, written on request only, whose checks are an op of their own."""
    defs = build_definitions(Path("/nonexistent"), Path("/nonexistent/warehouse"))
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    nodes = {node.name for node in job.graph.nodes}
    assert {name for name in nodes if name.startswith("validate_")} == {"validate_knapsack__alternatives"}
    assert len(nodes) == 22
    for assets_def in defs.assets:
        for key in assets_def.keys:
            table = key.to_user_string().replace("/", ".")
            if table in TABLE_SUITES and table != "knapsack.alternatives":
                assert {spec.asset_key for spec in assets_def.check_specs} >= {key}, table


def test_a_clean_run_passes_every_check(tiny):
    data, _, results = tiny
    tables = warehouse_tables(build_definitions(data, data / "warehouse"))
    for result in results:
        assert result.success
        found = evaluations(result)
        assert found and all(evaluation.passed for evaluation in found.values()), [
            key for key, evaluation in found.items() if not evaluation.passed
        ]
        # knapsack/alternatives is produced on request only, and so is checked on request only.
        assert {asset for asset, _ in found} == tables - {"knapsack/alternatives"}


def test_a_clean_run_writes_one_passed_row_per_check_and_asset(tiny):
    data, _, results = tiny
    for day, result in zip(CLEAN_DAYS, results):
        rows = frame(
            data,
            "SELECT asset, check_name, severity, passed, failing_rows, detail FROM validation.check_results "
            "WHERE run_id = ? AND partition_date = ?",
            [result.run_id, date.fromisoformat(day)],
        )
        assert rows.height == len(evaluations(result))
        assert rows["passed"].all() and rows["failing_rows"].sum() == 0
        assert set(rows.filter(pl.col("check_name").is_in(["zero_rate_share", "critique_jump"]))["severity"]) == {"WARN"}
        assert set(rows.filter(pl.col("check_name") == "within_capacity")["severity"]) == {"ERROR"}


def test_the_second_day_compares_its_critique_pairs_with_the_first(tiny):
    _, _, results = tiny
    jump = evaluations(results[1])[("urgence/urgency_classification", "critique_jump")]
    assert jump.metadata["critique_pairs_previous"].value is not None


def test_a_corrupted_projection_stops_every_downstream_step(tiny, tmp_path, monkeypatch):
    clean, instance, _ = tiny
    data = tmp_path / "data"
    result = run_corrupted(clean, data, CLEAN_DAYS[1], instance, ["stock", "stock_projection"], "swap_days", monkeypatch)
    assert not result.success
    assert "stock/stock_projection: projection_consistency" in failure_messages(result)
    # A failed blocking check is a verdict, not transient trouble: the step is not retried.
    assert not [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]
    done = materialised(result)
    assert "stock/stock_projection" in done
    downstream = ("urgence/urgency_", "knapsack/", "report/")
    assert not {asset for asset in done if asset.startswith(downstream)}
    failed = evaluations(result)[("stock/stock_projection", "projection_consistency")]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert "days_to_stockout >= days_to_min" in failed.description
    assert "failing_sample" in failed.metadata and failed.metadata["failing_rows"].value > 0
    # The history has the failure, with the rows and the reason.
    row = query(
        data,
        "SELECT passed, failing_rows, detail FROM validation.check_results WHERE run_id = ? "
        "AND asset = 'stock/stock_projection' AND check_name = 'projection_consistency'",
        [result.run_id],
    )
    assert row[0][0] is False and row[0][1] == failed.metadata["failing_rows"].value
    assert "days_to_stockout >= days_to_min" in row[0][2]


def test_an_allocation_over_a_capacity_is_caught_and_stops_its_consumer(tiny, tmp_path, monkeypatch):
    clean, instance, _ = tiny
    data = tmp_path / "data"
    result = run_corrupted(clean, data, CLEAN_DAYS[1], instance, ["knapsack", "allocation"], "overfill_a_site", monkeypatch)
    assert not result.success
    assert "knapsack/allocation: within_capacity" in failure_messages(result)
    assert "knapsack/allocation" in materialised(result)
    assert not {"report/allocation_consumer", "report/daily_report"} & materialised(result)
    found = evaluations(result)
    assert not found[("knapsack/allocation", "within_capacity")].passed
    assert found[("knapsack/allocation", "whole_lots")].passed  # still whole lots: only the capacity is broken
    assert found[("knapsack/site_summary", "schema")].passed
    over = query(
        data,
        "SELECT failing_rows, detail FROM validation.check_results WHERE run_id = ? AND check_name = 'within_capacity'",
        [result.run_id],
    )
    assert over[0][0] >= 1 and "exceeded" in over[0][1]


def test_a_duplicated_input_key_stops_what_is_built_on_that_input(tiny, tmp_path, monkeypatch):
    clean, instance, _ = tiny
    result = run_corrupted(clean, tmp_path / "data", CLEAN_DAYS[1], instance, ["raw", "stock_levels"], "duplicate_a_key", monkeypatch)
    assert not result.success
    assert "raw/stock_levels: key_unique" in failure_messages(result)
    assert materialised(result) == {"raw/stock_levels"}
    skipped = {key.to_user_string() for key in result.job_def.asset_layer.selected_asset_keys} - {"raw/stock_levels"}
    assert {"stock/stock_initial", "knapsack/allocation", "report/allocation_consumer"} <= skipped
    key = evaluations(result)[("raw/stock_levels", "key_unique")]
    assert key.metadata["failing_rows"].value == 6  # 3 keys, twice each


def test_history_is_appended_across_runs(tiny):
    data, _, results = tiny
    runs = query(
        data,
        "SELECT count(DISTINCT run_id) FROM validation.check_results WHERE partition_date = ?",
        [date.fromisoformat(CLEAN_DAYS[0])],
    )[0][0]
    assert runs >= 1
    before = query(data, "SELECT count(*) FROM validation.check_results")[0][0]
    rerun = run_partition(data, CLEAN_DAYS[0], tiny[1], selection=[dg.AssetKey(["raw", "sites"])])
    assert rerun.success
    after = query(data, "SELECT count(*) FROM validation.check_results")[0][0]
    assert after == before + len(evaluations(rerun))
    # The first clean run's rows are still there.
    assert query(data, "SELECT count(*) FROM validation.check_results WHERE run_id = ?", [results[0].run_id])[0][0] > 0


def test_a_soft_check_warns_without_blocking(tiny):
    data, instance, _ = tiny
    config = {"resources": {"validation": {"config": {"zero_rate_share_max": 0.01}}}}
    selection = [dg.AssetKey(["stock", name]) for name in ("stock_initial", "consumption_forecast", "stock_projection")]
    result = run_partition(data, CLEAN_DAYS[1], instance, run_config=config, selection=selection)
    assert result.success
    warned = evaluations(result)[("stock/consumption_forecast", "zero_rate_share")]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert "stock/stock_projection" in materialised(result)
    assert query(
        data,
        "SELECT severity, passed FROM validation.check_results WHERE run_id = ? AND check_name = 'zero_rate_share'",
        [result.run_id],
    ) == [("WARN", False)]


def test_a_range_of_raw_partitions_is_checked_day_by_day(tiny):
    data, instance, _ = tiny
    job = build_definitions(data, data / "warehouse").resolve_job_def(DAILY_JOB_NAME)
    result = job.execute_in_process(
        instance=instance,
        run_config=QUIET,
        asset_selection=[dg.AssetKey(["raw", stem]) for stem in ("articles", "sites", "technicians", "movements")],
        tags={"dagster/asset_partition_range_start": "2026-01-02", "dagster/asset_partition_range_end": "2026-01-03"},
    )
    assert result.success
    days = query(
        data,
        "SELECT DISTINCT partition_date::VARCHAR FROM validation.check_results WHERE run_id = ? AND asset = 'raw/movements' ORDER BY 1",
        [result.run_id],
    )
    assert days == [("2026-01-02",), ("2026-01-03",)]
