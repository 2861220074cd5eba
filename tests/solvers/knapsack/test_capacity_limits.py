"""SPEC §2 default constraints, hand-checked."""

import polars as pl

from solvers.knapsack.capacity_limits import site_capacity_limits

SITES = pl.DataFrame({"site_id": ["S1", "S2", "S3"], "capacity_total": [None, 300.0, 80.0]})


def test_empty_total_means_120_and_no_rows_means_fibre_50_cuivre_40():
    limits = site_capacity_limits(SITES, pl.DataFrame(schema={"site_id": pl.String, "category": pl.String, "capacity": pl.Float64}))
    assert limits["S1"].total == 120.0
    assert dict(limits["S1"].categories) == {"FIBRE": 50.0, "CUIVRE": 40.0}
    assert limits["S2"].total == 300.0


def test_a_site_with_rows_gets_exactly_its_rows():
    rows = pl.DataFrame({"site_id": ["S3", "S3", "S2"], "category": ["FIBRE", "OUTILLAGE", "CUIVRE"], "capacity": [10.0, 0.0, 5.0]})
    limits = site_capacity_limits(SITES, rows)
    assert dict(limits["S3"].categories) == {"FIBRE": 10.0, "OUTILLAGE": 0.0}
    assert dict(limits["S2"].categories) == {"CUIVRE": 5.0}
    assert dict(limits["S1"].categories) == {"FIBRE": 50.0, "CUIVRE": 40.0}
