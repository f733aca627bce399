"""SIGTERM (`docker stop`, a cancelled CI job, `kill`) stops a run the way Ctrl-C does.

Python's default for SIGTERM ends the process on the spot: no `finally` runs, so a scan stopped
while writing left its staging directory (and any half-written report in it) inside `--out`
until the next run swept it. Turned into a `KeyboardInterrupt` on the main thread, it takes the
path Ctrl-C already takes: staged reports, the baseline and the history record are all dropped,
and the run ends with one `mlwarden: error: terminated` line and exit 143 (128 + SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_received = [False]


def _raise(signum: int, frame: FrameType | None) -> None:
    _received[0] = True
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGTERM through `KeyboardInterrupt` (main thread only; forked children inherit it)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise)


def received() -> bool:
    """Whether the interruption being handled came from SIGTERM rather than Ctrl-C."""
    return _received[0]


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM over a step that creates a file or directory and records it, then
    deliver them. An interruption between the creating call and the recording one (a staging
    directory made by `mkdtemp` whose name was not yet kept) left it behind, unknown to the
    cleanup; a held signal is raised again once the step is done, to the handler that was there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {number: signal.signal(number, hold) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)
