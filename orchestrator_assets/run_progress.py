"""Progress bars with an ETA on stderr for the long loops of a `reassort run` (issue 14, point 3).

Loading the history window of a first run, or the inputs of `run --from --to`, loops over
days inside an asset for minutes; without a bar the terminal stays silent all that time.
An asset reports each day done through `days(...)`, which shows
`raw.movements: day 81/181 |████      | 00:30 elapsed, ETA 00:37` on stderr.

Why an environment variable rather than a flag on the asset: the CLI runs its jobs in its
own process (in_process executor) or in step processes it starts (multiprocess), and both
inherit the variable; a run launched from the UI, a schedule, a sensor or a test has no
such variable, and its loops print nothing (the Dagster logs say the same per day).
tqdm is the bar because Dagster already depends on it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from tqdm import tqdm

ENV = "REASSORT_PROGRESS"
#: the bar: what, how far, and when it will be done
BAR_FORMAT = "{desc}: day {n_fmt}/{total_fmt} |{bar:20}| {elapsed} elapsed, ETA {remaining}"

T = TypeVar("T")


@contextlib.contextmanager
def shown_on_stderr() -> Iterator[None]:
    """Turn the bars on for the runs launched inside the block (the CLI's `run`)."""
    previous = os.environ.get(ENV)
    os.environ[ENV] = "stderr"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous


def enabled() -> bool:
    return os.environ.get(ENV) == "stderr"


class _OneLinePerUpdate:
    """A log file or a pipe cannot redraw a line: each update of the bar becomes a line of its
    own instead of being glued to the previous one by a carriage return."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]
        if lines:
            self._stream.write("".join(f"{line}\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def bar_stream() -> tuple[object, bool]:
    """Where a bar goes (stderr) and whether it is a terminal; a log file or a pipe gets
    one line per update instead."""
    interactive = getattr(sys.stderr, "isatty", lambda: False)()
    return (sys.stderr if interactive else _OneLinePerUpdate(sys.stderr)), interactive


def days(items: Sequence[T], label: str) -> Iterable[T]:
    """`items` unchanged, or, when bars are on and there is more than one day, the same items
    counted as they are done (a day counts once the loop asks for the next one)."""
    if not enabled() or len(items) < 2:
        return items
    stream, interactive = bar_stream()
    return tqdm(
        items,
        desc=label,
        total=len(items),
        file=stream,
        bar_format=BAR_FORMAT,
        # a terminal redraws in place; a log file gets a line every half minute, and the last
        mininterval=0.5 if interactive else 30.0,
        ascii=not interactive,
        dynamic_ncols=interactive,
    )
