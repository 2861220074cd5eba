"""The query path against hostile SQL (issue 13, point 1).

Every file in sql/ is one attack (a statement or a ';'-chain), kept as data. Each must be
refused by `check_statement`, and must also be refused or harmless when sent straight to the
locked connection, as if the check had been bypassed: no file under the test folder created,
changed or removed, and no byte of /etc/passwd or of an outside secret in what comes back.
"""

import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import polars as pl
import pytest

from orchestrator_assets.read_only_sql import (
    QueryRefused,
    QueryTimeout,
    check_statement,
    open_read_only,
    run_query,
)

SQL_DIR = Path(__file__).parent / "sql"
HOSTILE = sorted(SQL_DIR.glob("*.sql"))
MODULE_FILE = Path(__file__).resolve().parents[2] / "orchestrator_assets" / "read_only_sql.py"
CANARY = "CANARY-3d9f1c-not-for-queries"
# Marks the attacks after which DuckDB 1.5.6 aborts the whole process; they run in a child.
ISOLATE = "-- isolate:"


@dataclass(frozen=True)
class Site:
    root: Path
    warehouse_dir: Path
    warehouse_file: Path
    outside_dir: Path
    secret_file: Path
    other_database: Path
    view_file: str  # the name the view reads the data file by, in the connection's own filesystem

    @property
    def views(self) -> dict[str, list[str]]:
        return {"raw.stock_levels": [str(self.warehouse_file)]}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """A warehouse folder with one Parquet table, and outside it a secret, another database
    and a folder IMPORT DATABASE would read; the working directory is inside, so a relative
    write would show in the snapshot too."""
    monkeypatch.chdir(tmp_path)
    warehouse_file = tmp_path / "warehouse" / "raw" / "stock_levels" / "part-0.parquet"
    warehouse_file.parent.mkdir(parents=True)
    pl.DataFrame(
        {"site_id": ["DEP1", "DEP1", "VAN1"], "article_id": ["A1", "A2", "A1"], "quantity_on_hand": [20.0, 8.0, 3.0]}
    ).write_parquet(warehouse_file)
    outside = tmp_path / "outside"
    (outside / "import_me").mkdir(parents=True)
    (outside / "import_me" / "schema.sql").write_text("CREATE TABLE pwned AS SELECT 1 AS a;\n")
    (outside / "import_me" / "load.sql").write_text("")
    secret = outside / "secret.csv"
    secret.write_text(f"token\n{CANARY}\n")
    other = outside / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE victim AS SELECT * FROM range(3) t(a)")
    site = Site(tmp_path, tmp_path / "warehouse", warehouse_file, outside, secret, other, view_file="")
    with open_read_only(site.views, [site.warehouse_dir]) as con:
        definition = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'stock_levels'").fetchone()[0]
    (view_file,) = re.findall(r"'(reassort://[^']+)'", definition)
    return replace(site, view_file=view_file)


def hostile_sql(path: Path, site: Site) -> str:
    text = path.read_text()
    for key in ("warehouse_dir", "warehouse_file", "outside_dir", "secret_file", "other_database", "view_file"):
        text = text.replace("{" + key + "}", str(getattr(site, key)))
    assert not re.search(r"\{[a-z_]+\}", text), f"unknown placeholder in {path.name}"
    return text


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under root, with a hash of each file's bytes."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(root.rglob("*"))
    }


def secrets_in(output: str) -> list[str]:
    leaks = [CANARY] if CANARY in output else []
    passwd = Path("/etc/passwd")
    if passwd.exists():
        first_line = passwd.read_text().splitlines()[0]
        if first_line in output:
            leaks.append(first_line)
    return leaks


def run_on_locked_connection(sql: str, site: Site) -> str:
    """What the locked connection answers to `sql` sent without any check (error or rows)."""
    con = open_read_only(site.views, [site.warehouse_dir])
    try:
        return repr(con.execute(sql).fetchall())
    except duckdb.Error as error:
        return f"{type(error).__name__}: {error}"
    finally:
        con.close()


# Loads the module by its path: importing the orchestrator_assets package would load Dagster.
_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("read_only_sql", sys.argv[4])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
views, allowed, sql = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
con = module.open_read_only(views, [allowed])
try:
    print(repr(con.execute(sql).fetchall()), flush=True)
except Exception as error:
    print(type(error).__name__, error, flush=True)
con.close()
"""


def run_on_locked_connection_in_child(sql: str, site: Site) -> str:
    """The same in a child process, for the attacks after which DuckDB aborts its process."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(site.views), str(site.warehouse_dir), sql, str(MODULE_FILE)],
        cwd=site.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def test_the_hostile_corpus_is_there():
    assert len(HOSTILE) >= 50
    assert all(path.read_text().startswith("--") for path in HOSTILE), "each attack opens with a comment saying what it tries"


@pytest.mark.parametrize("path", HOSTILE, ids=lambda path: path.stem)
def test_check_statement_refuses_hostile_sql(path: Path, site: Site):
    with pytest.raises(QueryRefused):
        check_statement(hostile_sql(path, site))


@pytest.mark.parametrize("path", HOSTILE, ids=lambda path: path.stem)
def test_locked_connection_refuses_or_stays_harmless(path: Path, site: Site):
    sql = hostile_sql(path, site)
    before = snapshot(site.root)
    if sql.startswith(ISOLATE):
        output = run_on_locked_connection_in_child(sql, site)
    else:
        output = run_on_locked_connection(sql, site)
    assert snapshot(site.root) == before, f"{path.name} changed files: {output}"
    assert not secrets_in(output), f"{path.name} read a file it must not: {output}"


def test_locked_connection_opens_no_file_by_its_path_even_inside_the_warehouse(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_parquet('{site.warehouse_file}')")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"COPY (SELECT 1) TO '{site.warehouse_file}' (FORMAT csv, USE_TMP_FILE false)")
    assert pl.read_parquet(site.warehouse_file).height == 3


def test_view_files_are_read_only_through_their_own_names(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    assert con.execute(f"SELECT count(*) FROM read_parquet('{site.view_file}')").fetchone() == (3,)
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute(f"COPY (SELECT 1) TO '{site.view_file}' (FORMAT csv, USE_TMP_FILE false)")
    # A name outside the views' files matches nothing (DuckDB lists before it opens).
    assert con.execute(f"SELECT count(*) FROM read_blob('{site.view_file}.other')").fetchone() == (0,)
    assert pl.read_parquet(site.warehouse_file).height == 3


def test_locked_connection_keeps_its_settings(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    frame, _ = run_query(
        con,
        "SELECT current_setting('enable_external_access') AS external, current_setting('lock_configuration') AS locked, "
        "current_setting('autoload_known_extensions') AS autoload, current_setting('autoinstall_known_extensions') AS autoinstall, "
        "current_setting('allowed_directories') AS allowed, current_setting('temp_directory') AS spill",
    )
    assert frame.row(0, named=True) == {
        "external": False, "locked": True, "autoload": False, "autoinstall": False, "allowed": ["reassort:/"], "spill": "",
    }
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET enable_external_access = true")


# ---------------------------------------------------------------- what a planner may run


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT site_id, sum(quantity_on_hand) AS q FROM raw.stock_levels GROUP BY site_id ORDER BY site_id",
        "WITH s AS (SELECT * FROM raw.stock_levels) SELECT count(*) FROM s",
        "FROM raw.stock_levels WHERE article_id = 'A1'",
        "DESCRIBE raw.stock_levels",
        "SHOW ALL TABLES",
        "SHOW raw.stock_levels",
        "SUMMARIZE raw.stock_levels",
        "EXPLAIN SELECT * FROM raw.stock_levels",
        "EXPLAIN ANALYZE SELECT count(*) FROM raw.stock_levels",
        "PIVOT raw.stock_levels ON site_id IN ('DEP1', 'VAN1') USING sum(quantity_on_hand) GROUP BY article_id",
        "SELECT * FROM range(3) r, unnest([1, 2]) u",
        "SELECT view_name FROM duckdb_views() WHERE NOT internal -- a comment; with a semicolon",
        "select 1;",
    ],
)
def test_reading_statements_run_on_the_views(sql: str, site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    frame, truncated = run_query(con, sql)
    assert frame.height > 0
    assert not truncated


def test_views_read_their_rows_after_the_lock(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    frame, _ = run_query(con, "SELECT site_id, sum(quantity_on_hand) AS q FROM raw.stock_levels GROUP BY site_id ORDER BY site_id")
    assert frame.rows() == [("DEP1", 28.0), ("VAN1", 3.0)]


def test_files_of_a_view_are_united_by_column_name(site: Site):
    second = site.warehouse_file.with_name("part-1.parquet")
    pl.DataFrame({"site_id": ["DEP2"], "quantity_on_hand": [5.0], "note": ["new column"]}).write_parquet(second)
    views = {"raw.stock_levels": str(site.warehouse_file.parent / "*.parquet")}
    con = open_read_only(views, [site.warehouse_dir])
    frame, _ = run_query(con, "SELECT site_id, article_id, note FROM raw.stock_levels ORDER BY site_id, article_id")
    assert frame.rows() == [("DEP1", "A1", None), ("DEP1", "A2", None), ("DEP2", None, "new column"), ("VAN1", "A1", None)]


def test_hive_style_folders_give_their_columns_as_read_parquet_would(site: Site):
    day = site.warehouse_dir / "kpi" / "daily" / "partition_date=2026-03-02"
    day.mkdir(parents=True)
    pl.DataFrame({"value": [1.5]}).write_parquet(day / "run-1.parquet")
    con = open_read_only({"kpi.daily": [str(day / "run-1.parquet")]}, [site.warehouse_dir])
    frame, _ = run_query(con, "SELECT value, partition_date::VARCHAR AS d FROM kpi.daily")
    assert frame.rows() == [(1.5, "2026-03-02")]


def test_check_statement_hands_back_the_one_statement(site: Site):
    assert check_statement("  /* why */ SELECT 1 ;  ").strip().rstrip(";").strip().endswith("SELECT 1")


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("SELECT 1; SELECT 2", "one statement per query, found 2"),
        ("", "empty"),
        ("-- nothing but a comment", "empty"),
        ("SELEC 1", "does not parse"),
        ("PIVOT raw.stock_levels ON site_id USING sum(quantity_on_hand)", "explicit IN list"),
        ("COPY raw.stock_levels TO 'x.csv'", "COPY statements are refused"),
        ("PRAGMA version", "PRAGMA statements are refused"),
        ("SELECT * FROM read_csv('x.csv')", "table function read_csv refused"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'", "EXPLAIN of a refused statement: COPY"),
    ],
)
def test_refusals_say_why(sql: str, reason: str):
    with pytest.raises(QueryRefused, match=re.escape(reason)):
        check_statement(sql)


def test_view_files_outside_the_allowed_folders_are_refused(site: Site):
    with pytest.raises(ValueError, match="outside the allowed directories"):
        open_read_only({"raw.secret": [str(site.warehouse_dir / ".." / "outside" / "secret.csv")]}, [site.warehouse_dir])


@pytest.mark.parametrize("name", ['raw.x"; DROP VIEW raw.stock_levels; --', "raw.", "a.b.c", "1raw.t", "raw.t-1"])
def test_view_names_must_be_plain_identifiers(name: str, site: Site):
    with pytest.raises(ValueError, match="must be schema.table"):
        open_read_only({name: [str(site.warehouse_file)]}, [site.warehouse_dir])


# ---------------------------------------------------------------- row limit and timeout


def test_row_limit_keeps_the_first_rows_and_says_more_were_left(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    frame, truncated = run_query(con, "SELECT * FROM range(25) t(i) ORDER BY i", max_rows=10)
    assert frame["i"].to_list() == list(range(10))
    assert truncated
    frame, truncated = run_query(con, "SELECT * FROM range(25) t(i)", max_rows=25)
    assert frame.height == 25 and not truncated


def test_row_limit_stops_fetching_a_huge_result_early(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    # A billion rows: fetched whole, this would blow the time budget (QueryTimeout) long before the end.
    frame, truncated = run_query(con, "SELECT * FROM range(1000000000)", max_rows=5, timeout_s=60)
    assert frame.height == 5 and truncated


def test_a_slow_query_is_interrupted_at_its_time_limit(site: Site):
    con = open_read_only(site.views, [site.warehouse_dir])
    started = time.perf_counter()
    with pytest.raises(QueryTimeout, match="longer than 0.5 s"):
        run_query(con, "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range + b.range = -1", timeout_s=0.5)
    assert time.perf_counter() - started < 10
    frame, _ = run_query(con, "SELECT count(*) AS n FROM raw.stock_levels")
    assert frame["n"].to_list() == [3], "the connection answers again after an interrupt"
