"""Benchmark of the site knapsack (SPEC §5): strategies, build vs solve time, greedy's gap.

Peer: the exact PuLP/CBC solve is the reference every other figure is compared to
(greedy's value gap; HiGHS's and the structured branch and bound's agreement, for
`exact` and for the default `criticite_hybride`). Where the branch and bound and CBC
disagree, HiGHS is run on the site as a third opinion.

Two parts:
- ``sites``: every strategy and solver on each site, timed one by one (solve only);
- ``batch``: the issue's target, all sites end to end through ``solve_sites`` (model
  build, solve, allocation frames) for criticite_hybride, solver bnb vs cbc, in one
  process and in a pool of ``--workers`` (the pool's start-up is inside the time).

Random sites mimic the pipeline's: ~300 pairs, capacities total 120 / FIBRE 50 /
CUIVRE 40 (other categories unlimited), most pairs with zero need, lot sizes 1..50,
unit volumes with 3 decimals, urgency-driven levels.

    uv run python bench/bench_knapsack.py --sites 1000 --workers 2
    uv run python bench/bench_knapsack.py --part batch
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import polars as pl

from solvers.knapsack import SiteCapacities, build_site_model, solve_sites
from solvers.knapsack.site_model import plan_from_result, solve_model

CAPACITIES = SiteCapacities(total=120.0, categories={"FIBRE": 50.0, "CUIVRE": 40.0})
CATEGORIES = np.array(["FIBRE", "CUIVRE", "OUTILLAGE", "CONSOMMABLE"])
IMPORTANCES = np.array(["CRITIQUE", "IMPORTANT", "STANDARD"])
LOT_SIZES = np.array([1, 1, 1, 1, 2, 5, 10, 20, 50])


def level_of(u: np.ndarray, importance: np.ndarray) -> np.ndarray:
    """Rough SPEC §4 levels from U (enough to have realistic CRITIQUE shares)."""
    ladder = np.array(["NORMAL", "SURVEILLANCE", "URGENT", "CRITIQUE"])
    rank = np.select([u >= 0.8, u >= 0.5, u >= 0.2], [3, 2, 1], 0)
    bump = (importance == "CRITIQUE") & (rank >= 1)
    return ladder[np.minimum(rank + bump, 3)]


def random_site(
    rng: np.random.Generator, n_pairs: int = 300, site_id: str = "S0", need_share: float = 0.35
) -> pl.DataFrame:
    """One site's pairs with SPEC §5 input columns (+ unit_cost); ``need_share`` of the
    pairs are below stock_max somewhere in the horizon."""
    n = n_pairs
    stock_min = rng.integers(0, 12, n)
    stock_max = stock_min + rng.integers(0, 25, n)
    has_need = rng.random(n) < need_share
    # pairs without need end above stock_max; the others somewhere below it (float: rate-based)
    min_projected = np.where(
        has_need,
        np.round(stock_max - rng.gamma(2.0, 4.0, n), 3),
        stock_max + np.round(rng.gamma(1.5, 3.0, n), 3),
    )
    importance = rng.choice(IMPORTANCES, n, p=[0.2, 0.3, 0.5])
    u_total = np.where(has_need, rng.beta(2.0, 2.0, n), rng.beta(1.0, 6.0, n))
    return pl.DataFrame(
        {
            "site_id": site_id,
            "article_id": [f"A{k:05d}" for k in rng.permutation(100000)[:n]],
            "category": rng.choice(CATEGORIES, n, p=[0.4, 0.3, 0.15, 0.15]),
            "importance": importance,
            "u_total": np.round(u_total, 6),
            "min_projected": min_projected,
            "stock_min": stock_min,
            "stock_max": stock_max,
            "lot_size": rng.choice(LOT_SIZES, n),
            "unit_volume": np.round(rng.lognormal(-2.0, 1.0, n).clip(0.005, 3.0), 3),
            "level": level_of(u_total, importance),
            "class": "X",
            "unit_cost": np.round(rng.lognormal(2.0, 1.0, n), 2),
        }
    )


def bench_site(seed: int, n_pairs: int = 300, need_share: float = 0.35) -> dict[str, float]:
    """All strategies on one random site; times in ms."""
    rng = np.random.default_rng(seed)
    pairs = random_site(rng, n_pairs, f"S{seed}", need_share)
    row: dict[str, float] = {"seed": seed}
    t0 = time.perf_counter()
    model = build_site_model(pairs, CAPACITIES)
    row["model_ms"] = (time.perf_counter() - t0) * 1e3
    row["items"] = model.problem.n_items
    for strategy in ("exact", "greedy", "criticite_hybride"):
        t = time.perf_counter()
        res = solve_model(model, strategy)
        row[f"{strategy}_wall_ms"] = (time.perf_counter() - t) * 1e3
        row[f"{strategy}_build_ms"] = res.build_ms
        row[f"{strategy}_solve_ms"] = res.solve_ms
        row[f"{strategy}_value"] = res.objective
        row[f"{strategy}_optimal"] = float(res.status in ("OPTIMAL",))
        plan_from_result(model, res, strategy)
    t = time.perf_counter()
    res = solve_model(model, "exact", solver="highs")
    row["highs_wall_ms"] = (time.perf_counter() - t) * 1e3
    row["highs_value"] = res.objective
    t = time.perf_counter()
    res = solve_model(model, "exact", solver="bnb")
    row["bnb_wall_ms"] = (time.perf_counter() - t) * 1e3
    row["bnb_value"] = res.objective
    row["bnb_proven"] = float(res.solver == "bnb")
    t = time.perf_counter()
    res = solve_model(model, "criticite_hybride", solver="bnb")
    row["hybride_bnb_wall_ms"] = (time.perf_counter() - t) * 1e3
    row["hybride_bnb_value"] = res.objective
    row["hybride_bnb_critical"] = float(np.dot(model.critical_values, res.x))
    row["hybride_bnb_proven"] = float(res.solver == "bnb")
    row["hybride_bnb_optimal"] = float(res.status == "OPTIMAL")
    cbc = solve_model(model, "criticite_hybride")  # the timed run is above; this one for x
    row["hybride_critical"] = float(np.dot(model.critical_values, cbc.x))
    row["hybride_highs_value"] = float("nan")
    if abs(res.objective - cbc.objective) > 1e-7 * max(1.0, cbc.objective):
        row["hybride_highs_value"] = solve_model(model, "criticite_hybride", solver="highs").objective
    return row


def warm_up() -> None:
    """Load numba's cached kernels and PuLP/CBC once, outside the timings."""
    bench_site(0, 50)


def summarise(rows: list[dict[str, float]], wall_s: float, workers: int) -> None:
    def col(k: str) -> np.ndarray:
        return np.array([r[k] for r in rows])

    n = len(rows)
    print(f"{n} sites, {workers} worker(s): wall {wall_s:.1f} s "
          f"({wall_s / n * 1e3:.1f} ms/site all strategies)")
    print(f"  items per site: mean {col('items').mean():.0f}, model build (Polars) "
          f"mean {col('model_ms').mean():.2f} ms")
    for s in ("exact", "greedy", "criticite_hybride", "highs", "bnb", "hybride_bnb"):
        wall = col(f"{s}_wall_ms")
        line = f"  {s:18s} total {wall.sum() / 1e3:7.2f} s  mean {wall.mean():7.2f} ms  p95 {np.percentile(wall, 95):7.2f} ms"
        if f"{s}_build_ms" in rows[0]:
            line += f"  build {col(f'{s}_build_ms').mean():6.2f} ms  solve {col(f'{s}_solve_ms').mean():7.2f} ms"
        print(line)
    ex, gr = col("exact_value"), col("greedy_value")
    gap = np.where(ex > 0, (ex - gr) / np.where(ex > 0, ex, 1.0), 0.0)
    print(f"  greedy value gap to exact: mean {gap.mean() * 100:.3f} %  median "
          f"{statistics.median(gap) * 100:.3f} %  max {gap.max() * 100:.3f} %  "
          f"sites where greedy is optimal {np.mean(gap <= 1e-9) * 100:.1f} %")
    print(f"  exact OPTIMAL share {col('exact_optimal').mean() * 100:.1f} %, "
          f"hybride OPTIMAL share {col('criticite_hybride_optimal').mean() * 100:.1f} %")
    diff = np.abs(col("highs_value") - ex)
    print(f"  HiGHS vs CBC objective: max |diff| {diff.max():.2e}")
    diff = np.abs(col("bnb_value") - ex)
    proven = col("bnb_proven") > 0
    print(f"  bnb (exact B&B, CBC behind it): proven by B&B alone on {proven.mean() * 100:.1f} % of sites, "
          f"mean {col('bnb_wall_ms')[proven].mean():.2f} ms there, "
          f"{col('bnb_wall_ms')[~proven].mean() if (~proven).any() else 0:.1f} ms on the others; "
          f"objective vs CBC max |diff| {diff.max():.2e}, "
          f"sites differing > 1e-7 rel: {int(np.sum(diff > 1e-7 * np.maximum(1, ex)))}")
    hy = col("criticite_hybride_value")
    diff = col("hybride_bnb_value") - hy
    crit_diff = np.abs(col("hybride_bnb_critical") - col("hybride_critical"))
    proven = col("hybride_bnb_proven") > 0
    wall = col("hybride_bnb_wall_ms")
    print(f"  criticite_hybride bnb (both phases by B&B, CBC behind each): total {wall.sum() / 1e3:.2f} s "
          f"vs CBC {col('criticite_hybride_wall_ms').sum() / 1e3:.2f} s; proven by B&B alone on "
          f"{proven.mean() * 100:.1f} % of sites (OPTIMAL {col('hybride_bnb_optimal').mean() * 100:.1f} %), "
          f"mean {wall[proven].mean():.2f} ms there, "
          f"{wall[~proven].mean() if (~proven).any() else 0:.1f} ms on the others")
    differ = np.abs(diff) > 1e-7 * np.maximum(1, hy)
    print(f"    vs PuLP/CBC two-phase: objective max |diff| {np.abs(diff).max():.2e}, "
          f"phase-1 (critical) value max |diff| {crit_diff.max():.2e}, "
          f"sites differing > 1e-7 rel: {int(differ.sum())}")
    for k in np.flatnonzero(differ):
        r = rows[k]
        agrees = "B&B" if abs(r["hybride_highs_value"] - r["hybride_bnb_value"]) <= 1e-7 * max(1, hy[k]) else (
            "CBC" if abs(r["hybride_highs_value"] - hy[k]) <= 1e-7 * max(1, hy[k]) else "neither")
        print(f"    site seed {r['seed']}: B&B {r['hybride_bnb_value']:.7f}  CBC {hy[k]:.7f}  HiGHS "
              f"{r['hybride_highs_value']:.7f} (agrees with {agrees})")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pool workers, CBC runs):
    the figure to read when other jobs share the cores and inflate wall times."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_batch(n_sites: int, n_pairs: int, need_share: float, workers: int) -> None:
    """The issue's figure: all sites through solve_sites, criticite_hybride, bnb vs cbc."""
    pairs = pl.concat([
        random_site(np.random.default_rng(seed), n_pairs, f"S{seed:05d}", need_share)
        for seed in range(1, n_sites + 1)
    ])
    capacities = {site: CAPACITIES for site in pairs["site_id"].unique().to_list()}
    print(f"batch: {n_sites} sites, {pairs.height} pairs, criticite_hybride through solve_sites "
          f"(model build + solve + allocation; a pool's start-up included; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    summaries = {}
    for solver in ("bnb", "cbc"):
        for w in sorted({1, workers}):
            cpu0 = cpu_seconds()
            t = time.perf_counter()
            _, summary = solve_sites(pairs, capacities, "criticite_hybride", solver=solver, workers=w)
            wall = time.perf_counter() - t
            cpu = cpu_seconds() - cpu0
            summaries[solver] = summary
            by_bnb = (summary["solver"] == "bnb").mean()
            optimal = (summary["status"] == "OPTIMAL").mean()
            print(f"  {solver:3s} workers={w}: wall {wall:6.2f} s ({wall / n_sites * 1e3:.2f} ms/site), "
                  f"cpu {cpu:6.2f} s; OPTIMAL {optimal * 100:.1f} %, proven by B&B alone {by_bnb * 100:.1f} %")
    both = summaries["bnb"].join(summaries["cbc"], on="site_id", suffix="_cbc")
    diff = (both["objective"] - both["objective_cbc"]).abs()
    rel = diff / both["objective_cbc"].abs().clip(lower_bound=1.0)
    print(f"  bnb vs cbc objective: max |diff| {diff.max():.2e}, sites differing > 1e-7 rel: "
          f"{int((rel > 1e-7).sum())} {both.filter(rel > 1e-7)['site_id'].to_list()[:10]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--need-share", type=float, default=0.35,
                    help="share of pairs with a need (0.35: ~125 items per 300-pair site)")
    ap.add_argument("--part", choices=("sites", "batch", "all"), default="all")
    args = ap.parse_args()
    warm_up()
    if args.part in ("batch", "all"):
        bench_batch(args.sites, args.pairs, args.need_share, args.workers)
    if args.part == "batch":
        print(f"(cpu count {os.cpu_count()})")
        return
    seeds = list(range(1, args.sites + 1))
    t = time.perf_counter()
    rows = [bench_site(s, args.pairs, args.need_share) for s in seeds]
    summarise(rows, time.perf_counter() - t, 1)
    if args.workers > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=warm_up) as pool:
            # start (and warm) every worker before the clock runs
            for f in [pool.submit(time.sleep, 0.5) for _ in range(args.workers)]:
                f.result()
            t = time.perf_counter()
            rows_p = list(pool.map(
                bench_site, seeds, [args.pairs] * len(seeds), [args.need_share] * len(seeds),
                chunksize=8,
            ))
        summarise(rows_p, time.perf_counter() - t, args.workers)
    print(f"(cpu count {os.cpu_count()})")


if __name__ == "__main__":
    main()
