"""What leaves Réassort (issue 15 point 4): picking lists, purchase proposals, the manifest,
the refusal of a partition whose blocking checks failed, and the export/erp_files asset."""

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from data_generation.field_service import generate
from orchestrator_assets.cli import main
from orchestrator_assets.defs.export.assets import EXPORT_KEY
from orchestrator_assets.defs.export.export_files import (
    MANIFEST_NAME,
    PICKING_COLUMNS,
    PURCHASE_COLUMNS,
    ExportError,
    ExportPlan,
    export_dir,
    file_name,
    picking_lists,
    purchase_proposals,
    write_export,
)
from orchestrator_assets.defs.export.export_gate import failed_blocking_checks
from orchestrator_assets.defs.validation.check_results import CHECK_RESULTS_SCHEMA, CHECK_RESULTS_TABLE
from orchestrator_assets.publication import read_manifest
from orchestrator_assets.warehouse import Warehouse
from tests.orchestrator_assets.pipeline_runs import frame, run_partition, warehouse_root

D = date(2026, 3, 2)
NOW = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)

ARTICLES = pl.DataFrame(
    {
        "article_id": ["A1", "A2", "A3"],
        "designation": ["Connecteur SC", "Paire cuivre, 2 brins", "Boîtier «PBO»"],
        "unit_cost": [2.5, 1.0, 0.335],
        "lead_time_days": [3, 5, 0],
    }
)


def allocation(rows: list[tuple], with_source: bool = True) -> pl.DataFrame:
    """(site, article, lots, lot_size, source) rows -> allocation rows as the knapsack writes them."""
    table = pl.DataFrame(
        rows, schema=["site_id", "article_id", "lots", "lot_size", "source_site_id"], orient="row"
    ).with_columns(
        quantity=pl.col("lots") * pl.col("lot_size"),
        volume=pl.col("lots") * pl.col("lot_size") * 0.1,
        value=pl.col("lots") * 1.5,
        category=pl.lit("FIBRE"),
        level=pl.lit("CRITIQUE"),
        **{"class": pl.lit("CRITIQUE_A")},
        strategy=pl.lit("criticite_hybride"),
        status=pl.lit("optimal"),
    )
    return table if with_source else table.drop("source_site_id")


# ---------------------------------------------------------------- builders


def test_a_van_supplied_by_a_depot_is_on_the_depot_picking_list():
    plan = allocation([("VAN2", "A2", 2, 2, "DEP1"), ("VAN1", "A1", 3, 1, "DEP1"), ("VAN3", "A1", 1, 1, "DEP2")])
    lists = picking_lists(plan, ARTICLES)
    assert sorted(lists) == ["DEP1", "DEP2"]
    dep1 = lists["DEP1"]
    assert dep1.columns == PICKING_COLUMNS
    assert dep1.rows() == [
        ("VAN1", "A1", "Connecteur SC", 3, 3, pytest.approx(0.3), "CRITIQUE_A"),
        ("VAN2", "A2", "Paire cuivre, 2 brins", 2, 4, pytest.approx(0.4), "CRITIQUE_A"),
    ]
    assert lists["DEP2"]["to_site"].to_list() == ["VAN3"]
    assert purchase_proposals(plan, ARTICLES, D) == {}


def test_a_depot_own_lots_are_purchase_proposals_expected_after_the_lead_time():
    plan = allocation([("DEP1", "A2", 3, 2, None), ("DEP1", "A1", 4, 1, None), ("VAN1", "A1", 1, 1, "DEP1")])
    proposals = purchase_proposals(plan, ARTICLES, D)
    assert sorted(proposals) == ["DEP1"]
    dep1 = proposals["DEP1"]
    assert dep1.columns == PURCHASE_COLUMNS
    assert dep1.rows() == [
        ("A1", 4, 4, D, D + timedelta(days=3), 2.5, 10.0),
        ("A2", 6, 3, D, D + timedelta(days=5), 1.0, 6.0),
    ]
    assert sorted(picking_lists(plan, ARTICLES)) == ["DEP1"]  # the van's lot is picked, not bought


def test_pairs_without_lots_are_left_out_and_a_site_with_none_has_no_file():
    plan = allocation([("DEP1", "A1", 0, 1, None), ("VAN1", "A1", 0, 1, "DEP1"), ("VAN1", "A2", 1, 2, "DEP1")])
    assert purchase_proposals(plan, ARTICLES, D) == {}
    assert picking_lists(plan, ARTICLES)["DEP1"]["article"].to_list() == ["A2"]


def test_without_the_source_column_or_with_an_empty_source_every_site_buys_from_outside():
    rows = [("VAN1", "A1", 2, 1, ""), ("DEP1", "A3", 3, 1, None)]
    for plan in (allocation(rows, with_source=False), allocation(rows)):
        assert picking_lists(plan, ARTICLES) == {}
        assert sorted(purchase_proposals(plan, ARTICLES, D)) == ["DEP1", "VAN1"]


def test_amount_is_quantity_times_unit_cost_to_the_cent():
    proposals = purchase_proposals(allocation([("DEP1", "A3", 3, 1, None)]), ARTICLES, D)
    row = proposals["DEP1"].row(0, named=True)
    assert row["amount"] == 1.01  # 3 x 0.335 = 1.005, half away from zero
    assert row["expected_date"] == D  # lead time 0: expected the day it is ordered


@pytest.mark.parametrize("site_id", ["../etc", "a/b", "", "DEP 1", "DEP1\n", "é"])
def test_a_site_id_that_is_not_an_identifier_never_names_a_file(site_id):
    with pytest.raises(ExportError, match="cannot name an export file"):
        file_name("picking", site_id)


def test_a_bad_site_id_stops_the_export_before_anything_is_written(tmp_path):
    plan = allocation([("VAN1", "A1", 1, 1, "../DEP1")])
    with pytest.raises(ExportError):
        write_export(tmp_path / "out", ExportPlan(D, "run1", "exact"), picking_lists(plan, ARTICLES), {}, NOW)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


# ---------------------------------------------------------------- files and manifest


def written(out: Path) -> tuple[dict, dict[str, str]]:
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    texts = {path.name: path.read_text(encoding="utf-8") for path in out.glob("*.csv")}
    return manifest, texts


def test_the_files_are_plain_csv_with_a_manifest_of_their_totals(tmp_path):
    plan = allocation(
        [("VAN1", "A2", 2, 2, "DEP1"), ("VAN1", "A1", 3, 1, "DEP1"), ("DEP1", "A3", 3, 1, None), ("DEP1", "A1", 1, 1, None)]
    )
    out = tmp_path / "exports" / D.isoformat()
    write_export(out, ExportPlan(D, "run1", "exact"), picking_lists(plan, ARTICLES), purchase_proposals(plan, ARTICLES, D), NOW)
    manifest, texts = written(out)
    assert sorted(texts) == ["picking_DEP1.csv", "purchase_DEP1.csv"]
    assert texts["picking_DEP1.csv"].splitlines() == [
        "to_site,article,designation,lots,quantity,volume,class",
        "VAN1,A1,Connecteur SC,3,3,0.3,CRITIQUE_A",
        'VAN1,A2,"Paire cuivre, 2 brins",2,4,0.4,CRITIQUE_A',
    ]
    assert texts["purchase_DEP1.csv"].splitlines() == [
        "article,quantity,lots,order_date,expected_date,unit_cost,amount",
        "A1,1,1,2026-03-02,2026-03-05,2.5,2.5",
        "A3,3,3,2026-03-02,2026-03-02,0.335,1.01",
    ]
    assert manifest["partition"] == "2026-03-02" and manifest["run_id"] == "run1" and manifest["strategy"] == "exact"
    assert manifest["generated_at"] == "2026-03-03T06:00:00+00:00"
    assert manifest["files"] == [
        {"name": "picking_DEP1.csv", "kind": "picking", "site_id": "DEP1", "rows": 2, "quantity": 7, "volume": 0.7},
        {"name": "purchase_DEP1.csv", "kind": "purchase", "site_id": "DEP1", "rows": 2, "quantity": 4, "amount": 3.51},
    ]
    assert manifest["totals"] == {
        "picking": {"files": 1, "rows": 2, "quantity": 7, "volume": 0.7},
        "purchase": {"files": 1, "rows": 2, "quantity": 4, "amount": 3.51},
    }
    assert [p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")] == [D.isoformat()]


def test_exporting_again_replaces_the_earlier_export(tmp_path):
    out = tmp_path / "export"
    first = allocation([("VAN1", "A1", 1, 1, "DEP1"), ("VAN2", "A1", 1, 1, "DEP2")])
    write_export(out, ExportPlan(D, "run1", "exact"), picking_lists(first, ARTICLES), {}, NOW)
    second = allocation([("VAN1", "A1", 5, 1, "DEP1")])
    write_export(out, ExportPlan(D, "run2", "greedy"), picking_lists(second, ARTICLES), {}, NOW)
    manifest, texts = written(out)
    assert sorted(texts) == ["picking_DEP1.csv"] and manifest["run_id"] == "run2"
    assert texts["picking_DEP1.csv"].splitlines()[1] == "VAN1,A1,Connecteur SC,5,5,0.5,CRITIQUE_A"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["export"]


def test_a_write_that_fails_half_way_leaves_the_earlier_export_whole(tmp_path, monkeypatch):
    from orchestrator_assets.defs.export import export_files

    out = tmp_path / "export"
    plan = allocation([("VAN1", "A1", 1, 1, "DEP1"), ("VAN2", "A1", 2, 1, "DEP2")])
    write_export(out, ExportPlan(D, "run1", "exact"), picking_lists(plan, ARTICLES), {}, NOW)
    before = written(out)
    calls = []
    real = export_files.write_csv

    def fail_on_second(frame, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real(frame, path)

    monkeypatch.setattr(export_files, "write_csv", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        write_export(out, ExportPlan(D, "run2", "exact"), picking_lists(plan, ARTICLES), {}, NOW)
    assert written(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["export"]


def test_a_folder_that_is_not_an_earlier_export_is_never_replaced(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an earlier export"):
        write_export(home, ExportPlan(D, "run1", "exact"), {}, {}, NOW)
    assert (home / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------- the gate

CHECK_COLUMNS = ["asset", "check_name", "blocking", "passed", "run_id", "checked_at"]
T0 = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)


def checks(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=CHECK_COLUMNS, orient="row")


def test_a_failed_blocking_check_of_a_later_run_blocks_and_an_older_one_does_not():
    history = checks([
        ("knapsack/allocation", "within_capacity", True, False, "old", T0 - timedelta(hours=1)),
        ("knapsack/allocation", "within_capacity", True, True, "plan", T0),
        ("raw/stock_levels", "key_unique", True, False, "later", T0 + timedelta(hours=1)),
        ("urgence/urgency_classification", "critique_jump", False, False, "later", T0 + timedelta(hours=1)),
    ])  # fmt: skip
    failed = failed_blocking_checks(history, "plan", T0)
    assert failed.select("asset", "check_name").rows() == [("raw/stock_levels", "key_unique")]
    assert failed_blocking_checks(history.filter(pl.col("run_id") != "later"), "plan", T0).height == 0


def test_only_the_latest_result_of_a_check_counts():
    history = checks([
        ("raw/stock_levels", "key_unique", True, False, "later", T0 + timedelta(hours=1)),
        ("raw/stock_levels", "key_unique", True, True, "checks_again", T0 + timedelta(hours=2)),
    ])  # fmt: skip
    assert failed_blocking_checks(history, "plan", T0).height == 0


# ---------------------------------------------------------------- through the pipeline

TINY_START = date(2026, 1, 1)
DAY = "2026-01-10"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One partition of the tiny profile run through the daily job (which writes the export)."""
    data = tmp_path_factory.mktemp("export") / "data"
    generate("tiny", TINY_START, 10, data, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    result = run_partition(data, DAY, instance)
    assert result.success
    return data, instance, result


@pytest.fixture
def copied(tiny, tmp_path, monkeypatch):
    """A copy of the tiny data folder and warehouse, and the CLI's environment pointed at it."""
    data = tmp_path / "data"
    shutil.copytree(tiny[0], data)
    monkeypatch.setenv("REASSORT_DATA_DIR", str(data))
    monkeypatch.setenv("REASSORT_WAREHOUSE", str(warehouse_root(data)))
    return data


def published_allocation(data: Path) -> pl.DataFrame:
    """The pairs with lots, their amount at unit cost and the file each must be on (a van
    supplied by a depot on the depot's picking list, any other site on its purchase file;
    without the source_site_id column every site buys from outside)."""
    columns = frame(data, "SELECT * FROM knapsack.allocation LIMIT 0").columns
    source = "NULLIF(a.source_site_id, '')" if "source_site_id" in columns else "NULL::VARCHAR"
    return frame(
        data,
        f"SELECT a.site_id, a.article_id, a.quantity, a.quantity * r.unit_cost AS amount, a.run_id, "
        f"CASE WHEN {source} IS NULL THEN 'purchase_' || a.site_id ELSE 'picking_' || {source} END || '.csv' AS file "
        "FROM knapsack.allocation a JOIN raw.articles r USING (article_id, partition_date) "
        "WHERE a.partition_date = ? AND a.lots > 0",
        [date.fromisoformat(DAY)],
    )


def files_as_lines(out: Path) -> pl.DataFrame:
    """Every line of every file as (site_id, article_id, quantity, amount): the picking lists
    name the receiving van, the purchase proposals are named after the buying site."""
    frames = []
    for path in sorted(out.glob("picking_*.csv")):
        picked = pl.read_csv(path, schema_overrides={"to_site": pl.String, "article": pl.String})
        frames.append(picked.select(
            site_id="to_site", article_id="article", quantity="quantity", amount=pl.lit(None, pl.Float64), file=pl.lit(path.name)
        ))  # fmt: skip
    for path in sorted(out.glob("purchase_*.csv")):
        bought = pl.read_csv(path, schema_overrides={"article": pl.String}, try_parse_dates=True)
        site = path.stem.removeprefix("purchase_")
        frames.append(bought.select(
            site_id=pl.lit(site), article_id="article", quantity="quantity", amount="amount", file=pl.lit(path.name)
        ))  # fmt: skip
    return pl.concat(frames, how="vertical_relaxed")


def assert_files_sum_to_the_allocation(out: Path, data: Path) -> dict:
    expected = published_allocation(data)
    lines = files_as_lines(out)
    assert expected.height > 0
    assert lines.height == expected.height  # one line per pair with lots, no pair twice
    by_pair = lines.group_by("site_id", "article_id", "file").agg(pl.col("quantity").sum()).sort("site_id", "article_id")
    assert by_pair.rows() == expected.select("site_id", "article_id", "file", "quantity").sort("site_id", "article_id").rows()
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    bought = lines.filter(pl.col("amount").is_not_null())
    exact_amount = expected.join(bought.select("site_id", "article_id"), on=["site_id", "article_id"])["amount"].sum()
    assert abs(bought["amount"].sum() - exact_amount) <= 0.005 * max(1, bought.height)  # rounding to the cent
    assert manifest["totals"]["purchase"]["amount"] == pytest.approx(bought["amount"].sum(), abs=1e-6)
    totals = manifest["totals"]
    assert totals["picking"]["quantity"] + totals["purchase"]["quantity"] == expected["quantity"].sum()
    assert totals["picking"]["rows"] + totals["purchase"]["rows"] == expected.height
    assert manifest["run_id"] == expected["run_id"].unique().item()
    for entry in manifest["files"]:
        assert entry["rows"] == pl.read_csv(out / entry["name"]).height
    return manifest


def test_the_exported_files_sum_to_the_published_allocation(copied, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", "--date", DAY, "--out", str(out)]) == 0
    assert "purchase proposals" in capsys.readouterr().out
    manifest = assert_files_sum_to_the_allocation(out, copied)
    assert manifest["partition"] == DAY and manifest["scenario"] == "base"
    assert manifest["strategy"] == frame(copied, "SELECT DISTINCT strategy FROM knapsack.allocation")["strategy"].item()


def test_the_daily_run_writes_the_export_under_the_data_folder(tiny):
    data, _, result = tiny
    out = export_dir(data, date.fromisoformat(DAY))
    manifest = assert_files_sum_to_the_allocation(out, data)
    assert manifest["run_id"] == result.run_id  # the run exported its own allocation
    [materialisation] = [
        event for event in result.get_asset_materialization_events() if event.asset_key == EXPORT_KEY
    ]
    metadata = materialisation.step_materialization_data.materialization.metadata
    assert metadata["purchase_quantity"].value == manifest["totals"]["purchase"]["quantity"]


def fail_a_blocking_check(data: Path, checked_at: datetime) -> None:
    """What a later run of the day that stopped on bad data leaves: a failed blocking check
    (check results are published even when their run fails)."""
    row = pl.DataFrame(
        [{
            "partition_date": date.fromisoformat(DAY), "asset": "raw/stock_levels", "check_name": "key_unique",
            "severity": "ERROR", "blocking": True, "passed": False, "failing_rows": 6, "rows_checked": 120,
            "detail": "3 duplicated keys", "checked_at": checked_at,
        }],
        schema=CHECK_RESULTS_SCHEMA,
    )  # fmt: skip
    Warehouse(path=str(warehouse_root(data))).write_partition(
        CHECK_RESULTS_TABLE, row, [date.fromisoformat(DAY)], "laterrun", unit="raw_stock_levels__laterrun", publish_now=True
    )


def test_the_export_is_refused_after_a_failed_blocking_check(copied, tmp_path, capsys):
    fail_a_blocking_check(copied, datetime.now(UTC))
    out = tmp_path / "out"
    assert main(["export", "--date", DAY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "raw/stock_levels key_unique" in err and "6 failing rows" in err and f"reassort run --date {DAY}" in err
    assert not out.exists()


def test_a_failure_older_than_the_published_run_does_not_refuse(copied, tmp_path):
    fail_a_blocking_check(copied, datetime(2026, 1, 1, tzinfo=UTC))
    assert main(["export", "--date", DAY, "--out", str(tmp_path / "out")]) == 0


def test_the_asset_refuses_after_a_failed_blocking_check(copied, tiny):
    fail_a_blocking_check(copied, datetime.now(UTC))
    out = export_dir(copied, date.fromisoformat(DAY))
    before = (out / MANIFEST_NAME).read_text()
    result = run_partition(copied, DAY, tiny[1], selection=[EXPORT_KEY], raise_on_error=False)
    assert not result.success
    message = "\n".join(e.step_failure_data.error.message for e in result.get_step_failure_events())
    assert "export refused" in message and "raw/stock_levels key_unique" in message
    assert (out / MANIFEST_NAME).read_text() == before  # the earlier export is left as it was


def test_a_partition_without_a_published_allocation_is_refused(copied, capsys):
    assert read_manifest(warehouse_root(copied), "2026-01-09").get("knapsack.allocation") is None
    assert main(["export", "--date", "2026-01-09"]) == 2
    assert "no published allocation" in capsys.readouterr().err
    assert not export_dir(copied, date(2026, 1, 9)).exists()


def test_an_unknown_scenario_is_refused(copied, capsys):
    assert main(["export", "--date", DAY, "--scenario", "promo"]) == 2
    assert "unknown scenario 'promo'" in capsys.readouterr().err
