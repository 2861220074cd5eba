"""What a query through the DuckDB catalog file costs, against `reassort query`'s in-memory
views (its peer), on a warehouse of ~180 published partitions (issue 14 point 2).

    uv run python bench/bench_catalog.py [--partitions 180] [--rows 20000] [--repeat 5]

Per partition: raw.movements (`--rows` rows), validation.rejected_rows in 9 units, 8 small
tables; one partition in five also has a file of a failed run (unpublished). Each timing
opens a new connection (catalog: duckdb.connect(catalog, read_only=True); peer:
open_views over the manifests) and runs one query; prints median / max milliseconds.
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from orchestrator_assets.publication import publish
from orchestrator_assets.table_files import UnitFile, write_unit
from orchestrator_assets.warehouse_catalog import catalog_path, write_catalog
from orchestrator_assets.warehouse_views import open_views

UNITS = ("articles", "sites", "site_capacities", "technicians", "bom", "stock_levels", "movements",
         "purchase_orders", "planned_interventions")
SMALL_TABLES = [f"bench.table_{i}" for i in range(8)]


def movements(rows: int, day: date, run_id: str, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "site_id": [f"S{i}" for i in rng.integers(0, 1000, rows)],
        "article_id": [f"A{i}" for i in rng.integers(0, 300, rows)],
        "quantity": rng.integers(1, 10, rows),
        "partition_date": [day] * rows,
        "run_id": [run_id] * rows,
    })


def build(root: Path, partitions: int, rows: int) -> str:
    small = pl.DataFrame({"x": list(range(1000))})
    last = ""
    for index in range(partitions):
        day = date(2025, 7, 1) + timedelta(days=index)
        key = last = day.isoformat()
        files = [UnitFile("raw.movements", key, "good")]
        write_unit(root, files[0], movements(rows, day, "good", index))
        for unit in UNITS:
            files.append(UnitFile("validation.rejected_rows", key, "good", unit))
            write_unit(root, files[-1], pl.DataFrame({"source": [unit], "rule": ["bad_identifier"], "row": [index]}))
        for table in SMALL_TABLES:
            files.append(UnitFile(table, key, "good"))
            write_unit(root, files[-1], small)
        if index % 5 == 0:  # a failed run's file, never published
            write_unit(root, UnitFile("raw.movements", key, "failed"), movements(rows, day, "failed", 100_000 + index))
        publish(root, files)
    return last


def timed(open_connection, sql: str, repeat: int) -> tuple[float, float, object]:
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        con = open_connection()
        answer = con.execute(sql).fetchall()
        con.close()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=180)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        last = build(root, args.partitions, args.rows)
        print(f"built {args.partitions} partitions in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        write_catalog(root)
        print(f"write_catalog: {(time.perf_counter() - started) * 1000:.0f} ms, {catalog_path(root).stat().st_size:,} bytes")
        queries = {
            "count raw.movements": "SELECT count(*) FROM raw.movements",
            "one day of raw.movements": f"SELECT count(*) FROM raw.movements WHERE partition_date = '{last}'",
            "sum by site, raw.movements": "SELECT site_id, sum(quantity) FROM raw.movements GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
            "count validation.rejected_rows (1,620 files)": "SELECT count(*) FROM validation.rejected_rows",
        }
        for label, sql in queries.items():
            table = sql.split("FROM ")[1].split()[0]
            median, worst, answer = timed(lambda: duckdb.connect(str(catalog_path(root)), read_only=True), sql, args.repeat)
            peer_median, peer_worst, peer_answer = timed(lambda table=table: open_views(root, [table]), sql, args.repeat)
            assert answer == peer_answer, (label, answer, peer_answer)
            print(f"{label:<46} catalog {median:7.0f} ms (max {worst:5.0f})   in-memory views {peer_median:7.0f} ms (max {peer_worst:5.0f})")


if __name__ == "__main__":
    main()
