"""The site knapsack of SPEC §5: one site's pairs -> MKP items -> a plan per pair.

Every formula of SPEC §5 lives here once (need_min, need_max, n_min, u, weight per lot,
importance weight, v_hi, v_lo, the constraints, the strategies and their fallback);
the solvers below it know nothing of articles.

Items: each pair gives up to two items, the high tier (the n_min lots that restore
stock_min, value v_hi per lot) and the low tier (the u - n_min top-up lots towards
stock_max, value v_lo = topup_ratio x v_hi); items with a zero bound are dropped.
Constraints: row 0 is the total capacity, then one row per category with a limit
(sorted by category name), holding that category's items.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import polars as pl

from solvers.knapsack.exact_pulp import ExactSolver, solve_exact
from solvers.knapsack.greedy import solve_greedy
from solvers.knapsack.laminar_bnb import solve_exact_structured, solve_lexicographic_structured
from solvers.knapsack.lexicographic import solve_lexicographic
from solvers.knapsack.problem import KnapsackProblem, KnapsackResult, SolveStatus

Strategy = Literal["exact", "greedy", "criticite_hybride"]
#: "cbc" / "highs": PuLP (SPEC §5). "bnb": the structured branch and bound for both exact
#: strategies (each criticite_hybride phase too), with PuLP/CBC behind it whenever it
#: cannot prove optimality within its node budget (laminar_bnb.py).
SiteSolver = Literal["cbc", "highs", "bnb"]
#: The one default of the site solver, for every function here and below (batch,
#: alternatives, sourcing) and for the pipeline's ``knapsack.solver``
#: (orchestrator_assets/defs/knapsack/config.py): the branch and bound, which proves
#: nearly every site itself, far faster than CBC (docs/decisions.md, "Solver").
DEFAULT_SOLVER: SiteSolver = "bnb"
STRATEGIES: tuple[str, ...] = ("exact", "greedy", "criticite_hybride")

#: SPEC §5 importance weight.
IMPORTANCE_WEIGHT: dict[str, int] = {"CRITIQUE": 3, "IMPORTANT": 2, "STANDARD": 1}
#: SPEC §5: ceil(x) is the least integer >= x - 1e-9, so float noise never adds a lot.
CEIL_TOLERANCE = 1e-9
#: SPEC §5 default topup_ratio.
TOPUP_RATIO = 0.1
#: The urgency level whose high tier criticite_hybride serves first (SPEC §5).
CRITICAL_LEVEL = "CRITIQUE"

PAIR_COLUMNS: tuple[str, ...] = (
    "site_id", "article_id", "category", "importance", "u_total", "min_projected",
    "stock_min", "stock_max", "lot_size", "unit_volume", "level", "class",
)


@dataclass(frozen=True)
class SiteCapacities:
    """A site's capacity_total and its per-category limits (categories absent: unlimited).

    Defaults for missing capacities (SPEC §2: 120, FIBRE 50 / CUIVRE 40) are applied
    upstream, when the sites tables are read; here every limit is explicit.
    """

    total: float
    categories: Mapping[str, float] = field(default_factory=dict)


def spec_ceil(expr: pl.Expr) -> pl.Expr:
    """SPEC §5 ceil: the least integer >= x - 1e-9."""
    return (expr - CEIL_TOLERANCE).ceil().cast(pl.Int64)


def pair_terms(pairs: pl.DataFrame, topup_ratio: float = TOPUP_RATIO) -> pl.DataFrame:
    """The per-pair quantities of SPEC §5, sorted by site_id then article_id (one site or
    many: the batch computes them once for every site).

    Adds need_min, need_max, n_min, u, weight_lot (= unit_volume x lot_size),
    importance_weight, v_hi, v_lo. Raises on missing columns, unknown importance,
    nulls in a formula input, or an article twice in a site.
    """
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(f"knapsack pairs lack columns {missing}")
    formula_inputs = [
        "article_id", "category", "importance", "u_total", "min_projected",
        "stock_min", "stock_max", "lot_size", "unit_volume", "level",
    ]
    nulls = {c: n for c, n in pairs.select(pl.col(formula_inputs).null_count()).row(0, named=True).items() if n}
    if nulls:
        raise ValueError(f"knapsack pairs have nulls in {nulls}")
    unknown = set(pairs["importance"].unique().to_list()) - IMPORTANCE_WEIGHT.keys()
    if unknown:
        raise ValueError(f"unknown importance values {sorted(unknown)}")
    if pairs.select(pl.struct("site_id", "article_id").n_unique()).item() != pairs.height:
        raise ValueError("an article appears twice in a site's pairs")
    if pairs.height and pairs.select((pl.col("lot_size").min() < 1) | (pl.col("unit_volume").min() <= 0)).item():
        raise ValueError("lot_size must be >= 1 and unit_volume > 0")

    lot = pl.col("lot_size").cast(pl.Float64)
    p = pl.col("min_projected").cast(pl.Float64)
    return (
        pairs.sort("site_id", "article_id")
        .with_columns(
            need_min=pl.max_horizontal(pl.lit(0.0), pl.col("stock_min").cast(pl.Float64) - p),
            need_max=pl.max_horizontal(pl.lit(0.0), pl.col("stock_max").cast(pl.Float64) - p),
            weight_lot=pl.col("unit_volume").cast(pl.Float64) * lot,
            importance_weight=pl.col("importance").replace_strict(
                IMPORTANCE_WEIGHT, return_dtype=pl.Int64
            ),
        )
        .with_columns(n_min=spec_ceil(pl.col("need_min") / lot))
        .with_columns(u=pl.max_horizontal(pl.col("n_min"), spec_ceil(pl.col("need_max") / lot)))
        .with_columns(v_hi=(pl.col("u_total").cast(pl.Float64) + 0.01) * pl.col("importance_weight"))
        .with_columns(v_lo=topup_ratio * pl.col("v_hi"))
    )


@dataclass(frozen=True)
class SiteModel:
    """A site's pairs (with their SPEC §5 terms) and the MKP built from them.

    item_pair[k] is the row of ``pairs`` behind item k; item_tier[k] is 0 (high tier)
    or 1 (top-up tier). ``critical_values`` is the phase-1 objective of
    criticite_hybride: v_hi on high-tier items of CRITIQUE-level pairs, 0 elsewhere.
    """

    pairs: pl.DataFrame
    capacities: SiteCapacities
    problem: KnapsackProblem
    item_pair: np.ndarray
    item_tier: np.ndarray
    item_weight: np.ndarray
    priority: np.ndarray
    order_key: np.ndarray
    critical_values: np.ndarray
    limited_categories: tuple[str, ...]


def build_site_model(
    pairs: pl.DataFrame, capacities: SiteCapacities, topup_ratio: float = TOPUP_RATIO
) -> SiteModel:
    """Items and constraints of SPEC §5 for one site."""
    return site_model_from_terms(pair_terms(pairs, topup_ratio), capacities)


def site_model_from_terms(terms: pl.DataFrame, capacities: SiteCapacities) -> SiteModel:
    """Items and constraints of one site from its rows of ``pair_terms``."""
    n_min = terms["n_min"].to_numpy().astype(np.int64)
    u = terms["u"].to_numpy().astype(np.int64)
    weight = terms["weight_lot"].to_numpy().astype(np.float64)
    v_hi = terms["v_hi"].to_numpy().astype(np.float64)
    v_lo = terms["v_lo"].to_numpy().astype(np.float64)
    importance_weight = terms["importance_weight"].to_numpy().astype(np.int64)
    critical = (terms["level"] == CRITICAL_LEVEL).to_numpy()
    category = terms["category"].to_numpy()
    n_pairs = terms.height

    # items ordered pair by pair, high tier first: (pair, tier) -> 2 * pair + tier
    pair_idx = np.repeat(np.arange(n_pairs, dtype=np.int64), 2)
    tier = np.tile(np.array([0, 1], dtype=np.int64), n_pairs)
    bound = np.empty(2 * n_pairs, dtype=np.int64)
    bound[0::2], bound[1::2] = n_min, u - n_min
    value = np.empty(2 * n_pairs, dtype=np.float64)
    value[0::2], value[1::2] = v_hi, v_lo
    keep = bound > 0
    item_pair, item_tier = pair_idx[keep], tier[keep]
    upper, values = bound[keep], value[keep]
    item_weight = weight[item_pair]

    limited = tuple(sorted(capacities.categories))
    items_all = np.arange(item_pair.shape[0], dtype=np.int64)
    rows = [(items_all, item_weight)]
    caps = [float(capacities.total)]
    item_category = category[item_pair]
    for cat in limited:
        in_cat = np.flatnonzero(item_category == cat)
        rows.append((in_cat, item_weight[in_cat]))
        caps.append(float(capacities.categories[cat]))
    problem = KnapsackProblem.from_rows(values, upper, rows, caps, ("total", *limited))

    return SiteModel(
        pairs=terms,
        capacities=capacities,
        problem=problem,
        item_pair=item_pair,
        item_tier=item_tier,
        item_weight=item_weight,
        priority=importance_weight[item_pair],
        # article_id rank (pairs are sorted by it), then high tier before top-up
        order_key=2 * item_pair + item_tier,
        critical_values=np.where((item_tier == 0) & critical[item_pair], values, 0.0),
        limited_categories=limited,
    )


def solve_greedy_site(model: SiteModel) -> KnapsackResult:
    """SPEC §5 greedy: value per weight desc, then importance desc, then article_id asc."""
    return solve_greedy(
        model.problem,
        ratio_weights=model.item_weight,
        priority=model.priority,
        order_key=model.order_key,
    )


def _with_fallback(model: SiteModel, result: KnapsackResult) -> KnapsackResult:
    """Exact result if it has a plan, else the greedy plan with status FALLBACK_GREEDY."""
    if result.has_plan:
        return result
    g = solve_greedy_site(model)
    return KnapsackResult(
        x=g.x,
        objective=g.objective,
        bound=float("nan"),
        gap=float("nan"),
        status=SolveStatus.FALLBACK_GREEDY,
        solver=f"{result.solver}->greedy",
        build_ms=result.build_ms + g.build_ms,
        solve_ms=result.solve_ms + g.solve_ms,
        detail=f"{result.status}: {result.detail}".strip(": "),
    )


def solve_model(
    model: SiteModel,
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    threads: int = 1,
) -> KnapsackResult:
    """Run one strategy on a built site model (falls back to greedy; never raises on a solver failure)."""
    if solver not in ("cbc", "highs", "bnb"):
        raise ValueError(f"unknown solver {solver!r}; expected 'cbc', 'highs' or 'bnb'")
    pulp_solver: ExactSolver = "cbc" if solver == "bnb" else solver
    if strategy == "greedy":
        return solve_greedy_site(model)
    if strategy == "exact":
        if solver == "bnb":
            res = solve_exact_structured(model.problem, time_limit_s=time_limit_s)
        else:
            res = solve_exact(
                model.problem, solver=pulp_solver, time_limit_s=time_limit_s, threads=threads
            )
    elif strategy == "criticite_hybride":
        if solver == "bnb":
            res = solve_lexicographic_structured(
                model.problem, model.critical_values, time_limit_s=time_limit_s, threads=threads
            )
        else:
            res = solve_lexicographic(
                model.problem, model.critical_values, solver=pulp_solver,
                time_limit_s=time_limit_s, threads=threads,
            )
    else:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    return _with_fallback(model, res)


@dataclass(frozen=True)
class SiteSummary:
    """One row of knapsack.site_summary. bound/gap are None when unknown (greedy, fallback)."""

    site_id: str | None
    strategy: str
    status: str
    solver: str
    objective: float
    bound: float | None
    gap: float | None
    volume_used: float
    capacity_total: float
    category_use: dict[str, float]
    category_capacity: dict[str, float]
    n_pairs: int
    n_items: int
    build_ms: float
    solve_ms: float
    detail: str = ""


@dataclass(frozen=True)
class SiteSolution:
    """The plan of one site: one allocation row per pair (lots may be 0) and the summary."""

    allocation: pl.DataFrame
    summary: SiteSummary
    result: KnapsackResult


def _nan_to_none(v: float) -> float | None:
    return None if v is None or np.isnan(v) else float(v)


def plan_lots(model: SiteModel, result: KnapsackResult) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of the site (in ``model.pairs`` order): (minimum-need lots, top-up lots)."""
    n_pairs = model.pairs.height
    x = result.x
    hi = model.item_tier == 0
    lots_hi = np.bincount(model.item_pair[hi], weights=x[hi], minlength=n_pairs).astype(np.int64)
    lots_lo = np.bincount(model.item_pair[~hi], weights=x[~hi], minlength=n_pairs).astype(np.int64)
    return lots_hi, lots_lo


def allocation_frame(
    terms: pl.DataFrame, lots_hi: np.ndarray, lots_lo: np.ndarray, strategy: str, status: str | pl.Series
) -> pl.DataFrame:
    """knapsack.allocation rows: lots = hi + lo, quantity = lots x lot_size, volume =
    quantity x unit_volume, value = lots_hi v_hi + lots_lo v_lo (one site or many)."""
    return (
        terms.with_columns(lots_hi=pl.Series(lots_hi, dtype=pl.Int64), lots_lo=pl.Series(lots_lo, dtype=pl.Int64))
        .with_columns(lots=pl.col("lots_hi") + pl.col("lots_lo"))
        .with_columns(quantity=pl.col("lots") * pl.col("lot_size").cast(pl.Int64))
        .with_columns(
            volume=pl.col("quantity") * pl.col("unit_volume").cast(pl.Float64),
            value=pl.col("lots_hi") * pl.col("v_hi") + pl.col("lots_lo") * pl.col("v_lo"),
            strategy=pl.lit(strategy),
            status=status if isinstance(status, pl.Series) else pl.lit(status),
        )
    )


def site_summary(
    model: SiteModel, result: KnapsackResult, strategy: str, lots_hi: np.ndarray, lots_lo: np.ndarray
) -> SiteSummary:
    """The knapsack.site_summary row of one site's plan (capacity use from the lots)."""
    pairs = model.pairs
    volume = (lots_hi + lots_lo) * pairs["lot_size"].to_numpy().astype(np.int64) * pairs["unit_volume"].to_numpy().astype(np.float64)
    category = pairs["category"].to_numpy()
    category_use = {cat: 0.0 for cat in model.limited_categories}
    for cat in np.unique(category):
        category_use[str(cat)] = float(volume[category == cat].sum())
    site_ids = pairs["site_id"].unique().to_list()
    return SiteSummary(
        site_id=site_ids[0] if len(site_ids) == 1 else None,
        strategy=strategy,
        status=str(result.status),
        solver=result.solver,
        objective=float(result.objective),
        bound=_nan_to_none(result.bound),
        gap=_nan_to_none(result.gap),
        volume_used=float(volume.sum()),
        capacity_total=float(model.capacities.total),
        category_use=dict(sorted(category_use.items())),
        category_capacity={c: float(model.capacities.categories[c]) for c in model.limited_categories},
        n_pairs=pairs.height,
        n_items=model.problem.n_items,
        build_ms=result.build_ms,
        solve_ms=result.solve_ms,
        detail=result.detail,
    )


def plan_from_result(model: SiteModel, result: KnapsackResult, strategy: str) -> SiteSolution:
    """One site's allocation rows (every pair, lots may be 0) and its summary."""
    lots_hi, lots_lo = plan_lots(model, result)
    allocation = allocation_frame(model.pairs, lots_hi, lots_lo, strategy, str(result.status))
    return SiteSolution(allocation=allocation, summary=site_summary(model, result, strategy, lots_hi, lots_lo), result=result)


def solve_terms(
    terms: pl.DataFrame,
    capacities: SiteCapacities,
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    threads: int = 1,
) -> tuple[SiteModel, KnapsackResult]:
    """One site's model (from its ``pair_terms`` rows) and the strategy's result; the
    result's build_ms includes building the model."""
    t0 = time.perf_counter()
    model = site_model_from_terms(terms, capacities)
    model_ms = (time.perf_counter() - t0) * 1e3
    result = solve_model(model, strategy, solver, time_limit_s, threads)
    return model, replace(result, build_ms=result.build_ms + model_ms)


def solve_site(
    pairs: pl.DataFrame,
    capacities: SiteCapacities,
    strategy: Strategy = "criticite_hybride",
    solver: SiteSolver = DEFAULT_SOLVER,
    time_limit_s: float = 10.0,
    topup_ratio: float = TOPUP_RATIO,
    threads: int = 1,
) -> SiteSolution:
    """SPEC §5 for one site: what to send, under its capacities, by the chosen strategy."""
    model, result = solve_terms(pair_terms(pairs, topup_ratio), capacities, strategy, solver, time_limit_s, threads)
    return plan_from_result(model, result, strategy)
