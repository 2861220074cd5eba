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

Real sites (``--warehouse PATH --date YYYY-MM-DD``): the sites of one pipeline partition,
read from the warehouse folder's published files through ``Warehouse.read``
(urgence.urgency_classification, stock.stock_projection, raw.articles, raw.sites,
raw.site_capacities, raw.stock_levels; an old single-file DuckDB warehouse: ``reassort
migrate`` first) and turned into knapsack inputs by the pipeline's own ``knapsack_pairs``
and ``site_capacity_limits``.
Each site model is built once (timed), then every strategy/solver combination
(criticite_hybride and exact with each of ``--solvers``, and greedy) solves every site
(timed one by one). Parts, ``--part`` (comma-separated, or ``all``):
- ``sites``: per combination total / median / p99 / max per site, model build vs solve,
  statuses; greedy's value gap to exact (bnb);
- ``agree``: on every site, bnb vs highs (and vs cbc where CBC proves optimality) for
  criticite_hybride (objective and critical value) and exact, rel 1e-7 / abs 1e-9;
- ``batch``: ``solve_sites`` end to end, criticite_hybride with bnb, workers 1 and
  ``--workers``.
``--limit N`` keeps the first N sites by site_id (the depots DEP* sort first), ``--site``
keeps the given ids or patterns (``--site 'DEP00[12],VAN000*'``), before ``--limit``.

``--sourcing`` (with ``--warehouse``; issue 15's benchmark): the knapsack step with SPEC §5.2
sourcing on, as the asset runs it: ``solve_sourced`` with ``van_parents(sites)`` and
``supply_from_stock`` of the depots' raw.stock_levels, once per ``--strategies`` (default
all three), ``--workers`` processes (default 1, the pipeline's knapsack.workers). Per
strategy: wall and CPU time, groups and their statuses (OPTIMAL / GAP_LIMIT_FEASIBLE /
TIME_LIMIT_FEASIBLE / FALLBACK_GREEDY), mean and max gap, per-group solve times, pieces
the depots ship, and the peer: the per-site plan of the same vans (``solve_sites``, supply
ignored), what it would ship and how many pieces beyond the depots' supply.

    uv run python bench/bench_knapsack.py --sites 1000 --workers 2
    uv run python bench/bench_knapsack.py --part batch
    uv run python bench/bench_knapsack.py --warehouse data/warehouse --date 2026-01-30 --part all
    uv run python bench/bench_knapsack.py --warehouse data/warehouse --date 2026-01-30 \
        --part sites,agree --solvers bnb,highs --site 'VAN00[0-2]*,DEP001' --limit 30
    uv run python bench/bench_knapsack.py --warehouse data/warehouse --date 2026-01-30 --sourcing
    uv run python bench/bench_knapsack.py --warehouse data/warehouse --date 2026-01-30 \
        --sourcing --strategies exact --gap 0
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import fnmatch
import math
import multiprocessing
import os
import resource
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from solvers.knapsack import SiteCapacities, build_site_model, solve_sites
from solvers.knapsack.group_exact import GAP_TOLERANCE
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
        res = solve_model(model, strategy, solver="cbc")  # the reference (module docstring)
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
    cbc = solve_model(model, "criticite_hybride", solver="cbc")  # the timed run is above; this one for x
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


# ---- real sites: one partition of the warehouse folder -------------------------------

WAREHOUSE_TABLES = {
    "urgency_classification": "urgence.urgency_classification",
    "stock_projection": "stock.stock_projection",
    "articles": "raw.articles",
    "sites": "raw.sites",
    "site_capacities": "raw.site_capacities",
    "stock_levels": "raw.stock_levels",
}
EXACT_STRATEGIES = ("criticite_hybride", "exact")
REL_TOL, ABS_TOL = 1e-7, 1e-9


def read_partition(path: str, day: str) -> dict[str, pl.DataFrame]:
    """The knapsack asset's six inputs for one partition: the published files of the
    warehouse folder, through the pipeline's own reader (no lock, nothing written)."""
    # imported here: spawned pool workers re-import this script and should not pay for dagster
    from orchestrator_assets.warehouse import Warehouse

    if not os.path.isdir(path):
        raise SystemExit(f"{path} is not a warehouse folder (an old DuckDB file: run `reassort migrate` first)")
    warehouse = Warehouse(path=path)
    frames = {
        name: warehouse.read(f"SELECT * FROM {table} WHERE partition_date = ?", [date.fromisoformat(day)])
        for name, table in WAREHOUSE_TABLES.items()
    }
    empty = [WAREHOUSE_TABLES[name] for name, frame in frames.items() if frame.height == 0]
    if empty:
        raise SystemExit(f"partition {day} of {path}: no published rows in {', '.join(empty)}")
    return frames


def select_sites(site_ids: list[str], patterns: str | None, limit: int | None) -> list[str]:
    """Sorted site ids, kept by ``--site`` (ids or fnmatch patterns), then the first ``--limit``."""
    chosen = sorted(site_ids)
    if patterns:
        pats = [p.strip() for p in patterns.split(",") if p.strip()]
        chosen = [s for s in chosen if any(fnmatch.fnmatchcase(s, p) for p in pats)]
    return chosen[:limit] if limit is not None else chosen


@dataclass
class RealSites:
    pairs: pl.DataFrame  # the chosen sites' pairs (knapsack_pairs), for solve_sites
    capacities: dict  # site_id -> SiteCapacities
    site_ids: list[str]
    site_type: dict[str, str]
    groups: dict[str, pl.DataFrame]  # site_id -> its pairs
    n_partition_sites: int
    read_s: float
    prep_s: float
    frames: dict[str, pl.DataFrame]  # the partition's input tables, as read


def load_real_sites(path: str, day: str, patterns: str | None, limit: int | None) -> RealSites:
    # the dagster asset module is imported here, not at the top: spawned pool workers
    # re-import this script and should not pay for dagster
    from orchestrator_assets.defs.knapsack.assets import knapsack_pairs
    from solvers.knapsack.capacity_limits import site_capacity_limits

    t = time.perf_counter()
    frames = read_partition(path, day)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    pairs = knapsack_pairs(frames["urgency_classification"], frames["stock_projection"], frames["articles"])
    capacities = site_capacity_limits(frames["sites"], frames["site_capacities"])
    all_ids = pairs["site_id"].unique().to_list()
    if not all_ids:
        raise SystemExit(f"no knapsack pairs for partition {day} in {path}")
    site_ids = select_sites(all_ids, patterns, limit)
    if not site_ids:
        raise SystemExit(f"no site of partition {day} matches --site {patterns!r}")
    missing = [s for s in site_ids if s not in capacities]
    if missing:
        raise SystemExit(f"sites without a raw.sites row: {missing[:10]}")
    pairs = pairs.filter(pl.col("site_id").is_in(site_ids))
    groups = {key[0]: frame for key, frame in pairs.partition_by("site_id", as_dict=True).items()}
    sites = frames["sites"]
    site_type = (
        dict(sites.select("site_id", "site_type").iter_rows()) if "site_type" in sites.columns else {}
    )
    prep_s = time.perf_counter() - t
    return RealSites(
        pairs=pairs,
        capacities={s: capacities[s] for s in site_ids},
        site_ids=site_ids,
        site_type={s: str(site_type.get(s) or "?") for s in site_ids},
        groups=groups,
        n_partition_sites=len(all_ids),
        read_s=read_s,
        prep_s=prep_s,
        frames=frames,
    )


def combinations(solvers: list[str]) -> list[tuple[str, str]]:
    return [(st, so) for st in EXACT_STRATEGIES for so in solvers] + [("greedy", "-")]


def label(combo: tuple[str, str]) -> str:
    return combo[0] if combo[0] == "greedy" else f"{combo[0]}/{combo[1]}"


def build_models(real: RealSites) -> tuple[dict, np.ndarray]:
    """site_id -> SiteModel, and each site's build time (ms), in site order."""
    models, build_ms = {}, []
    for site in real.site_ids:
        t = time.perf_counter()
        models[site] = build_site_model(real.groups[site], real.capacities[site])
        build_ms.append((time.perf_counter() - t) * 1e3)
    return models, np.array(build_ms)


def solve_all(
    models: dict, site_ids: list[str], combos: list[tuple[str, str]], time_limit_s: float
) -> dict[tuple[str, str], dict]:
    """Every combination on every site, each solve timed alone (wall and the result's
    build_ms / solve_ms); per combination also the CPU time (CBC's processes included)."""
    runs = {}
    for combo in combos:
        strategy, solver = combo
        cpu0, t_combo = cpu_seconds(), time.perf_counter()
        rec: dict = {k: [] for k in ("wall_ms", "build_ms", "solve_ms", "objective", "critical",
                                     "status", "solver", "detail")}
        for site in site_ids:
            model = models[site]
            t = time.perf_counter()
            res = solve_model(model, strategy, "cbc" if solver == "-" else solver, time_limit_s)
            rec["wall_ms"].append((time.perf_counter() - t) * 1e3)
            rec["build_ms"].append(res.build_ms)
            rec["solve_ms"].append(res.solve_ms)
            rec["objective"].append(float(res.objective))
            rec["critical"].append(float(model.critical_values @ res.x))
            rec["status"].append(str(res.status))
            rec["solver"].append(res.solver)
            rec["detail"].append(res.detail)
        for k in ("wall_ms", "build_ms", "solve_ms", "objective", "critical"):
            rec[k] = np.array(rec[k], dtype=np.float64)
        rec["cpu_s"] = cpu_seconds() - cpu0
        runs[combo] = rec
        print(f"  [{label(combo)} done: {len(site_ids)} sites, {time.perf_counter() - t_combo:.1f} s]",
              file=sys.stderr, flush=True)
    return runs


def counts(values: list[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(Counter(values).items()))


def report_sites(real: RealSites, build_ms: np.ndarray, runs: dict, solvers: list[str]) -> None:
    n = len(real.site_ids)
    types = np.array([real.site_type[s] for s in real.site_ids])
    print()
    print(f"sites: {n} sites ({counts(types.tolist())}), {real.pairs.height} pairs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  site models (build_site_model, Polars; built once, shared by every combination): "
          f"total {build_ms.sum() / 1e3:.2f} s, median {np.median(build_ms):.2f} ms, "
          f"max {build_ms.max():.2f} ms")
    for t in sorted(set(types.tolist())):
        m = types == t
        print(f"    {t}: {m.sum()} sites, total {build_ms[m].sum() / 1e3:.2f} s, "
              f"median {np.median(build_ms[m]):.2f} ms")
    print("  solve_model per site (wall ms; 'solver build/solve' = the result's build_ms / solve_ms "
          "summed, e.g. PuLP model construction vs the solver run):")
    head = (f"    {'strategy/solver':26s} {'total s':>8s} {'cpu s':>8s} {'median':>8s} {'p99':>9s} "
            f"{'max':>9s}  {'solver build s':>14s} {'solver solve s':>14s}  {'model+solve s':>13s} "
            f"{'model share':>11s}")
    print(head)
    for combo, r in runs.items():
        w = r["wall_ms"]
        total = w.sum() / 1e3
        both = build_ms.sum() / 1e3 + total
        print(f"    {label(combo):26s} {total:8.2f} {r['cpu_s']:8.2f} {np.median(w):8.2f} "
              f"{np.percentile(w, 99):9.2f} {w.max():9.2f}  {r['build_ms'].sum() / 1e3:14.2f} "
              f"{r['solve_ms'].sum() / 1e3:14.2f}  {both:13.2f} {build_ms.sum() / 1e3 / both * 100:10.1f}%")
    print("  by site type (wall total s / median ms / max ms):")
    for combo, r in runs.items():
        parts = []
        for t in sorted(set(types.tolist())):
            w = r["wall_ms"][types == t]
            parts.append(f"{t} {w.sum() / 1e3:.2f} s / {np.median(w):.2f} / {w.max():.2f}")
        print(f"    {label(combo):26s} " + "; ".join(parts))
    print("  statuses (and solver labels):")
    for combo, r in runs.items():
        print(f"    {label(combo):26s} {counts(r['status'])}  [{counts(r['solver'])}]")
    slow = runs.get(("criticite_hybride", "bnb"))
    if slow is not None:
        order = np.argsort(-slow["wall_ms"])[:5]
        print("  slowest sites for criticite_hybride/bnb: " + ", ".join(
            f"{real.site_ids[k]} {slow['wall_ms'][k]:.0f} ms ({slow['solver'][k]})" for k in order))

    ref_combo = next((("exact", s) for s in ("bnb", *solvers) if ("exact", s) in runs), None)
    if ref_combo is None:
        return
    ref, gr = runs[ref_combo], runs[("greedy", "-")]
    ex, g = ref["objective"], gr["objective"]
    gap = np.where(ex > 0, (ex - g) / np.where(ex > 0, ex, 1.0), 0.0)
    proven = np.array([s == "OPTIMAL" for s in ref["status"]])
    pos = gap > 1e-9
    print(f"  greedy value gap to {label(ref_combo)} ((exact - greedy) / exact; {proven.sum()} of {n} "
          f"exact solves OPTIMAL):")
    print(f"    mean {gap.mean() * 100:.4f} %, median {np.median(gap) * 100:.4f} %, "
          f"p99 {np.percentile(gap, 99) * 100:.4f} %, max {gap.max() * 100:.4f} % "
          f"({real.site_ids[int(np.argmax(gap))]}); sites with gap > 0: {pos.sum()} / {n} "
          f"({pos.mean() * 100:.1f} %); greedy above exact: {int((gap < -1e-9).sum())}")
    for t in sorted(set(types.tolist())):
        m = types == t
        print(f"    {t}: mean {gap[m].mean() * 100:.4f} %, max {gap[m].max() * 100:.4f} %, "
              f"gap > 0 on {pos[m].sum()} / {m.sum()}")
    print(f"    total value: exact {ex.sum():.4f}, greedy {g.sum():.4f} "
          f"(greedy {(ex.sum() - g.sum()) / max(ex.sum(), 1e-12) * 100:.4f} % below)")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def report_agreement(real: RealSites, runs: dict, solvers: list[str]) -> None:
    """Reference: the first of ``solvers`` (bnb by default); every other solver is
    compared with it site by site. A site where one side is not OPTIMAL (a time limit)
    and the values differ is listed apart, not counted as a disagreement."""
    print()
    print(f"agree: {len(real.site_ids)} sites, objectives compared with rel tol {REL_TOL:g}, "
          f"abs tol {ABS_TOL:g}")
    if len(solvers) < 2:
        print("  (one solver only: nothing to compare; see --solvers)")
        return
    ref_solver = solvers[0]
    disagreements, unproven = [], []
    for strategy in EXACT_STRATEGIES:
        ref = runs[(strategy, ref_solver)]
        metrics = ["objective", "critical"] if strategy == "criticite_hybride" else ["objective"]
        for other_solver in solvers[1:]:
            other = runs[(strategy, other_solver)]
            for metric in metrics:
                agree = both_optimal = 0
                for k, site in enumerate(real.site_ids):
                    a, b = ref[metric][k], other[metric][k]
                    sa, sb = ref["status"][k], other["status"][k]
                    optimal = sa == "OPTIMAL" and sb == "OPTIMAL"
                    both_optimal += optimal
                    if _close(a, b):
                        agree += 1
                        if not optimal:
                            unproven.append((strategy, metric, ref_solver, other_solver, site, a, b,
                                             ref, other, k, "values agree"))
                    elif optimal:
                        disagreements.append((strategy, metric, ref_solver, other_solver, site, a, b,
                                              ref, other, k, "DISAGREE"))
                    else:
                        unproven.append((strategy, metric, ref_solver, other_solver, site, a, b,
                                         ref, other, k, "differ, not both OPTIMAL"))
                n = len(real.site_ids)
                what = "critical value" if metric == "critical" else "objective"
                n_dis = sum(1 for d in disagreements if d[:4] == (strategy, metric, ref_solver, other_solver))
                n_unp = sum(1 for d in unproven
                            if d[:4] == (strategy, metric, ref_solver, other_solver) and d[-1] != "values agree")
                print(f"  {strategy:17s} {what:14s} {ref_solver} vs {other_solver:5s}: {agree} / {n} sites agree; "
                      f"both OPTIMAL on {both_optimal}; disagreements {n_dis}; "
                      f"differing where a side is not OPTIMAL {n_unp}")

    def show(rows: list, title: str) -> None:
        if not rows:
            return
        print(f"  {title}:")
        for strategy, metric, sa_name, sb_name, site, a, b, ra, rb, k, note in rows:
            print(f"    {site} {strategy} {metric}: {sa_name} {a:.9f} ({ra['status'][k]}, {ra['solver'][k]}, "
                  f"{ra['wall_ms'][k]:.0f} ms)  {sb_name} {b:.9f} ({rb['status'][k]}, {rb['solver'][k]}, "
                  f"{rb['wall_ms'][k]:.0f} ms)  diff {a - b:+.3e}  [{note}]")
            for name, r in ((sa_name, ra), (sb_name, rb)):
                if r["status"][k] != "OPTIMAL" and r["detail"][k]:
                    print(f"      {name} detail: {r['detail'][k][:200]}")

    show(disagreements, "DISAGREEMENTS (both OPTIMAL, values differ)")
    show(unproven, "not both OPTIMAL (time limit; not counted as disagreements)")
    if not disagreements:
        print("  no disagreement between solvers that both proved optimality")


def bench_real_batch(real: RealSites, workers: int, time_limit_s: float, runs: dict | None) -> None:
    """solve_sites end to end on the real sites, criticite_hybride / bnb, workers 1 and ``workers``."""
    n = len(real.site_ids)
    print()
    print(f"batch: {n} sites, {real.pairs.height} pairs, solve_sites criticite_hybride solver bnb "
          f"(model build + solve + allocation frames; a pool's start-up included; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    summaries = {}
    for w in sorted({1, workers}):
        cpu0 = cpu_seconds()
        t = time.perf_counter()
        allocation, summary = solve_sites(
            real.pairs, real.capacities, strategy="criticite_hybride", solver="bnb",
            time_limit_s=time_limit_s, workers=w,
        )
        wall = time.perf_counter() - t
        cpu = cpu_seconds() - cpu0
        summaries[w] = summary
        print(f"  workers={w}: wall {wall:7.2f} s ({wall / n * 1e3:.2f} ms/site), cpu {cpu:7.2f} s "
              f"(incl. exited children); {allocation.height} allocation rows; statuses {counts(summary['status'].to_list())}; "
              f"solvers {counts(summary['solver'].to_list())}")
    ws = sorted(summaries)
    if len(ws) > 1:
        a, b = summaries[ws[0]], summaries[ws[-1]]
        both = a.join(b, on="site_id", suffix="_b")
        diff = (both["objective"] - both["objective_b"]).abs()
        print(f"  workers={ws[0]} vs workers={ws[-1]} objective: max |diff| {diff.max():.2e}")
    ref = (runs or {}).get(("criticite_hybride", "bnb"))
    if ref is not None:
        per_site = pl.DataFrame({"site_id": real.site_ids, "objective_sites": ref["objective"]})
        both = summaries[ws[0]].join(per_site, on="site_id")
        diff = (both["objective"] - both["objective_sites"]).abs()
        print(f"  vs the sites part's criticite_hybride/bnb solves: max |diff| {diff.max():.2e} "
              f"over {both.height} sites")

# ---- sourcing (SPEC §5.2): the knapsack step of a real partition with sourcing on ----

GROUP_STATUSES = ("OPTIMAL", "GAP_LIMIT_FEASIBLE", "TIME_LIMIT_FEASIBLE", "FALLBACK_GREEDY")


def over_shipped(allocation: pl.DataFrame, parents: dict[str, str], supply: pl.DataFrame) -> tuple[int, int, int]:
    """(pieces a plan ships from the depots, pieces beyond their supply, (depot, article)
    pairs concerned): what a plan that ignores the depot's stock would ask of it."""
    vans = allocation.filter(pl.col("site_id").is_in(list(parents)))
    shipped = (
        vans.with_columns(depot=pl.col("site_id").replace_strict(parents, return_dtype=pl.String))
        .group_by("depot", "article_id").agg(q=pl.col("quantity").sum())
        .join(supply, left_on=["depot", "article_id"], right_on=["site_id", "article_id"], how="left")
        .with_columns(excess=(pl.col("q") - pl.col("supply").fill_null(0)).clip(lower_bound=0))
    )
    return int(shipped["q"].sum()), int(shipped["excess"].sum()), int((shipped["excess"] > 0).sum())


def bench_sourcing(real: RealSites, strategies: list[str], workers: int, time_limit_s: float, gap: float) -> None:
    """solve_sourced on the partition per strategy (what the knapsack asset runs with
    knapsack.sourcing=true), then the per-site plan of the same vans as the peer."""
    from solvers.knapsack.group_exact import warm_up as warm_up_groups
    from solvers.knapsack.sourcing import solve_sourced, supply_from_stock, van_parents

    t = time.perf_counter()
    warm_up_groups()  # numba's cached kernels, once, so every strategy's time compares (the step pays it once)
    print(f"group solver warm-up {time.perf_counter() - t:.2f} s (outside the timings)")
    sites, articles, stock = real.frames["sites"], real.frames["articles"], real.frames["stock_levels"]
    chosen = set(real.site_ids)
    parents = {van: depot for van, depot in van_parents(sites).items() if van in chosen}
    supply = supply_from_stock(
        stock.select("site_id", "article_id", on_hand="quantity_on_hand").filter(
            pl.col("site_id").is_in(sorted(set(parents.values())))
        ),
        articles,
    )
    vans_per_depot = Counter(parents.values())
    van_pairs = real.pairs.filter(pl.col("site_id").is_in(list(parents)))
    sizes = sorted(vans_per_depot.values())
    print()
    print(f"sourcing: {len(real.site_ids)} sites, {real.pairs.height:,} pairs; {len(vans_per_depot)} groups, "
          f"vans per group min {sizes[0] if sizes else 0} / median {statistics.median(sizes) if sizes else 0:g} / "
          f"max {sizes[-1] if sizes else 0} ({len(parents)} vans, {van_pairs.height:,} van pairs), "
          f"{len(chosen) - len(parents)} sites supplied from outside; supply rows {supply.height:,} "
          f"({int(supply['supply'].sum()):,} pieces); workers {workers}, time limit {time_limit_s:g} s a group, "
          f"gap tolerance {gap:g}", flush=True)
    for strategy in strategies:
        load = os.getloadavg()[0]
        cpu0, t = cpu_seconds(), time.perf_counter()
        plan = solve_sourced(
            real.pairs, real.capacities, parents, supply, strategy=strategy, solver="bnb",
            time_limit_s=time_limit_s, gap_tolerance=gap, workers=workers,
        )
        wall, cpu = time.perf_counter() - t, cpu_seconds() - cpu0
        g = plan.group_summary
        statuses = Counter(g["status"].to_list())
        gaps = [x for x in g["gap"].to_list() if x is not None and math.isfinite(x)]
        ms = g["solve_ms"].to_numpy()
        within = sum(1 for st, x in zip(g["status"].to_list(), g["gap"].to_list())
                     if st == "OPTIMAL" or (x is not None and math.isfinite(x) and x <= 1e-3))
        shipped = int(plan.depot_supply["shipped"].sum()) if plan.depot_supply.height else 0
        _, sourced_excess, _ = over_shipped(plan.allocation, parents, supply)
        outside = plan.site_summary.filter(~pl.col("site_id").is_in(list(parents)))
        print(f"  {strategy}: wall {wall:.2f} s, cpu {cpu:.2f} s (incl. exited children), load average "
              f"{load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"    groups {g.height}: " + ", ".join(f"{k} {statuses.get(k, 0)}" for k in GROUP_STATUSES)
              + "".join(f", {k} {v}" for k, v in sorted(statuses.items()) if k not in GROUP_STATUSES)
              + f"; optimal or within 0.1 % of the bound: {within} / {g.height}")
        print("    gap: " + (f"mean {statistics.mean(gaps) * 100:.4f} %, max {max(gaps) * 100:.4f} % "
                              f"({len(gaps)} groups with a bound)" if gaps else "n/a (no bound)")
              + f"; per-group solve median {np.median(ms) / 1e3 if ms.size else 0:.2f} s, max "
              f"{ms.max() / 1e3 if ms.size else 0:.2f} s, sum {ms.sum() / 1e3:.2f} s; build sum "
              f"{g['build_ms'].sum() / 1e3:.2f} s")
        print(f"    sites outside groups {outside.height}: {counts(outside['status'].to_list())}")
        print(f"    depots ship {shipped:,} pieces (over supply: {sourced_excess}); "
              f"value {g['objective'].sum():,.2f}, critical {g['critical_value'].sum():,.2f}; "
              f"articles critical short {int(g['articles_short'].sum())}, scarce (coupled) "
              f"{int(g['articles_scarce'].sum())}")
        t = time.perf_counter()
        per_site, per_summary = solve_sites(van_pairs, real.capacities, strategy, "bnb", time_limit_s, workers=1)
        per_wall = time.perf_counter() - t
        asked, excess, concerned = over_shipped(per_site, parents, supply)
        print(f"    per-site plan of the same vans (supply ignored, {per_wall:.2f} s): would ship {asked:,} pieces, "
              f"{excess:,} beyond supply on {concerned:,} (depot, article); value "
              f"{per_summary['objective'].sum():,.2f} (the sourced plan keeps "
              f"{g['objective'].sum() / max(per_summary['objective'].sum(), 1e-12) * 100:.2f} %)", flush=True)


def parse_parts(text: str) -> set[str]:
    parts = {p.strip() for p in text.split(",") if p.strip()}
    bad = parts - {"sites", "agree", "batch", "all"}
    if bad or not parts:
        raise argparse.ArgumentTypeError(f"unknown part(s) {sorted(bad)}; choose from sites, agree, batch, all")
    return {"sites", "agree", "batch"} if "all" in parts else parts


def parse_strategies(text: str) -> list[str]:
    strategies = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    bad = [s for s in strategies if s not in ("criticite_hybride", "exact", "greedy")]
    if bad or not strategies:
        raise argparse.ArgumentTypeError(f"unknown strategy(ies) {bad}; choose from criticite_hybride, exact, greedy")
    return strategies


def parse_solvers(text: str) -> list[str]:
    solvers = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    bad = [s for s in solvers if s not in ("bnb", "highs", "cbc")]
    if bad or not solvers:
        raise argparse.ArgumentTypeError(f"unknown solver(s) {bad}; choose from bnb, highs, cbc")
    return solvers


def main_warehouse(args: argparse.Namespace) -> None:
    real = load_real_sites(args.warehouse, args.date, args.site, args.limit)
    print(f"warehouse {args.warehouse}, partition {args.date}: {real.n_partition_sites} sites with pairs, "
          f"{len(real.site_ids)} benchmarked, {real.pairs.height} pairs (read {real.read_s:.2f} s, "
          f"knapsack_pairs + site_capacity_limits {real.prep_s:.2f} s); "
          + ("" if args.sourcing else f"solvers {','.join(args.solvers)}, ")
          + f"time limit {args.time_limit:g} s", flush=True)
    warm_up()
    if args.sourcing:
        bench_sourcing(real, args.strategies, args.workers or 1, args.time_limit, args.gap)
        print(f"(cpu count {os.cpu_count()})")
        return
    runs = None
    if args.part & {"sites", "agree"}:
        models, build_ms = build_models(real)
        runs = solve_all(models, real.site_ids, combinations(args.solvers), args.time_limit)
        del models
        if "sites" in args.part:
            report_sites(real, build_ms, runs, args.solvers)
        if "agree" in args.part:
            report_agreement(real, runs, args.solvers)
        sys.stdout.flush()
    if "batch" in args.part:
        bench_real_batch(real, args.workers or 2, args.time_limit, runs)
    print(f"(cpu count {os.cpu_count()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--workers", type=int, default=None,
                    help="pool size (default 2; with --sourcing 1, the pipeline's knapsack.workers)")
    ap.add_argument("--need-share", type=float, default=0.35,
                    help="share of pairs with a need (0.35: ~125 items per 300-pair site)")
    ap.add_argument("--part", type=parse_parts, default="all",
                    help="comma-separated: sites, agree, batch, or all (random sites: agree = sites, "
                    "whose summary holds the agreement figures)")
    ap.add_argument("--warehouse", metavar="PATH", help="warehouse folder (REASSORT_WAREHOUSE, default <data>/warehouse): benchmark a real partition's sites")
    ap.add_argument("--date", metavar="YYYY-MM-DD", help="the partition (with --warehouse)")
    ap.add_argument("--solvers", type=parse_solvers, default="bnb,highs,cbc",
                    help="with --warehouse: exact solvers to run, the first is the agreement reference "
                    "(default bnb,highs,cbc; greedy always runs)")
    ap.add_argument("--limit", type=int, help="with --warehouse: only the first N sites by site_id")
    ap.add_argument("--site", metavar="IDS",
                    help="with --warehouse: comma-separated site ids or fnmatch patterns (before --limit)")
    ap.add_argument("--time-limit", type=float, default=10.0,
                    help="with --warehouse: per-solve time limit, s (default 10, as the pipeline)")
    ap.add_argument("--sourcing", action="store_true",
                    help="with --warehouse: the knapsack step with SPEC §5.2 sourcing on (solve_sourced), "
                    "per strategy, instead of the parts")
    ap.add_argument("--strategies", type=parse_strategies, default="criticite_hybride,exact,greedy",
                    help="with --sourcing: comma-separated strategies (default all three)")
    ap.add_argument("--gap", type=float, default=GAP_TOLERANCE,
                    help=f"with --sourcing: a group's gap tolerance (default {GAP_TOLERANCE:g}, knapsack.gap_tolerance)")
    args = ap.parse_args()
    if args.sourcing and not args.warehouse:
        ap.error("--sourcing needs --warehouse and --date")
    if args.warehouse:
        if not args.date:
            ap.error("--warehouse needs --date")
        try:
            args.date = date.fromisoformat(args.date).isoformat()
        except ValueError:
            ap.error(f"--date {args.date!r} is not YYYY-MM-DD")
        main_warehouse(args)
        return
    if args.date or args.limit is not None or args.site:
        ap.error("--date, --limit and --site apply to --warehouse only")
    args.workers = args.workers or 2
    # random sites, as before: "agree" is part of the sites part's summary
    with_sites = bool(args.part & {"sites", "agree"})
    part = ("all" if with_sites else "batch") if "batch" in args.part else "sites"
    warm_up()
    if part in ("batch", "all"):
        bench_batch(args.sites, args.pairs, args.need_share, args.workers)
    if part == "batch":
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
