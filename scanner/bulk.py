"""Build large acyclic data without the cycle collector walking it again and again.

Reading a snapshot or indexing an estate allocates millions of containers. Left alone, the
collector walks all of them every so often while they are built (about twice the JSON parse at
20,000 resources), and again on every full collection for as long as they live, which in a scan
means all through the checks, compliance and reports. None of it holds a reference cycle, so
reference counting alone frees it: the collector is paused while it is built and, in the
command-line process (one scan, then exit), what then exists is moved out of the collector's
reach (`gc.freeze`) until the data built is released. A long-lived process that builds estates
(the test suite, an embedding application) keeps the default: freezing everything alive there
would hold its unrelated cyclic garbage for as long as any inventory lives.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
import weakref
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_resident = False
"""Set by the command-line entry point (`set_resident`)."""
_holders = 0
"""How many built objects (inventories, estates) are alive with the collector's objects frozen for them."""
_said_all = False
"""Set by a command (`said_all`) once it has written and said everything, holding bulk data."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the block; nested uses and a collector already off are fine.

    In a resident process (the command line), what the outermost block built is frozen before
    the collector comes back: otherwise the first allocation after it would start a full
    collection over everything the scan built (about 3x the JSON parse at 100,000 resources),
    and the report writers would pay for more of them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if _resident:
                gc.freeze()
            gc.enable()


def set_resident(enabled: bool) -> None:
    """Whether `keep_resident` freezes: on for a process that runs one scan and exits."""
    global _resident
    _resident = enabled


def keep_resident(owner: object) -> None:
    """When resident (`set_resident`), freeze every object the collector tracks now, until `owner`
    and every other owner are gone.

    Frozen objects are still freed by reference counting; only cycles among them wait for the
    release (`gc.unfreeze` puts them back in the oldest generation, where the next full
    collection finds them). `owner` must support weak references."""
    global _holders
    if not _resident:
        return
    with _lock:
        gc.freeze()
        _holders += 1
    weakref.finalize(owner, _release)


def _release() -> None:
    global _holders
    with _lock:
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()


def said_all() -> None:
    """A command of a resident process is done but for its exit code: let `leave` skip the teardown."""
    global _said_all
    _said_all = _resident


def leave(code: int | None) -> None:
    """End a resident process that `said_all` now, without freeing what it built; return (for the
    caller's ordinary exit) in any other case.

    Freeing a 100,000-resource scan object by object, and the interpreter's last collection over
    it, took 3.5 s after the last line was printed (12x the snapshot's parse). The OS reclaims
    the memory at once. What an orderly exit does beyond freeing is done here: the atexit
    handlers run (logging, `weakref.finalize` clean-ups such as temporary directories) and the
    standard streams are flushed. Skipped only when no other thread runs (nothing to join) and
    the flush succeeds (a closed stdout keeps its ordinary report and exit code); every file the
    command wrote is closed and committed by then, history connections included."""
    if not _said_all or threading.active_count() != 1:
        return
    try:
        atexit._run_exitfuncs()
        flush_std_streams()
    except (OSError, ValueError):
        return
    os._exit(code or 0)


def flush_std_streams() -> None:
    """Flush stdout and stderr before an `os._exit`; either is None when the process was
    started with it closed (`>&-`), which must not turn a finished scan into an error."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def to_end(steps: Generator[None, None, T]) -> T:
    """What a stepwise piece of work returns, walked to the end at once. Work that pauses (yields)
    now and then can be dropped between two steps: a process waiting for another to send the same
    value walks it meanwhile and stops once the value arrives (`shards.Aside`)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
