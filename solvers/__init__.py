"""Réassort's computations (projection, forecasting, scoring, knapsack) as plain functions.

Before any solver imports numpy: one BLAS thread per process (blas_threads.py says why).
"""

from solvers.blas_threads import keep_blas_single_threaded

keep_blas_single_threaded()
