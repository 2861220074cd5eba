"""URGENCE assets (SPEC §4): temporal and quantitative urgency (independent, so Dagster runs
them side by side), total urgency, ABC classes and the urgency classification.

Alert event: when a partition has CRITIQUE_A pairs, urgency_classification logs an
AssetObservation on its own key with metadata `alert = "CRITIQUE_A"`, the count and the
first pairs. An observation (rather than a tag on the materialisation) can be read by a
sensor with one event-log query, without parsing every materialisation, and it appears in
the asset's timeline in the UI.

Each asset body is a module-level function (`<asset>_asset`) a test can call with a built
context and frames; `build_urgence_assets` only applies the decorators, since the partitions
come from the data folder.
"""

import json
import time
from datetime import date

import dagster as dg
import polars as pl

from orchestrator_assets.asset_conventions import asset_builder, config_metadata, module_asset_args, raw_input, upstream
from orchestrator_assets.defs.ingest.resources import InputFiles
from orchestrator_assets.defs.stock.history_window import history_window_dep, read_history_window
from orchestrator_assets.defs.urgence.config import UrgenceConfig
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.warehouse import Warehouse
from solvers.abc import abc_classification
from solvers.urgency import URGENCY_CLASSES, classify_urgency, urgency_quantitative, urgency_temporal, urgency_total

GROUP = "urgence"
COMMON = module_asset_args(GROUP, "URGENCE", {"polars", "duckdb"})
CLASSIFICATION_KEY = dg.AssetKey([GROUP, "urgency_classification"])
ALERT_CLASS = "CRITIQUE_A"
ALERT_PAIRS_LISTED = 50


def urgency_temporal_asset(config: UrgenceConfig, stock_projection: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """urgence.urgency_temporal, with how many pairs sit at either end of the scale."""
    frame = urgency_temporal(stock_projection, tau=config.tau)
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "pairs_at_1": frame.filter(pl.col("u_temporal") == 1.0).height,
            "pairs_at_0": frame.filter(pl.col("u_temporal") == 0.0).height,
            **config_metadata(config),
        },
    )


def urgency_quantitative_asset(config: UrgenceConfig, stock_projection: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """urgence.urgency_quantitative, with how many pairs are fully or partly urgent."""
    frame = urgency_quantitative(stock_projection)
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "pairs_at_1": frame.filter(pl.col("u_quantitative") == 1.0).height,
            "pairs_above_0": frame.filter(pl.col("u_quantitative") > 0.0).height,
            **config_metadata(config),
        },
    )


def urgency_total_asset(
    config: UrgenceConfig, urgency_temporal: pl.DataFrame, urgency_quantitative: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    """urgence.urgency_total, with its mean and how many pairs reach the CRITIQUE level of U."""
    frame = urgency_total(urgency_temporal, urgency_quantitative, w_t=config.w_t, w_q=config.w_q)
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "mean_u_total": float(frame["u_total"].mean() or 0.0),
            "pairs_u_at_least_0_8": frame.filter(pl.col("u_total") >= 0.8).height,
            **config_metadata(config),
        },
    )


def abc_classification_asset(
    context: dg.AssetExecutionContext,
    config: UrgenceConfig,
    input_files: InputFiles,
    warehouse: Warehouse,
    articles: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """urgence.abc_classification over the forecast's history window, with the articles per class."""
    partition_date = date.fromisoformat(context.partition_key)
    window = read_history_window(
        context.instance, warehouse, input_files.path, partition_date, config.history_days, context.log,
        max_rejected_share=config.max_rejected_share,
    )
    frame = abc_classification(
        window.movements,
        articles,
        partition_date,
        history_days=config.history_days,
        a_cutoff=config.abc_a_cutoff,
        b_cutoff=config.abc_b_cutoff,
    )
    counts = dict(frame.group_by("abc").len().sort("abc").iter_rows())
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "articles_per_class": dg.MetadataValue.json(counts),
            "total_consumption_value": float(frame["consumption_value"].sum()),
            "window_days_read_from_files": len(window.days_read_from_files),
            **config_metadata(config),
        },
    )


def urgency_classification_asset(
    context: dg.AssetExecutionContext,
    config: UrgenceConfig,
    urgency_total: pl.DataFrame,
    stock_projection: pl.DataFrame,
    articles: pl.DataFrame,
    abc_classification: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """urgence.urgency_classification, and the CRITIQUE_A observation when the day has such
    pairs (module docstring)."""
    started = time.perf_counter()
    frame = classify_urgency(urgency_total, stock_projection, articles, abc_classification, config.thresholds)
    per_class = dict(frame.group_by("class").len().iter_rows())
    counts = {label: per_class.get(label, 0) for label in URGENCY_CLASSES}
    critical = (
        frame.filter(pl.col("class") == ALERT_CLASS)
        .join(stock_projection.select("site_id", "article_id", "days_to_stockout", "min_projected"), on=["site_id", "article_id"])
        .sort(["u_total", "site_id", "article_id"], descending=[True, False, False])
    )
    listed = critical.head(ALERT_PAIRS_LISTED).select("site_id", "article_id", "u_total", "days_to_stockout", "min_projected")
    if critical.height:
        context.log.warning(f"{critical.height} {ALERT_CLASS} pairs on {context.partition_key}")
        context.log_event(
            dg.AssetObservation(
                asset_key=CLASSIFICATION_KEY,
                partition=context.partition_key,
                metadata={
                    "alert": ALERT_CLASS,
                    "critique_a_count": critical.height,
                    "counts_per_class": dg.MetadataValue.json(counts),
                    "critique_a_pairs": dg.MetadataValue.json(json.loads(listed.write_json())),
                },
            )
        )
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "counts_per_class": dg.MetadataValue.json(counts),
            "critique_a_count": critical.height,
            "critique_a_pairs": dg.MetadataValue.md(markdown_table(listed, max_rows=ALERT_PAIRS_LISTED)),
            "seconds": round(time.perf_counter() - started, 3),
            **config_metadata(config),
        },
    )


def build_urgence_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The URGENCE assets over `partitions_def`: the bodies above, under their decorators."""

    asset = asset_builder(GROUP, partitions_def, COMMON)

    return [
        asset(
            urgency_temporal_asset,
            "urgency_temporal",
            "Temporal urgency U_t: 1 when the stock falls below minimum within the lead time, decaying "
            "with tau days after it, 0 when it never does within the horizon.",
            ins={"stock_projection": upstream("stock", "stock_projection")},
        ),
        asset(
            urgency_quantitative_asset,
            "urgency_quantitative",
            "Quantitative urgency U_q: how far below its minimum the projected stock goes, as a share of "
            "the minimum (for a zero minimum: 1 if the projection goes negative).",
            ins={"stock_projection": upstream("stock", "stock_projection")},
        ),
        asset(
            urgency_total_asset,
            "urgency_total",
            "Total urgency U = w_t U_t + w_q U_q.",
            ins={
                "urgency_temporal": upstream(GROUP, "urgency_temporal"),
                "urgency_quantitative": upstream(GROUP, "urgency_quantitative"),
            },
        ),
        asset(
            abc_classification_asset,
            "abc_classification",
            "ABC class of each article by consumption value (quantity consumed over the history window, all "
            "sites, times unit cost): A up to 80 % of the cumulated value, B up to 95 %, C beyond.",
            ins={"articles": raw_input("articles")},
            deps=[history_window_dep()],
        ),
        asset(
            urgency_classification_asset,
            "urgency_classification",
            "Urgency class of each pair: level (CRITIQUE, URGENT, SURVEILLANCE, NORMAL; critical articles go "
            "one level up) and ABC, e.g. CRITIQUE_A. The daily alert an operator reads first.",
            ins={
                "urgency_total": upstream(GROUP, "urgency_total"),
                "stock_projection": upstream("stock", "stock_projection"),
                "articles": raw_input("articles"),
                "abc_classification": upstream(GROUP, "abc_classification"),
            },
        ),
    ]
