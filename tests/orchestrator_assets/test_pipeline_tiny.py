"""The daily pipeline (ingestion, STOCK, URGENCE) on the tiny generated profile, through Dagster."""

from datetime import date

import dagster as dg
import polars as pl
import pytest

from data_generation.field_service import generate
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.run_parameters import run_config_for
from solvers.urgency import URGENCY_CLASSES
from tests.orchestrator_assets.pipeline_runs import frame, query, run_partition

START = date(2026, 1, 1)
DAYS = ["2026-01-08", "2026-01-09", "2026-01-10"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Three consecutive partitions of the tiny profile materialised into one warehouse."""
    data = tmp_path_factory.mktemp("tiny") / "data"
    generate("tiny", START, 10, data, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    results = [run_partition(data, day, instance) for day in DAYS]
    return data, instance, results


def test_three_consecutive_days_materialise_every_asset(tiny_run):
    data, _, results = tiny_run
    assert all(result.success for result in results)
    for table in ["stock.stock_initial", "stock.consumption_forecast", "stock.stock_projection",
                  "urgence.urgency_total", "urgence.urgency_classification"]:
        per_day = dict(query(data, f"SELECT partition_date::VARCHAR, count(*) FROM {table} GROUP BY 1"))
        assert sorted(per_day) == DAYS and min(per_day.values()) > 0, table


def test_stock_pairs_are_the_snapshot_pairs_of_active_articles(tiny_run):
    data, _, _ = tiny_run
    expected = query(
        data,
        "SELECT count(*) FROM raw.stock_levels s JOIN raw.articles a USING (article_id, partition_date) "
        "WHERE a.active AND s.partition_date = ?",
        [date(2026, 1, 10)],
    )[0][0]
    assert query(data, "SELECT count(*) FROM stock.stock_projection WHERE partition_date = ?", [date(2026, 1, 10)])[0][0] == expected


def test_every_pair_gets_exactly_one_of_the_twelve_classes(tiny_run):
    data, _, _ = tiny_run
    classes = frame(data, "SELECT site_id, article_id, partition_date, class FROM urgence.urgency_classification")
    assert classes.select(pl.struct("site_id", "article_id", "partition_date").is_unique().all()).item()
    assert set(classes["class"].unique()) <= set(URGENCY_CLASSES)
    projected = query(data, "SELECT count(*) FROM stock.stock_projection")[0][0]
    assert classes.height == projected


def test_projection_is_consistent(tiny_run):
    data, _, _ = tiny_run
    bad = query(
        data,
        "SELECT count(*) FROM stock.stock_projection WHERE days_to_min > days_to_stockout "
        "OR min_projected > on_hand OR min_projected > end_projected",
    )[0][0]
    assert bad == 0


def test_classification_metadata_counts_every_class(tiny_run):
    _, _, results = tiny_run
    materialization = results[-1].asset_materializations_for_node("urgence__urgency_classification")[0]
    counts = materialization.metadata["counts_per_class"].value
    assert set(counts) == set(URGENCY_CLASSES)
    assert sum(counts.values()) == materialization.metadata["dagster/row_count"].value


def test_rerunning_a_day_changes_no_row_count(tiny_run):
    data, instance, _ = tiny_run
    tables = ["raw.movements", "stock.stock_projection", "urgence.urgency_classification", "validation.rejected_rows"]
    before = {table: query(data, f"SELECT count(*) FROM {table}")[0][0] for table in tables}
    assert run_partition(data, DAYS[1], instance).success
    after = {table: query(data, f"SELECT count(*) FROM {table}")[0][0] for table in tables}
    assert after == before


def test_first_run_on_a_fresh_warehouse_forecasts_like_a_full_backfill(tiny_run, tmp_path):
    """Window days with an extract but no raw.movements partition are read, not taken as zero."""
    data, _, _ = tiny_run
    fresh = tmp_path / "data"
    generate("tiny", START, 10, fresh, seed=3)
    result = run_partition(fresh, DAYS[-1], dg.DagsterInstance.ephemeral())
    forecast = result.asset_materializations_for_node("stock__consumption_forecast")[0]
    assert forecast.metadata["window_days_read_from_files"].value == 9
    sql = "SELECT site_id, article_id, rate FROM stock.consumption_forecast WHERE partition_date = ? ORDER BY 1, 2"
    assert frame(fresh, sql, [date(2026, 1, 10)]).equals(frame(data, sql, [date(2026, 1, 10)]))


def test_a_critique_a_partition_emits_an_alert_observation(tiny_run):
    data, _, results = tiny_run
    critical = query(data, "SELECT count(*) FROM urgence.urgency_classification WHERE class = 'CRITIQUE_A' AND partition_date = ?", [date(2026, 1, 10)])[0][0]
    observations = results[-1].asset_observations_for_node("urgence__urgency_classification")
    if critical:
        assert observations[0].metadata["critique_a_count"].value == critical
    else:
        assert observations == []


def test_every_site_allocation_fits_every_capacity(tiny_run):
    """Re-derived in SQL on purpose (not through solvers.knapsack): SPEC §2 defaults, SPEC §5 constraints."""
    data, _, _ = tiny_run
    over = query(
        data,
        """
        WITH limits AS (
            SELECT s.partition_date, s.site_id, c.category, c.capacity
            FROM raw.sites s JOIN raw.site_capacities c USING (partition_date, site_id)
            UNION ALL
            SELECT s.partition_date, s.site_id, d.category, d.capacity
            FROM raw.sites s, (VALUES ('FIBRE', 50.0), ('CUIVRE', 40.0)) d(category, capacity)
            WHERE NOT EXISTS (SELECT 1 FROM raw.site_capacities c
                              WHERE c.partition_date = s.partition_date AND c.site_id = s.site_id)
        ),
        per_category AS (
            SELECT partition_date, site_id, category, sum(volume) AS used
            FROM knapsack.allocation GROUP BY ALL
        ),
        per_site AS (
            SELECT partition_date, site_id, sum(volume) AS used FROM knapsack.allocation GROUP BY ALL
        )
        SELECT 'category', count(*) FROM per_category p JOIN limits l USING (partition_date, site_id, category)
        WHERE p.used > l.capacity + 1e-6
        UNION ALL
        SELECT 'total', count(*) FROM per_site p JOIN raw.sites s USING (partition_date, site_id)
        WHERE p.used > coalesce(s.capacity_total, 120) + 1e-6
        """,
    )
    assert dict(over) == {"category": 0, "total": 0}


def test_allocated_quantities_are_whole_lots_and_cover_the_pairs(tiny_run):
    data, _, _ = tiny_run
    rows = query(
        data,
        "SELECT count(*), sum(CASE WHEN k.quantity % a.lot_size <> 0 OR k.quantity <> k.lots * a.lot_size THEN 1 ELSE 0 END) "
        "FROM knapsack.allocation k JOIN raw.articles a USING (partition_date, article_id)",
    )[0]
    assert rows[0] == query(data, "SELECT count(*) FROM urgence.urgency_classification")[0][0]
    assert rows[1] == 0


def test_site_summary_reports_a_status_per_site(tiny_run):
    data, _, results = tiny_run
    statuses = query(data, "SELECT DISTINCT status FROM knapsack.site_summary")
    assert {status for (status,) in statuses} <= {"OPTIMAL", "TIME_LIMIT_FEASIBLE", "FALLBACK_GREEDY"}
    sites = query(data, "SELECT count(DISTINCT site_id) FROM knapsack.site_summary WHERE partition_date = ?", [date(2026, 1, 10)])[0][0]
    materialization = results[-1].asset_materializations_for_node("knapsack")
    summary = [m for m in materialization if m.asset_key.path[-1] == "site_summary"][0]
    assert summary.metadata["sites_solved"].value == sites > 0


def test_alternatives_are_written_only_when_asked(tiny_run):
    data, instance, _ = tiny_run
    config = {"ops": {"knapsack": {"config": {"strategy": "greedy", "alternatives": True}}}}
    result = run_partition(data, "2026-01-07", instance, run_config=config)
    keys = {m.asset_key.path[-1] for m in result.asset_materializations_for_node("knapsack")}
    assert keys == {"allocation", "site_summary", "category_use", "depot_supply", "group_summary", "alternatives"}
    strategies = query(data, "SELECT strategy, count(*) FROM knapsack.alternatives WHERE partition_date = '2026-01-07' GROUP BY 1")
    sites = query(data, "SELECT count(*) FROM knapsack.site_summary WHERE partition_date = '2026-01-07'")[0][0]
    assert dict(strategies) == {"greedy": sites, "exact": sites, "criticite_hybride": sites}
    assert query(data, "SELECT DISTINCT status FROM knapsack.site_summary WHERE partition_date = '2026-01-07'") == [("HEURISTIC",)]
    # the chosen strategy's row is the plan written to knapsack.allocation (reused, not re-solved)
    chosen = query(
        data,
        "SELECT a.site_id, a.value, t.value, a.status, s.status FROM knapsack.alternatives a "
        "JOIN (SELECT site_id, sum(value) AS value FROM knapsack.allocation WHERE partition_date = '2026-01-07' "
        "GROUP BY 1) t USING (site_id) "
        "JOIN knapsack.site_summary s ON s.site_id = a.site_id AND s.partition_date = a.partition_date "
        "WHERE a.partition_date = '2026-01-07' AND a.chosen",
    )
    assert len(chosen) == sites
    assert all(row[1] == pytest.approx(row[2]) and row[3] == row[4] == "HEURISTIC" for row in chosen)
    # The default partitions did not ask: no alternatives rows for them.
    assert query(data, "SELECT count(*) FROM knapsack.alternatives WHERE partition_date <> '2026-01-07'")[0][0] == 0


def test_projection_curve_on_request_matches_the_stored_summary(tiny_run):
    from orchestrator_assets.defs.stock.projection_curves import projection_curve
    from orchestrator_assets.warehouse import Warehouse

    data, _, _ = tiny_run
    warehouse = Warehouse(path=str(data / "warehouse"))
    day = date(2026, 1, 10)
    summary = frame(data, "SELECT * FROM stock.stock_projection WHERE partition_date = ? ORDER BY min_projected LIMIT 1", [day]).row(0, named=True)
    curve = projection_curve(warehouse, day, summary["article_id"], summary["site_id"], horizon_days=30)
    assert curve.height == 31 and curve["d"].to_list() == list(range(31))
    assert curve["stock"].min() == pytest.approx(summary["min_projected"])
    assert curve["stock"][-1] == pytest.approx(summary["end_projected"])
    summed = projection_curve(warehouse, day, summary["article_id"], None, horizon_days=30)
    sites = frame(data, "SELECT sum(on_hand) AS s FROM stock.stock_initial WHERE partition_date = ? AND article_id = ?", [day, summary["article_id"]])["s"][0]
    assert summed["stock"][0] == pytest.approx(sites)
    with pytest.raises(LookupError, match="no pair"):
        projection_curve(warehouse, day, "NO_SUCH_ARTICLE")


def test_a_history_day_read_from_its_file_stops_the_run_above_the_rejected_share(tmp_path):
    """SPEC §2: above the share of bad rows the run fails, naming the file, the rule and an
    example row; a window day not loaded yet (read from its file) obeys it as its ingestion."""
    data = tmp_path / "data"
    generate("tiny", START, 10, data, seed=3)
    path = data / "extracts" / "2026-01-05" / "movements.csv"
    movements = pl.read_csv(path, infer_schema=False)
    bad = movements.with_columns(
        quantity=pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.lit("-3")).otherwise(pl.col("quantity"))
    )
    bad.write_csv(path)
    result = run_partition(data, DAYS[-1], dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure and e.step_key == "stock__consumption_forecast")
    message = failure.event_specific_data.error_display_string
    assert "history window of 2026-01-10" in message and "2026-01-05/movements.csv" in message
    assert "out_of_range" in message and "above the limit of 5.0%" in message
    # a run that tolerates more bad rows (ingest.max_rejected_share, followed by the steps
    # that read the history) goes through
    tolerant = run_config_for({"ingest": {"max_rejected_share": 0.5}}, list(build_definitions(data, data / "warehouse").assets))
    assert run_partition(data, DAYS[-1], dg.DagsterInstance.ephemeral(), run_config=tolerant).success


def test_the_forecast_backtest_has_every_pair_and_method_every_day(tiny_run):
    data, _, results = tiny_run
    from solvers.forecasting import FORECAST_METHODS

    per_day = query(
        data,
        "SELECT partition_date::VARCHAR, count(*), count(DISTINCT (site_id, article_id)), sum(best::INT) "
        "FROM stock.forecast_backtest GROUP BY 1 ORDER BY 1",
    )
    stocked = dict(query(data, "SELECT partition_date::VARCHAR, count(*) FROM stock.stock_initial GROUP BY 1"))
    assert set(DAYS) <= {row[0] for row in per_day}  # (another test adds 2026-01-07)
    for day, rows, pairs, best in per_day:
        assert rows == len(FORECAST_METHODS) * pairs and pairs == stocked[day] and best == pairs
    metadata = results[-1].asset_materializations_for_node("stock__forecast_backtest")[0].metadata
    assert metadata["origin"].value == "2025-12-11" and "| sba |" in metadata["accuracy"].value


def test_auto_forecasts_each_pair_with_the_best_method_of_its_backtest(tiny_run):
    """The asset bodies on the stored partition 2026-01-10 with H = 3 (the fitting window then
    holds data): the backtest is the SPEC rate on D-3, auto records each pair's best method and
    forecasts with it on D."""
    import logging
    from dataclasses import dataclass, field
    from datetime import timedelta

    from orchestrator_assets.defs.ingest.resources import InputFiles
    from orchestrator_assets.defs.stock.assets import consumption_forecast_asset, forecast_backtest_asset
    from orchestrator_assets.defs.stock.config import StockConfig
    from orchestrator_assets.defs.stock.history_window import read_history_window
    from orchestrator_assets.warehouse import Warehouse
    from solvers.forecasting import FORECAST_METHODS, forecast_rates

    data, instance, _ = tiny_run
    day = date(2026, 1, 10)

    @dataclass
    class Context:
        instance: dg.DagsterInstance
        partition_key: str = day.isoformat()
        log: logging.Logger = field(default_factory=lambda: logging.getLogger("test_pipeline_tiny"))

    resources = {"input_files": InputFiles(root=str(data)), "warehouse": Warehouse(path=str(data / "warehouse"))}
    initial = frame(data, "SELECT * EXCLUDE (partition_date, run_id) FROM stock.stock_initial WHERE partition_date = ?", [day])
    plan = {
        name: frame(data, f"SELECT * EXCLUDE (partition_date, run_id) FROM raw.{name} WHERE partition_date = ?", [day])
        for name in ("planned_interventions", "technicians")
    }
    backtest = forecast_backtest_asset(Context(instance), StockConfig(horizon_days=3), stock_initial=initial, **resources).value
    auto = consumption_forecast_asset(
        Context(instance), StockConfig(forecast_method="auto", horizon_days=3), stock_initial=initial, **resources, **plan
    ).value
    # the window as the assets read it (days 2026-01-01..07 have no raw.movements partition
    # in this warehouse: read from their files)
    movements = read_history_window(instance, resources["warehouse"], data, day, 182 + 3).movements
    pairs = initial.select("site_id", "article_id")
    assert backtest.filter(pl.col("forecast_rate") > 0).height > 0
    for method in FORECAST_METHODS:
        fitted = backtest.filter(pl.col("method") == method).select("site_id", "article_id", rate="forecast_rate")
        assert fitted.equals(forecast_rates(pairs, movements, day - timedelta(days=3), method=method)), method
        chosen = auto.filter(pl.col("method") == method).select("site_id", "article_id", "rate")
        on_d = forecast_rates(pairs, movements, day, method=method)
        assert chosen.join(on_d, on=["site_id", "article_id"]).filter(pl.col("rate") != pl.col("rate_right")).height == 0
    best = backtest.filter("best").select("site_id", "article_id", "method")
    assert auto.select("site_id", "article_id", "method").equals(best)
    assert auto.height == initial.height and auto["planned_days"].null_count() == 0
    assert auto["method"].n_unique() > 1  # not sba everywhere: the choice is exercised
