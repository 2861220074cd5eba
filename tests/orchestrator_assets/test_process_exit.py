"""A `reassort` command ends through process_exit.end_process: what the interpreter's own
exit would have done that can be seen (output, exit handlers, threads, status) still happens."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator_assets.process_exit import exit_code

REASSORT = Path(sys.executable).parent / "reassort"


def _child(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(body))
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a user's shell
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=buffered,
    )


def test_output_handlers_and_threads_survive_the_fast_exit(tmp_path: Path) -> None:
    result = _child(
        """
        import atexit, sys, threading, time, weakref
        from pathlib import Path
        from orchestrator_assets.process_exit import run_then_end

        folder = Path(sys.argv[1])

        class Holder:
            pass

        def command():
            holder = Holder()
            # a clean-up registered the way tempfile registers its own
            weakref.finalize(holder, (folder / "finalized").write_text, "yes")
            atexit.register((folder / "atexit").write_text, "yes")
            threading.Thread(
                target=lambda: (time.sleep(0.3), (folder / "thread").write_text("yes"))
            ).start()
            sys.stdout.write("x" * 1_000_000)  # more than any buffer: must be flushed
            sys.stdout.write("\\nlast line\\n")
            global keep
            keep = holder
            return 3

        run_then_end(command)
        """,
        tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.endswith("x\nlast line\n") and len(result.stdout) == 1_000_000 + len("\nlast line\n")
    for name in ("finalized", "atexit", "thread"):
        assert (tmp_path / name).read_text() == "yes", name


@pytest.mark.parametrize(
    ("code", "status", "printed"), [(None, 0, ""), (0, 0, ""), (4, 4, ""), ("bad input", 1, "bad input\n")]
)
def test_system_exit_gives_the_interpreters_status(
    code: object, status: int, printed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(SystemExit(code)) == status
    assert capsys.readouterr().err == printed


def test_the_reassort_command_ends_with_its_status_and_whole_output(tmp_path: Path) -> None:
    shown = subprocess.run([str(REASSORT), "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "usage: reassort" in shown.stdout
    assert shown.stdout.rstrip().endswith(shown.stdout.rstrip().splitlines()[-1])
    refused = subprocess.run(
        [str(REASSORT), "run", "--date", "not-a-date"], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2 and "not-a-date" in refused.stderr


def test_the_console_script_is_the_fast_exit_entry() -> None:
    from importlib import metadata

    (script,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == "reassort"]
    assert script.value == "orchestrator_assets.command_entry:entry"
