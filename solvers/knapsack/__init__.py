"""The bounded multi-dimensional knapsack core, the site knapsack of SPEC §5 and the depot
groups of §5.2. README.md in this folder is the map (the exact path's cascade, statuses).

Layers, bottom up (a module imports only from the layers below it):
1. problem: the MKP (CSR weights), KnapsackResult, SolveStatus; laminar_lp: the closed-form
   LP kernels of the site structure (imports nothing here);
2. greedy, exact_pulp (PuLP: CBC or HiGHS), laminar_dp (the DP on a weight grid),
   group_milp (the group LP / MILP in HiGHS);
3. lexicographic (criticite_hybride's two phases through PuLP); core_dp (the core DP, on
   the kernels of laminar_lp and laminar_dp);
4. laminar_bnb: the site branch and bound and its cascade (core DP, DP, then PuLP), for
   both exact strategies (solver "bnb");
5. site_model: SPEC §5 items, constraints, strategies, greedy fallback and DEFAULT_SOLVER
   for one site; solve: ``solve(problem, method=...)`` to pick an MKP method by name;
6. alternatives (every strategy's plan side by side, critical_coverage), batch (all sites
   of a partition, optionally over a process pool; summary_frame, category_use_frame),
   capacity_limits (a site's limits from raw.sites and raw.site_capacities, SPEC §2),
   group_model (a depot's vans as one MKP under its supply), shortfall (after the solve,
   what held back each pair left short: bound_by);
7. group_exact: the group by Lagrangian bounds, van-by-van plans and the MILP;
8. group_strategies: exact, criticite_hybride and greedy on one group;
9. sourcing: ``solve_sourced``, what the KNAPSACK asset calls;
10. shards: a partition cut into shards of whole problems (a depot's vans together) and
    their plans merged back: the asset's progress batches, and cluster mode's shards;
11. kernel_warmup: the numba kernels of a partition's solve compiled ahead, on a synthetic
    partition.
No dagster import here.
"""

from solvers.knapsack.alternatives import SiteAlternatives, alternatives, plan_metrics
from solvers.knapsack.batch import solve_sites, summary_frame
from solvers.knapsack.exact_pulp import solve_exact
from solvers.knapsack.greedy import solve_greedy
from solvers.knapsack.lexicographic import solve_lexicographic
from solvers.knapsack.problem import KnapsackProblem, KnapsackResult, SolveStatus
from solvers.knapsack.site_model import (
    SiteCapacities,
    SiteModel,
    SiteSolution,
    SiteSummary,
    build_site_model,
    pair_terms,
    solve_site,
)
from solvers.knapsack.solve import solve

__all__ = [
    "KnapsackProblem",
    "KnapsackResult",
    "SiteAlternatives",
    "SiteCapacities",
    "SiteModel",
    "SiteSolution",
    "SiteSummary",
    "SolveStatus",
    "alternatives",
    "build_site_model",
    "pair_terms",
    "plan_metrics",
    "solve",
    "solve_exact",
    "solve_greedy",
    "solve_lexicographic",
    "solve_site",
    "solve_sites",
    "summary_frame",
]
