"""The bounded multi-dimensional knapsack core and the site knapsack of SPEC §5.

Layers, bottom up:
- problem: the MKP (CSR weights), the result, the statuses;
- greedy / exact_pulp / lexicographic: the three solvers behind one result type,
  and ``solve(problem, method=...)`` to pick one by name;
- site_model: SPEC §5 items, constraints, strategies and fallback for one site;
- laminar_bnb: an exact branch and bound for that site structure, for both exact
  strategies (solver "bnb"), with PuLP behind it when it runs out of nodes;
- alternatives: every strategy's plan side by side;
- batch: all sites of a partition, optionally over a process pool.
No dagster import here: the assets call ``solve_site``.
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
