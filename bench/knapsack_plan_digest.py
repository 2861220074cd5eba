"""Digest of the site plans the exact paths give, to check that a change to
solvers/knapsack/ keeps every plan (a refactor) or to see which ones it moves.

Exact plans are not unique (ties), so two implementations are compared by objective
(the tests do); two versions of the same implementation must give the very same plans.
For every site: ``solve_model`` for exact and criticite_hybride with solver bnb (CBC too
on every fifth random site), and the branch and bound's own results with tiny node
budgets (1 and 30 nodes: the DP fallbacks and the node-limit status get exercised).
Per run it records a hash of x, the status, the solver label, the detail and the
objective.

Sites: ``--random`` random sites of the site benchmark (bench_knapsack.random_site,
120 or 300 pairs), the three hard vans and the two depots of tests/fixtures/knapsack.
~30 s on one core.

    .venv/bin/python bench/knapsack_plan_digest.py before.json     # on the old code
    .venv/bin/python bench/knapsack_plan_digest.py after.json --compare before.json
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

from solvers.knapsack import SiteCapacities, build_site_model
from solvers.knapsack.laminar_bnb import solve_laminar_bnb, solve_lexicographic_bnb
from solvers.knapsack.problem import KnapsackResult
from solvers.knapsack.site_model import SiteModel, solve_model

# run as a script, this folder is on sys.path
from bench_knapsack import CAPACITIES, random_site

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "knapsack"


def _row(res: KnapsackResult) -> list:
    digest = hashlib.sha1(np.asarray(res.x, dtype=np.int64).tobytes()).hexdigest()[:12]
    return [digest, str(res.status), res.solver, res.detail, round(float(res.objective), 9)]


def sites(n_random: int) -> list[tuple[str, SiteModel]]:
    out = []
    for seed in range(n_random):
        pairs = random_site(np.random.default_rng(seed), 120 if seed % 3 else 300, f"S{seed}", 0.35)
        out.append((f"random{seed}", build_site_model(pairs, CAPACITIES)))
    for pairs_file, caps_file in (("hard_sites_pairs.parquet", "hard_sites_capacities.json"),
                                  ("depot_sites_pairs.parquet", "depot_sites.json")):
        pairs = pl.read_parquet(FIXTURES / pairs_file)
        for sid, c in sorted(json.loads((FIXTURES / caps_file).read_text()).items()):
            caps = SiteCapacities(total=c["total"], categories=c["categories"])
            out.append((sid, build_site_model(pairs.filter(pl.col("site_id") == sid), caps)))
    return out


def digest(n_random: int) -> dict[str, list]:
    out: dict[str, list] = {}
    for k, (name, model) in enumerate(sites(n_random)):
        for strategy in ("exact", "criticite_hybride"):
            out[f"{name}/{strategy}/bnb"] = _row(solve_model(model, strategy, "bnb"))
            if name.startswith("random") and k % 5 == 0:
                out[f"{name}/{strategy}/cbc"] = _row(solve_model(model, strategy, "cbc"))
        for nodes in (1, 30):
            out[f"{name}/laminar_bnb/{nodes}"] = _row(solve_laminar_bnb(model.problem, node_limit=nodes))
            first, second = solve_lexicographic_bnb(model.problem, model.critical_values, node_limit=nodes)
            out[f"{name}/phase1/{nodes}"] = _row(first)
            if second is not None:
                out[f"{name}/phase2/{nodes}"] = _row(second)
    return out


def compare(new: dict[str, list], old: dict[str, list]) -> int:
    """Prints every run whose plan, status, solver, detail or objective moved; returns
    how many plans (x or objective) moved."""
    moved = 0
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        plan = a is None or b is None or a[0] != b[0] or a[4] != b[4]
        moved += plan
        print(("PLAN  " if plan else "label ") + f"{key}: {a} -> {b}")
    print(f"{len(new)} runs, {moved} plans moved")
    return moved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="where to write the digest (JSON)")
    ap.add_argument("--random", type=int, default=150, help="random sites")
    ap.add_argument("--compare", type=Path, help="an earlier digest")
    args = ap.parse_args()
    new = digest(args.random)
    args.out.write_text(json.dumps(new, indent=0, sort_keys=True))
    if args.compare:
        sys.exit(1 if compare(new, json.loads(args.compare.read_text())) else 0)
    print(f"{len(new)} runs written to {args.out}")


if __name__ == "__main__":
    main()
