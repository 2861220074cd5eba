"""The knapsack's kernels compiled beside a run when numba's cache is cold
(orchestrator_assets/kernel_warmup_process.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from data_generation.field_service import generate
from orchestrator_assets import kernel_warmup_process as warmup

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lock(tmp_path, monkeypatch) -> Path:
    """A lock of the test's own, so that no run of the suite waits on these tests."""
    path = tmp_path / "warmup.lock"
    monkeypatch.setattr(warmup, "lock_path", lambda: path)
    return path


@contextmanager
def held(path: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process holding the lock as a warm-up does, for ``seconds`` (killed on exit)."""
    code = (
        "import fcntl, sys, time; lock = open(sys.argv[1], 'a'); fcntl.flock(lock, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(float(sys.argv[2]))"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_step_waits_while_a_warmup_compiles(lock):
    with held(lock, 1.0):
        waited = warmup.wait_for_warmup()
    assert 0.7 <= waited < 10


def test_the_wait_is_bounded(lock):
    with held(lock, 20.0):
        started = time.perf_counter()
        warmup.wait_for_warmup(limit_s=0.3)
        assert time.perf_counter() - started < 3


def test_no_warmup_no_wait(lock):
    assert warmup.wait_for_warmup() < 0.1
    lock.touch()  # a finished warm-up leaves its file: free
    assert warmup.wait_for_warmup() < 0.1


def test_a_second_warmup_leaves_at_once(lock, monkeypatch):
    def must_not_look(*_args):
        raise AssertionError("the second warm-up went on to compile")

    monkeypatch.setattr(warmup, "cache_is_cold", must_not_look)
    with held(lock, 20.0):
        started = time.perf_counter()
        assert warmup.main() == 0
        assert time.perf_counter() - started < 3


def test_a_warm_cache_starts_nothing(monkeypatch):
    monkeypatch.setattr(warmup, "cache_is_cold", lambda: False)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("started a warm-up"))
    assert warmup.start_if_cold() is False


@pytest.mark.slow
def test_a_run_on_a_cold_cache_compiles_the_knapsack_beside_it(project_env, tmp_path):
    """`reassort run` with an empty numba cache (NUMBA_CACHE_DIR): the run says it started the
    warm-up, succeeds, and leaves the knapsack's kernels in the cache, with no process behind."""
    generate("tiny", date(2026, 1, 1), 3, project_env, seed=5)
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator_assets.cli", "run", "--date", "2026-01-03"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr
    messages = []
    for db in Path(os.environ["DAGSTER_HOME"]).glob("history/runs/*.db"):
        with sqlite3.connect(db) as con:
            messages += [row[0] for row in con.execute("SELECT event FROM event_logs")]
    assert any("compiling them beside the run" in m for m in messages)
    check = "from orchestrator_assets.kernel_warmup_process import cache_is_cold; print(cache_is_cold())"
    still_cold = subprocess.run([sys.executable, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True)
    assert still_cold.stdout.strip() == "False"
    left = subprocess.run(["pgrep", "-f", "orchestrator_assets.kernel_warmup_process"], capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_a_link_in_place_of_the_lock_is_not_followed(lock, tmp_path, monkeypatch):
    """The lock lives in the shared temporary folder: a link planted there (by another user,
    say) neither makes a step wait nor gets a warm-up to write through it."""
    target = tmp_path / "elsewhere.lock"
    lock.symlink_to(target)
    monkeypatch.setattr(warmup, "cache_is_cold", lambda: pytest.fail("a warm-up went on without its lock"))
    with held(target, 20.0):
        started = time.perf_counter()
        assert warmup.wait_for_warmup() < 1
        assert warmup.main() == 0
        assert time.perf_counter() - started < 3


def test_a_warmup_that_cannot_start_does_not_fail_the_run(monkeypatch):
    def cannot_start(*_args, **_kwargs):
        raise OSError("no such interpreter")

    monkeypatch.setattr(warmup, "cache_is_cold", lambda: True)
    monkeypatch.setattr(subprocess, "Popen", cannot_start)
    assert warmup.start_if_cold() is False
