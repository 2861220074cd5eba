"""The `reassort` console script: through the warm runner when one of this code listens
(runner_client.py), else the command in this process; either way the process ends without
the interpreter's finalisation (process_exit.py).

Kept apart from cli.py, which imports the pipeline: a command the runner takes never pays
for those imports in this process.
"""

from __future__ import annotations

import sys
from typing import NoReturn


def entry() -> NoReturn:
    from orchestrator_assets.process_exit import end_process, run_then_end
    from orchestrator_assets.runner_client import through_runner

    code = through_runner(sys.argv[1:])
    if code is not None:
        end_process(code)
    from orchestrator_assets.cli import main

    run_then_end(main)
