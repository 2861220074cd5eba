"""Synthetic ERP and planning extracts of a field-service operator: the public entry point.

``generate`` builds a network (articles, depots, vans, technicians, bills of materials)
from a size profile and a seed, simulates it day by day and writes the reference tables
and one extract folder per day, in the layout of SPEC section 2. The same arguments
always give byte-identical files: every draw comes from numpy generators seeded from
``seed`` (one independent stream per concern, so bad rows never change the clean data),
rows are written in a fixed order and files hold no timestamps.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_generation.bad_rows import BadRowInjector
from data_generation.extract_files import EXTRACT_FORMATS, EXTRACT_TABLES, write_extract_folder, write_reference
from data_generation.profiles import PROFILES, Profile
from data_generation.simulation import FieldServiceSimulation, day_number
from data_generation.world import build_world

__all__ = ["PROFILES", "GenerationSummary", "Profile", "generate"]

MAX_BAD_ROW_SHARE = 0.5


@dataclass
class GenerationSummary:
    """What a ``generate`` run wrote: sizes, row counts, injected bad rows, time."""

    profile: str
    start: dt.date
    days: int
    fmt: str
    seed: int
    bad_row_share: float
    out: Path
    articles: int
    sites: int
    technicians: int
    stocked_pairs: int
    rows: dict[str, int] = field(default_factory=dict)  # per table, summed over days for extracts
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # per extract table, per kind
    bytes_written: int = 0
    elapsed_s: float = 0.0

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    def bad_rows_total(self, table: str) -> int:
        return sum(self.bad_rows.get(table, {}).values())

    def format(self) -> str:
        lines = [
            f"profile {self.profile} (seed {self.seed}): {self.articles:,} articles, {self.sites:,} sites, "
            f"{self.technicians:,} technicians, {self.stocked_pairs:,} stocked pairs",
            f"{self.days} day(s) {self.start.isoformat()}..{self.end.isoformat()} as {self.fmt} into {self.out}: "
            f"{self.bytes_written / 1e6:,.1f} MB in {self.elapsed_s:.1f} s",
        ]
        for table, count in self.rows.items():
            line = f"  {table:<22} {count:>12,} rows"
            bad = self.bad_rows_total(table)
            if bad:
                kinds = ", ".join(f"{kind} {n:,}" for kind, n in self.bad_rows[table].items() if n)
                line += f"  ({bad:,} bad: {kinds})"
            lines.append(line)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def generate(profile: str, start: dt.date, days: int, out: Path, seed: int, bad_rows: float = 0.0,
             fmt: str = "csv", progress: Callable[[str], None] | None = None) -> GenerationSummary:
    """Write reference tables and ``days`` daily extract folders from ``start`` into ``out``.

    ``bad_rows`` is the share of broken rows injected into each extract table (0..0.5;
    reference tables stay clean). ``progress`` receives a line about every 10 % of days.
    Raises ValueError for an unknown profile or format, days < 1 or a share out of range.
    """
    _check_arguments(profile, days, seed, bad_rows, fmt)
    if isinstance(start, dt.datetime):
        start = start.date()
    out = Path(out)
    began = time.perf_counter()
    report = progress or (lambda _line: None)

    world_stream, plan_stream, day_stream, bad_row_stream = np.random.SeedSequence(seed).spawn(4)
    world = build_world(PROFILES[profile], np.random.default_rng(world_stream), np.random.default_rng(plan_stream))
    reference = world.reference_frames()
    summary = GenerationSummary(
        profile=profile, start=start, days=days, fmt=fmt, seed=seed, bad_row_share=bad_rows, out=out,
        articles=world.catalogue.size, sites=world.network.n_sites,
        technicians=len(world.network.technician_id), stocked_pairs=world.pairs.size,
        rows={table: frame.height for table, frame in reference.items()} | {table: 0 for table in EXTRACT_TABLES},
    )
    summary.bytes_written += write_reference(out, reference)
    report(f"{profile}: {summary.articles:,} articles, {summary.sites:,} sites, "
           f"{summary.stocked_pairs:,} stocked pairs, reference written, {time.perf_counter() - began:.1f} s")

    simulation = FieldServiceSimulation(world, np.random.default_rng(day_stream))
    injector = BadRowInjector(bad_rows, np.random.default_rng(bad_row_stream))
    first_day = day_number(start)
    simulation.warm_up(first_day)
    report_every = max(1, days // 10)
    for index in range(days):
        tables = simulation.simulate_day(first_day + index).as_dict()
        tables = {table: injector.inject(table, tables[table]) for table in EXTRACT_TABLES}
        for table in EXTRACT_TABLES:
            summary.rows[table] += tables[table].height
        summary.bytes_written += write_extract_folder(out, start + dt.timedelta(days=index), tables, fmt)
        if (index + 1) % report_every == 0 or index + 1 == days:
            report(f"day {index + 1}/{days} written, {time.perf_counter() - began:.1f} s")

    summary.bad_rows = injector.counts
    summary.elapsed_s = time.perf_counter() - began
    return summary


def _check_arguments(profile: str, days: int, seed: int, bad_rows: float, fmt: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, got {days!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(bad_rows, (int, float)) or math.isnan(bad_rows) or not 0.0 <= bad_rows <= MAX_BAD_ROW_SHARE:
        raise ValueError(f"bad_rows must be a share between 0 and {MAX_BAD_ROW_SHARE}, got {bad_rows!r}")
    if fmt not in EXTRACT_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(EXTRACT_FORMATS)}, got {fmt!r}")
