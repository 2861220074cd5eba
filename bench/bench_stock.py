"""Benchmark of the STOCK module (SPEC §3) on the `large` profile, against its peers.

Not a test: a script that times, end to end,

1. **ours, CSV**: Polars reading the extracts + ``forecast_rates`` (sba, then tsb:
   numba kernels over sparse events) + ``planned_demand`` / ``receipts`` /
   ``project_stock``;
2. **ours, DuckDB** (the pipeline's real path): the same inputs are first loaded,
   untimed, into a temporary DuckDB file shaped like the warehouse (``raw.*`` tables
   with ``partition_date`` and ``run_id``); the run then reads the history window with
   the SQL of ``orchestrator_assets/defs/stock/history_window.py`` (``.pl()``) and the
   other inputs as the IO manager does, and computes the same things;
3. **pandas**: the same SPEC formulas as a practitioner writes them: ``read_csv`` per
   day, ``groupby`` then one Python loop per series for sba/tsb, a dense pairs x H
   NumPy projection;
4. **statsforecast**: ``CrostonSBA()`` and, in a separate call, ``TSB(alpha_d,
   alpha_p)`` through ``StatsForecast(...).forecast`` on the zero-filled long frame
   (unique_id, ds, y) of pairs x N rows (51.5 M for `large`). ``--sf-sample 0`` (the
   default) gives it every pair; a positive value takes a random sample of pairs and
   extrapolates the per-pair part linearly (the report says so).

Speed-ups against statsforecast are given for **one method** (the pipeline computes
one method per run) and for **both methods**: on each side, reading what the forecast
needs (window, stock levels, articles) + the pairs + the sba fit (statsforecast: the
zero-filled long frame, then CrostonSBA), and for both, the tsb fit on top.

Each implementation runs in its own process so that its peak RSS (``ru_maxrss``) is
its own. Our timings are the best of ``--repeat`` runs; the peers run once. Every
phase is timed in wall-clock and in process CPU seconds: the machine is shared, and
the CPU time of a single-threaded peer is what its wall time would be on an idle
machine. Rates are written to Parquet by each child and compared by the parent.

Definitions differ between the SPEC and statsforecast, which the report quantifies:
statsforecast's SES writes ``alpha x + (1 - alpha) f`` and starts with a redundant
update on x_1 (last-bit differences only), so CrostonSBA (0.95 x Croston, alpha 0.1)
matches SPEC `sba` with alpha = 0.1 to rounding; its TSB starts the demand level at the
first demand and the probability at 1{x_1 > 0}, where the SPEC starts from the mean of
the nonzero demands and their share, so TSB differs by ~(1-alpha)^k (k demands).

Usage::

    uv run --group bench python bench/bench_stock.py                 # generate if needed
    uv run --group bench python bench/bench_stock.py --data DIR      # existing data
    uv run --group bench python bench/bench_stock.py --profile small --sf-sample 2000
"""

from __future__ import annotations

import solvers as _solvers  # noqa: F401 - first, before numpy: one BLAS thread per process, as the pipeline

# isort: split
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HISTORY_DAYS = 182
HORIZON_DAYS = 30
ALPHA = 0.1
BETA = 0.1
START = date(2024, 1, 1)

POLARS_TYPES = {
    "date": pl.Date,
    "expected_date": pl.Date,
    "site_id": pl.String,
    "article_id": pl.String,
    "technician_id": pl.String,
    "movement_type": pl.String,
    "intervention_type": pl.String,
    "order_id": pl.String,
    "quantity": pl.Float64,
    "quantity_open": pl.Float64,
    "quantity_on_hand": pl.Float64,
    "efficiency_factor": pl.Float64,
    "count": pl.Int64,
    "stock_min": pl.Int64,
    "stock_max": pl.Int64,
    "lead_time_days": pl.Int64,
    "lot_size": pl.Int64,
}
MOVEMENT_TYPES = {c: POLARS_TYPES[c] for c in
                  ("date", "site_id", "article_id", "technician_id", "movement_type", "quantity")}


class Phases(dict):
    """Seconds per phase, timed lap by lap: wall clock under the phase's name and CPU
    time of the whole process (all threads) under ``cpu_<name>``. On a shared machine
    the CPU time of a single-threaded phase is close to its wall time on an idle one;
    for our multi-threaded phases it is an upper bound of it."""

    def __init__(self) -> None:
        super().__init__()
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        self[name] = time.perf_counter() - self._wall
        self[f"cpu_{name}"] = time.process_time() - self._cpu
        self.restart()

    def add_total(self, *names: str) -> None:
        self["total"] = sum(self[n] for n in names)
        self["cpu_total"] = sum(self[f"cpu_{n}"] for n in names)


# --- data ------------------------------------------------------------------------------


def extract_dates(data: Path) -> list[date]:
    folder = data / "extracts"
    if not folder.is_dir():
        return []
    return sorted(date.fromisoformat(p.name) for p in folder.iterdir() if p.is_dir())


def ensure_data(data: Path, profile: str, days: int, seed: int) -> str:
    """Generate the dataset into ``data`` unless its extracts are already there.

    Uses the project generator when it is importable, else a comparable synthetic
    sparse dataset (same layout and columns); returns which one was used.
    """
    if len(extract_dates(data)) >= days and (data / "reference" / "articles.csv").exists():
        return "existing"
    try:
        from data_generation.field_service import generate
    except ImportError:
        write_synthetic(data, profile, days, seed)
        return "synthetic (data_generation.field_service not available)"
    generate(profile, START, days, data, seed, bad_rows=0.0, fmt="csv")
    return f"data_generation.field_service.generate({profile!r}, days={days}, seed={seed})"


def write_synthetic(out: Path, profile: str, days: int, seed: int) -> None:
    """A stand-in for the generator: intermittent demand (1-5 % of workdays, fast movers
    40-70 %), ~300k pairs for `large`, a 30-day plan and open orders, SPEC columns."""
    sizes = {"large": (20_000, 10, 990, 0.5, 200), "small": (2_000, 2, 48, 0.6, 150)}
    n_articles, n_depots, n_vans, depot_share, per_van = sizes[profile]
    rng = np.random.default_rng(seed)
    ref, ext = out / "reference", out / "extracts"
    ref.mkdir(parents=True, exist_ok=True)
    articles = [f"ART{i:06d}" for i in range(n_articles)]
    sites = [f"DEP{i:03d}" for i in range(n_depots)] + [f"VAN{i:04d}" for i in range(n_vans)]
    pl.DataFrame(
        {
            "article_id": articles,
            "designation": articles,
            "category": rng.choice(["FIBRE", "CUIVRE", "OUTILLAGE"], n_articles),
            "importance": rng.choice(["CRITIQUE", "IMPORTANT", "STANDARD"], n_articles),
            "unit_cost": rng.uniform(1, 200, n_articles).round(2),
            "unit_volume": rng.uniform(0.1, 3, n_articles).round(2),
            "stock_min": rng.integers(0, 6, n_articles),
            "stock_max": rng.integers(6, 20, n_articles),
            "lead_time_days": rng.integers(1, 21, n_articles),
            "lot_size": rng.choice([1, 5, 10], n_articles),
            "active": rng.random(n_articles) < 0.97,
        }
    ).write_csv(ref / "articles.csv")
    n_tech = n_vans
    technicians = pl.DataFrame(
        {
            "technician_id": [f"TEC{i:05d}" for i in range(n_tech)],
            "site_id": sites[n_depots:],
            "efficiency_factor": rng.uniform(0.8, 1.2, n_tech).round(2),
            "active": rng.random(n_tech) < 0.95,
        }
    )
    technicians.write_csv(ref / "technicians.csv")
    types = [f"INT{i:02d}" for i in range(25)]
    bom_rows = [(t, articles[a], float(rng.integers(1, 4))) for t in types
                for a in rng.choice(n_articles, 8, replace=False)]  # fmt: skip
    bom = pl.DataFrame(bom_rows, schema=["intervention_type", "article_id", "quantity"], orient="row")
    bom.write_csv(ref / "bom.csv")

    site_idx = [np.repeat(d, int(n_articles * depot_share)) for d in range(n_depots)]
    art_idx = [rng.choice(n_articles, int(n_articles * depot_share), replace=False) for _ in range(n_depots)]
    for v in range(n_vans):
        site_idx.append(np.repeat(n_depots + v, per_van))
        art_idx.append(rng.choice(n_articles, per_van, replace=False))
    pair_site, pair_article = np.concatenate(site_idx), np.concatenate(art_idx)
    n_pairs = len(pair_site)
    fast = rng.random(n_articles) < 0.015
    prob = np.where(fast, rng.uniform(0.4, 0.7, n_articles), rng.uniform(0.01, 0.05, n_articles))
    pair_prob = prob[pair_article] * rng.uniform(0.6, 1.2, n_pairs)
    site_names, article_names = np.array(sites), np.array(articles)
    for k in range(days):
        day = START + timedelta(days=k)
        folder = ext / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        hits = np.flatnonzero(rng.random(n_pairs) < pair_prob) if day.weekday() < 5 else np.zeros(0, int)
        pl.DataFrame(
            {
                "date": [day] * len(hits),
                "site_id": site_names[pair_site[hits]],
                "article_id": article_names[pair_article[hits]],
                "technician_id": [None] * len(hits),
                "movement_type": rng.choice(["CONSUMPTION"] * 8 + ["RECEIPT", "TRANSFER"], len(hits)),
                "quantity": (1 + rng.poisson(0.5, len(hits))).astype(float),
            },
            schema_overrides={"technician_id": pl.String},
        ).write_csv(folder / "movements.csv")
        pl.DataFrame(
            {
                "site_id": site_names[pair_site],
                "article_id": article_names[pair_article],
                "quantity_on_hand": rng.integers(0, 15, n_pairs),
            }
        ).write_csv(folder / "stock_levels.csv")
        n_po = n_pairs // 20
        po = rng.choice(n_pairs, n_po, replace=False)
        pl.DataFrame(
            {
                "order_id": [f"PO{day:%Y%m%d}{i:06d}" for i in range(n_po)],
                "site_id": site_names[pair_site[po]],
                "article_id": article_names[pair_article[po]],
                "expected_date": [day + timedelta(days=int(x)) for x in rng.integers(-5, 40, n_po)],
                "quantity_open": rng.integers(1, 20, n_po).astype(float),
            }
        ).write_csv(folder / "purchase_orders.csv")
        n_rows = n_tech * 10
        pl.DataFrame(
            {
                "date": [day + timedelta(days=int(x)) for x in rng.integers(1, 15, n_rows)],
                "technician_id": technicians.get_column("technician_id").to_numpy()[
                    rng.integers(0, n_tech, n_rows)],
                "intervention_type": rng.choice(types, n_rows),
                "count": rng.integers(0, 3, n_rows),
            }
        ).write_csv(folder / "planned_interventions.csv")


def window_files(data: Path, partition_date: date, history_days: int) -> list[Path]:
    """movements files of D-N+1..D that exist (a missing day counts as zero consumption)."""
    days = (partition_date - timedelta(days=k) for k in range(history_days))
    paths = (data / "extracts" / d.isoformat() / "movements.csv" for d in days)
    return sorted(p for p in paths if p.exists())


# --- ours ------------------------------------------------------------------------------


def read_polars(path: Path) -> pl.DataFrame:
    """One CSV with the SPEC dtypes (the validation layer's job in the pipeline)."""
    columns = pl.read_csv(path, n_rows=0).columns
    types = {c: POLARS_TYPES[c] for c in columns if c in POLARS_TYPES} | {"active": pl.String}
    frame = pl.read_csv(path, schema_overrides={c: t for c, t in types.items() if c in columns})
    if "active" in columns:  # CSV writers spell booleans true/True/1
        frame = frame.with_columns(pl.col("active").str.to_lowercase().is_in(["true", "1"]))
    return frame


#: Inputs of the STOCK assets besides the history window, as (name, where it lives):
#: the forecast needs the first two, the projection the others.
FORECAST_INPUTS = ("articles", "stock_levels")
PROJECTION_INPUTS = ("technicians", "bom", "planned_interventions", "purchase_orders")
INPUT_FILES = {
    "articles": ("reference", "articles.csv"),
    "technicians": ("reference", "technicians.csv"),
    "bom": ("reference", "bom.csv"),
    "stock_levels": ("extract", "stock_levels.csv"),
    "planned_interventions": ("extract", "planned_interventions.csv"),
    "purchase_orders": ("extract", "purchase_orders.csv"),
}

#: The history window query of orchestrator_assets/defs/stock/history_window.py
#: (copied, not imported: importing it would load Dagster into the timed process).
WINDOW_SQL = (
    "SELECT date, site_id, article_id, movement_type, quantity FROM raw.movements "
    "WHERE partition_date BETWEEN ? AND ? AND movement_type = 'CONSUMPTION'"
)


def input_path(data: Path, partition_date: date, name: str) -> Path:
    kind, file = INPUT_FILES[name]
    folder = data / "reference" if kind == "reference" else data / "extracts" / partition_date.isoformat()
    return folder / file


class CsvInputs:
    """Inputs and window straight from the CSV extracts (Polars)."""

    def __init__(self, data: Path, partition_date: date) -> None:
        self.data, self.partition_date = data, partition_date

    def window(self) -> pl.DataFrame:
        return (
            pl.scan_csv(window_files(self.data, self.partition_date, HISTORY_DAYS),
                        schema_overrides=MOVEMENT_TYPES)  # fmt: skip
            .filter(pl.col("movement_type") == "CONSUMPTION")
            .select("date", "site_id", "article_id", "movement_type", "quantity")
            .collect()
        )

    def tables(self, names: tuple[str, ...]) -> dict[str, pl.DataFrame]:
        return {name: read_polars(input_path(self.data, self.partition_date, name)) for name in names}


def build_warehouse(data: Path, partition_date: date, path: Path) -> dict:
    """A DuckDB file shaped like the warehouse for the bench (untimed): every raw.*
    input with partition_date and run_id, raw.movements for every day of the window
    (all movement types, one insert per day, as the daily ingestion does)."""
    import duckdb

    t = time.perf_counter()
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    created: set[str] = set()

    def insert(table: str, frame: pl.DataFrame, day: date) -> None:
        stamped = frame.with_columns(partition_date=pl.lit(day, dtype=pl.Date), run_id=pl.lit("bench"))
        con.register("incoming_frame", stamped.to_arrow())
        if table not in created:
            con.execute(f"CREATE TABLE raw.{table} AS SELECT * FROM incoming_frame LIMIT 0")
            created.add(table)
        con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM incoming_frame")
        con.unregister("incoming_frame")

    for name in INPUT_FILES:
        insert(name, read_polars(input_path(data, partition_date, name)), partition_date)
    rows = 0
    for file in window_files(data, partition_date, HISTORY_DAYS):
        day = date.fromisoformat(file.parent.name)
        frame = pl.read_csv(file, schema_overrides=MOVEMENT_TYPES)
        rows += frame.height
        insert("movements", frame, day)
    con.execute("CHECKPOINT")
    con.close()
    return {"path": str(path), "movement_rows_all_types": rows, "size_mb": path.stat().st_size / 2**20,
            "build_s": time.perf_counter() - t}  # fmt: skip


class DuckDBInputs:
    """Inputs from the bench warehouse as the pipeline reads them: the window with the
    SQL of history_window.py, the other tables with the IO manager's query, one
    connection per read (as ``Warehouse.read`` and ``load_input`` do)."""

    def __init__(self, db: Path, partition_date: date) -> None:
        self.db, self.partition_date = db, partition_date

    def window(self) -> pl.DataFrame:
        import duckdb

        first = self.partition_date - timedelta(days=HISTORY_DAYS - 1)
        with duckdb.connect(str(self.db)) as con:
            return con.execute(WINDOW_SQL, [first, self.partition_date]).pl()

    def tables(self, names: tuple[str, ...]) -> dict[str, pl.DataFrame]:
        import duckdb

        frames = {}
        for name in names:
            with duckdb.connect(str(self.db)) as con:
                frames[name] = con.execute(
                    f"SELECT * EXCLUDE (run_id) FROM raw.{name} "
                    "WHERE partition_date IN (SELECT UNNEST(?::DATE[]))",
                    [[self.partition_date]],
                ).pl().drop("partition_date")
        return frames


def run_ours(data: Path, db: Path | None, partition_date: date, out: Path, repeat: int) -> dict:
    """Our pipeline with inputs from the CSV extracts (``db`` None) or from the DuckDB
    file ``db``."""
    from solvers.forecasting import forecast_rates
    from solvers.planned_demand import planned_demand
    from solvers.projection import project_stock, stock_initial
    from solvers.receipts import receipts

    source = CsvInputs(data, partition_date) if db is None else DuckDBInputs(db, partition_date)

    def pipeline() -> tuple[dict, pl.DataFrame, pl.DataFrame]:
        phases = Phases()
        movements = source.window()
        phases.lap("read_window")
        inputs = source.tables(FORECAST_INPUTS)
        phases.lap("read_forecast_inputs")

        pairs = stock_initial(inputs["stock_levels"], inputs["articles"])
        sba = forecast_rates(pairs, movements, partition_date, HISTORY_DAYS, "sba", ALPHA, BETA)
        phases.lap("forecast_sba")
        tsb = forecast_rates(pairs, movements, partition_date, HISTORY_DAYS, "tsb", ALPHA, BETA)
        phases.lap("forecast_tsb")

        inputs |= source.tables(PROJECTION_INPUTS)
        phases.lap("read_projection_inputs")
        planned = planned_demand(
            inputs["planned_interventions"], inputs["technicians"], inputs["bom"], partition_date
        )
        recs = receipts(inputs["purchase_orders"], partition_date, HORIZON_DAYS)
        projection = project_stock(
            pairs.join(sba, on=["site_id", "article_id"]), planned, recs, HORIZON_DAYS
        )
        phases.lap("project")
        phases.add_total("read_window", "read_forecast_inputs", "forecast_sba", "forecast_tsb",
                         "read_projection_inputs", "project")  # fmt: skip
        for clock in ("", "cpu_"):  # what the forecast reads, as statsforecast's "read"
            phases[clock + "read"] = phases[clock + "read_window"] + phases[clock + "read_forecast_inputs"]
        phases["movement_rows"] = movements.height
        phases["pairs"] = pairs.height
        phases["plan_end"] = planned.plan_end
        rates = sba.rename({"rate": "sba"}).join(
            tsb.rename({"rate": "tsb"}), on=["site_id", "article_id"]
        )
        return phases, rates, projection

    t = time.perf_counter()
    warm_up_kernels()
    warm = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        phases, rates, projection = pipeline()
        runs.append(phases)
    best = min(runs, key=lambda p: p["total"])
    suffix = "ours" if db is None else "ours_duckdb"
    rates.write_parquet(out / f"rates_{suffix}.parquet")
    projection.write_parquet(out / f"projection_{suffix}.parquet")
    return {"phases": best, "all_totals": [r["total"] for r in runs], "warm_up_s": warm}


def warm_up_kernels() -> None:
    """Load the numba kernels (from the on-disk cache after the first run ever)."""
    from solvers.forecasting import forecast_rates
    from solvers.planned_demand import PlannedDemand
    from solvers.projection import project_stock
    from solvers.receipts import RECEIPTS_SCHEMA

    keys = pl.DataFrame({"site_id": ["S"], "article_id": ["A"]})
    moves = pl.DataFrame(
        {"date": [START], "site_id": ["S"], "article_id": ["A"], "movement_type": ["CONSUMPTION"],
         "quantity": [1.0]}
    )  # fmt: skip
    forecast_rates(keys, moves, START, 5)
    pairs = keys.with_columns(
        on_hand=pl.lit(1.0), stock_min=pl.lit(0), lead_time_days=pl.lit(0), rate=pl.lit(0.0)
    )
    project_stock(pairs, PlannedDemand.empty(), pl.DataFrame(schema=RECEIPTS_SCHEMA), 3)


# --- pandas: the same formulas as a practitioner writes them ----------------------------


def sba_of(x: np.ndarray, alpha: float = ALPHA) -> float:
    """Croston with SBA correction, SPEC §3, one series (practitioner style)."""
    z = p = None
    q = 0
    for t in range(len(x)):
        if z is None:
            if x[t] > 0:
                z, p = x[t], t + 1
            continue
        q += 1
        if x[t] > 0:
            z = z + alpha * (x[t] - z)
            p = p + alpha * (q - p)
            q = 0
    return 0.0 if z is None else (1 - alpha / 2) * z / p


def tsb_of(x: np.ndarray, alpha: float = ALPHA, beta: float = BETA) -> float:
    """TSB, SPEC §3, one series (practitioner style)."""
    nonzero = x[x > 0]
    if len(nonzero) == 0:
        return 0.0
    z, pr = nonzero.mean(), len(nonzero) / len(x)
    for t in range(len(x)):
        if x[t] > 0:
            pr = pr + beta * (1 - pr)
            z = z + alpha * (x[t] - z)
        else:
            pr = pr + beta * (0 - pr)
    return pr * z


def read_pandas(path: Path, dates: tuple[str, ...] = ()):
    import pandas as pd

    numeric = {c: ("int64" if t == pl.Int64 else "float64") for c, t in POLARS_TYPES.items()
               if t in (pl.Int64, pl.Float64)}  # fmt: skip
    # explicit dtypes: an empty day (weekend) would otherwise turn the concat into object
    frame = pd.read_csv(path, parse_dates=list(dates), dtype=numeric | {"technician_id": "string"})
    if "active" in frame:
        frame["active"] = frame["active"].astype(str).str.lower().isin(["true", "1"])
    return frame


def pandas_daily_consumption(data: Path, partition_date: date):
    """x_t > 0 per pair: concat of the window's movements, CONSUMPTION, summed per day."""
    import pandas as pd

    files = window_files(data, partition_date, HISTORY_DAYS)
    mv = pd.concat([read_pandas(f, ("date",)) for f in files], ignore_index=True)
    cons = mv[mv["movement_type"] == "CONSUMPTION"]
    daily = cons.groupby(["site_id", "article_id", "date"], as_index=False)["quantity"].sum()
    origin = pd.Timestamp(partition_date - timedelta(days=HISTORY_DAYS))
    daily["t"] = (daily["date"] - origin).dt.days
    return daily[(daily["t"] >= 1) & (daily["t"] <= HISTORY_DAYS)], len(mv)


def run_pandas(data: Path, partition_date: date, out: Path) -> dict:
    import pandas as pd

    phases = Phases()
    ref, ext = data / "reference", data / "extracts" / partition_date.isoformat()
    articles = read_pandas(ref / "articles.csv")
    technicians = read_pandas(ref / "technicians.csv")
    bom = read_pandas(ref / "bom.csv")
    stock = read_pandas(ext / "stock_levels.csv")
    plan = read_pandas(ext / "planned_interventions.csv", ("date",))
    orders = read_pandas(ext / "purchase_orders.csv", ("expected_date",))
    daily, n_movements = pandas_daily_consumption(data, partition_date)
    phases.lap("read")

    pairs = stock.merge(articles[articles["active"]], on="article_id")
    pairs = pairs.sort_values(["site_id", "article_id"], ignore_index=True)
    rows = []
    for (site, article), g in daily.groupby(["site_id", "article_id"]):
        x = np.zeros(HISTORY_DAYS)
        x[g["t"].to_numpy() - 1] = g["quantity"].to_numpy()
        rows.append((site, article, sba_of(x), tsb_of(x)))
    rates = pd.DataFrame(rows, columns=["site_id", "article_id", "sba", "tsb"])
    pairs = pairs.merge(rates, on=["site_id", "article_id"], how="left").fillna({"sba": 0.0, "tsb": 0.0})
    phases.lap("forecast_sba_tsb")

    d0 = pd.Timestamp(partition_date)
    counted = plan.merge(technicians[technicians["active"]], on="technician_id")
    counted["d"] = (counted["date"] - d0).dt.days
    plan_end = int(counted["d"].max()) if len(counted) else 0
    planned_sites = set(counted["site_id"])
    uses = counted.merge(bom.rename(columns={"quantity": "bom_q"}), on="intervention_type")
    uses["q"] = uses["count"] * uses["efficiency_factor"] * uses["bom_q"]
    planned = uses.groupby(["site_id", "article_id", "d"], as_index=False)["q"].sum()
    orders["d"] = (orders["expected_date"] - d0).dt.days.clip(lower=1)
    recs = orders[orders["d"] <= HORIZON_DAYS].groupby(
        ["site_id", "article_id", "d"], as_index=False)["quantity_open"].sum()  # fmt: skip

    n, h = len(pairs), HORIZON_DAYS
    index = pd.Series(np.arange(n), index=pd.MultiIndex.from_frame(pairs[["site_id", "article_id"]]))
    plan_days = min(plan_end, h)
    is_planned = pairs["site_id"].isin(planned_sites).to_numpy()
    demand = np.repeat(pairs["sba"].to_numpy()[:, None], h, axis=1)
    demand[is_planned, :plan_days] = 0.0
    p = planned[planned["d"] <= plan_days]
    p = p.join(index.rename("row"), on=["site_id", "article_id"], how="inner")
    p = p[is_planned[p["row"].to_numpy()]]
    demand[p["row"].to_numpy(), p["d"].to_numpy() - 1] = p["q"].to_numpy()
    received = np.zeros((n, h))
    r = recs.join(index.rename("row"), on=["site_id", "article_id"], how="inner")
    received[r["row"].to_numpy(), r["d"].to_numpy() - 1] = r["quantity_open"].to_numpy()
    s = pairs["quantity_on_hand"].to_numpy(dtype=float)
    stock_min = pairs["stock_min"].to_numpy(dtype=float)
    curve = np.empty((n, h + 1))
    curve[:, 0] = s
    for d in range(1, h + 1):
        s = s + received[:, d - 1] - demand[:, d - 1]
        curve[:, d] = s

    def first(mask: np.ndarray) -> np.ndarray:
        return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)

    lead = np.minimum(pairs["lead_time_days"].to_numpy(), h)
    projection = pd.DataFrame(
        {
            "site_id": pairs["site_id"],
            "article_id": pairs["article_id"],
            "days_to_min": first(curve < stock_min[:, None]),
            "days_to_stockout": first(curve < 0),
            "min_projected": curve.min(axis=1),
            "end_projected": curve[:, h],
            "projected_at_lead_time": curve[np.arange(n), lead],
        }
    )
    phases.lap("project")
    phases.add_total("read", "forecast_sba_tsb", "project")
    phases["movement_rows"] = n_movements
    pairs[["site_id", "article_id", "sba", "tsb"]].to_parquet(out / "rates_pandas.parquet")
    projection.to_parquet(out / "projection_pandas.parquet")
    return {"phases": phases}


# --- statsforecast -------------------------------------------------------------------


def run_statsforecast(data: Path, partition_date: date, out: Path, sample: int, seed: int) -> dict:
    """Read as the pandas peer does, build the zero-filled long frame, then one
    ``forecast`` call per method (CrostonSBA, then TSB), each timed on its own."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, CrostonSBA

    models = {"sba": lambda: CrostonSBA(), "tsb": lambda: TSB(alpha_d=ALPHA, alpha_p=BETA)}

    t = time.perf_counter()  # numba compilation of statsforecast's models, once
    tiny = pd.DataFrame({"unique_id": "x", "ds": pd.date_range("2024-01-01", periods=10),
                         "y": [0, 1, 0, 0, 2, 0, 0, 0, 1, 0.0]})  # fmt: skip
    StatsForecast(models=[m() for m in models.values()], freq="D", n_jobs=1).forecast(df=tiny, h=1)
    warm = time.perf_counter() - t

    phases = Phases()
    stock = read_pandas(data / "extracts" / partition_date.isoformat() / "stock_levels.csv")
    articles = read_pandas(data / "reference" / "articles.csv")
    daily, _ = pandas_daily_consumption(data, partition_date)
    phases.lap("read")

    pairs = stock.merge(articles[articles["active"]], on="article_id")[["site_id", "article_id"]]
    n_pairs = len(pairs)
    chosen = pairs if sample <= 0 or sample >= n_pairs else pairs.sample(n=sample, random_state=seed)
    chosen = chosen.assign(unique_id=chosen["site_id"] + "|" + chosen["article_id"])
    days = pd.date_range(end=pd.Timestamp(partition_date), periods=HISTORY_DAYS, freq="D")
    grid = pd.MultiIndex.from_product([chosen["unique_id"], days], names=["unique_id", "ds"])
    daily = daily.assign(unique_id=daily["site_id"] + "|" + daily["article_id"])
    y = daily.set_index(["unique_id", "date"])["quantity"]
    y.index.names = ["unique_id", "ds"]
    long = y.reindex(grid, fill_value=0.0).rename("y").reset_index()
    del grid, y, daily
    phases.lap("prepare")

    rates = chosen[["site_id", "article_id", "unique_id"]]
    for method, model in models.items():
        phases.restart()
        forecast = StatsForecast(models=[model()], freq="D", n_jobs=1).forecast(df=long, h=1)
        phases.lap(f"forecast_{method}")
        forecast = forecast.reset_index() if "unique_id" not in forecast.columns else forecast
        column = forecast.columns[-1]  # CrostonSBA / TSB
        forecast = forecast[["unique_id", column]].rename(columns={column: method})
        rates = rates.merge(forecast, on="unique_id")
    # the long frame and the fits scale with the pairs: linear extrapolation when sampled
    scale = n_pairs / len(chosen)
    for clock in ("", "cpu_"):
        per_pair = {k: scale * phases[clock + k] for k in ("prepare", "forecast_sba", "forecast_tsb")}
        one = phases[clock + "read"] + per_pair["prepare"] + per_pair["forecast_sba"]
        phases[clock + "one_method"] = one
        phases[clock + "both_methods"] = one + per_pair["forecast_tsb"]
    rates.drop(columns="unique_id").to_parquet(out / "rates_statsforecast.parquet")
    return {"phases": phases, "sample_pairs": len(chosen), "pairs": n_pairs, "scale": scale,
            "extrapolated": scale != 1.0, "long_rows": len(long), "warm_up_s": warm}  # fmt: skip


# --- parent ----------------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """Run one implementation in this process and print its figures as JSON."""
    import psutil

    data, out, partition_date = Path(args.data), Path(args.out), date.fromisoformat(args.date)
    db = Path(args.db) if args.db else None
    base_rss = psutil.Process().memory_info().rss
    runners: dict[str, Callable[[], dict]] = {
        "ours": lambda: run_ours(data, None, partition_date, out, args.repeat),
        "ours_duckdb": lambda: run_ours(data, db, partition_date, out, args.repeat),
        "pandas": lambda: run_pandas(data, partition_date, out),
        "statsforecast": lambda: run_statsforecast(data, partition_date, out, args.sf_sample, args.seed),
    }
    result = runners[args.run]()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_after_imports_mb"] = base_rss / 2**20
    print("RESULT " + json.dumps(result))


def spawn(run: str, args: argparse.Namespace, partition_date: date, out: Path, db: Path | None) -> dict:
    command = [
        sys.executable, __file__, "--run", run, "--data", str(args.data), "--out", str(out),
        "--date", partition_date.isoformat(), "--repeat", str(args.repeat),
        "--sf-sample", str(args.sf_sample), "--seed", str(args.seed), "--db", str(db or ""),
    ]  # fmt: skip
    load_before, t = os.getloadavg()[0], time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"POLARS_MAX_THREADS": str(args.threads)})
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{run} failed")
    line = next(li for li in done.stdout.splitlines() if li.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["process_wall_s"] = time.perf_counter() - t
    result["load_avg_1min_before_after"] = [load_before, os.getloadavg()[0]]
    return result


def compare(out: Path, peer: str, ours_file: str = "ours") -> dict:
    ours = pl.read_parquet(out / f"rates_{ours_file}.parquet")
    other = pl.read_parquet(out / f"rates_{peer}.parquet")
    both = ours.join(other, on=["site_id", "article_id"], suffix="_peer")
    result = {"pairs_compared": both.height}
    for m in ("sba", "tsb"):
        diff = (both.get_column(m) - both.get_column(f"{m}_peer")).abs()
        scale = both.get_column(m).abs().max() or 1.0
        result[f"{m}_max_abs_diff"] = float(diff.max())
        result[f"{m}_pairs_diff_gt_1e-9"] = int((diff > 1e-9).sum())
        result[f"{m}_max_rate"] = float(scale)
    return result


def compare_projection(out: Path) -> dict:
    ours = pl.read_parquet(out / "projection_ours.parquet")
    other = pl.read_parquet(out / "projection_pandas.parquet").with_columns(
        pl.col("days_to_min", "days_to_stockout").replace(-1, None)
    )
    both = ours.join(other, on=["site_id", "article_id"], suffix="_peer")
    result = {}
    for c in ("min_projected", "end_projected", "projected_at_lead_time"):
        result[f"{c}_max_abs_diff"] = float((both[c] - both[f"{c}_peer"]).abs().max())
    for c in ("days_to_min", "days_to_stockout"):
        result[f"{c}_mismatches"] = int((both[c].fill_null(-1) != both[f"{c}_peer"].fill_null(-1)).sum())
    return result


def compare_runs(out: Path, a: str, b: str) -> dict:
    """Our CSV and DuckDB runs side by side: rates bit for bit, projections by value.

    Projections may differ in the last bits because ``planned_demand`` sums the plan
    contributions of a (site, article, day) in the order of a multi-threaded join,
    which varies from run to run even on the same input.
    """
    rates = [pl.read_parquet(out / f"rates_{x}.parquet") for x in (a, b)]
    projections = [pl.read_parquet(out / f"projection_{x}.parquet") for x in (a, b)]
    values = ("min_projected", "end_projected", "projected_at_lead_time")
    return {
        "rates_bit_identical": rates[0].equals(rates[1]),
        "projection_max_abs_diff": max(
            float((projections[0][c] - projections[1][c]).abs().max() or 0.0) for c in values
        ),
        "projection_days_identical": all(
            projections[0][c].equals(projections[1][c]) for c in ("days_to_min", "days_to_stockout")
        ),
    }


def machine() -> dict:
    import psutil

    model = platform.processor()
    try:
        model = next(li.split(":", 1)[1].strip() for li in Path("/proc/cpuinfo").read_text().splitlines()
                     if li.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "polars": pl.__version__}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="dataset root (reference/, extracts/)")
    parser.add_argument("--profile", default="large")
    parser.add_argument("--days", type=int, default=HISTORY_DAYS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best kept)")
    parser.add_argument("--sf-sample", type=int, default=0,
                        help="pairs given to statsforecast, 0 = all (~9 GB peak RSS on `large`)")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[], choices=["duckdb", "pandas", "statsforecast"])
    parser.add_argument("--threads", type=int, default=2, help="POLARS_MAX_THREADS of the children")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--date", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args)
        return

    args.data = args.data or Path(tempfile.gettempdir()) / f"reassort_bench/{args.profile}_{args.days}d"
    t = time.perf_counter()
    source = ensure_data(args.data, args.profile, args.days, args.seed)
    print(f"data: {args.data} ({source}, {time.perf_counter() - t:.1f} s)")
    partition_date = extract_dates(args.data)[-1]
    out = Path(tempfile.mkdtemp(prefix="bench_stock_"))
    report = {"data": str(args.data), "source": source, "partition_date": partition_date.isoformat(),
              "machine": machine(), "polars_max_threads": args.threads}  # fmt: skip
    db = None
    if "duckdb" not in args.skip:
        db = out / "warehouse.duckdb"
        report["warehouse"] = build_warehouse(args.data, partition_date, db)
        print(f"warehouse (untimed): {json.dumps(report['warehouse'])}", flush=True)
    for run in ("ours", "ours_duckdb", "pandas", "statsforecast"):
        if run in args.skip or (run == "ours_duckdb" and db is None):
            continue
        print(f"running {run} ...", flush=True)
        report[run] = spawn(run, args, partition_date, out, db)
        print(json.dumps(report[run], indent=1), flush=True)
    if db is not None:
        report["duckdb_vs_csv"] = compare_runs(out, "ours", "ours_duckdb")
        db.unlink()
    if "pandas" in report:
        report["diff_pandas"] = compare(out, "pandas")
        report["diff_projection_pandas"] = compare_projection(out)
    if "statsforecast" in report:
        report["diff_statsforecast"] = compare(out, "statsforecast")
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def print_report(report: dict) -> None:
    ours = report["ours"]["phases"]
    m = report["machine"]
    loads = [x for run in ("ours", "ours_duckdb", "pandas", "statsforecast") if run in report
             for x in report[run]["load_avg_1min_before_after"]]  # fmt: skip
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB; "
          f"POLARS_MAX_THREADS={report['polars_max_threads']}; 1-min load average during the runs "
          f"{min(loads):.1f}..{max(loads):.1f} (the machine is shared: compare CPU times too)")  # fmt: skip
    print(f"D = {report['partition_date']}, pairs = {ours['pairs']}, window = {HISTORY_DAYS} days, "
          f"CONSUMPTION rows in window = {ours['movement_rows']}")  # fmt: skip

    print("\nWhole STOCK module (read + sba + tsb + projection):")
    print("| implementation | wall (s) | of which read (s) | CPU (s) | peak RSS (MB) "
          "| ours (CSV) faster by, wall / CPU |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    labels = {"ours": "ours, CSV (polars + numba)", "ours_duckdb": "ours, DuckDB (pipeline path)"}
    for run, label in labels.items():
        if run in report:
            o = report[run]["phases"]
            read = o["read"] + o["read_projection_inputs"]
            ratio = f"{ours['total'] / o['total']:.1f}x / {ours['cpu_total'] / o['cpu_total']:.1f}x"
            print(f"| {label} | {o['total']:.2f} | {read:.2f} (window {o['read_window']:.2f}) "
                  f"| {o['cpu_total']:.2f} | {report[run]['peak_rss_mb']:.0f} | {ratio} |")  # fmt: skip
    if "pandas" in report:
        p = report["pandas"]["phases"]
        print(f"| pandas + python loops | {p['total']:.2f} | {p['read']:.2f} | {p['cpu_total']:.2f} "
              f"| {report['pandas']['peak_rss_mb']:.0f} | {p['total'] / ours['total']:.1f}x / "
              f"{p['cpu_total'] / ours['cpu_total']:.1f}x |")  # fmt: skip

    if "statsforecast" in report:
        sf = report["statsforecast"]
        p = sf["phases"]
        how = (f"{sf['sample_pairs']} of {sf['pairs']} pairs, extrapolated x{sf['scale']:.1f}"
               if sf["extrapolated"] else f"all {sf['pairs']} pairs")  # fmt: skip
        print(f"\nForecast end to end, reading the window included (statsforecast: {how}, "
              f"peak RSS {sf['peak_rss_mb']:.0f} MB; its read {p['read']:.2f} s, long frame "
              f"{p['prepare']:.2f} s, CrostonSBA {p['forecast_sba']:.2f} s, "
              f"TSB {p['forecast_tsb']:.2f} s):")  # fmt: skip
        print("| ours | one method: sba (s) | statsforecast CrostonSBA (s) | faster by "
              "| both: sba + tsb (s) | statsforecast both (s) | faster by |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        variants = [("CSV", ours)]
        if "ours_duckdb" in report:
            variants.append(("DuckDB", report["ours_duckdb"]["phases"]))
        for clock, name in (("", "wall"), ("cpu_", "CPU")):
            for label, o in variants:
                one = o[clock + "read"] + o[clock + "forecast_sba"]
                both = one + o[clock + "forecast_tsb"]
                sf_one, sf_both = p[clock + "one_method"], p[clock + "both_methods"]
                print(f"| {label}, {name} time | {one:.2f} | {sf_one:.2f} | {sf_one / one:.0f}x "
                      f"| {both:.2f} | {sf_both:.2f} | {sf_both / both:.0f}x |")  # fmt: skip
    for key in ("duckdb_vs_csv", "diff_pandas", "diff_projection_pandas", "diff_statsforecast"):
        if key in report:
            print(f"{key}: {json.dumps(report[key])}")


if __name__ == "__main__":
    main()
