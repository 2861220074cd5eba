"""Reading the publication manifests: which file of each table readers see, per partition.

`_published/<key>.json` = {"partition": key, "entries": {"schema.table" or
"schema.table/unit": {"run_id", "file", "published_at"}}}; publication.py writes them (one
`os.replace` each), everything that reads the warehouse reads them through here. Kept apart
from the writer so that the catalog (warehouse_catalog.py), which the writer calls, can read
them without importing the writer back.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from orchestrator_assets.table_files import PUBLISHED_DIR, check_partition


def manifest_path(root: Path, key: str) -> Path:
    return root / PUBLISHED_DIR / f"{check_partition(key)}.json"


#: parsed manifests by path, with the (inode, mtime, size) they were read at: a manifest is
#: only ever replaced (new inode), so an unchanged stat means unchanged content.
_PARSED: dict[Path, tuple[tuple[int, int, int], dict[str, dict[str, str]]]] = {}


def read_manifest(root: Path, key: str) -> dict[str, dict[str, str]]:
    """entry ('schema.table' or 'schema.table/unit') -> {run_id, file, published_at}."""
    path = manifest_path(root, key)
    try:
        with open(path, "rb") as handle:  # one open: stat and content of the same file
            info = os.fstat(handle.fileno())
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
            cached = _PARSED.get(path)
            if cached is not None and cached[0] == stamp:
                return dict(cached[1])
            entries = json.loads(handle.read())["entries"]
    except FileNotFoundError:
        return {}
    _PARSED[path] = (stamp, entries)
    return dict(entries)


def published_partitions(root: Path) -> list[str]:
    folder = root / PUBLISHED_DIR
    if not folder.is_dir():
        return []
    return sorted(name.removesuffix(".json") for name in os.listdir(folder) if name.endswith(".json") and not name.startswith("."))


def published_files(root: Path) -> dict[str, list[tuple[str, str]]]:
    """table -> [(partition key, relative file)] over every published partition."""
    tables: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in published_partitions(root):
        for entry, value in read_manifest(root, key).items():
            tables[entry.split("/")[0]].append((key, value["file"]))
    return dict(tables)
