"""Whether a process of this machine is still running, by its pid.

Used where a process must know about another it did not start: the runs of a CLI process
that died (orphan_runs.py) and a warm runner waiting for its predecessor's command to end
(warm_runner.py). Signal 0 checks without signalling; a process of another user exists too.
"""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
