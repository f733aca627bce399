"""Progress on stderr while collecting: phases, counts and scopes only, never a property value.

On a terminal, a live `rich` display: one bar per phase (Resource Graph tables, ARM reads, Key
Vault reads) with done/total, rate and time left. Off a terminal (a CI log), one plain line at
least every `interval` seconds (`MLWARDEN_PROGRESS_INTERVAL`, default 10), the first within
one interval of the start, with each active phase's done/total and the elapsed time; events
(a subscription done, a coverage gap) are lines of their own in both modes. `quiet` silences all.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO

from scanner.argv import DECIMAL_GRAMMAR, plain_number, shown
from scanner.errors import InputError
from scanner.models import Gap
from scanner.textsafe import printable

INTERVAL_ENV = "MLWARDEN_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0
TABLE_PHASES = {
    "resourcecontainers": "subscriptions",
    "resources": "resources",
    "appserviceresources": "app service config",
    "securityresources": "defender",
}
ARM_READS = "ARM reads"
VAULT_READS = "Key Vault reads"


def interval_from_env() -> float:
    """Seconds between plain lines. A value that is no number of seconds above 0 and at most an
    hour is exit 2 naming the variable, as for every other MLWARDEN_* setting: a silent fall back
    to the default hid a typo (`10s`) from the operator who set it."""
    text = os.environ.get(INTERVAL_ENV, "")
    if not text.strip():
        return DEFAULT_INTERVAL
    value = float(text) if plain_number(text, fraction=True) else math.nan  # not `1_0`, `１０`, `inf`
    if not 0 < value <= 3600:  # nan fails too
        raise InputError(
            f"{INTERVAL_ENV}={printable(shown(text))}: expected a number of seconds above 0, at most 3600 "
            f"({DECIMAL_GRAMMAR})"
        )
    return value


@dataclass(slots=True)
class Phase:
    name: str
    done: int = 0
    total: int | None = None
    task: Any = None
    """The rich task id, on a terminal."""

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total

    def counts(self) -> str:
        return f"{self.name} {self.done}/{'?' if self.total is None else self.total}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Use as a context manager around a collection; every method is safe from worker threads."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        console: Any = None,
        interval: float | None = None,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet
        self.live = self.enabled and (console is not None or _isatty(self._stream))
        self._console = console
        self.interval = interval if interval is not None else interval_from_env()
        self._lock = threading.RLock()
        self._phases: dict[str, Phase] = {}
        self._display: Any = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = time.monotonic()
        self.subscriptions_done = 0
        self.gaps = 0

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        self._started = time.monotonic()
        if not self.enabled:
            return
        if self.live:
            self._display = _rich_display(self._console or _console(self._stream))
            self._display.start()
        elif self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="mlwarden-progress", daemon=True)
            self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        if self._display is not None:
            self._display.stop()
            self._display = None

    # -- counts ----------------------------------------------------------------------------
    def phase(self, name: str, total: int | None = None, *, add: bool = False) -> None:
        """Start a phase or set its total (`add` adds to it: one more batch of the same query)."""
        with self._lock:
            phase = self._phases.get(name)
            if phase is None:
                phase = self._phases[name] = Phase(name)
                if self._display is not None:
                    phase.task = self._display.add_task(name, total=None)
            if total is not None:
                phase.total = (phase.total or 0) + total if add else total
            self._refresh(phase)

    def advance(self, name: str, count: int = 1) -> None:
        with self._lock:
            phase = self._phases.get(name) or self._phases.setdefault(name, Phase(name))
            phase.done += count
            self._refresh(phase)

    def query(self, table: str) -> None:
        """A Resource Graph query starts: its phase shows (total unknown until the first page)."""
        self.phase(TABLE_PHASES.get(table.lower(), table))

    def page(self, table: str, rows: int, total: int | None = None, *, first: bool = False) -> None:
        """One Resource Graph page; the first page of a query brings the query's total record count."""
        name = TABLE_PHASES.get(table.lower(), table)
        if first:
            self.phase(name, total if total is not None else 0, add=True)
        self.advance(name, rows)

    def _refresh(self, phase: Phase) -> None:
        if self._display is not None and phase.task is not None:
            self._display.update(phase.task, completed=phase.done, total=phase.total)

    # -- events ----------------------------------------------------------------------------
    def subscription(self, subscription_id: str, total: int | None = None) -> None:
        """Said only when every read of that subscription has finished; `total` is how many
        subscriptions the collection reads, so a long CI log shows how far it is."""
        with self._lock:
            self.subscriptions_done += 1
            count = self.subscriptions_done
        self._say(
            f"subscription {subscription_id} done ({count} of {total})"
            if total
            else f"subscription {subscription_id} done ({count})"
        )

    def gap(self, gap: Gap) -> None:
        with self._lock:
            self.gaps += 1
        self._say(f"coverage gap in {gap.source} at {gap.scope}: {gap.reason}")

    def step(self, text: str) -> None:
        self._say(text)

    def status_line(self) -> str:
        """The plain line: active phases' done/total and the elapsed time."""
        with self._lock:
            phases = list(self._phases.values())
        active = [p for p in phases if not p.finished] or phases[-1:]
        counts = ", ".join(p.counts() for p in active) or "starting"
        return f"progress: {counts}; elapsed {_clock(time.monotonic() - self._started)}"

    def _say(self, text: str) -> None:
        if not self.enabled:
            return
        line = f"mlwarden: {printable(text)}"
        with self._lock:
            if self._display is not None:
                self._display.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                self._stream.write(line + "\n")
                self._stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._say(self.status_line())


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _console(stream: TextIO) -> Any:
    from rich.console import Console

    return Console(file=stream)


def _rich_display(console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as Bars,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.1f}/s")

    return Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        refresh_per_second=4,
    )
