"""What-if scenarios: `reassort run --scenario` never touches the official plan; compare's
figures are the tables'; a scenario can be dropped, 'base' never."""

import hashlib
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from data_generation.field_service import generate
from orchestrator_assets.cli import main
from orchestrator_assets.partition_deadline import done_at
from orchestrator_assets.publishing_executor import refuse_scenario_outputs
from orchestrator_assets.scenario_comparison import plan_figures
from orchestrator_assets.scenarios import SCENARIOS_DIR, check_scenario_name
from orchestrator_assets.warehouse import Warehouse
from tests.conftest import point_project_at

DAY = "2026-01-04"
WHAT_IF = "greedy_try"
ROOMY = "VAN0004"  # a van of the tiny data set, given more room in the what-if


def official_files(warehouse: Path) -> dict[str, str]:
    """Every file of the official warehouse (not the scenarios', not the alert ledger) and its hash."""
    return {
        str(path.relative_to(warehouse)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(warehouse.rglob("*"))
        if path.is_file() and path.relative_to(warehouse).parts[0] not in (SCENARIOS_DIR, "_alerts")
    }


@pytest.fixture(scope="module")
def what_if(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        data = point_project_at(tmp_path_factory.mktemp("scenarios"), patch)
        generate("tiny", date(2026, 1, 1), 4, data, seed=5)
        assert main(["run", "--date", DAY]) == 0
        warehouse = data / "warehouse"
        before = official_files(warehouse)
        assert main([
            "run", "--date", DAY, "--scenario", WHAT_IF, "--set", "knapsack.strategy=greedy",
            "--set", f"knapsack.capacity.{ROOMY}.total=999", "--set", f"knapsack.capacity.{ROOMY}.FIBRE=500",
        ]) == 0
        after = official_files(warehouse)
        with dg.DagsterInstance.get() as instance:
            yield SimpleNamespace(data=data, warehouse=warehouse, before=before, after=after, instance=instance, patch=patch)


def query(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert main(["query", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_what_if_leaves_every_official_file_byte_for_byte(what_if):
    assert what_if.after == what_if.before
    assert any(name.startswith("knapsack/allocation/") for name in what_if.before)


def test_the_scenario_has_its_own_plan_and_rows_say_which(what_if, capsys):
    official = query(capsys, "SELECT DISTINCT strategy, scenario FROM knapsack.allocation")
    assert official == [{"strategy": "criticite_hybride", "scenario": "base"}]
    scenario = query(capsys, "--scenario", WHAT_IF, "SELECT DISTINCT strategy, scenario FROM knapsack.allocation")
    assert scenario == [{"strategy": "greedy", "scenario": WHAT_IF}]
    inputs = query(capsys, "--scenario", WHAT_IF, "SELECT count(*) AS n FROM raw.stock_levels")
    assert inputs == query(capsys, "SELECT count(*) AS n FROM raw.stock_levels")  # inputs are shared


def test_the_scenarios_capacity_overrides_are_the_capacities_it_was_solved_and_checked_under(what_if, capsys):
    sql = "SELECT s.capacity_total, c.capacity AS fibre FROM knapsack.site_summary s JOIN knapsack.category_use c " \
          "USING (site_id, partition_date) WHERE s.site_id = ? AND c.category = 'FIBRE'"
    capsys.readouterr()
    assert main(["query", "--format", "json", "--scenario", WHAT_IF, sql.replace("?", f"'{ROOMY}'")]) == 0
    assert json.loads(capsys.readouterr().out) == [{"capacity_total": 999.0, "fibre": 500.0}]
    assert main(["query", "--format", "json", sql.replace("?", f"'{ROOMY}'")]) == 0
    assert json.loads(capsys.readouterr().out) != [{"capacity_total": 999.0, "fibre": 500.0}]
    checks = query(capsys, "--scenario", WHAT_IF, "SELECT passed FROM validation.check_results "
                   "WHERE check_name = 'within_capacity'")
    assert checks and all(row["passed"] for row in checks)


def test_compare_prints_the_figures_of_the_tables(what_if, capsys):
    capsys.readouterr()
    assert main(["compare", "--date", DAY, "base", WHAT_IF]) == 0
    printed = capsys.readouterr().out
    for scenario, args in (("base", []), (WHAT_IF, ["--scenario", WHAT_IF])):
        rows = query(
            capsys, *args,
            "SELECT sum(a.value) AS value, sum(a.volume) AS volume, sum(a.quantity * r.unit_cost) AS cost, "
            "count(*) FILTER (WHERE a.lots < a.n_min) AS shortages, "
            "sum(a.lots_hi) FILTER (WHERE a.level = 'CRITIQUE') / sum(a.n_min) FILTER (WHERE a.level = 'CRITIQUE') AS cover "
            "FROM knapsack.allocation a JOIN raw.articles r USING (article_id, partition_date)",
        )[0]
        critique = query(capsys, *args, "SELECT count(*) AS n FROM urgence.urgency_classification WHERE class = 'CRITIQUE_A'")[0]
        figures = plan_figures(Warehouse(path=str(what_if.warehouse)), date.fromisoformat(DAY), scenario).figures
        assert figures["value"] == pytest.approx(rows["value"])
        assert figures["volume"] == pytest.approx(rows["volume"])
        assert figures["cost"] == pytest.approx(rows["cost"])
        assert figures["shortages"] == rows["shortages"]
        assert figures["critical_coverage"] == pytest.approx(rows["cover"] if rows["cover"] is not None else 1.0)
        assert figures["critique_a_pairs"] == critique["n"]
    assert f"{DAY}: base vs {WHAT_IF}" in printed and "value" in printed


def test_compare_on_a_day_without_a_plan_says_so(what_if, capsys):
    capsys.readouterr()
    assert main(["compare", "--date", "2026-01-03", "base", WHAT_IF]) == 2
    assert "no knapsack.allocation" in capsys.readouterr().err


def test_explain_reads_the_scenario_when_asked(what_if, capsys):
    pair = query(capsys, "--scenario", WHAT_IF, "SELECT site_id, article_id, lots FROM knapsack.allocation "
                 "ORDER BY lots DESC, site_id, article_id LIMIT 1")[0]
    for args, strategy in (([], "criticite_hybride"), (["--scenario", WHAT_IF], "greedy")):
        capsys.readouterr()
        assert main(["explain", "--date", DAY, "--site", pair["site_id"], "--article", pair["article_id"], *args]) == 0
        assert strategy in capsys.readouterr().out
    assert main(["explain", "--date", DAY, "--site", pair["site_id"], "--article", pair["article_id"], "--scenario", "nope"]) == 2


def test_the_official_partition_stays_the_one_freshness_counts(what_if):
    official_run = what_if.instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/partition": DAY}, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=2
    )
    scenario_run, base_run = official_run  # newest first
    assert scenario_run.tags["reassort/scenario"] == WHAT_IF and "reassort/scenario" not in base_run.tags
    done = done_at(what_if.instance, date.fromisoformat(DAY))
    stats = what_if.instance.get_run_stats(base_run.run_id)
    assert done is not None and done.timestamp() <= stats.end_time


def test_a_scenario_is_dropped_and_base_never(what_if, capsys):
    assert main(["scenario", "drop", "base"]) == 2
    assert "official plan" in capsys.readouterr().err
    assert main(["scenario", "list"]) == 0 and WHAT_IF in capsys.readouterr().out
    assert main(["scenario", "drop", WHAT_IF]) == 0
    assert not (what_if.warehouse / SCENARIOS_DIR / WHAT_IF).exists()
    assert official_files(what_if.warehouse) == what_if.before
    assert main(["query", "--scenario", WHAT_IF, "SELECT 1"]) == 2


def test_a_scenario_needs_the_days_inputs_loaded(what_if):
    with pytest.raises(SystemExit, match="not loaded"):
        main(["run", "--date", "2026-01-02", "--scenario", "early"])


def test_cleaning_the_official_partition_never_touches_a_scenario(tmp_path):
    from orchestrator_assets.publication import remove_unreferenced

    kept = tmp_path / SCENARIOS_DIR / "x" / "knapsack" / "allocation" / f"partition_date={DAY}" / "r.parquet"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"PAR1")
    stale = tmp_path / "knapsack" / "allocation" / f"partition_date={DAY}" / "old.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"PAR1")
    assert remove_unreferenced(tmp_path, DAY, grace_s=0) == 1
    assert kept.exists() and not stale.exists()


@pytest.mark.parametrize("name", ["base", "BASE", "1st", "a b", "../x", "x" * 41, ""])
def test_scenario_names_are_identifiers_and_never_base(name):
    with pytest.raises(ValueError):
        check_scenario_name(name)


def test_a_scenario_run_that_would_write_the_report_or_erp_files_is_refused():
    run = dg.DagsterRun(job_name="reassort_daily", run_id="r", tags={"reassort/scenario": "x"})
    with pytest.raises(dg.DagsterInvariantViolationError, match="report__daily_report"):
        refuse_scenario_outputs(run, ["knapsack", "report__daily_report"])
    refuse_scenario_outputs(run, ["knapsack", "stock__stock_projection"])
    refuse_scenario_outputs(dg.DagsterRun(job_name="j", run_id="r2"), ["report__daily_report"])
