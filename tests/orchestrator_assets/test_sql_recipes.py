"""docs/sql-recipes.md: every recipe runs, through `reassort query`, on a real tiny warehouse and answers.

The warehouse: three consecutive partitions of the tiny profile with a few bad input rows
(so validation.rejected_rows has rows), materialised in process. The recipes are relative to
the latest partition in the data, so they answer whatever the data's dates.
"""

import json
import re
import shlex
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from data_generation.field_service import generate
from orchestrator_assets.cli import main
from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.run_parameters import run_config_for
from orchestrator_assets.warehouse_views import known_tables
from tests.orchestrator_assets.pipeline_runs import run_partition

RECIPES_FILE = Path(__file__).parents[2] / "docs" / "sql-recipes.md"
DAYS = ["2026-01-08", "2026-01-09", "2026-01-10"]
OPTIONAL_TABLES = {"validation.check_results"}  # built by the validation checks; skip its recipe without it


def parse_recipes(text: str) -> list[tuple[str, str, str]]:
    """(question, sql block, bash block) of every `## ` section."""
    recipes = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        question = section.splitlines()[0].strip()
        sql = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
        bash = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
        assert len(sql) == 1 and len(bash) == 1, f"{question!r}: expected one sql and one bash block"
        recipes.append((question, sql[0].strip(), bash[0].strip()))
    return recipes


RECIPES = parse_recipes(RECIPES_FILE.read_text())


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("recipes") / "data"
    generate("tiny", date(2026, 1, 1), 10, data, seed=5, bad_rows=0.03)
    defs = build_definitions(data, data / "warehouse")
    tolerant = run_config_for({"ingest": {"max_rejected_share": 0.5}}, list(defs.assets))
    instance = dg.DagsterInstance.ephemeral()
    for day in DAYS:
        run_partition(data, day, instance, run_config=tolerant)
    return data / "warehouse"


def test_the_file_holds_the_questions_analysts_ask():
    questions = " ".join(question.lower() for question, _, _ in RECIPES)
    for topic in ["critique today", "sites are full", "last 7 partitions", "ship last month", "rejected",
                  "stock-out", "abc", "checks failed", "forecast"]:  # fmt: skip
        assert topic in questions, topic


@pytest.mark.parametrize("question, sql, command", RECIPES, ids=[question for question, _, _ in RECIPES])
def test_the_command_line_form_runs_the_same_sql(question, sql, command):
    words = shlex.split(command)
    assert words[:4] == ["uv", "run", "reassort", "query"] and len(words) == 5, question
    assert words[4].strip() == sql


@pytest.mark.parametrize("question, sql, command", RECIPES, ids=[question for question, _, _ in RECIPES])
def test_every_recipe_answers_on_a_tiny_warehouse(question, sql, command, warehouse, monkeypatch, capsys):
    tables = set(known_tables(warehouse))
    for table in OPTIONAL_TABLES - tables:
        if table in sql:
            pytest.skip(f"{table} does not exist in this build")
    monkeypatch.setenv("REASSORT_WAREHOUSE", str(warehouse))
    capsys.readouterr()
    assert main(["query", "--format", "json", sql]) == 0, capsys.readouterr().err
    rows = json.loads(capsys.readouterr().out)
    assert rows, f"{question}: no row"
