"""KNAPSACK assets (SPEC §5): what to send each site under its capacities.

One multi-asset solves every site of the partition once and writes knapsack.allocation
(one row per pair, lots 0 included, so every classified pair can be joined) and
knapsack.site_summary; knapsack.alternatives is written only when the run asks for it
(`--set knapsack.alternatives=true`). The site model, the strategies and the fallback live
in solvers/knapsack/.

The body is the module-level generator `knapsack_asset` (one helper per output it yields), so
a test can call it with a built context and frames; `build_knapsack_assets` only applies the
decorator, since the partitions come from the data folder.
"""

import time
from collections.abc import Iterator
from datetime import date

import dagster as dg
import polars as pl

from orchestrator_assets.asset_conventions import config_metadata, module_asset_args, raw_input, upstream
from orchestrator_assets.defs.knapsack.config import KNAPSACK_OP, KnapsackConfig
from orchestrator_assets.defs.knapsack.shard_dispatch import celery_send, solve_sharded
from orchestrator_assets.defs.knapsack.shard_exchange import shard_folder
from orchestrator_assets.defs.validation.checks import build_standalone_checks, table_check_specs, with_checks
from orchestrator_assets.kernel_warmup_process import wait_for_warmup
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.project_paths import warehouse_path
from orchestrator_assets.step_limits import RETRY_POLICY, time_limited
from solvers.knapsack.alternatives import alternatives, critical_coverage
from solvers.knapsack.batch import category_use_frame
from solvers.knapsack.capacity_limits import site_capacity_limits
from solvers.knapsack.shards import merge_plans, plan_shards, shard_count
from solvers.knapsack.shortfall import with_bound_by
from solvers.knapsack.sourcing import SourcedPlan, solve_sourced, supply_from_stock, van_parents

GROUP = "knapsack"
COMMON = module_asset_args(GROUP, "KNAPSACK", {"polars", "duckdb", "pulp"})
OUT_ARGS = {key: value for key, value in COMMON.items() if key != "retry_policy"}
#: the outputs whose tables the step checks once written (output name -> table).
#: knapsack.alternatives, written on request only, is checked by an op of its own
#: (checks.build_standalone_checks): a check spec of the step must report on every run.
CHECKED_OUTPUTS = {
    name: f"{GROUP}.{name}" for name in ("allocation", "site_summary", "category_use", "depot_supply", "group_summary")
}
ALTERNATIVES_TABLE = f"{GROUP}.alternatives"
POOL_FROM_SITES = 100  # below this, a process pool's start-up costs more than it saves
ALLOCATION_COLUMNS = [
    "site_id", "article_id", "category", "level", "class", "lots", "quantity", "volume", "value",
    "strategy", "status", "source_site_id", "bound_by", "lots_hi", "lots_lo", "n_min", "u", "need_min", "need_max", "v_hi", "v_lo",
]


def knapsack_pairs(
    urgency_classification: pl.DataFrame, stock_projection: pl.DataFrame, articles: pl.DataFrame
) -> pl.DataFrame:
    """Every classified pair with what the site model needs (SPEC §5 inputs)."""
    return urgency_classification.select("site_id", "article_id", "u_total", "level", "class").join(
        stock_projection.select("site_id", "article_id", "min_projected", "stock_min"),
        on=["site_id", "article_id"],
        how="inner",
    ).join(
        articles.select("article_id", "category", "importance", "stock_max", "lot_size", "unit_volume", "unit_cost"),
        on="article_id",
        how="inner",
    )


def capacity_use(summary: pl.DataFrame, category_use: pl.DataFrame) -> dict[str, float]:
    """Used / available volume over all sites, in total and per limited category."""
    use = {"TOTAL": float(summary["volume_used"].sum()) / float(summary["capacity_total"].sum() or 1.0)}
    per_category = category_use.filter(pl.col("capacity").is_not_null()).group_by("category").agg(pl.col("used").sum(), pl.col("capacity").sum()).sort("category")
    for category, used, capacity in per_category.select("category", "used", "capacity").iter_rows():
        use[category] = float(used) / float(capacity or 1.0)
    return {key: round(value, 4) for key, value in use.items()}


def solve_in_batches(
    pairs: pl.DataFrame,
    limits: dict,
    config: KnapsackConfig,
    workers: int,
    progress,
    parents: dict[str, str] | None = None,
    supply: pl.DataFrame | None = None,
    batches: int = 10,
) -> SourcedPlan:
    """The partition's plan, about a tenth of it at a time, logging progress (sites done,
    elapsed) so a long partition can be followed in the UI and the terminal.

    With `parents` (sourcing on, SPEC §5.2) a batch holds whole groups (a depot's vans are
    one problem) and the sites supplied from outside; without, sites (§5 alone)."""
    started = time.perf_counter()
    parents = parents or {}
    supply = supply if supply is not None else pl.DataFrame(schema={"site_id": pl.String, "article_id": pl.String, "supply": pl.Int64})
    plans, done, n_sites = [], 0, pairs["site_id"].n_unique()
    for chunk_sites in plan_shards(pairs, parents, batches):
        chunk_parents = {site: parents[site] for site in chunk_sites if site in parents}
        # the batch's depots only: each batch would otherwise index every depot's stock again
        chunk_supply = supply.filter(pl.col("site_id").is_in(sorted(set(chunk_parents.values()))))
        plans.append(solve_sourced(
            pairs.filter(pl.col("site_id").is_in(chunk_sites)), limits, chunk_parents, chunk_supply,
            workers=workers, **solve_params(config),
        ))
        done += len(chunk_sites)
        progress(f"{done}/{n_sites} sites solved, {time.perf_counter() - started:.1f} s")
    return merge_plans(plans)


def solve_params(config: KnapsackConfig) -> dict:
    """The solver's parameters of a run (what a shard solved elsewhere needs too)."""
    return {
        "strategy": config.strategy, "solver": config.solver, "time_limit_s": config.time_limit_s,
        "topup_ratio": config.topup_ratio, "gap_tolerance": config.gap_tolerance,
    }


def selected_pairs(pairs: pl.DataFrame, articles: pl.DataFrame, categories: list[str], partition_date: date) -> pl.DataFrame:
    """The pairs of `knapsack.categories` (all when empty). An unknown category fails before
    anything is solved, naming the parameter and the day's categories (issue 13)."""
    if not categories:
        return pairs
    known = sorted(articles["category"].unique().to_list())
    unknown = sorted(set(categories) - set(known))
    if unknown:
        raise dg.Failure(
            description=f"knapsack.categories: unknown category {', '.join(unknown)}; "
            f"the categories of raw.articles on {partition_date} are {', '.join(known)}",
            allow_retries=False,
        )
    return pairs.filter(pl.col("category").is_in(categories))


def allocation_output(allocation: pl.DataFrame, common_metadata: dict) -> dg.Output:
    """knapsack.allocation in ALLOCATION_COLUMNS order, with its totals, critical coverage and
    what held back the pairs left short (bound_by counts)."""
    short = (
        dict(allocation.drop_nulls("bound_by").group_by("bound_by").len().sort("bound_by").iter_rows())
        if "bound_by" in allocation.columns else {}
    )
    return dg.Output(
        allocation.select([c for c in ALLOCATION_COLUMNS if c in allocation.columns]),
        output_name="allocation",
        metadata={
            "dagster/row_count": allocation.height,
            "pairs_with_lots": allocation.filter(pl.col("lots") > 0).height if allocation.height else 0,
            "total_value": float(allocation["value"].sum()) if allocation.height else 0.0,
            "total_volume": float(allocation["volume"].sum()) if allocation.height else 0.0,
            "critical_coverage": round(critical_coverage(allocation), 4) if allocation.height else 1.0,
            "short_pairs_bound_by": dg.MetadataValue.json(short),
            **common_metadata,
        },
    )


def site_summary_output(
    summary: pl.DataFrame, category_use: pl.DataFrame, elapsed: float, common_metadata: dict
) -> dg.Output:
    """knapsack.site_summary, with the statuses, the capacity use and the slowest sites."""
    statuses = dict(summary.group_by("status").len().sort("status").iter_rows()) if summary.height else {}
    slowest = summary.sort("solve_ms", descending=True).select("site_id", "status", "solve_ms", "objective").head(5)
    return dg.Output(
        summary,
        output_name="site_summary",
        metadata={
            "dagster/row_count": summary.height,
            "sites_solved": summary.height,
            "statuses": dg.MetadataValue.json(statuses),
            "objective_total": float(summary["objective"].sum()) if summary.height else 0.0,
            "capacity_use": dg.MetadataValue.json(capacity_use(summary, category_use) if summary.height else {}),
            "slowest_sites": dg.MetadataValue.md(markdown_table(slowest)),
            "seconds": round(elapsed, 3),
            **common_metadata,
        },
    )


def depot_supply_output(depot_supply: pl.DataFrame, common_metadata: dict) -> dg.Output:
    """knapsack.depot_supply, with what each depot shipped and the articles it ran short of."""
    shipped = (
        depot_supply.group_by("site_id").agg(
            pl.len().alias("articles"), pl.col("shipped").sum(), pl.col("requested").sum(),
            (pl.col("critical_short") > 0).sum().alias("articles_critical_short"),
        ).sort("site_id")
        if depot_supply.height else pl.DataFrame()
    )
    return dg.Output(
        depot_supply,
        output_name="depot_supply",
        metadata={
            "dagster/row_count": depot_supply.height,
            "pieces_shipped": int(depot_supply["shipped"].sum()) if depot_supply.height else 0,
            "articles_critical_short": int((depot_supply["critical_short"] > 0).sum()) if depot_supply.height else 0,
            "per_depot": dg.MetadataValue.md(markdown_table(shipped) if shipped.height else "no depot supplies vans"),
            "critical_short": dg.MetadataValue.md(markdown_table(
                depot_supply.filter(pl.col("critical_short") > 0).sort("critical_short", descending=True).head(20)
            ) if depot_supply.height else "none"),
            **common_metadata,
        },
    )


def group_summary_output(group_summary: pl.DataFrame, common_metadata: dict) -> dg.Output:
    """knapsack.group_summary, with the groups' statuses and the largest gap to a bound."""
    return dg.Output(
        group_summary,
        output_name="group_summary",
        metadata={
            "dagster/row_count": group_summary.height,
            "statuses": dg.MetadataValue.json(
                dict(group_summary.group_by("status").len().sort("status").iter_rows()) if group_summary.height else {}
            ),
            "max_gap": float(group_summary["gap"].fill_null(0.0).max()) if group_summary.height else 0.0,
            **common_metadata,
        },
    )


def alternatives_output(
    pairs: pl.DataFrame,
    limits: dict,
    allocation: pl.DataFrame,
    summary: pl.DataFrame,
    config: KnapsackConfig,
    common_metadata: dict,
) -> dg.Output:
    """knapsack.alternatives: every strategy's plan per site; the chosen strategy's plan is the
    one just written, reused rather than solved again."""
    frames = []
    chosen = {key[0]: rows for key, rows in allocation.partition_by("site_id", as_dict=True).items()}
    status = dict(summary.select("site_id", "status").iter_rows())
    for site_id, site_pairs in pairs.partition_by("site_id", as_dict=True, maintain_order=True).items():
        result = alternatives(
            site_pairs, limits[site_id[0]], chosen=config.strategy, solver=config.solver,
            time_limit_s=config.time_limit_s, topup_ratio=config.topup_ratio,
            chosen_plan=(chosen[site_id[0]], status[site_id[0]]),
        )
        frames.append(result.metrics)
    table = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    return dg.Output(
        table,
        output_name="alternatives",
        metadata={"dagster/row_count": table.height, "sites": len(frames), **common_metadata},
    )


def knapsack_asset(
    context: dg.AssetExecutionContext,
    config: KnapsackConfig,
    urgency_classification: pl.DataFrame,
    stock_projection: pl.DataFrame,
    articles: pl.DataFrame,
    sites: pl.DataFrame,
    site_capacities: pl.DataFrame,
    stock_levels: pl.DataFrame,
) -> Iterator[dg.Output]:
    """Solve every site of the partition once (SPEC §5, with §5.2 sourcing unless turned off)
    and yield the knapsack tables, alternatives only on request."""
    started = time.perf_counter()
    partition_date = date.fromisoformat(context.partition_key)
    pairs = selected_pairs(
        knapsack_pairs(urgency_classification, stock_projection, articles), articles, config.categories, partition_date
    )
    try:
        limits = site_capacity_limits(sites, site_capacities, overrides=config.capacity)
    except ValueError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    n_sites = pairs["site_id"].n_unique()
    workers = config.workers if n_sites >= POOL_FROM_SITES else 1
    context.log.info(
        f"knapsack {partition_date}: {n_sites} sites, {pairs.height} pairs, strategy {config.strategy}, "
        f"solver {config.solver}, {workers} worker(s)"
    )
    parents = van_parents(sites) if config.sourcing else {}
    supply = supply_from_stock(
        stock_levels.select("site_id", "article_id", on_hand="quantity_on_hand").filter(
            pl.col("site_id").is_in(sorted(set(parents.values())))
        ),
        articles,
    )
    progress = lambda line: context.log.info(f"knapsack {partition_date}: {line}")  # noqa: E731
    waited = wait_for_warmup()
    if waited >= 0.1:
        progress(f"waited {waited:.1f} s for the kernels compiled beside the run")
    count = shard_count(pairs.height, config.shard_pairs)
    send = None
    if count > 1:  # big enough to shard: the folder the shards would share, and the workers if any
        folder, relative = shard_folder(warehouse_path(), context.run_id, context.partition_key)
        send = celery_send(context.instance, relative)
    if send is not None:
        plan = solve_sharded(
            plan_shards(pairs, parents, count), pairs, limits, parents, supply, solve_params(config), folder, send, progress
        )
    else:
        plan = solve_in_batches(
            pairs, limits, config, workers, progress, parents=parents, supply=supply,
            batches=10 if workers == 1 else 2,  # each batch of a pool pays the workers' start-up
        )
    elapsed = time.perf_counter() - started
    context.log.info(f"knapsack {partition_date}: {n_sites} sites solved in {elapsed:.1f} s")
    common_metadata = config_metadata(config)
    category_use = category_use_frame(plan.site_summary)
    yield allocation_output(
        with_bound_by(plan.allocation, plan.site_summary, category_use, plan.depot_supply), common_metadata
    )
    summary = plan.site_summary.drop("category_use", strict=False)
    yield dg.Output(
        category_use,
        output_name="category_use",
        metadata={"dagster/row_count": category_use.height, **common_metadata},
    )
    yield site_summary_output(summary, category_use, elapsed, common_metadata)
    yield depot_supply_output(plan.depot_supply, common_metadata)
    yield group_summary_output(plan.group_summary, common_metadata)
    if config.alternatives:
        yield alternatives_output(pairs, limits, plan.allocation, summary, config, common_metadata)


def build_knapsack_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The KNAPSACK multi-asset over `partitions_def`: `knapsack_asset` under its decorator."""
    decorator = dg.multi_asset(
        partitions_def=partitions_def,
        ins={
            "urgency_classification": upstream("urgence", "urgency_classification"),
            "stock_projection": upstream("stock", "stock_projection"),
            "articles": raw_input("articles"),
            "sites": raw_input("sites"),
            "site_capacities": raw_input("site_capacities"),
            "stock_levels": raw_input("stock_levels"),
        },
        outs={
            "allocation": dg.AssetOut(
                key=[GROUP, "allocation"],
                description="Lots to send per (site, article) under the site's capacities, with the strategy "
                "and solver status that produced them (lots 0 included).",
                **OUT_ARGS,
            ),
            "site_summary": dg.AssetOut(
                key=[GROUP, "site_summary"],
                description="Per site: strategy, solver status, objective, bound, gap, total capacity and volume "
                "used, solve time (per-category use: knapsack/category_use).",
                **OUT_ARGS,
            ),
            "category_use": dg.AssetOut(
                key=[GROUP, "category_use"],
                description="Per site and category: capacity (null = no limit there) and volume used (long "
                "format: categories are values, never column names).",
                **OUT_ARGS,
            ),
            "depot_supply": dg.AssetOut(
                key=[GROUP, "depot_supply"],
                description="Per depot and article requested by its vans (SPEC §5.2): supply = on hand - stock_min, "
                "requested, shipped, remaining, critical_short (empty with knapsack.sourcing=false).",
                **OUT_ARGS,
            ),
            "group_summary": dg.AssetOut(
                key=[GROUP, "group_summary"],
                description="Per depot supplying vans: the group problem's strategy, status, objective, bound, gap, "
                "solve time, vans, articles short (empty with knapsack.sourcing=false).",
                **OUT_ARGS,
            ),
            "alternatives": dg.AssetOut(
                key=[GROUP, "alternatives"],
                description="On request (knapsack.alternatives=true): every strategy's plan per site, with value, "
                "volume, cost and critical coverage.",
                is_required=False,
                **OUT_ARGS,
            ),
        },
        can_subset=False,
        retry_policy=RETRY_POLICY,
        name=KNAPSACK_OP,
        group_name=GROUP,
        check_specs=table_check_specs(CHECKED_OUTPUTS.values(), partitions_def),
    )
    return [decorator(time_limited(with_checks(knapsack_asset, CHECKED_OUTPUTS)))]


def build_knapsack_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """The checks of knapsack.alternatives: an op after the knapsack step, skipped when the
    step did not write the table."""
    return [build_standalone_checks(ALTERNATIVES_TABLE, partitions_def)]
