"""Progress on stderr while collecting: counts and scopes only, never a property value."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from scanner.models import Gap


class Progress:
    """Writes one short line per event when stderr is a terminal and the user did not ask for quiet."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self._stream.isatty()
        self._lock = threading.Lock()
        self.pages = 0
        self.rows = 0
        self.subscriptions_done = 0
        self.gaps = 0

    def _say(self, text: str) -> None:
        if self.enabled:
            with self._lock:
                self._stream.write(f"mlwarden: {text}\n")
                self._stream.flush()

    def page(self, table: str, rows: int) -> None:
        self.pages += 1
        self.rows += rows
        self._say(f"{table}: page {self.pages} ({self.rows} rows so far)")

    def subscription(self, subscription_id: str) -> None:
        self.subscriptions_done += 1
        self._say(f"subscription {subscription_id} done ({self.subscriptions_done})")

    def gap(self, gap: Gap) -> None:
        self.gaps += 1
        self._say(f"coverage gap in {gap.source} at {gap.scope}: {gap.reason}")

    def step(self, text: str) -> None:
        self._say(text)
