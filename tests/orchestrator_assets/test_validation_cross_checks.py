"""Cross-table checks of VALIDATION_FINALE on hand-made frames: capacities with the SPEC §2
defaults, whole lots, and the numbers the soft checks compare."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_assets.defs.validation.cross_checks import (
    backtest_best_violations,
    capacity_excess,
    critique_count,
    is_critique_jump,
    quantities_not_in_whole_lots,
    site_limits,
    zero_rate_share,
)

ARTICLES = pl.DataFrame(
    {
        "article_id": ["F1", "C1", "E1"],
        "category": ["FIBRE", "CUIVRE", "ENERGIE"],
        "unit_volume": [1.0, 1.0, 1.0],
        "lot_size": [5, 2, 1],
    }
)
# DEF: no site_capacities row (FIBRE 50 / CUIVRE 40) and an empty capacity_total (120).
# OWN: its own rows only (FIBRE 10; CUIVRE and ENERGIE unlimited within its total of 30).
SITES = pl.DataFrame(
    {"site_id": ["DEF", "OWN"], "capacity_total": [None, 30.0]}, schema={"site_id": pl.String, "capacity_total": pl.Float64}
)
SITE_CAPACITIES = pl.DataFrame({"site_id": ["OWN"], "category": ["FIBRE"], "capacity": [10.0]})


def allocation(rows: list[tuple[str, str, int]], lot_sizes: dict[str, int] | None = None) -> pl.DataFrame:
    sizes = lot_sizes or dict(zip(ARTICLES["article_id"], ARTICLES["lot_size"]))
    return pl.DataFrame(
        [
            {"site_id": site, "article_id": article, "lots": quantity // sizes[article], "quantity": quantity}
            for site, article, quantity in rows
        ],
        schema={"site_id": pl.String, "article_id": pl.String, "lots": pl.Int64, "quantity": pl.Int64},
    )


def excess(rows) -> list[tuple[str, str]]:
    return capacity_excess(allocation(rows), ARTICLES, SITES, SITE_CAPACITIES).select("site_id", "scope").rows()


def test_site_limits_apply_the_spec_defaults():
    limits = {(site, scope): capacity for site, scope, capacity in site_limits(SITES, SITE_CAPACITIES).rows()}
    assert limits == {
        ("DEF", "TOTAL"): 120.0, ("DEF", "FIBRE"): 50.0, ("DEF", "CUIVRE"): 40.0,
        ("OWN", "TOTAL"): 30.0, ("OWN", "FIBRE"): 10.0,
    }


def test_an_allocation_at_every_capacity_passes():
    assert excess([("DEF", "F1", 50), ("DEF", "C1", 40), ("DEF", "E1", 30), ("OWN", "F1", 10), ("OWN", "C1", 20)]) == []


def test_a_default_category_limit_is_enforced_on_a_site_without_rows():
    assert excess([("DEF", "F1", 55)]) == [("DEF", "FIBRE")]
    assert excess([("DEF", "C1", 42)]) == [("DEF", "CUIVRE")]


def test_the_default_total_is_enforced_when_capacity_total_is_empty():
    assert excess([("DEF", "F1", 50), ("DEF", "C1", 40), ("DEF", "E1", 31)]) == [("DEF", "TOTAL")]


def test_a_site_with_rows_gets_exactly_its_rows():
    # OWN has a FIBRE row only: CUIVRE is unlimited there (only its total of 30 applies) ...
    assert excess([("OWN", "C1", 28)]) == []
    # ... and its FIBRE limit is its own 10, not the default 50.
    assert excess([("OWN", "F1", 15)]) == [("OWN", "FIBRE")]


def test_an_excess_reports_used_capacity_and_excess():
    row = capacity_excess(allocation([("OWN", "F1", 15), ("OWN", "C1", 20)]), ARTICLES, SITES, SITE_CAPACITIES).rows(named=True)
    assert row == [
        {"site_id": "OWN", "scope": "FIBRE", "used": 15.0, "capacity": 10.0, "excess": 5.0},
        {"site_id": "OWN", "scope": "TOTAL", "used": 35.0, "capacity": 30.0, "excess": 5.0},
    ]


def test_a_runs_capacity_overrides_are_the_capacities_checked():
    frame = allocation([("OWN", "F1", 15), ("OWN", "C1", 20)])  # over OWN's FIBRE 10 and total 30
    overrides = {"OWN": {"total": 40.0, "FIBRE": 15.0}}
    assert capacity_excess(frame, ARTICLES, SITES, SITE_CAPACITIES, overrides=overrides).height == 0
    tighter = {"OWN": {"CUIVRE": 5.0}}  # a category limit the site did not have
    rows = capacity_excess(frame, ARTICLES, SITES, SITE_CAPACITIES, overrides=tighter).select("site_id", "scope").rows()
    assert sorted(rows) == [("OWN", "CUIVRE"), ("OWN", "FIBRE"), ("OWN", "TOTAL")]


def test_volume_is_quantity_times_unit_volume_of_the_article():
    bulky = ARTICLES.with_columns(pl.when(pl.col("article_id") == "E1").then(4.0).otherwise(pl.col("unit_volume")).alias("unit_volume"))
    frame = allocation([("OWN", "E1", 8)])
    assert capacity_excess(frame, bulky, SITES, SITE_CAPACITIES)["used"].to_list() == [32.0]


def test_float_noise_within_the_tolerance_passes():
    noisy = ARTICLES.with_columns(pl.lit(0.1).alias("unit_volume"))
    frame = allocation([("OWN", "E1", 300)])  # 300 x 0.1 = 30.000000000000004
    assert capacity_excess(frame, noisy, SITES, SITE_CAPACITIES).height == 0


def test_a_site_unknown_to_raw_sites_fails_with_no_capacity():
    rows = capacity_excess(allocation([("GHOST", "E1", 1)]), ARTICLES, SITES, SITE_CAPACITIES).rows(named=True)
    assert rows == [{"site_id": "GHOST", "scope": "TOTAL", "used": 1.0, "capacity": None, "excess": None}]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["DEF", "OWN"]), st.sampled_from(["F1", "C1", "E1"]), st.integers(0, 60)), max_size=8))
def test_capacity_excess_lists_exactly_the_scopes_over_their_limit(rows):
    """Property: a (site, scope) is reported iff its summed volume is above its limit."""
    frame = allocation([(site, article, quantity) for site, article, quantity in rows], {"F1": 1, "C1": 1, "E1": 1})
    used: dict[tuple[str, str], float] = {}
    category = dict(zip(ARTICLES["article_id"], ARTICLES["category"]))
    for site, article, quantity in rows:
        used[(site, "TOTAL")] = used.get((site, "TOTAL"), 0.0) + quantity
        used[(site, category[article])] = used.get((site, category[article]), 0.0) + quantity
    limits = {(site, scope): capacity for site, scope, capacity in site_limits(SITES, SITE_CAPACITIES).rows()}
    expected = {key for key, volume in used.items() if key in limits and volume > limits[key]}
    got = set(capacity_excess(frame, ARTICLES, SITES, SITE_CAPACITIES).select("site_id", "scope").rows())
    assert got == expected


def test_whole_lots_pass():
    assert quantities_not_in_whole_lots(allocation([("DEF", "F1", 10), ("DEF", "C1", 0), ("OWN", "E1", 3)]), ARTICLES).height == 0


def test_a_quantity_not_a_multiple_of_its_lot_size_fails():
    bad = allocation([("DEF", "F1", 10)]).with_columns(pl.lit(7).cast(pl.Int64).alias("quantity"))
    assert quantities_not_in_whole_lots(bad, ARTICLES).select("quantity", "lot_size", "reason").rows() == [
        (7, 5, "quantity not a multiple of lot_size")
    ]


def test_a_quantity_that_is_not_lots_times_lot_size_fails():
    bad = allocation([("DEF", "F1", 10)]).with_columns(pl.lit(3).cast(pl.Int64).alias("lots"))
    assert quantities_not_in_whole_lots(bad, ARTICLES)["reason"].to_list() == ["quantity differs from lots x lot_size"]


def test_an_article_unknown_to_raw_articles_fails_whole_lots():
    ghost = pl.DataFrame({"site_id": ["DEF"], "article_id": ["ZZ"], "lots": [1], "quantity": [1]})
    assert quantities_not_in_whole_lots(ghost, ARTICLES)["reason"].to_list() == ["article not in raw.articles"]


def backtest_rows(best: dict[str, list[str]], errors: dict[str, dict[str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"site_id": "S", "article_id": article, "method": method, "forecast_rate": 5.0 - error, "actual_rate": 5.0,
             "best": method in best[article]}
            for article, per_method in errors.items()
            for method, error in per_method.items()
        ]
    )


def test_backtest_best_is_one_method_per_pair_never_worse_than_sba():
    errors = {"A": {"mean": 1.0, "sba": 2.0}, "B": {"mean": 3.0, "sba": 2.0}, "C": {"mean": 1.0, "sba": 1.0}}
    assert backtest_best_violations(backtest_rows({"A": ["mean"], "B": ["sba"], "C": ["sba"]}, errors)).height == 0
    bad = backtest_best_violations(backtest_rows({"A": ["mean", "sba"], "B": ["mean"], "C": []}, errors))
    assert bad.select("article_id", "best_rows").rows() == [("A", 2), ("B", 1), ("C", 0)]
    no_sba = backtest_best_violations(backtest_rows({"A": ["mean"]}, {"A": {"mean": 1.0}}))
    assert no_sba["article_id"].to_list() == ["A"]


def test_zero_rate_share_is_the_share_of_pairs_with_a_zero_rate():
    assert zero_rate_share(pl.DataFrame({"rate": [0.0, 0.0, 1.5, 0.2]})) == 0.5
    assert zero_rate_share(pl.DataFrame({"rate": []}, schema={"rate": pl.Float64})) == 0.0


def test_critique_count_counts_the_critique_level_of_any_abc_class():
    frame = pl.DataFrame({"level": ["CRITIQUE", "CRITIQUE", "URGENT", "NORMAL"]})
    assert critique_count(frame) == 2


def test_a_critique_jump_needs_both_the_ratio_and_the_increase():
    assert is_critique_jump(45, 20, ratio=2.0, min_increase=20)
    assert not is_critique_jump(40, 20, ratio=2.0, min_increase=20)  # exactly 2x
    assert is_critique_jump(30, 5, ratio=2.0, min_increase=20)  # 6x and 25 more
    assert not is_critique_jump(12, 1, ratio=2.0, min_increase=20)  # 12x but 11 more
    assert not is_critique_jump(500, None, ratio=2.0, min_increase=20)  # no previous partition
