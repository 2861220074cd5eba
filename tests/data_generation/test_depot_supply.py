"""Vans name their depot (sites.parent_site_id) and depots hold finite stock: in every depot
group some articles are scarce, most are not (SPEC §5.2, issue 15)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from data_generation.catalogue import draw_bill_of_materials, draw_catalogue
from data_generation.network import draw_network
from data_generation.profiles import PROFILES
from orchestrator_assets.defs.ingest.rejection_rules import validate_table
from orchestrator_assets.defs.ingest.table_contracts import SITES


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_van_names_its_home_depot_for_every_profile(profile):
    shape = PROFILES[profile]
    rng = np.random.default_rng(0)
    catalogue = draw_catalogue(min(shape.articles, 2_000), rng)
    network = draw_network(shape, draw_bill_of_materials(shape.intervention_types, catalogue, rng), rng)
    sites = network.sites_frame()
    vans = sites.filter(pl.col("site_type") == "VAN")
    depots = sites.filter(pl.col("site_type") == "DEPOT")
    assert depots["parent_site_id"].is_null().all()
    assert vans["parent_site_id"].is_in(depots["site_id"].implode()).all()
    expected = [network.site_id[network.home_depot[s]] for s in range(shape.depots, shape.sites)]
    assert vans["parent_site_id"].to_list() == expected
    # every depot has vans, spread evenly (van number modulo the depots)
    per_depot = vans.group_by("parent_site_id").len()["len"]
    assert per_depot.len() == shape.depots and per_depot.max() - per_depot.min() <= 1
    # and the ingestion accepts every row (no bad_parent)
    as_text = sites.with_columns(pl.col("capacity_total").cast(pl.String))
    assert validate_table(as_text, SITES, dt.date(2026, 1, 1)).rejected.is_empty()


def test_the_written_sites_file_carries_the_parents(tiny_run):
    sites = tiny_run.reference("sites")
    assert sites.columns[-1] == "parent_site_id"
    assert dict(zip(sites["site_id"], sites["parent_site_id"], strict=True)) == {
        "DEP001": None, "VAN0001": "DEP001", "VAN0002": "DEP001", "VAN0003": "DEP001", "VAN0004": "DEP001",
    }


def scarcity_by_group(run, day: dt.date) -> pl.DataFrame:
    """Per depot, over the articles it stocks that its vans ask for: how many are scarce.

    A van's request (SPEC §5: u x lot, u = ceil(max(0, stock_max - min_projected) / lot)) is
    at least ceil(max(0, stock_max - on_hand) / lot) x lot, since min_projected <= on_hand:
    an article scarce against this lower bound is scarce in the pipeline too.
    """
    articles = run.reference("articles").filter(pl.col("active") == "true").select(
        "article_id", *[pl.col(c).cast(pl.Int64) for c in ("stock_min", "stock_max", "lot_size")]
    )
    parents = run.reference("sites").filter(pl.col("parent_site_id").is_not_null()).select(
        "site_id", pl.col("parent_site_id").alias("depot")
    )
    stock = run.extract("stock_levels", day).with_columns(pl.col("quantity_on_hand").cast(pl.Int64)).join(
        articles, on="article_id"
    )
    lot = pl.col("lot_size")
    requested = (
        stock.join(parents, on="site_id")
        .with_columns(request=(-(-(pl.col("stock_max") - pl.col("quantity_on_hand")).clip(0) // lot)) * lot)
        .group_by("depot", "article_id")
        .agg(pl.col("request").sum())
        .filter(pl.col("request") > 0)
    )
    supply = stock.select(
        pl.col("site_id").alias("depot"), "article_id",
        (pl.col("quantity_on_hand") - pl.col("stock_min")).clip(0).alias("supply"),
    )
    return (
        requested.join(supply, on=["depot", "article_id"], how="inner")
        .group_by("depot")
        .agg(articles=pl.len(), scarce=(pl.col("supply") < pl.col("request")).sum())
    )


@pytest.mark.parametrize("run_name", ["tiny_run", "small_run"])
def test_every_depot_group_has_scarce_articles_every_day_but_most_are_served(run_name, request):
    run = request.getfixturevalue(run_name)
    for day in run.days:
        groups = scarcity_by_group(run, day)
        assert groups.height == PROFILES[run.summary.profile].depots, day
        share = groups["scarce"] / groups["articles"]
        assert (groups["scarce"] >= 1).all(), (day, groups)
        assert (share >= 0.05).all() and (share <= 0.5).all(), (day, groups)
