"""The knapsack's kernels compiled ahead of a partition (solvers/knapsack/kernel_warmup.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from solvers.knapsack.kernel_warmup import warmup_partition
from solvers.knapsack.site_model import pair_terms

ROOT = Path(__file__).resolve().parents[3]

#: a partition unlike the warm-up's (other sizes, seeds and capacities, a site of 300 pairs
#: whose search runs out of nodes), solved as the pipeline does; prints what numba compiled
#: (misses) and what it took from the cache (hits)
SOLVE_ANOTHER_PARTITION = """
import polars as pl, solvers.knapsack as knapsack
from solvers.kernel_cache import kernels_of
from solvers.knapsack.laminar_bnb import solve_lexicographic_bnb
from solvers.knapsack.site_model import SiteCapacities, pair_terms, site_model_from_terms
from solvers.knapsack.sourcing import solve_sourced
from tests.solvers.knapsack.sourcing_groups import random_groups
pairs, capacities, parents, supply = random_groups(3, depots=2, vans=4, articles=30, pairs_per_van=12)
big = random_groups(4, vans=1, articles=300, pairs_per_van=300)[0].with_columns(site_id=pl.lit("BIG"))
capacities["BIG"] = SiteCapacities(total=60.0, categories={"FIBRE": 25.0, "CUIVRE": 20.0})
solve_sourced(pl.concat([pairs, big], how="diagonal_relaxed"), capacities, parents, supply)
model = site_model_from_terms(pair_terms(big), capacities["BIG"])
solve_lexicographic_bnb(model.problem, model.critical_values, node_limit=1)
kernels = kernels_of(knapsack)
print(sum(sum(k.stats.cache_misses.values()) for k in kernels), sum(sum(k.stats.cache_hits.values()) for k in kernels))
"""


def _run(code: str, cache: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_after_a_warmup_another_partition_compiles_no_knapsack_kernel(tmp_path):
    _run("from solvers.knapsack.kernel_warmup import warm_up; warm_up()", tmp_path)
    misses, hits = map(int, _run(SOLVE_ANOTHER_PARTITION, tmp_path).split())
    assert hits > 0, "the counts see the kernels loaded from the cache"
    assert misses == 0, "a kernel the warm-up did not compile: extend warm_up"


def test_the_warmup_partition_has_a_group_with_scarce_supply_and_a_site_alone():
    pairs, capacities, parents, supply = warmup_partition()
    assert set(parents.values()) == {"DEP"} and "OUT" not in parents
    assert set(capacities) == set(pairs["site_id"].unique())
    requested = (
        pair_terms(pairs.filter(pl.col("site_id") != "OUT")).group_by("article_id").agg(pl.col("u").sum())
    )
    short = requested.join(supply, on="article_id").filter(pl.col("supply") < pl.col("u"))
    assert short.height > 0, "the vans compete for the depot's stock"
