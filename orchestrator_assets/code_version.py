"""The version of the code a process runs, so that a cluster can tell when its machines differ.

A Celery worker imports the code once when it starts and keeps it: after a change deployed
to the machines, a worker that was not restarted still runs the old code, and its runs
would write tables the new code would not. `reassort deploy --check` compares the version
each worker reports (celery_worker.py) with its own and names the workers that differ.

The version is the package version plus a digest of the source files (the Python modules
and the data files next to them: schemas, SQL), not a git commit: a worker machine may run
an installed copy with no repository, and an uncommitted edit changes what runs too.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

from orchestrator_assets.project_paths import PROJECT_ROOT

#: the packages whose files make up the code that runs (pyproject's wheel packages)
PACKAGES = ("orchestrator_assets", "solvers", "data_generation")
SUFFIXES = (".py", ".json", ".sql", ".yaml", ".yml", ".txt")


def source_digest(root: Path = PROJECT_ROOT, packages: tuple[str, ...] = PACKAGES) -> str:
    """SHA-256 of the packages' files (relative path and content, in path order): the same
    files give the same digest on every machine, wherever the project lives."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((root / package).rglob("*")):
            if not path.is_file() or path.suffix not in SUFFIXES or "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def code_version() -> str:
    """`<package version>+<first 12 hex digits of the source digest>`, computed once per
    process (what the process imported is what it runs, whatever changes on disk later)."""
    try:
        version = metadata.version("reassort")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"{version}+{source_digest()[:12]}"
