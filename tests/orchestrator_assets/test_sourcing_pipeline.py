"""SPEC §5.2 through Dagster: vans supplied from their depot's finite stock, on the tiny profile."""

from datetime import date

import dagster as dg
import pytest

from data_generation.field_service import generate
from orchestrator_assets.defs.knapsack.assets import knapsack_pairs
from solvers.knapsack.batch import solve_sites
from solvers.knapsack.capacity_limits import site_capacity_limits
from tests.orchestrator_assets.pipeline_runs import frame, query, run_partition

DAY = "2026-01-06"
D = date(2026, 1, 6)


@pytest.fixture(scope="module")
def sourced(tmp_path_factory):
    data = tmp_path_factory.mktemp("sourcing") / "data"
    generate("tiny", date(2026, 1, 1), 6, data, seed=11)
    instance = dg.DagsterInstance.ephemeral()
    assert run_partition(data, DAY, instance).success
    return data, instance


def test_every_van_is_supplied_by_its_parent_depot_and_depots_from_outside(sourced):
    data, _ = sourced
    rows = query(data, """
        SELECT s.site_type, a.source_site_id IS NOT DISTINCT FROM s.parent_site_id AS from_parent, count(*)
        FROM knapsack.allocation a JOIN raw.sites s USING (site_id, partition_date)
        WHERE a.partition_date = ? GROUP BY ALL ORDER BY 1""", [D])
    assert rows and all(from_parent for _, from_parent, _ in rows)
    assert {site_type for site_type, _, _ in rows} == {"DEPOT", "VAN"}
    assert query(data, "SELECT count(*) FROM knapsack.allocation a JOIN raw.sites s USING (site_id, partition_date) "
                       "WHERE s.site_type = 'DEPOT' AND a.source_site_id IS NOT NULL")[0][0] == 0


def test_no_depot_ships_more_than_on_hand_minus_its_minimum(sourced):
    data, _ = sourced
    over = query(data, """
        WITH shipped AS (
            SELECT source_site_id AS site_id, article_id, sum(quantity) AS shipped
            FROM knapsack.allocation WHERE partition_date = ? AND source_site_id IS NOT NULL GROUP BY ALL),
        supply AS (
            SELECT l.site_id, l.article_id, greatest(0, l.quantity_on_hand - a.stock_min) AS supply
            FROM raw.stock_levels l JOIN raw.articles a USING (article_id, partition_date) WHERE l.partition_date = ?)
        SELECT s.*, coalesce(p.supply, 0) AS supply FROM shipped s LEFT JOIN supply p USING (site_id, article_id)
        WHERE s.shipped > coalesce(p.supply, 0)""", [D, D])
    assert over == []
    # some articles are scarce (the generator makes them so): the plan is bound by supply somewhere
    assert query(data, "SELECT count(*) FROM knapsack.depot_supply WHERE requested > supply AND partition_date = ?", [D])[0][0] > 0


def test_depot_supply_and_group_summary_agree_with_the_allocation(sourced):
    data, _ = sourced
    mismatched = query(data, """
        SELECT d.site_id, d.article_id FROM knapsack.depot_supply d
        LEFT JOIN (SELECT source_site_id AS site_id, article_id, sum(quantity) AS q FROM knapsack.allocation
                   WHERE source_site_id IS NOT NULL GROUP BY ALL) a USING (site_id, article_id)
        WHERE d.shipped <> coalesce(a.q, 0) OR d.remaining <> d.supply - d.shipped""")
    assert mismatched == []
    groups = frame(data, "SELECT site_id, vans, status, gap, articles_short FROM knapsack.group_summary")
    vans = dict(query(data, "SELECT parent_site_id, count(*) FROM raw.sites WHERE parent_site_id IS NOT NULL GROUP BY 1"))
    assert groups.height >= 1 and all(groups["vans"][i] <= vans[groups["site_id"][i]] for i in range(groups.height))
    short = dict(query(data, "SELECT site_id, count(*) FILTER (WHERE critical_short > 0) FROM knapsack.depot_supply GROUP BY 1"))
    assert dict(groups.select("site_id", "articles_short").iter_rows()) == {k: short.get(k, 0) for k in groups["site_id"]}


def test_sourcing_off_gives_the_per_site_plan_exactly(sourced):
    data, instance = sourced
    config = {"ops": {"knapsack": {"config": {"sourcing": False}}}}
    assert run_partition(data, DAY, instance, run_config=config).success
    allocation = frame(data, "SELECT site_id, article_id, lots, source_site_id FROM knapsack.allocation WHERE partition_date = ? ORDER BY 1, 2", [D])
    assert allocation["source_site_id"].null_count() == allocation.height
    assert query(data, "SELECT count(*) FROM knapsack.depot_supply WHERE partition_date = ?", [D])[0][0] == 0
    tables = {name: frame(data, f"SELECT * EXCLUDE (partition_date, run_id) FROM {name} WHERE partition_date = ?", [D])
              for name in ("urgence.urgency_classification", "stock.stock_projection", "raw.articles", "raw.sites", "raw.site_capacities")}
    pairs = knapsack_pairs(tables["urgence.urgency_classification"], tables["stock.stock_projection"], tables["raw.articles"])
    _, expected = solve_sites(pairs, site_capacity_limits(tables["raw.sites"], tables["raw.site_capacities"]))
    # the per-site optimum of every site (plans of equal value may differ with the row order)
    got = frame(data, "SELECT site_id, objective, status FROM knapsack.site_summary WHERE partition_date = ? ORDER BY 1", [D])
    assert got["site_id"].to_list() == expected["site_id"].to_list()
    assert got["status"].to_list() == expected["status"].to_list()
    assert got["objective"].to_list() == pytest.approx(expected["objective"].to_list(), rel=1e-9)
