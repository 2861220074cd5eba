"""Benchmark of the group problem of SPEC §5.2 (sourcing): per strategy, time, groups proven
optimal, mean and max gap to the reported bound.

Peer: the per-site path (batch.solve_sites), which ignores the depot's stock: its plans are
what the groups would get with unlimited supply, so its objective is an upper bound the
group plans must pay for, and its over-shipping (pieces sent beyond the supply) is what
sourcing removes. Greedy's value is compared to exact's.

Synthetic groups shaped like the `large` profile (10 depots x ~99 vans, ~280 pairs a van):
per group a catalogue of ``--articles`` articles (category, importance, lot size, unit
volume, stock_min / stock_max per article, as in the articles table), each van holding
``--pairs`` of them drawn with a Zipf-like popularity (a few parts in most vans, as BOM
parts are), with its own urgency and projection (~35 % of pairs below stock_max);
capacities total 120 / FIBRE 50 / CUIVRE 40. Supply: ``--scarce`` of the requested
articles get a random 0-90 % of the group's request, the others more than the request.

The groups go through ``sourcing.solve_groups`` end to end (model build, solve, frames), in
a pool of ``--workers`` spawned processes (their start-up is inside the time), then once
more in this process (wall and CPU time: the machine may be shared; the load average is
printed) for the per-group solve times.

    uv run python bench/bench_sourcing.py                    # 10 groups x 100 vans, 2 workers
    uv run python bench/bench_sourcing.py --groups 3 --vans 50 --strategies exact
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import os
import platform
import statistics
import time

import numpy as np
import polars as pl

from solvers.knapsack import solve_sites
from solvers.knapsack.site_model import pair_terms
from solvers.knapsack.sourcing import solve_groups

# the synthetic sites' catalogue and levels, shared with the site benchmark (run as a script,
# this folder is on sys.path)
from bench_knapsack import CAPACITIES, CATEGORIES, IMPORTANCES, LOT_SIZES, level_of


def random_group(
    rng: np.random.Generator, depot: str, n_vans: int, n_pairs: int, n_articles: int,
    need_share: float = 0.35, scarce_share: float = 0.1,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs of the group's vans, the depot's supply rows) for one depot."""
    ids = np.array([f"A{k:05d}" for k in range(n_articles)])
    category = rng.choice(CATEGORIES, n_articles, p=[0.4, 0.3, 0.15, 0.15])
    importance = rng.choice(IMPORTANCES, n_articles, p=[0.2, 0.3, 0.5])
    lot = rng.choice(LOT_SIZES, n_articles)
    volume = np.round(rng.lognormal(-2.0, 1.0, n_articles).clip(0.005, 3.0), 3)
    stock_min = rng.integers(0, 12, n_articles)
    stock_max = stock_min + rng.integers(0, 25, n_articles)
    popularity = 1.0 / np.arange(1, n_articles + 1) ** 0.8
    popularity /= popularity.sum()
    frames = []
    for v in range(n_vans):
        idx = np.sort(rng.choice(n_articles, n_pairs, replace=False, p=popularity))
        need = rng.random(n_pairs) < need_share
        projected = np.where(
            need, np.round(stock_max[idx] - rng.gamma(2.0, 4.0, n_pairs), 3),
            stock_max[idx] + np.round(rng.gamma(1.5, 3.0, n_pairs), 3),
        )
        u = np.where(need, rng.beta(2.0, 2.0, n_pairs), rng.beta(1.0, 6.0, n_pairs))
        u = np.round(np.where(need & (rng.random(n_pairs) < 0.15), 1.0, u), 6)  # U = 1: ties, as in real data
        frames.append(pl.DataFrame({
            "site_id": f"{depot}-V{v:03d}", "article_id": ids[idx], "category": category[idx],
            "importance": importance[idx], "u_total": u, "min_projected": projected,
            "stock_min": stock_min[idx], "stock_max": stock_max[idx], "lot_size": lot[idx],
            "unit_volume": volume[idx], "level": level_of(u, importance[idx]), "class": "X",
        }))
    pairs = pl.concat(frames)
    requested = (
        pair_terms(pairs).group_by("article_id").agg(req=(pl.col("u") * pl.col("lot_size")).sum())
        .filter(pl.col("req") > 0).sort("article_id")
    )
    req = requested["req"].to_numpy()
    scarce = rng.random(req.size) < scarce_share
    supply = np.where(scarce, np.floor(req * rng.uniform(0.0, 0.9, req.size)), req + rng.integers(0, 20, req.size))
    return pairs, pl.DataFrame({"site_id": depot, "article_id": requested["article_id"], "supply": supply.astype(np.int64)})


def build(args) -> tuple[pl.DataFrame, dict, dict, pl.DataFrame]:
    rng = np.random.default_rng(args.seed)
    pairs, supplies = [], []
    for d in range(args.groups):
        p, s = random_group(rng, f"DEP{d:03d}", args.vans, args.pairs, args.articles, scarce_share=args.scarce)
        pairs.append(p)
        supplies.append(s)
    pairs = pl.concat(pairs)
    parents = {s: s.split("-")[0] for s in pairs["site_id"].unique().to_list()}
    return pairs, {s: CAPACITIES for s in parents}, parents, pl.concat(supplies)


def over_shipped(allocation: pl.DataFrame, parents: dict, supply: pl.DataFrame) -> tuple[int, int]:
    """(pieces shipped beyond the supply, articles concerned) of a plan."""
    shipped = (
        allocation.with_columns(depot=pl.col("site_id").replace_strict(parents))
        .group_by("depot", "article_id").agg(q=pl.col("quantity").sum())
        .join(supply, left_on=["depot", "article_id"], right_on=["site_id", "article_id"], how="left")
        .with_columns(excess=(pl.col("q") - pl.col("supply").fill_null(0)).clip(lower_bound=0))
    )
    return int(shipped["excess"].sum()), int((shipped["excess"] > 0).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--vans", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=280)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--scarce", type=float, default=0.1, help="share of requested articles made scarce")
    parser.add_argument("--strategies", default="criticite_hybride,exact,greedy")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=10.0, help="per group, seconds")
    parser.add_argument("--gap", type=float, default=None, help="gap tolerance (default: the module's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t = time.perf_counter()
    pairs, capacities, parents, supply = build(args)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"{args.groups} groups x {args.vans} vans x {args.pairs} pairs ({pairs.height:,} pairs), "
        f"built in {time.perf_counter() - t:.1f} s"
    )
    extra = {} if args.gap is None else {"gap_tolerance": args.gap}
    per_site, _ = solve_sites(pairs, capacities, strategy="exact", solver="bnb")
    excess, articles = over_shipped(per_site, parents, supply)
    print(f"per-site exact (no supply): value {per_site['value'].sum():,.2f}, over-ships {excess:,} pieces of {articles} (depot, article)")
    values: dict[str, float] = {}
    for strategy in args.strategies.split(","):
        t = time.perf_counter()
        plan = solve_groups(pairs, capacities, parents, supply, strategy=strategy, time_limit_s=args.time_limit,
                            workers=args.workers, **extra)
        wall = time.perf_counter() - t
        t, cpu = time.perf_counter(), time.process_time()
        solve_groups(pairs, capacities, parents, supply, strategy=strategy, time_limit_s=args.time_limit, workers=1, **extra)
        one, cpu = time.perf_counter() - t, time.process_time() - cpu
        g = plan.group_summary
        gaps = [x for x in g["gap"].to_list() if x is not None]
        excess, _ = over_shipped(plan.allocation, parents, supply)
        values[strategy] = float(g["objective"].sum())
        statuses = dict(g.group_by("status").len().sort("status").iter_rows())
        ms = g["solve_ms"].to_list()
        print(
            f"{strategy:18s} {wall:6.1f} s with {args.workers} workers ({one:5.1f} s, CPU {cpu:5.1f} s in one process; per group "
            f"median {statistics.median(ms) / 1e3:.2f} s, max {max(ms) / 1e3:.2f} s) | proven optimal "
            f"{statuses.get('OPTIMAL', 0)}/{len(ms)}, statuses {statuses} | gap mean "
            + (f"{statistics.mean(gaps):.2e} max {max(gaps):.2e}" if gaps else "n/a (no bound)")
            + f" | value {values[strategy]:,.2f}, critical {g['critical_value'].sum():,.2f}, over-shipped {excess}"
        )
    if "exact" in values and "greedy" in values:
        print(f"greedy / exact value: {values['greedy'] / values['exact']:.5f}")


if __name__ == "__main__":
    main()
