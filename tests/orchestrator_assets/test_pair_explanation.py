"""`reassort explain` on one tiny partition: every number it prints is the tables' value."""

import re
from datetime import date, timedelta

import dagster as dg
import pytest

from data_generation.field_service import generate
from orchestrator_assets.cli import main
from orchestrator_assets.pair_explanation import explain_pair
from orchestrator_assets.warehouse import Warehouse
from tests.orchestrator_assets.pipeline_runs import frame, run_partition, warehouse_root

DAY = date(2026, 1, 4)
#: a number standing alone (not inside an id, a date or a run id)
NUMBER = re.compile(r"(?<![\w.:-])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.:-])")
#: the chain of issue 16: every pair's explanation shows these stored columns
CHAIN = {
    "stock.stock_initial.on_hand", "stock.consumption_forecast.method", "stock.consumption_forecast.rate",
    "stock.consumption_forecast.planned_days", "stock.stock_projection.days_to_min",
    "stock.stock_projection.days_to_stockout", "stock.stock_projection.min_projected",
    "urgence.urgency_temporal.u_temporal", "urgence.urgency_quantitative.u_quantitative",
    "urgence.urgency_total.u_total", "urgence.urgency_classification.reason", "urgence.urgency_classification.level",
    "urgence.abc_classification.consumption_value", "urgence.abc_classification.abc",
    "knapsack.allocation.lots", "knapsack.allocation.u", "knapsack.allocation.source_site_id",
    "knapsack.allocation.bound_by", "knapsack.site_summary.capacity_total", "knapsack.site_summary.volume_used",
}


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory):
    """One partition of the tiny profile (vans supplied by depots, a plan, open orders)."""
    data = tmp_path_factory.mktemp("explain") / "data"
    generate("tiny", date(2026, 1, 1), 4, data, seed=5)
    assert run_partition(data, DAY.isoformat(), dg.DagsterInstance.ephemeral()).success
    return data


def chosen_pairs(data) -> list[tuple[str, str]]:
    """A pair held back (with an open order if any), a planned pair with demand, a depot's own pair."""
    queries = [
        "SELECT a.site_id, a.article_id FROM knapsack.allocation a LEFT JOIN raw.purchase_orders p "
        "USING (partition_date, site_id, article_id) WHERE a.bound_by IS NOT NULL ORDER BY p.order_id NULLS LAST, 1, 2",
        "SELECT f.site_id, f.article_id FROM stock.consumption_forecast f JOIN knapsack.allocation a "
        "USING (partition_date, site_id, article_id) WHERE f.planned_days > 0 AND a.lots > 0 ORDER BY a.lots DESC, 1, 2",
        "SELECT site_id, article_id FROM knapsack.allocation WHERE source_site_id IS NULL AND lots > 0 ORDER BY 1, 2",
    ]
    pairs = [frame(data, sql).row(0) for sql in queries]
    assert len(set(pairs)) == 3
    return pairs


def stored(data, table: str, column: str, **key):
    where = " AND ".join(["partition_date = ?", *(f"{name} = ?" for name in key)])
    rows = frame(data, f"SELECT {column} FROM {table} WHERE {where}", [DAY, *key.values()]).rows()
    assert len(rows) == 1, (table, key)
    return rows[0][0]


def key_of(table: str, label: str, site_id: str, article_id: str, allocation: dict) -> dict:
    """The row of `table` a printed line of the pair comes from."""
    if table in ("raw.articles", "urgence.abc_classification"):
        return {"article_id": article_id}
    if table in ("raw.sites", "knapsack.site_summary"):
        return {"site_id": site_id}
    if table == "knapsack.category_use":
        return {"site_id": site_id, "category": allocation["category"]}
    if table == "knapsack.depot_supply":
        return {"site_id": allocation["source_site_id"], "article_id": article_id}
    if table == "raw.purchase_orders":
        return {"order_id": label.split()[1]}
    return {"site_id": site_id, "article_id": article_id}


def printed_lines(out: str) -> list[tuple[str, str, str]]:
    """(label, value as printed, source) of every fact line (two spaces, then columns
    separated by two or more spaces; labels and sources have single spaces only)."""
    lines = []
    for line in out.splitlines():
        if line.startswith("  ") and not line.startswith("  -> "):
            label, text, source = re.split(r"\s{2,}", line.strip())
            lines.append((label, text, source))
    return lines


def same(text: str, expected) -> bool:
    """The printed text is the stored value, exactly (floats read back bit for bit)."""
    if expected is None:
        return text == "null"
    if isinstance(expected, bool):
        return text == str(expected).lower()
    if isinstance(expected, float):
        return float(text) == expected
    if isinstance(expected, int):
        return int(text) == expected
    if isinstance(expected, date):
        return date.fromisoformat(text) == expected
    return text == expected


def test_explain_prints_the_tables_values(tiny_day, monkeypatch, capsys):
    data = tiny_day
    monkeypatch.setenv("REASSORT_WAREHOUSE", str(warehouse_root(data)))
    warehouse = Warehouse(path=str(warehouse_root(data)))
    abc = frame(data, "SELECT article_id, consumption_value FROM urgence.abc_classification WHERE partition_date = ? "
                      "ORDER BY consumption_value DESC, article_id", [DAY]).rows()
    for site_id, article_id in chosen_pairs(data):
        assert main(["explain", "--date", DAY.isoformat(), "--site", site_id, "--article", article_id]) == 0
        out = capsys.readouterr().out
        assert out == explain_pair(warehouse, DAY, site_id, article_id).render() + "\n"
        allocation = frame(data, "SELECT * FROM knapsack.allocation WHERE partition_date = ? AND site_id = ? AND article_id = ?",
                           [DAY, site_id, article_id]).row(0, named=True)
        lines = printed_lines(out)
        # every number of the output is in the value column of a fact line
        values = " ".join(text for _, text, _ in lines)
        assert NUMBER.findall(out) == NUMBER.findall(values) != []

        computed = {}
        sources = set()
        for label, text, source in lines:
            if re.fullmatch(r"[a-z_]+\.[a-z_]+\.[a-z_]+", source):
                table, column = source.rsplit(".", 1)
                expected = stored(data, table, column, **key_of(table, label, site_id, article_id, allocation))
                assert same(text, expected), (label, text, expected)
                sources.add(source)
            else:
                computed[label] = text
        assert CHAIN <= sources, CHAIN - sources

        # ABC: rank, count and running shares over the day's table, in its rank order
        rank = [article for article, _ in abc].index(article_id) + 1
        total = sum(value for _, value in abc)
        assert int(computed["rank by value"]) == rank and int(computed["articles ranked"]) == len(abc)
        assert float(computed["value share"]) == pytest.approx(abc[rank - 1][1] / total, rel=1e-12)
        assert float(computed["share ranked above"]) == pytest.approx(sum(v for _, v in abc[: rank - 1]) / total, rel=1e-12)
        # planned demand: count x efficiency x BOM quantity of the site's active technicians, per day
        planned_days = stored(data, "stock.consumption_forecast", "planned_days", site_id=site_id, article_id=article_id)
        planned = dict(frame(
            data,
            "SELECT p.date, sum(p.count * t.efficiency_factor * b.quantity) FROM raw.planned_interventions p "
            "JOIN raw.technicians t USING (partition_date, technician_id) JOIN raw.bom b USING (partition_date, intervention_type) "
            "WHERE p.partition_date = ? AND t.site_id = ? AND t.active AND b.article_id = ? AND p.date <= ? GROUP BY 1",
            [DAY, site_id, article_id, DAY + timedelta(days=planned_days)],
        ).rows())
        shown = {date.fromisoformat(label.removeprefix("planned for ")): float(text)
                 for label, text in computed.items() if label.startswith("planned for ")}
        assert shown == pytest.approx(planned, rel=1e-12)
        # receipts: an order counts on its expected date, or the day after D when it is late
        for label, text in computed.items():
            if label.endswith(" received on"):
                expected_date = stored(data, "raw.purchase_orders", "expected_date", order_id=label.split()[1])
                assert date.fromisoformat(text) == max(expected_date, DAY + timedelta(days=1))
        assert set(computed) == {"rank by value", "articles ranked", "value share", "share ranked above"} | {
            label for label in computed if label.startswith("planned for ") or label.endswith(" received on")
        }


def test_explain_covers_a_held_back_pair_and_a_planned_one(tiny_day):
    """The chosen pairs show what the issue asks for: a bound_by, planned days and an order."""
    warehouse = Warehouse(path=str(warehouse_root(tiny_day)))
    held, planned, _ = (explain_pair(warehouse, DAY, *pair) for pair in chosen_pairs(tiny_day))
    assert {fact.label: fact.value for fact in held.facts()}["bound by"] is not None
    assert "bound by: " in held.render()
    assert any(fact.label.startswith("planned for ") and fact.value > 0 for fact in planned.facts())


def test_bound_by_is_null_exactly_when_the_pair_got_its_need(tiny_day):
    rows = frame(tiny_day, "SELECT lots, u, bound_by FROM knapsack.allocation WHERE partition_date = ?", [DAY]).rows()
    assert rows and all((bound_by is None) == (lots >= u) for lots, u, bound_by in rows)


def test_explain_names_what_is_missing(tiny_day, monkeypatch, capsys):
    monkeypatch.setenv("REASSORT_WAREHOUSE", str(warehouse_root(tiny_day)))
    assert main(["explain", "--date", DAY.isoformat(), "--site", "NO_SITE", "--article", "NO_ARTICLE"]) == 2
    assert "no pair (site NO_SITE, article NO_ARTICLE) in the stock of 2026-01-04" in capsys.readouterr().err
    assert main(["explain", "--date", "2026-01-02", "--site", "NO_SITE", "--article", "NO_ARTICLE"]) == 2
    assert "no stock partition 2026-01-02" in capsys.readouterr().err
