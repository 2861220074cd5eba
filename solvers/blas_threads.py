"""One BLAS thread per process, unless the user asked for more.

numpy's OpenBLAS starts one worker thread per core when it is loaded. The solvers call BLAS
thousands of times a day on short vectors (np.dot over a site's or a group's items, 10k–20k
long for a depot group), and after each call OpenBLAS's workers busy-wait for the next one.
Measured on a `large` day (2 cores): that spinning burned 2.2 s of CPU a day in a thread
that did no useful work, and a `reassort run --from --to`, whose days run side by side in
two processes, lost a core's worth of it to each other (10 days 77–81 s → 65–71 s without
it). No computation of the pipeline gains from a parallel BLAS: its vectors are too short.

OpenBLAS reads OPENBLAS_NUM_THREADS once, when numpy is first imported, so this must run
before that: solvers/__init__.py calls it, and orchestrator_assets/__init__.py imports
solvers first. Every process the pipeline starts (range workers, knapsack pools, the warm
runner, Dagster's code servers, Celery workers) inherits the variable. A value the user set
is kept.
"""

from __future__ import annotations

import os

#: the variable OpenBLAS reads for its thread count (numpy and scipy wheels bundle OpenBLAS)
OPENBLAS_THREADS_VARIABLE = "OPENBLAS_NUM_THREADS"


def keep_blas_single_threaded() -> None:
    """Ask OpenBLAS for one thread, unless the environment already says how many."""
    os.environ.setdefault(OPENBLAS_THREADS_VARIABLE, "1")
