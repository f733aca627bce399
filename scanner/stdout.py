"""Standard output that fails like any other destination (one error line and exit 2), and that
carries nothing but mlwarden's own output.

A report sent to a full disk (`mlwarden scan --format json > /mnt/full/r.json`, or `> /dev/full`)
raised a bare OSError from deep inside a write, which became exit 4 ("a bug in mlwarden"). The
writes to file descriptor 1 are checked in this one place instead of at every `echo`. After the
first failure the rest is dropped, so the interpreter's final flush cannot add a second message.
EPIPE stays a BrokenPipeError: a reader that went away is exit 141, handled by the command group.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import Any

from scanner.errors import InputError


class _CheckedStdout(io.FileIO):
    failed = False

    def write(self, data: Any) -> int:
        if self.failed:
            return len(memoryview(data))
        try:
            return super().write(data) or 0
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed = True
            reason = exc.strerror or type(exc).__name__
            raise InputError(f"cannot write to stdout: {reason} (nothing more was written there)") from None


class _ClosedStdout(io.RawIOBase):
    """Standard output closed when mlwarden started (`mlwarden checks list >&-`): click writes
    nothing to a missing `sys.stdout`, so a listing was lost with exit 0. Writing to this fails
    once, like a full disk; `closed()` lets `scan` and `collect` leave out the lines they print
    beside reports that land elsewhere."""

    failed = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(memoryview(data))
        if self.failed or not size:
            return size
        self.failed = True
        raise InputError("cannot write to stdout: it is closed (nothing was written there)")


_closed_at_start = [False]


def closed() -> bool:
    """Whether standard output was closed when mlwarden started."""
    return _closed_at_start[0]


def install() -> None:
    """Put the check under `sys.stdout`, and keep descriptor 1 itself for no one.

    mlwarden's own output (`sys.stdout`, hence `click.echo`) moves to a duplicate of descriptor 1,
    and descriptor 1 is pointed at stderr: what third-party code writes below Python (a plugin's
    `os.write(1, ...)`, `sys.__stdout__`, a C extension's printf, a child process it starts)
    cannot land in a report sent to stdout. With descriptor 1 closed at start, it is plugged the
    same way, so that no file opened later (a history database) becomes descriptor 1."""
    current = sys.stdout
    if current is None:
        _point_at_stderr()
        _closed_at_start[0] = True
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedStdout()), encoding="utf-8", line_buffering=True)
        return
    if not isinstance(current, io.TextIOWrapper):
        return
    with contextlib.suppress(OSError, ValueError):
        if current.fileno() != 1:
            return
        current.flush()
        own = os.dup(1)  # not inherited by child processes
        if not _point_at_stderr():
            os.close(own)
            own = 1
        raw = _CheckedStdout(own, "w", closefd=own != 1)
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=current.encoding,
            errors=current.errors,
            line_buffering=current.line_buffering,
        )


def _point_at_stderr() -> bool:
    """Descriptor 1 made a copy of stderr (or of /dev/null when stderr is closed too)."""
    try:
        os.dup2(2, 1)
        return True
    except OSError:
        pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return False
    try:
        os.dup2(devnull, 1)
        return True
    except OSError:
        return False
    finally:
        if devnull != 1:
            os.close(devnull)


@contextlib.contextmanager
def to_stderr() -> Iterator[None]:
    """While third-party code runs (a check plugin's import and its checks), what it prints goes
    to stderr: standard output may be carrying a report (`--format sarif > results.sarif`), and a
    plugin's debug `print` at its top had made that file invalid JSON. Writes below Python go to
    descriptor 1, which `install` has pointed at stderr."""
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved
