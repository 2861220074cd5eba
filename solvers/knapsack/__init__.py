"""The bounded multi-dimensional knapsack core, the site knapsack of SPEC §5 and the depot
groups of §5.2. README.md in this folder is the map (the exact path's cascade, statuses).

Layers, bottom up:
- problem: the MKP (CSR weights), the result, the statuses;
- greedy / exact_pulp / lexicographic: the three solvers behind one result type, and
  ``solve(problem, method=...)`` to pick one by name;
- laminar_lp / core_dp / laminar_dp: the LP kernels, the exact core DP and the DP the
  branch and bound falls back on;
- site_model: SPEC §5 items, constraints, strategies and fallback for one site;
- laminar_bnb: the exact branch and bound for that site structure, for both exact
  strategies (solver "bnb"), with the DPs and PuLP behind it;
- alternatives: every strategy's plan side by side, and critical_coverage;
- batch: all sites of a partition, optionally over a process pool; summary_frame and
  category_use_frame (knapsack.site_summary / knapsack.category_use rows);
- capacity_limits: a site's limits from raw.sites and raw.site_capacities (SPEC §2);
- group_model / group_milp / group_exact / group_strategies / sourcing: SPEC §5.2, a
  depot's vans as one problem under the depot's supply (``solve_sourced`` is what the
  KNAPSACK asset calls).
No dagster import here.
"""

from solvers.knapsack.alternatives import SiteAlternatives, alternatives, plan_metrics
from solvers.knapsack.batch import solve_sites, summary_frame
from solvers.knapsack.exact_pulp import solve_exact
from solvers.knapsack.greedy import solve_greedy
from solvers.knapsack.lexicographic import solve_lexicographic
from solvers.knapsack.problem import KnapsackProblem, KnapsackResult, SolveStatus
from solvers.knapsack.solve import solve
from solvers.knapsack.site_model import (
    SiteCapacities,
    SiteModel,
    SiteSolution,
    SiteSummary,
    build_site_model,
    pair_terms,
    solve_site,
)

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
