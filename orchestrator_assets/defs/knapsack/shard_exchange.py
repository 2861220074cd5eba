"""The files through which the knapsack step and other workers share a partition's shards.

A sharded partition (shard_dispatch.py) is a folder on the storage every machine of the
cluster sees, inside the warehouse: `_shards/<run id>/<partition>/` (the `_` folders are
never table files: the warehouse's cleanup and readers skip them). In it:

- `problem.json`: what every shard needs (parameters, capacities, parent depots, the
  number of shards), written last, by rename: a folder without it is not ready;
- `supply.parquet` (the depots' supply) and `pairs-<k>.parquet` (shard k's pairs);
- `claim-<k>`: created with O_EXCL by whoever solves shard k, so a shard is solved by one
  process, never two at once; its modification time is the solver's heartbeat, touched
  every few seconds while it works, so a solver that died (worker killed) is recognised
  and its shard taken over;
- `result-<k>/`: the shard's plan (four Parquet files), written in a temporary folder and
  renamed into place: it is there whole or not at all.

Everything read from a message or a file is checked: a worker resolves the folder it is
sent against its own warehouse (machines may mount it at different paths) and only in the
`_shards/<run id>/<YYYY-MM-DD>` shape; a shard index is an int within the problem's count.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from solvers.knapsack.site_model import SiteCapacities
from solvers.knapsack.sourcing import SourcedPlan, empty_plan, solve_sourced

SHARDS_DIR = "_shards"
PROBLEM = "problem.json"
HEARTBEAT_S = 5.0
#: a claim whose heartbeat is older than this belongs to a solver that is gone
STALE_AFTER_S = 60.0
PLAN_FRAMES = ("allocation", "site_summary", "group_summary", "depot_supply")
_RELATIVE = re.compile(r"^_shards/[0-9a-f-]{8,64}/\d{4}-\d{2}-\d{2}$")


class ShardGone(LookupError):
    """The shard folder is not (or no longer) there: its step finished or was cleaned up."""


def shard_folder(warehouse: Path, run_id: str, partition: str) -> tuple[Path, str]:
    """(absolute folder, the folder relative to the warehouse: what a message carries)."""
    relative = f"{SHARDS_DIR}/{run_id}/{partition}"
    if not _RELATIVE.match(relative):
        raise ValueError(f"not a shard folder: {relative!r}")
    return warehouse / relative, relative


def resolve(warehouse: Path, relative: str) -> Path:
    """A folder a message names, inside this machine's warehouse, or ValueError."""
    if not isinstance(relative, str) or not _RELATIVE.match(relative):
        raise ValueError(f"not a shard folder: {relative!r}")
    return warehouse / relative


def write_problem(
    folder: Path,
    shards: list[pl.DataFrame],
    limits: Mapping[str, SiteCapacities],
    parents: Mapping[str, str],
    supply: pl.DataFrame,
    params: Mapping[str, Any],
) -> None:
    """The shards' inputs, then problem.json (by rename): from then on any worker may solve."""
    folder.mkdir(parents=True, exist_ok=True)
    supply.write_parquet(folder / "supply.parquet")
    for index, pairs in enumerate(shards):
        pairs.write_parquet(folder / f"pairs-{index}.parquet")
    problem = {
        "shards": len(shards),
        "params": dict(params),
        "parents": dict(parents),
        "limits": {site: {"total": cap.total, "categories": dict(cap.categories)} for site, cap in limits.items()},
    }
    scratch = folder / f".{PROBLEM}.{uuid.uuid4().hex}"
    scratch.write_text(json.dumps(problem, sort_keys=True))
    os.replace(scratch, folder / PROBLEM)


def _problem(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / PROBLEM).read_text())
    except FileNotFoundError:
        raise ShardGone(f"no shard problem in {folder}") from None


def _index(problem: Mapping[str, Any], index: object) -> int:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < int(problem["shards"]):
        raise ValueError(f"shard index {index!r} is not one of 0..{int(problem['shards']) - 1}")
    return index


def claim(folder: Path, index: int, owner: str) -> bool:
    """True when this caller now owns shard `index` (no one else ever will)."""
    try:
        handle = os.open(folder / f"claim-{index}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except FileNotFoundError:
        raise ShardGone(f"no shard folder {folder}") from None
    with os.fdopen(handle, "w") as out:
        out.write(json.dumps({"owner": owner, "pid": os.getpid(), "claimed_at": time.time()}))
    return True


def claim_owner(folder: Path, index: int) -> str | None:
    try:
        return str(json.loads((folder / f"claim-{index}").read_text()).get("owner"))
    except (FileNotFoundError, ValueError):
        return None


def claim_age(folder: Path, index: int) -> float | None:
    """Seconds since the claim's last heartbeat; None when the shard is unclaimed."""
    try:
        return time.time() - (folder / f"claim-{index}").stat().st_mtime
    except FileNotFoundError:
        return None


@contextmanager
def heartbeat(folder: Path, index: int) -> Iterator[None]:
    """Touch the claim every HEARTBEAT_S while the body runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                os.utime(folder / f"claim-{index}")
            except FileNotFoundError:
                return

    thread = threading.Thread(target=beat, name=f"shard-{index}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def has_result(folder: Path, index: int) -> bool:
    return (folder / f"result-{index}").is_dir()


def solve(folder: Path, index: int) -> SourcedPlan:
    """Shard `index`'s plan, written to result-<index>/ (unless a result is already there:
    the same inputs give the same plan)."""
    problem = _problem(folder)
    index = _index(problem, index)
    params = problem["params"]
    limits = {
        site: SiteCapacities(float(cap["total"]), {str(c): float(v) for c, v in cap["categories"].items()})
        for site, cap in problem["limits"].items()
    }
    pairs = pl.read_parquet(folder / f"pairs-{index}.parquet")
    sites = set(pairs["site_id"].unique().to_list())
    parents = {site: str(depot) for site, depot in problem["parents"].items() if site in sites}
    plan = solve_sourced(
        pairs, limits, parents, pl.read_parquet(folder / "supply.parquet"),
        strategy=params["strategy"], solver=params["solver"], time_limit_s=float(params["time_limit_s"]),
        topup_ratio=float(params["topup_ratio"]), gap_tolerance=float(params["gap_tolerance"]),
    )
    write_result(folder, index, plan)
    return plan


def write_result(folder: Path, index: int, plan: SourcedPlan) -> None:
    if has_result(folder, index):
        return
    scratch = folder / f".result-{index}.{uuid.uuid4().hex}"
    scratch.mkdir()
    for name in PLAN_FRAMES:
        frame = getattr(plan, name)
        if frame.width:
            frame.write_parquet(scratch / f"{name}.parquet")
    try:
        os.rename(scratch, folder / f"result-{index}")
    except OSError:  # another solver's identical result got there first
        shutil.rmtree(scratch, ignore_errors=True)


def read_result(folder: Path, index: int) -> SourcedPlan:
    empty = empty_plan()
    frames = {}
    for name in PLAN_FRAMES:
        path = folder / f"result-{index}" / f"{name}.parquet"
        frames[name] = pl.read_parquet(path) if path.is_file() else getattr(empty, name)
    return SourcedPlan(**frames)


def take_and_solve(folder: Path, index: int, owner: str) -> bool:
    """Solve shard `index` if nobody has claimed it yet; False when someone has. A failure
    gives the claim back (deleted), so the knapsack step solves the shard itself at once."""
    _index(_problem(folder), index)
    if has_result(folder, index) or not claim(folder, index, owner):
        return False
    try:
        with heartbeat(folder, index):
            solve(folder, index)
    except BaseException:
        (folder / f"claim-{index}").unlink(missing_ok=True)
        raise
    return True


def remove(folder: Path) -> None:
    """The whole shard folder, and its run's folder when it is left empty."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass
