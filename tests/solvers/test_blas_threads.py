"""One BLAS thread per process (solvers/blas_threads.py): OpenBLAS's spinning workers cost a
`large` day 2.2 s of CPU and the day ranges a core's share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")


def _after_imports(code: str, **env: str) -> str:
    """What `code` prints in a fresh interpreter whose environment has no BLAS setting but `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


#: native threads named as the interpreter that Python did not start: OpenBLAS's workers (polars'
#: and jemalloc's threads carry names of their own)
THREADS_AFTER_NUMPY = (
    "import numpy, os, threading; main = open('/proc/self/comm').read(); "
    "print(sum(open(f'/proc/self/task/{t}/comm').read() == main for t in os.listdir('/proc/self/task'))"
    " - threading.active_count())"
)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no worker on one core")
def test_numpy_alone_starts_blas_workers() -> None:
    """The control: without the setting, numpy's OpenBLAS starts workers (so the tests below can
    tell)."""
    assert int(_after_imports(THREADS_AFTER_NUMPY)) >= 1


@pytest.mark.parametrize("first", ["solvers", "solvers.knapsack", "orchestrator_assets"])
def test_importing_the_project_first_keeps_numpy_to_one_thread(first: str) -> None:
    assert _after_imports(f"import {first}; " + THREADS_AFTER_NUMPY) == "0"


def test_a_users_blas_setting_is_kept() -> None:
    code = "import orchestrator_assets, os; print(os.environ['OPENBLAS_NUM_THREADS'])"
    assert _after_imports(code, OPENBLAS_NUM_THREADS="2") == "2"
