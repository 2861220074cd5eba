"""Time the synthetic data generator and report peak memory and bytes written.

    uv run python bench/bench_generate.py --profile large --days 200 --format csv
    uv run python bench/bench_generate.py --profile large --days 200 --format parquet

Without --out the data goes to a fresh temporary folder that is deleted afterwards
(large/200 days is ~2 GB of CSV); with --out it is kept. Prints one summary line.
The target (brief of the generator): large, 200 days, CSV, well under 60 s on 2 cores.
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from data_generation.field_service import PROFILES, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="large", choices=sorted(PROFILES))
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--bad-rows", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--out", type=Path, help="keep the data here (default: temporary, deleted)")
    parser.add_argument("--verbose", action="store_true", help="print the generator's progress lines")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix=f"reassort_bench_{args.profile}_"))
    began = time.perf_counter()
    try:
        summary = generate(args.profile, args.start, args.days, out, args.seed, bad_rows=args.bad_rows,
                           fmt=args.format, progress=print if args.verbose else None)
        wall = time.perf_counter() - began
        on_disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    rows = sum(summary.rows.values())
    print(f"bench_generate profile={args.profile} days={args.days} format={args.format} "
          f"pairs={summary.stocked_pairs:,} rows={rows:,} time={wall:.1f}s "
          f"({wall / args.days * 1000:.0f} ms/day) peak_rss={peak_mb:,.0f}MB written={on_disk / 1e6:,.0f}MB"
          f"{'' if args.out else ' (deleted)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
