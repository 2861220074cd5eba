"""What a user sees in the Dagster UI: the asset graph, and a materialised partition's metadata.

One partition of the tiny profile is materialised through `reassort run`, then
`dagster-webserver -w workspace.yaml` serves the same instance and headless Chromium opens it.
Screenshots go to screenshots/ (git-ignored): dagster_ui_catalog.png, dagster_ui_lineage.png,
dagster_ui_stock_projection.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orchestrator_assets.cli import main
from orchestrator_assets.warehouse import Warehouse
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

DAY = "2026-01-04"
EXPECTED_ASSETS = ["stock/stock_projection", "urgence/urgency_classification", "knapsack/allocation"]


@pytest.fixture(scope="module")
def materialised(tiny_project) -> str:
    """`reassort run --date 2026-01-04` into the temporary project (before the webserver starts)."""
    with tiny_project.environment():
        assert main(["run", "--date", DAY]) == 0
    return DAY


@pytest.fixture(scope="module")
def ui(materialised, dagster_server):
    return dagster_server


def test_asset_catalog_lists_the_module_assets(ui, page):
    page.set_viewport_size({"width": 1600, "height": 2000})  # the whole catalog in one screenshot
    page.goto(f"{ui.url}/assets")
    for key in EXPECTED_ASSETS:
        group, name = key.split("/")
        link = page.locator(f'a[href="/assets/{key}"]').first
        expect(link).to_be_visible()
        expect(link).to_contain_text(name)
        expect(page.get_by_text(f"{group} / {name}", exact=True).first).to_be_visible()
    # The status column has loaded for every asset (it reads "- partitions" until then).
    expect(page.get_by_text(re.compile(r"^\d+ partitions$")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^[-\u2013\u2014] partitions$"))).to_have_count(0)
    screenshot(page, "dagster_ui_catalog")


def test_lineage_graph_links_projection_urgency_and_allocation(ui, page):
    page.goto(f"{ui.url}/assets/stock/stock_projection?view=lineage&lineageScope=downstream")
    expect(page.get_by_text("stock_projection", exact=True).last).to_be_visible()
    expect(page.get_by_text("allocation", exact=True).first).to_be_visible()
    for group in ("stock", "urgence", "knapsack"):
        expect(page.get_by_text(group, exact=True).last).to_be_visible()
    # A node's label is cut to its box ("urgency_…ification"); hovering shows the whole name.
    node = page.get_by_text(re.compile(r"^urgency_.*ification$")).first
    expect(node).to_be_visible()
    node.hover()
    expect(page.get_by_text("urgency_classification", exact=True).last).to_be_visible()
    screenshot(page, "dagster_ui_lineage")


def test_materialised_partition_metadata_renders(ui, page, tiny_project):
    with Warehouse(path=str(tiny_project.warehouse)).connection() as con:
        negative = con.execute(
            "SELECT count(*) FROM stock.stock_projection WHERE partition_date = ? AND min_projected < 0", [DAY]
        ).fetchone()[0]
        first_stockout = con.execute(
            "SELECT site_id, article_id FROM stock.stock_projection WHERE partition_date = ? "
            "AND days_to_stockout IS NOT NULL ORDER BY days_to_stockout, min_projected, site_id, article_id LIMIT 1",
            [DAY],
        ).fetchone()

    page.goto(f"{ui.url}/assets/stock/stock_projection")
    expect(page.get_by_text(DAY, exact=True).first).to_be_visible()  # latest materialisation's partition
    row = page.locator("tr", has=page.get_by_text("pairs_negative_projection", exact=True)).first
    expect(row).to_be_visible()
    assert re.search(rf"\b{negative}\b", row.inner_text()), row.inner_text()
    table = page.locator("tr", has=page.get_by_text("earliest_stockouts", exact=True)).first
    expect(table).to_be_visible()
    expect(table).to_contain_text("days_to_stockout")  # the markdown table rendered as a table
    if first_stockout:
        expect(table).to_contain_text(first_stockout[0])
        expect(table).to_contain_text(first_stockout[1])
    screenshot(page, "dagster_ui_stock_projection")
