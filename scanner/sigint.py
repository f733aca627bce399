"""Tell a real Ctrl-C from a `KeyboardInterrupt` that plugin code raised itself.

While plugin code runs on the main thread (at import), a SIGINT handler notes that the signal
really arrived. A `KeyboardInterrupt` without that note came from the plugin: it is the
plugin's failure, not the user's wish to stop.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def watch() -> Iterator[Callable[[], bool]]:
    """Yields `interrupted()`: True once a real SIGINT arrived inside the block."""
    seen = [False]
    if threading.current_thread() is not threading.main_thread():
        yield lambda: True  # cannot tell here: treat every KeyboardInterrupt as real
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        seen[0] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: seen[0]
    finally:
        signal.signal(signal.SIGINT, previous)
