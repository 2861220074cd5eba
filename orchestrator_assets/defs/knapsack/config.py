"""Run parameters of the KNAPSACK module (`reassort run --set knapsack.NAME=V`), SPEC §5 defaults."""

from typing import Literal

import dagster as dg
from pydantic import Field

from solvers.knapsack.site_model import DEFAULT_SOLVER

#: the op of the knapsack multi-asset: its run config is the KnapsackConfig (the capacity check
#: reads the run's capacity overrides there)
KNAPSACK_OP = "knapsack"


class KnapsackConfig(dg.Config):
    """Strategy, solver and limits of the per-site replenishment plan (SPEC §5)."""

    strategy: Literal["criticite_hybride", "exact", "greedy"] = Field(
        default="criticite_hybride",
        description="criticite_hybride: critical minimum need first, then total value; exact: total value; greedy.",
    )
    solver: Literal["bnb", "cbc", "highs"] = Field(
        default=DEFAULT_SOLVER,
        description="bnb: our exact branch and bound for the site structure (both exact strategies; CBC takes "
        "over when it runs out of nodes; ~1.4 ms/site against ~41 ms for CBC); cbc or highs: the general MILP "
        "through PuLP (the cross-check).",
    )
    time_limit_s: float = Field(default=10.0, gt=0.0, description="Per-site solver time limit (seconds).")
    topup_ratio: float = Field(default=0.1, ge=0.0, le=1.0, description="Value of a top-up lot relative to a minimum-need lot.")
    sourcing: bool = Field(
        default=True,
        description="SPEC §5.2: vans are supplied from their parent depot's stock (on hand - stock_min), one "
        "problem per depot group; false: every site supplied from outside (§5 alone).",
    )
    gap_tolerance: float = Field(
        default=1e-3, ge=0.0, le=1.0,
        description="SPEC §5.2 groups: the search stops once its plan is within this relative gap of its bound "
        "(status GAP_LIMIT_FEASIBLE, bound and gap reported); 0 = search to the time limit. Groups of up to "
        "1,000 items are always solved to optimality by the MILP.",
    )
    alternatives: bool = Field(default=False, description="Also compute every other strategy's plan per site.")
    categories: list[str] = Field(
        default_factory=list,
        description="Allocate only these article categories (e.g. [FIBRE] for a per-category batch); empty = all.",
    )
    capacity: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Capacity overrides of this run, by site: {SITE: {total: 150, FIBRE: 60}} (`--set "
        "knapsack.capacity.SITE.total=150`, `--set knapsack.capacity.SITE.FIBRE=60`): a what-if without editing "
        "the reference files. A category limit set here is added to the site's other limits.",
    )
    workers: int = Field(
        default=1, ge=1, le=64,
        description="Processes solving sites in parallel (from 100 sites on). With bnb one process is faster "
        "up to ~2,000 sites: each spawned worker costs ~2.5 s of start-up.",
    )
    shard_pairs: int = Field(
        default=500_000, ge=1,
        description="Cluster mode: a partition of more pairs than this is cut into shards (a depot group is never "
        "split) that the cluster's workers solve alongside this step; the plan equals the unsharded one. Ignored "
        "in local mode (knapsack.workers uses the machine's cores).",
    )
