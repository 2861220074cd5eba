"""What publishing a run costs: the manifest switch of one partition with the tables of a
daily run (issue 13 point 3), and reading the manifests back (what every query does).

    uv run python bench/bench_publication.py [--tables 30] [--partitions 365] [--repeat 50]

Writes small Parquet files in a temporary folder; prints median / max milliseconds.
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

import polars as pl

from orchestrator_assets.publication import publish
from orchestrator_assets.table_files import UnitFile, write_unit
from orchestrator_assets.warehouse_views import visible_files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=30)
    parser.add_argument("--partitions", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    frame = pl.DataFrame({"x": [1, 2, 3]})
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tables = [f"bench.table_{i:02d}" for i in range(args.tables)]
        days = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(args.partitions)]
        for day in days:  # a year of published partitions around the one we time
            files = [UnitFile(t, day, "history") for t in tables]
            for unit_file in files:
                write_unit(root, unit_file, frame)
            publish(root, files)
        timings = []
        for index in range(args.repeat):
            files = [UnitFile(t, days[-1], f"run-{index}") for t in tables]
            for unit_file in files:
                write_unit(root, unit_file, frame)
            started = time.perf_counter()
            publish(root, files)
            timings.append((time.perf_counter() - started) * 1000)
        reads = []
        for _ in range(10):
            started = time.perf_counter()
            visible_files(root)
            reads.append((time.perf_counter() - started) * 1000)
    print(f"publish one partition ({args.tables} tables): median {statistics.median(timings):.2f} ms, max {max(timings):.2f} ms")
    print(f"list the visible files of {args.partitions} partitions x {args.tables} tables: "
          f"median {statistics.median(reads):.1f} ms, max {max(reads):.1f} ms")


if __name__ == "__main__":
    main()
