"""The DuckDB catalog file: any plain DuckDB client sees the published partitions, and only them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from orchestrator_assets.cli import main
from orchestrator_assets.publication import publish
from orchestrator_assets.table_files import PUBLISHED_DIR, UnitFile, write_unit
from orchestrator_assets.warehouse_catalog import (
    CatalogError,
    catalog_contents,
    catalog_path,
    ensure_catalog,
    write_catalog,
)
from orchestrator_assets.warehouse_views import open_views

TABLE = "stock.stock_initial"


def write(root: Path, day: str, run_id: str, values: list[int], table: str = TABLE, unit: str = "",
          extra: dict | None = None) -> UnitFile:
    """One run's file of one partition, not published."""
    unit_file = UnitFile(table, day, run_id, unit)
    frame = pl.DataFrame({"article_id": [f"A{v}" for v in values], "on_hand": values, **(extra or {})})
    write_unit(root, unit_file, frame.with_columns(pl.lit(date.fromisoformat(day)).alias("partition_date"),
                                                   pl.lit(run_id).alias("run_id")))
    return unit_file


def client(root: Path) -> duckdb.DuckDBPyConnection:
    """What a user's DuckDB does: open the file read-only, nothing else."""
    return duckdb.connect(str(catalog_path(root)), read_only=True)


def published_rows(con: duckdb.DuckDBPyConnection, table: str = TABLE) -> list[tuple]:
    return con.execute(f"SELECT CAST(partition_date AS VARCHAR), run_id, on_hand FROM {table} ORDER BY ALL").fetchall()


def test_a_plain_client_sees_published_rows_and_no_unpublished_one(tmp_path):
    publish(tmp_path, [write(tmp_path, "2026-01-01", "good", [1, 2])])
    write(tmp_path, "2026-01-01", "failed", [9])  # a failed run's file of a published partition
    write(tmp_path, "2026-01-02", "running", [8])  # a partition no run has published yet
    write_catalog(tmp_path)
    con = client(tmp_path)
    assert published_rows(con) == [("2026-01-01", "good", 1), ("2026-01-01", "good", 2)]
    with pytest.raises(duckdb.Error):  # read-only: the client cannot change the catalog
        con.execute("CREATE TABLE stock.x AS SELECT 1")


def test_a_partition_published_after_the_catalog_was_written_is_seen(tmp_path):
    publish(tmp_path, [write(tmp_path, "2026-01-01", "run1", [1])])
    con = client(tmp_path)  # opened before the next publications
    assert published_rows(con) == [("2026-01-01", "run1", 1)]
    publish(tmp_path, [write(tmp_path, "2026-01-02", "run2", [2])])
    publish(tmp_path, [write(tmp_path, "2026-01-01", "run3", [3])])  # a re-run replaces its partition
    assert published_rows(con) == [("2026-01-01", "run3", 3), ("2026-01-02", "run2", 2)]
    assert con.execute("SELECT count(*) FROM _warehouse.published_files").fetchone()[0] == 2


def test_the_first_publication_of_a_table_adds_it_to_the_catalog(tmp_path):
    publish(tmp_path, [write(tmp_path, "2026-01-01", "run1", [1])])
    assert catalog_contents(tmp_path)[1] == {TABLE}
    before = client(tmp_path)
    publish(tmp_path, [write(tmp_path, "2026-01-01", "run2", [5], table="knapsack.allocation")])
    assert catalog_contents(tmp_path)[1] == {TABLE, "knapsack.allocation"}
    # a client that had the catalog open keeps its old file, which still works
    assert published_rows(before) == [("2026-01-01", "run1", 1)]
    before.close()  # (DuckDB shares one open database per path and process: reopen to see new tables)
    assert published_rows(client(tmp_path), "knapsack.allocation") == [("2026-01-01", "run2", 5)]
    stamp = catalog_path(tmp_path).stat().st_ino
    publish(tmp_path, [write(tmp_path, "2026-01-02", "run3", [6])])  # a known table: no rewrite
    assert catalog_path(tmp_path).stat().st_ino == stamp


def test_views_give_the_columns_and_rows_of_reassort_query(tmp_path):
    """Same names, types and rows as the in-memory views, across files of different columns
    and a table split into units (validation.rejected_rows)."""
    publish(tmp_path, [write(tmp_path, "2026-01-01", "old", [1, 2])])
    publish(tmp_path, [write(tmp_path, "2026-01-02", "new", [3], extra={"note": ["added later"]})])
    publish(tmp_path, [write(tmp_path, "2026-01-01", "r1", [4], table="validation.rejected_rows", unit="articles"),
                       write(tmp_path, "2026-01-01", "r1", [5], table="validation.rejected_rows", unit="sites")])
    write_catalog(tmp_path)
    con, memory = client(tmp_path), open_views(tmp_path)
    for table in (TABLE, "validation.rejected_rows"):
        query = f"SELECT * FROM {table} ORDER BY ALL"
        assert con.execute(f"DESCRIBE {query}").fetchall() == memory.execute(f"DESCRIBE {query}").fetchall()
        assert con.execute(query).fetchall() == memory.execute(query).fetchall()
    assert con.execute(f"SELECT note FROM {TABLE} WHERE on_hand = 3").fetchone() == ("added later",)


def test_files_being_written_do_not_reach_the_client(tmp_path):
    """A writer's temporary files (a half-written Parquet file, a manifest not renamed yet)."""
    unit_file = write(tmp_path, "2026-01-01", "run1", [1])
    publish(tmp_path, [unit_file])
    folder = (tmp_path / unit_file.relative_path()).parent
    (folder / ".tmp-0123.parquet").write_bytes(b"PAR1 half a file")
    (tmp_path / PUBLISHED_DIR / ".tmp-4567.json").write_text('{"partition": "2026-01-0')
    assert published_rows(client(tmp_path)) == [("2026-01-01", "run1", 1)]


def test_hostile_names_never_reach_the_catalog(tmp_path):
    """Table names come from checked folder names; a manifest key or folder that is not a
    schema.table of identifiers is left out, and a quote in the warehouse path is quoted."""
    root = tmp_path / "o'brien warehouse"
    publish(root, [write(root, "2026-01-01", "run1", [1])])
    hostile_key = 'stock.x"; DROP VIEW stock.stock_initial; --'
    manifest = root / PUBLISHED_DIR / "2026-01-01.json"
    content = json.loads(manifest.read_text())
    content["entries"][hostile_key] = {"run_id": "run1", "file": "../../../etc/passwd", "published_at": "x"}
    content["entries"]["_warehouse.published_files"] = {"run_id": "run1", "file": "x", "published_at": "x"}
    manifest.write_text(json.dumps(content))
    (root / "stock" / "bad name;" / "partition_date=2026-01-01").mkdir(parents=True)
    write_catalog(root)
    con = client(root)
    views = {row[0] for row in con.execute(
        "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert views == {TABLE, "_warehouse.published_files", "_warehouse.location"}
    assert published_rows(con) == [("2026-01-01", "run1", 1)]
    assert ensure_catalog(root, [hostile_key]) is False  # nothing to add for a name that is no table


def test_a_warehouse_path_duckdb_cannot_glob_is_refused_and_publication_goes_on(tmp_path):
    root = tmp_path / "wh[1]"
    publish(root, [write(root, "2026-01-01", "run1", [1])])  # the publication itself is done
    assert not catalog_path(root).exists()
    with pytest.raises(CatalogError, match="glob character"):
        write_catalog(root)


def test_a_moved_warehouse_gets_a_new_catalog_at_the_next_publication(tmp_path):
    publish(tmp_path / "a", [write(tmp_path / "a", "2026-01-01", "run1", [1])])
    (tmp_path / "a").rename(tmp_path / "b")
    root = tmp_path / "b"
    assert catalog_contents(root)[0] == str((tmp_path / "a").resolve())
    publish(root, [write(root, "2026-01-02", "run2", [2])])
    assert catalog_contents(root)[0] == str(root.resolve())
    assert published_rows(client(root)) == [("2026-01-01", "run1", 1), ("2026-01-02", "run2", 2)]


def test_reassort_catalog_writes_the_file(project_env, capsys):
    root = project_env / "warehouse"
    publish(root, [write(root, "2026-01-01", "run1", [1])])
    catalog_path(root).unlink()
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    assert str(catalog_path(root)) in out and "-readonly" in out
    assert published_rows(client(root)) == [("2026-01-01", "run1", 1)]


def test_reassort_catalog_without_a_warehouse_says_so(project_env, capsys):
    assert main(["catalog"]) == 2
    assert "no warehouse" in capsys.readouterr().err
