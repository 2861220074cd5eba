"""What leaves Réassort: picking lists per source depot and purchase proposals (SPEC §5.2).

A warehouse picks from the picking list of its depot (one CSV per depot that ships to its
vans), a buyer or the ERP imports the purchase proposals (one CSV per site supplied from
outside: depots and vans without a parent). The files are plain CSV (UTF-8, comma, header,
ISO dates, '.' decimals) with a manifest.json that says which plan they come from and what
they add up to, so the receiving side can check it has every file and every line.

Pure functions over Polars frames (no Dagster): the CLI (`reassort export`) and the asset
export/erp_files call the same builders and the same writer. docs/export.md is the contract
of the files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

PICKING_COLUMNS = ["to_site", "article", "designation", "lots", "quantity", "volume", "class"]
PURCHASE_COLUMNS = ["article", "quantity", "lots", "order_date", "expected_date", "unit_cost", "amount"]
EXPORTS_FOLDER = "exports"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "reassort-export/1"
#: site ids are validated identifiers at ingestion; anything else never becomes a file name.
SITE_ID = re.compile(r"[A-Za-z0-9_.\-]+")
#: amounts are money: rounded to the cent, half away from zero, as an invoice line is.
AMOUNT_DECIMALS = 2
#: volumes are products of floats (quantity x unit_volume): rounded to drop the noise only.
VOLUME_DECIMALS = 6


class ExportError(ValueError):
    """The export cannot be written as asked (a site id that cannot be a file name, a
    destination folder that is not an earlier export)."""


def with_source(allocation: pl.DataFrame) -> pl.DataFrame:
    """The allocation with source_site_id as a nullable string: absent column, null or empty
    all mean supplied from outside (SPEC §5.2)."""
    if "source_site_id" not in allocation.columns:
        return allocation.with_columns(pl.lit(None, dtype=pl.String).alias("source_site_id"))
    source = pl.col("source_site_id").cast(pl.String).str.strip_chars()
    return allocation.with_columns(pl.when(source == "").then(None).otherwise(source).alias("source_site_id"))


def _shipped_lines(allocation: pl.DataFrame, articles: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Rows with at least one lot, with the article columns the files need."""
    lines = with_source(allocation).filter(pl.col("lots") > 0)
    return lines.join(articles.select("article_id", *columns).unique("article_id"), on="article_id", how="left")


def picking_lists(allocation: pl.DataFrame, articles: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Per source depot, what it sends to its vans: one row per (van, article) with lots > 0,
    sorted by (to_site, article). Depots that ship nothing have no list."""
    lines = _shipped_lines(allocation, articles, ["designation"]).filter(pl.col("source_site_id").is_not_null())
    frames = {}
    for (depot,), rows in sorted(lines.partition_by("source_site_id", as_dict=True).items()):
        frames[depot] = rows.select(
            pl.col("site_id").cast(pl.String).alias("to_site"),
            pl.col("article_id").cast(pl.String).alias("article"),
            pl.col("designation").cast(pl.String),
            pl.col("lots").cast(pl.Int64),
            pl.col("quantity").cast(pl.Int64),
            pl.col("volume").cast(pl.Float64).round(VOLUME_DECIMALS),
            pl.col("class").cast(pl.String),
        ).sort("to_site", "article")
    return frames


def purchase_proposals(
    allocation: pl.DataFrame, articles: pl.DataFrame, partition_date: date
) -> dict[str, pl.DataFrame]:
    """Per site supplied from outside (no source depot), what to order: one row per article
    with lots > 0, ordered on D and expected D + lead_time_days, amount = quantity x
    unit_cost (to the cent). Sites that order nothing have no proposal."""
    lines = _shipped_lines(allocation, articles, ["unit_cost", "lead_time_days"]).filter(
        pl.col("source_site_id").is_null()
    )
    order_date = pl.lit(partition_date, dtype=pl.Date)
    frames = {}
    for (site,), rows in sorted(lines.partition_by("site_id", as_dict=True).items()):
        frames[str(site)] = rows.select(
            pl.col("article_id").cast(pl.String).alias("article"),
            pl.col("quantity").cast(pl.Int64),
            pl.col("lots").cast(pl.Int64),
            order_date.alias("order_date"),
            (order_date + pl.duration(days=pl.col("lead_time_days").cast(pl.Int64))).alias("expected_date"),
            pl.col("unit_cost").cast(pl.Float64),
            (pl.col("quantity") * pl.col("unit_cost").cast(pl.Float64))
            .round(AMOUNT_DECIMALS, mode="half_away_from_zero")
            .alias("amount"),
        ).sort("article")
    return frames


def export_dir(data_root: Path, partition_date: date) -> Path:
    """<data folder>/exports/YYYY-MM-DD: where the asset writes, and `reassort export` by default."""
    return data_root / EXPORTS_FOLDER / partition_date.isoformat()


def file_name(kind: str, site_id: str) -> str:
    """picking_<DEPOT>.csv / purchase_<SITE>.csv, refusing any id that is not a plain
    identifier, so that no path is ever built from bad data."""
    if not SITE_ID.fullmatch(site_id or ""):
        raise ExportError(f"site id {site_id!r} cannot name an export file (allowed: letters, digits, _ . -)")
    return f"{kind}_{site_id}.csv"


@dataclass(frozen=True)
class ExportPlan:
    """Where the files come from: the partition, the run that wrote its allocation, the strategy."""

    partition_date: date
    run_id: str
    strategy: str
    scenario: str = "base"


def _file_entry(kind: str, site_id: str, name: str, frame: pl.DataFrame) -> dict:
    entry = {"name": name, "kind": kind, "site_id": site_id, "rows": frame.height, "quantity": int(frame["quantity"].sum())}
    if kind == "picking":
        entry["volume"] = round(float(frame["volume"].sum()), VOLUME_DECIMALS)
    else:
        entry["amount"] = round(float(frame["amount"].sum()), AMOUNT_DECIMALS)
    return entry


def _totals(files: list[dict], kind: str, measure: str) -> dict:
    chosen = [f for f in files if f["kind"] == kind]
    digits = VOLUME_DECIMALS if measure == "volume" else AMOUNT_DECIMALS
    return {
        "files": len(chosen),
        "rows": sum(f["rows"] for f in chosen),
        "quantity": sum(f["quantity"] for f in chosen),
        measure: round(sum(f[measure] for f in chosen), digits),
    }


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """UTF-8, comma, header, ISO dates, '.' decimals, no scientific notation, empty for null."""
    frame.write_csv(path, separator=",", date_format="%Y-%m-%d", float_scientific=False, null_value="")


@contextlib.contextmanager
def _destination_lock(out_dir: Path) -> Iterator[None]:
    """Two exports of one folder at once (the CLI and the schedule) take turns."""
    with open(out_dir.parent / f".{out_dir.name}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _replaceable(out_dir: Path) -> bool:
    """Only an earlier export (or an empty folder) is replaced: `--out ~` must not delete a home."""
    if not out_dir.exists():
        return True
    if not out_dir.is_dir() or out_dir.is_symlink():
        return False
    return not any(out_dir.iterdir()) or (out_dir / MANIFEST_NAME).is_file()


def write_export(
    out_dir: Path,
    plan: ExportPlan,
    picking: Mapping[str, pl.DataFrame],
    purchases: Mapping[str, pl.DataFrame],
    generated_at: datetime,
) -> dict:
    """Write every file and manifest.json into `out_dir`, replacing an earlier export of it.

    The files are written into a temporary sibling folder, which is then renamed into place
    (the earlier export is renamed aside first, then deleted): a reader sees the old export,
    the new one, or for an instant no folder, never a half-written one. Returns the manifest.
    """
    out_dir = Path(out_dir)
    named = [("picking", site, file_name("picking", site), frame) for site, frame in sorted(picking.items())]
    named += [("purchase", site, file_name("purchase", site), frame) for site, frame in sorted(purchases.items())]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _destination_lock(out_dir):
        if not _replaceable(out_dir):
            raise ExportError(f"{out_dir} exists and is not an earlier export (no {MANIFEST_NAME}): choose another --out")
        staging = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            files = []
            for kind, site, name, frame in named:
                columns = PICKING_COLUMNS if kind == "picking" else PURCHASE_COLUMNS
                write_csv(frame.select(columns), staging / name)
                files.append(_file_entry(kind, site, name, frame))
            manifest = {
                "format": MANIFEST_FORMAT,
                "partition": plan.partition_date.isoformat(),
                "run_id": plan.run_id,
                "strategy": plan.strategy,
                "scenario": plan.scenario,
                "generated_at": generated_at.isoformat(timespec="seconds"),
                "files": files,
                "totals": {
                    "picking": _totals(files, "picking", "volume"),
                    "purchase": _totals(files, "purchase", "amount"),
                },
            }
            (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            for path in [*staging.iterdir(), staging]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)  # an export is meant to be read
            _swap_into_place(staging, out_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return manifest


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    aside = None
    if out_dir.exists():
        aside = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex}"
        os.replace(out_dir, aside)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        if aside is not None:
            os.replace(aside, out_dir)  # put the earlier export back
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
