"""CBC's cutoff increment in the general PuLP path (exact_pulp.py): forced to 1e-9 on every
problem (before) against set only where a value is fractional (after, ``needs_increment``),
with a plain PuLP + CBC model (no option at all) as the reference.

Why: with integer values CBC derives an increment of ~1 itself (two plans differ by at
least 1), so a node must promise 1 more than the incumbent to stay open; forcing 1e-9
keeps nodes open for nothing. Issue 20 measured 0.18 pt more gap to the best known than a
plain model on hidden 0/1 MKPs (n = 250, m = 10, 10 s).

Instances:
- the OR-Library mknap1 set (``--fixtures``, default tests/fixtures/knapsack):
  7 problems, n = 6..50; all but problem 2 have integer values
  (problem 2 keeps the increment: it is the control). Each is solved to the proof, so the
  figures are CBC's node count (deterministic) and the median wall time of ``--repeats``.
- ``--generated K``: K problems of the hidden instances' shape, drawn as OR-Library's
  mknapcb were (Chu and Beasley 1998): w_ij integer in [1, 1000], C_i = tightness x
  sum_j w_ij, p_j = round(sum_i w_ij / m + 500 q_j), q_j uniform in [0, 1); time limit
  ``--time-limit`` each, tightness 0.25 / 0.5 / 0.75 in turn. Figures: value reached,
  CBC's bound, gap to the best value any variant reached on that problem, nodes. The
  limit counts CBC's CPU time by default (``--time-mode``): on a shared machine a
  wall-clock limit gives each run whatever CPU the other jobs leave.
- ``--proof K``: K smaller problems drawn the same way (n = 60..100, m = 5, tightness
  0.5), solved to the proof: CBC's node count to the proof is the deterministic figure.

Every CBC run is single-threaded, one at a time, the variants of a problem interleaved.

    .venv/bin/python bench/bench_pulp_increment.py                       # mknap1, 5 repeats
    .venv/bin/python bench/bench_pulp_increment.py --proof 5 --generated 6 --time-limit 10
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pulp

from solvers.knapsack import exact_pulp
from solvers.knapsack.exact_pulp import build_model, needs_increment, solve_exact
from solvers.knapsack.problem import KnapsackProblem

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIRS = (ROOT / "tests" / "fixtures" / "knapsack",)
VARIANTS = ("forced", "needed", "plain")
_NODES = re.compile(r"^Enumerated nodes:\s*(\d+)", re.MULTILINE)
#: CBC's bound line, as exact_pulp.py reads it for its own solves
_BOUND = re.compile(r"^(?:Upper|Lower) bound:\s*([-+0-9.eE]+)", re.MULTILINE)


def read_mknap(path: Path) -> list[tuple[KnapsackProblem, float]]:
    """OR-Library mknap format (the fixture README): K, then per problem n, m, the
    optimum, n profits, m rows of n weights, m capacities (0/1 variables)."""
    tokens = iter(path.read_text().split())
    out = []
    for _ in range(int(next(tokens))):
        n, m, optimum = int(next(tokens)), int(next(tokens)), float(next(tokens))
        profits = [float(next(tokens)) for _ in range(n)]
        weights = [[float(next(tokens)) for _ in range(n)] for _ in range(m)]
        capacities = [float(next(tokens)) for _ in range(m)]
        out.append((KnapsackProblem.from_dense(profits, weights, capacities), optimum))
    return out


TIGHTNESS = (0.25, 0.5, 0.75)


def generated(k: int, n: int = 250, m: int = 10, seed: int = 20) -> list[tuple[float, KnapsackProblem]]:
    """K 0/1 MKPs drawn as OR-Library's mknapcb (module docstring), tightness 0.25, 0.5,
    0.75 in turn, as (tightness, problem)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(k):
        tightness = TIGHTNESS[i % len(TIGHTNESS)]
        w = rng.integers(1, 1001, (m, n)).astype(np.float64)
        p = np.round(w.sum(0) / m + 500 * rng.random(n))
        out.append((tightness, KnapsackProblem.from_dense(p, w, np.floor(tightness * w.sum(1)))))
    return out


class _CbcSpy:
    """Around every CBC run: sets its time mode (``cpu``: the limit counts CBC's own CPU
    seconds, so that runs on a loaded machine get the same work; PuLP's default and
    exact_pulp.py's is ``elapsed``) and reads its node count from the log PuLP asks CBC
    to write (solve_exact deletes its log after the solve, so it is read here)."""

    def __init__(self, time_mode: str) -> None:
        self.time_mode = time_mode
        self.nodes: int | None = None
        self._real = pulp.COIN_CMD.actualSolve

    def __enter__(self) -> _CbcSpy:
        spy = self

        def actual_solve(cmd, lp, **kwargs):
            cmd.optionsDict["timeMode"] = spy.time_mode
            status = spy._real(cmd, lp, **kwargs)
            log = cmd.optionsDict.get("logPath")
            if log and os.path.exists(log):
                found = _NODES.findall(Path(log).read_text(errors="replace"))
                spy.nodes = int(found[-1]) if found else None
            return status

        pulp.COIN_CMD.actualSolve = actual_solve
        return self

    def __exit__(self, *exc) -> None:
        pulp.COIN_CMD.actualSolve = self._real


def run(problem: KnapsackProblem, variant: str, time_limit_s: float, time_mode: str = "elapsed") -> dict:
    """One CBC solve: wall ms, value, status, bound (NaN unless stopped with a plan), nodes."""
    t0 = time.perf_counter()
    if variant == "plain":
        prob, variables = build_model(problem)
        fd, log = tempfile.mkstemp(prefix="bench_cbc_", suffix=".log")
        os.close(fd)
        try:
            with _CbcSpy(time_mode) as spy:
                prob.solve(pulp.COIN_CMD(
                    path=shutil.which("cbc") or pulp.PULP_CBC_CMD.pulp_cbc_path, msg=False,
                    timeLimit=time_limit_s, logPath=log,
                ))
            text = Path(log).read_text(errors="replace")
        finally:
            os.unlink(log)
        x = np.array([0 if v is None or v.varValue is None else round(v.varValue) for v in variables])
        bound = _BOUND.findall(text)
        proven = prob.sol_status == pulp.LpSolutionOptimal
        value = problem.objective(x)
        assert problem.is_feasible(x), variant
        return {
            "ms": (time.perf_counter() - t0) * 1e3, "value": value,
            "status": "OPTIMAL" if proven else "TIME_LIMIT_FEASIBLE",
            "bound": value if proven else (max(float(bound[-1]), value) if bound else float("nan")),
            "nodes": spy.nodes,
        }
    saved = exact_pulp.needs_increment
    if variant == "forced":  # the code before: increment 1e-9 on every problem
        exact_pulp.needs_increment = lambda _problem: True
    try:
        with _CbcSpy(time_mode) as spy:
            res = solve_exact(problem, solver="cbc", time_limit_s=time_limit_s)
    finally:
        exact_pulp.needs_increment = saved
    assert problem.is_feasible(res.x), variant
    return {
        "ms": (time.perf_counter() - t0) * 1e3, "value": res.objective, "status": str(res.status),
        "bound": res.bound, "nodes": spy.nodes,
    }


def bench_fixtures(directory: Path, repeats: int) -> None:
    problems = read_mknap(directory / "mknap1.txt")
    print(f"\nmknap1 ({directory}), {repeats} repeats, median wall ms / CBC nodes / value:\n")
    print("| problem | n x m | integer values | forced 1e-9 | only where needed | plain PuLP+CBC |")
    print("|---|---|---|---|---|---|")
    for k, (problem, optimum) in enumerate(problems, start=1):
        runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for _ in range(repeats):
            for v in VARIANTS:
                runs[v].append(run(problem, v, 60.0))
        cells = []
        for v in VARIANTS:
            r = runs[v]
            assert all(abs(x["value"] - optimum) <= 1e-6 and x["status"] == "OPTIMAL" for x in r), (k, v)
            cells.append(f"{statistics.median(x['ms'] for x in r):.0f} ms / {r[0]['nodes']} nodes")
        flag = "no (control)" if needs_increment(problem) else "yes"
        print(f"| {k} | {problem.n_items} x {problem.n_constraints} | {flag} | " + " | ".join(cells) + " |")
    print("\nevery run reached the listed optimum, status OPTIMAL")


def bench_proof(k: int, time_mode: str) -> None:
    """Problems small enough to prove (n 60..100, m 5, tightness 0.5): the node count
    to the proof is deterministic, so it shows any pruning the increment buys."""
    rng = np.random.default_rng(5)
    print(f"\n{k} generated problems solved to the proof (60 s {time_mode} limit), CBC nodes / wall s:\n")
    print("| problem | n x m | optimum | forced 1e-9 | only where needed | plain PuLP+CBC |")
    print("|---|---|---|---|---|---|")
    for i in range(k):
        n, m = 60 + 10 * (i % 5), 5
        w = rng.integers(1, 1001, (m, n)).astype(np.float64)
        p = np.round(w.sum(0) / m + 500 * rng.random(n))
        problem = KnapsackProblem.from_dense(p, w, np.floor(0.5 * w.sum(1)))
        runs = {v: run(problem, v, 60.0, time_mode) for v in VARIANTS}
        values = {r["value"] for r in runs.values()}
        assert len(values) == 1 and all(r["status"] == "OPTIMAL" for r in runs.values()), (i, runs)
        cells = [f"{runs[v]['nodes']} / {runs[v]['ms'] / 1e3:.1f} s" for v in VARIANTS]
        print(f"| {i + 1} | {n} x {m} | {values.pop():.0f} | " + " | ".join(cells) + " |")


def bench_generated(k: int, time_limit_s: float, time_mode: str) -> None:
    print(f"\n{k} generated problems (n 250, m 10), {time_limit_s:g} s ({time_mode} time) each:\n")
    print("| problem | tightness | variant | value | CBC bound | gap to bound | gap to best of the 3 | nodes |")
    print("|---|---|---|---|---|---|---|---|")
    gaps: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for i, (tightness, problem) in enumerate(generated(k), start=1):
        assert not needs_increment(problem)
        order = VARIANTS[i % 3:] + VARIANTS[: i % 3]  # who runs first changes per problem
        runs = {v: run(problem, v, time_limit_s, time_mode) for v in order}
        best = max(r["value"] for r in runs.values())
        for v in VARIANTS:
            r = runs[v]
            to_best = (best - r["value"]) / best
            gaps[v].append(to_best)
            to_bound = (r["bound"] - r["value"]) / r["value"]
            print(f"| {i} | {tightness} | {v} | {r['value']:.0f} | {r['bound']:.1f} | {to_bound:.3%} | "
                  f"{to_best:.3%} | {r['nodes']} |")
    print("\nmean gap to the best of the three: " + ", ".join(f"{v} {np.mean(g):.3%}" for v, g in gaps.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", type=Path, default=None, help="folder holding mknap1.txt")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--generated", type=int, default=0, help="also K generated problems of the hidden shape")
    ap.add_argument("--proof", type=int, default=0, help="also K smaller generated problems, solved to the proof")
    ap.add_argument("--time-limit", type=float, default=10.0, help="per generated problem (s)")
    ap.add_argument("--time-mode", choices=("cpu", "elapsed"), default="cpu",
                    help="how CBC counts the generated problems' limit (cpu: fair on a shared machine)")
    args = ap.parse_args()
    directory = args.fixtures or next(d for d in FIXTURE_DIRS if (d / "mknap1.txt").exists())
    print(f"{platform.machine()}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f} at start, "
          f"pulp {pulp.__version__}")
    bench_fixtures(directory, args.repeats)
    if args.proof:
        bench_proof(args.proof, args.time_mode)
    if args.generated:
        bench_generated(args.generated, args.time_limit, args.time_mode)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
