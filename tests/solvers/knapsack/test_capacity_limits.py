"""SPEC §2 default constraints, hand-checked."""

import polars as pl
import pytest

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


def test_a_runs_overrides_replace_a_total_and_one_category_limit_only():
    rows = pl.DataFrame({"site_id": ["S2"], "category": ["FIBRE"], "capacity": [30.0]})
    limits = site_capacity_limits(SITES, rows, overrides={"S1": {"total": 150.0, "FIBRE": 60.0}, "S2": {"CUIVRE": 5.0}})
    assert limits["S1"].total == 150.0 and limits["S1"].categories == {"FIBRE": 60.0, "CUIVRE": 40.0}
    assert limits["S2"].categories == {"FIBRE": 30.0, "CUIVRE": 5.0}


def test_an_override_of_an_unknown_site_or_a_negative_capacity_is_refused():
    empty = pl.DataFrame(schema={"site_id": pl.String, "category": pl.String, "capacity": pl.Float64})
    with pytest.raises(ValueError, match="no site 'NOPE'"):
        site_capacity_limits(SITES, empty, overrides={"NOPE": {"total": 1.0}})
    with pytest.raises(ValueError, match="negative"):
        site_capacity_limits(SITES, empty, overrides={"S1": {"total": -1.0}})
