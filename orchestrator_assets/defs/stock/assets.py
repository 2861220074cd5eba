"""STOCK assets (SPEC §3): stock_initial, consumption_forecast, stock_projection, and the
forecast's accuracy, forecast_backtest (issue 16 point 3).

Wiring only: each asset reads its inputs (IO manager, or the warehouse for the history
window), calls one function of solvers/, and returns the frame with the metadata a planner
reads in the UI. The formulas live in solvers.forecasting, solvers.planned_demand,
solvers.receipts, solvers.projection and solvers.backtest.

Each asset body is a module-level function (`<asset>_asset`) a test can call with a built
context and frames; `build_stock_assets` only applies the decorators, since the partitions
come from the data folder. The forecast needs only where and until when the plan applies
(`plan_extent`); the planned quantities are computed once, by the projection.
"""

import time
from datetime import date, timedelta

import dagster as dg
import polars as pl
import polars.selectors as cs

from orchestrator_assets.asset_conventions import asset_builder, config_metadata, module_asset_args, raw_input, upstream
from orchestrator_assets.defs.ingest.resources import InputFiles
from orchestrator_assets.defs.stock.config import StockConfig
from orchestrator_assets.defs.stock.history_window import history_window_dep, read_history_window
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.warehouse import Warehouse
from solvers.backtest import AUTO, accuracy_summary, auto_forecast, forecast_backtest
from solvers.forecasting import forecast_rates
from solvers.horizon import DEFAULT_HISTORY_DAYS, DEFAULT_HORIZON_DAYS
from solvers.planned_demand import plan_extent, planned_demand
from solvers.projection import project_stock, stock_initial
from solvers.receipts import receipts

GROUP = "stock"
COMMON = module_asset_args(GROUP, "STOCK", {"polars", "duckdb", "numba"})


def stock_initial_asset(
    config: StockConfig, stock_levels: pl.DataFrame, articles: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    """stock.stock_initial: the snapshot's pairs of active articles, with how many are below
    minimum already and how many rows the inactive articles took away."""
    frame = stock_initial(stock_levels, articles).with_columns(pl.col("on_hand").cast(pl.Int64))
    below_min = frame.filter(pl.col("on_hand") < pl.col("stock_min")).height
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "sites": frame["site_id"].n_unique(),
            "articles": frame["article_id"].n_unique(),
            "pairs_below_min_now": below_min,
            "inactive_articles_dropped": stock_levels.height - frame.height,
            **config_metadata(config),
        },
    )


def consumption_forecast_asset(
    context: dg.AssetExecutionContext,
    config: StockConfig,
    input_files: InputFiles,
    warehouse: Warehouse,
    stock_initial: pl.DataFrame,
    planned_interventions: pl.DataFrame,
    technicians: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """stock.consumption_forecast: each pair's rate over the history window (read from the
    warehouse, or from the files of days not loaded) and the horizon days the plan covers.

    With `stock.forecast_method = auto` the window is N + H days long: each pair's method is
    the one with the lowest error on its backtest (solvers.backtest, the same function and
    inputs as stock/forecast_backtest, so the method recorded here is that table's `best`)."""
    started = time.perf_counter()
    partition_date = date.fromisoformat(context.partition_key)
    auto = config.forecast_method == AUTO
    window = read_history_window(
        context.instance, warehouse, input_files.path, partition_date,
        config.history_days + (config.horizon_days if auto else 0), context.log,
        max_rejected_share=config.max_rejected_share,
    )  # fmt: skip
    read_s = time.perf_counter() - started
    pairs = stock_initial.select("site_id", "article_id")
    parameters = {"history_days": config.history_days, "alpha": config.alpha, "beta": config.beta}
    if auto:
        rates = auto_forecast(pairs, window.movements, partition_date, horizon_days=config.horizon_days, **parameters)
    else:
        rates = forecast_rates(
            pairs, window.movements, partition_date, method=config.forecast_method, **parameters
        ).with_columns(method=pl.lit(config.forecast_method))
    plan = plan_extent(planned_interventions, technicians, partition_date)
    plan_days = min(plan.plan_end or 0, config.horizon_days)
    frame = rates.select(
        "site_id",
        "article_id",
        "method",
        "rate",
        pl.when(pl.col("site_id").is_in(sorted(plan.planned_sites)))
        .then(pl.lit(plan_days))
        .otherwise(pl.lit(0))
        .cast(pl.Int64)
        .alias("planned_days"),
    )
    elapsed = time.perf_counter() - started
    context.log.info(
        f"forecast {partition_date}: {frame.height} pairs, {window.movements.height} consumption rows over "
        f"{config.history_days} days, read {read_s:.2f} s, total {elapsed:.2f} s"
    )
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "pairs_with_zero_rate": frame.filter(pl.col("rate") == 0).height,
            "pairs_per_method": dg.MetadataValue.json(dict(frame.group_by("method").len().sort("method").iter_rows())),
            "mean_rate": float(frame["rate"].mean() or 0.0),
            "window_first_day": str(window.first_day),
            "window_days_loaded": window.days_loaded,
            "window_days_read_from_files": len(window.days_read_from_files),
            "window_days_without_extract": window.days_without_extract,
            "planned_sites": len(plan.planned_sites),
            "plan_end": plan.plan_end if plan.plan_end is not None else -1,
            "seconds_read_window": round(read_s, 3),
            "seconds": round(elapsed, 3),
            **config_metadata(config),
        },
    )


def forecast_backtest_asset(
    context: dg.AssetExecutionContext,
    config: StockConfig,
    input_files: InputFiles,
    warehouse: Warehouse,
    stock_initial: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """stock.forecast_backtest: for each pair and method, the rate forecast on D-H (its N-day
    window) against the consumption of D-H+1..D, with the accuracy per method over all pairs
    as a table (per ABC class: the daily report, which reads urgence.abc_classification)."""
    started = time.perf_counter()
    partition_date = date.fromisoformat(context.partition_key)
    window = read_history_window(
        context.instance, warehouse, input_files.path, partition_date, config.history_days + config.horizon_days,
        context.log, max_rejected_share=config.max_rejected_share,
    )  # fmt: skip
    read_s = time.perf_counter() - started
    frame = forecast_backtest(
        stock_initial.select("site_id", "article_id"),
        window.movements,
        partition_date,
        history_days=config.history_days,
        horizon_days=config.horizon_days,
        alpha=config.alpha,
        beta=config.beta,
    )
    summary = accuracy_summary(frame)
    elapsed = time.perf_counter() - started
    pairs = stock_initial.height
    context.log.info(
        f"backtest {partition_date}: {pairs} pairs x {summary.height} methods, origin "
        f"{partition_date - timedelta(days=config.horizon_days)}, read {read_s:.2f} s, total {elapsed:.2f} s"
    )
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "pairs": pairs,
            "origin": str(partition_date - timedelta(days=config.horizon_days)),
            "accuracy": dg.MetadataValue.md(
                markdown_table(summary.drop("abc").with_columns(cs.float().round(4)), max_rows=10)
            ),
            "best_method_pairs": dg.MetadataValue.json(
                dict(frame.filter("best").group_by("method").len().sort("method").iter_rows())
            ),
            "window_first_day": str(window.first_day),
            "window_days_read_from_files": len(window.days_read_from_files),
            "seconds_read_window": round(read_s, 3),
            "seconds": round(elapsed, 3),
            **config_metadata(config),
        },
    )


def stock_projection_asset(
    context: dg.AssetExecutionContext,
    config: StockConfig,
    stock_initial: pl.DataFrame,
    consumption_forecast: pl.DataFrame,
    purchase_orders: pl.DataFrame,
    planned_interventions: pl.DataFrame,
    technicians: pl.DataFrame,
    bom: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """stock.stock_projection: each pair's projected stock over H summarised, with the earliest
    stock-outs as a table and a warning when some projection goes negative."""
    started = time.perf_counter()
    partition_date = date.fromisoformat(context.partition_key)
    pairs = stock_initial.join(
        consumption_forecast.select("site_id", "article_id", "rate"), on=["site_id", "article_id"], how="left"
    ).with_columns(pl.col("rate").fill_null(0.0))
    plan = planned_demand(planned_interventions, technicians, bom, partition_date)
    arriving = receipts(purchase_orders, partition_date, config.horizon_days)
    frame = project_stock(pairs, plan, arriving, config.horizon_days).drop("planned_days")
    elapsed = time.perf_counter() - started
    negative = frame.filter(pl.col("min_projected") < 0)
    context.log.info(f"projection {partition_date}: {frame.height} pairs in {elapsed:.2f} s")
    if negative.height:
        context.log.warning(f"{negative.height} articles with a negative stock projection")
    preview = frame.filter(pl.col("days_to_stockout").is_not_null()).sort(
        ["days_to_stockout", "min_projected", "site_id", "article_id"]
    )
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "pairs_below_min_now": frame.filter(pl.col("days_to_min") == 0).height,
            "pairs_below_min_within_horizon": frame.filter(pl.col("days_to_min").is_not_null()).height,
            "pairs_stockout_within_horizon": frame.filter(pl.col("days_to_stockout").is_not_null()).height,
            "pairs_negative_projection": negative.height,
            "alert": dg.MetadataValue.text(f"{negative.height} articles with a negative stock projection"),
            "earliest_stockouts": dg.MetadataValue.md(
                markdown_table(
                    preview.select(
                        "site_id", "article_id", "on_hand", "stock_min", "days_to_min", "days_to_stockout", "min_projected"
                    ),
                    max_rows=10,
                )
            ),
            "seconds": round(elapsed, 3),
            **config_metadata(config),
        },
    )


def build_stock_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The STOCK assets over `partitions_def`: the bodies above, under their decorators."""

    asset = asset_builder(GROUP, partitions_def, COMMON)

    return [
        asset(
            stock_initial_asset,
            "stock_initial",
            "Stock on hand at the end of day D for every (site, article) of the snapshot whose article is "
            "active, with the article's min, max, lead time and lot size.",
            ins={"stock_levels": raw_input("stock_levels"), "articles": raw_input("articles")},
        ),
        asset(
            consumption_forecast_asset,
            "consumption_forecast",
            "Daily consumption rate of each pair from its CONSUMPTION history over D-N+1..D "
            "(mean, ses, croston, sba or tsb; default sba; auto: per pair, the method with the lowest error on its "
            "stock/forecast_backtest), and how many horizon days the intervention plan covers.",
            ins={
                "stock_initial": upstream(GROUP, "stock_initial"),
                "planned_interventions": raw_input("planned_interventions"),
                "technicians": raw_input("technicians"),
            },
            # raw.bom is not read (plan_extent needs no BOM) but stays upstream, so the asset
            # graph is the one the forecast had while it computed the whole planned demand.
            deps=[history_window_dep(), dg.AssetKey(["raw", "bom"])],
        ),
        asset(
            forecast_backtest_asset,
            "forecast_backtest",
            "Forecast accuracy: for each pair and method (mean, ses, croston, sba, tsb), the rate the forecast "
            "would have given on D-H (forecast_rate) against the daily consumption of D-H+1..D (actual_rate), the "
            "mean daily consumption of the fitting window (fitting_mean, the scale of the scaled error), and the "
            "method stock.forecast_method=auto picks (best).",
            ins={"stock_initial": upstream(GROUP, "stock_initial")},
            deps=[history_window_dep(DEFAULT_HISTORY_DAYS + DEFAULT_HORIZON_DAYS)],
        ),
        asset(
            stock_projection_asset,
            "stock_projection",
            "Projected stock of each pair over the horizon (receipts from open orders, demand from the plan "
            "or the forecast rate): when it falls below minimum (days_to_min), when it runs out (days_to_stockout), "
            "its minimum, its end value and its value at the lead time.",
            ins={
                "stock_initial": upstream(GROUP, "stock_initial"),
                "consumption_forecast": upstream(GROUP, "consumption_forecast"),
                "purchase_orders": raw_input("purchase_orders"),
                "planned_interventions": raw_input("planned_interventions"),
                "technicians": raw_input("technicians"),
                "bom": raw_input("bom"),
            },
        ),
    ]
