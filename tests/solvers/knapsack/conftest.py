"""Fixtures of the knapsack tests: the OR-Library mknap1 set and a hand-made site builder."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from solvers.knapsack import KnapsackProblem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "knapsack"


@dataclass(frozen=True)
class OrlibInstance:
    number: int
    problem: KnapsackProblem
    optimum: float


def parse_mknap(path: Path) -> list[tuple[KnapsackProblem, float]]:
    """OR-Library mknap format (see the fixture README): a stream of numbers,
    K, then per problem n, m, optimum, n profits, m rows of n weights, m capacities."""
    tokens = path.read_text().split()
    pos = 0

    def take(count: int) -> list[float]:
        nonlocal pos
        out = [float(t) for t in tokens[pos : pos + count]]
        pos += count
        return out

    (k,) = take(1)
    problems = []
    for _ in range(int(k)):
        n, m, optimum = take(3)
        n, m = int(n), int(m)
        profits = take(n)
        weights = [take(n) for _ in range(m)]
        capacities = take(m)
        problems.append((KnapsackProblem.from_dense(profits, weights, capacities), optimum))
    return problems


@pytest.fixture(scope="session")
def mknap1() -> list[OrlibInstance]:
    """The 7 mknap1 problems with the optima of optima.csv (0/1: u_j = 1)."""
    problems = parse_mknap(FIXTURES / "mknap1.txt")
    with open(FIXTURES / "optima.csv", newline="") as f:
        optima = {int(r["instance"]): float(r["optimum"]) for r in csv.DictReader(f)}
    return [
        OrlibInstance(number=i, problem=p, optimum=optima[i])
        for i, (p, _) in enumerate(problems, start=1)
        if i in optima
    ]


PAIR_DEFAULTS: dict[str, Any] = {
    "site_id": "S1",
    "category": "FIBRE",
    "importance": "STANDARD",
    "u_total": 0.5,
    "min_projected": 0.0,
    "stock_min": 0,
    "stock_max": 0,
    "lot_size": 1,
    "unit_volume": 1.0,
    "level": "NORMAL",
    "class": "NORMAL_C",
    "unit_cost": 1.0,
}


def build_site_frame(*pairs: dict[str, Any]) -> pl.DataFrame:
    """A site's pairs from partial rows (article_id required; the rest defaults)."""
    rows = [{**PAIR_DEFAULTS, **p} for p in pairs]
    return pl.DataFrame(
        rows,
        schema_overrides={
            "u_total": pl.Float64, "min_projected": pl.Float64, "stock_min": pl.Int64,
            "stock_max": pl.Int64, "lot_size": pl.Int64, "unit_volume": pl.Float64,
            "unit_cost": pl.Float64,
        },
    )


@pytest.fixture(scope="session")
def site_frame():
    """``site_frame(*partial_rows)``: a site's pairs, article_id required, the rest defaulted."""
    return build_site_frame
