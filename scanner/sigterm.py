"""SIGTERM (`docker stop`, a cancelled CI job, `kill`) stops a run the way Ctrl-C does.

Python's default for SIGTERM ends the process on the spot: no `finally` runs, so a scan stopped
while writing left its staging directory (and any half-written report in it) inside `--out`
until the next run swept it. Turned into a `KeyboardInterrupt` on the main thread, it takes the
path Ctrl-C already takes: staged reports, the baseline and the history record are all dropped,
and the run ends with one `mlwarden: error: terminated` line and exit 143 (128 + SIGTERM).
"""

from __future__ import annotations

import signal
import threading
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
