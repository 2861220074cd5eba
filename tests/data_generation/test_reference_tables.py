"""Reference tables respect the SPEC ranges and the mix the brief asks for."""

from __future__ import annotations

import polars as pl

from data_generation.profiles import PROFILES


def test_tiny_profile_has_fifty_articles_one_depot_and_four_vans(tiny_run):
    sites = tiny_run.reference("sites")
    assert tiny_run.reference("articles").height == 50
    assert sites["site_type"].to_list() == ["DEPOT", "VAN", "VAN", "VAN", "VAN"]


def test_tiny_profile_stocks_most_pairs(tiny_run):
    pairs = tiny_run.extract("stock_levels", tiny_run.days[0]).height
    assert pairs >= 0.8 * 50 * 5
    assert tiny_run.summary.stocked_pairs == pairs


def test_small_profile_has_its_announced_size(small_run):
    profile = PROFILES["small"]
    assert small_run.summary.articles == profile.articles
    assert small_run.summary.sites == profile.sites
    assert abs(small_run.summary.stocked_pairs - profile.approximate_pairs) <= 0.05 * profile.approximate_pairs


def test_reference_keys_are_unique(small_run):
    assert small_run.reference("articles")["article_id"].is_unique().all()
    assert small_run.reference("sites")["site_id"].is_unique().all()
    assert small_run.reference("technicians")["technician_id"].is_unique().all()
    assert not small_run.reference("bom").select("intervention_type", "article_id").is_duplicated().any()
    assert not small_run.reference("site_capacities").select("site_id", "category").is_duplicated().any()


def test_article_values_are_within_the_spec_ranges(small_run):
    articles = small_run.reference("articles").with_columns(
        pl.col("unit_cost", "unit_volume").cast(pl.Float64),
        pl.col("stock_min", "stock_max", "lead_time_days", "lot_size").cast(pl.Int64))
    assert (articles["unit_cost"] >= 0).all()
    assert articles["unit_volume"].is_between(0.05, 3.0).all()
    assert (articles["stock_min"] >= 0).all() and (articles["stock_min"] == 0).any()
    assert (articles["stock_max"] >= articles["stock_min"]).all()
    assert articles["lead_time_days"].is_between(0, 30).all()
    assert set(articles["lot_size"].unique()) <= {1, 5, 10, 20}


def test_article_mix_follows_the_fibre_copper_operator(small_run):
    articles = small_run.reference("articles")
    share = lambda column, value: (articles[column] == value).mean()  # noqa: E731
    assert 0.35 < share("category", "FIBRE") < 0.45
    assert 0.30 < share("category", "CUIVRE") < 0.40
    assert 0.07 < share("importance", "CRITIQUE") < 0.13
    assert 0.25 < share("importance", "IMPORTANT") < 0.35
    assert 0.92 < share("active", "true") < 0.98


def test_most_vans_use_the_default_capacity_and_depots_are_larger(small_run):
    sites = small_run.reference("sites").with_columns(pl.col("capacity_total").cast(pl.Float64))
    vans = sites.filter(pl.col("site_type") == "VAN")
    depots = sites.filter(pl.col("site_type") == "DEPOT")
    assert vans["capacity_total"].is_null().mean() > 0.6
    assert (depots["capacity_total"] > 120).all()


def test_about_a_third_of_sites_have_category_limits(small_run):
    limited = small_run.reference("site_capacities")
    assert limited["site_id"].n_unique() == round(0.3 * small_run.summary.sites)
    assert (limited["capacity"].cast(pl.Float64) >= 0).all()
    assert set(limited["category"]) >= {"FIBRE", "CUIVRE"}


def test_technicians_drive_vans_with_plausible_efficiency(small_run):
    technicians = small_run.reference("technicians")
    assert technicians["site_id"].str.starts_with("VAN").all()
    assert technicians["efficiency_factor"].cast(pl.Float64).is_between(0.7, 1.4).all()
    assert (technicians["active"] == "false").any()


def test_bom_quantities_are_positive_and_articles_known(small_run):
    bom = small_run.reference("bom")
    assert (bom["quantity"].cast(pl.Float64) > 0).all()
    assert bom["article_id"].is_in(small_run.reference("articles")["article_id"].implode()).all()
    assert 10 <= bom["intervention_type"].n_unique() <= 30
