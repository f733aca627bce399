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


def install() -> None:
    """Put the check under `sys.stdout` when it is the process's real file descriptor 1."""
    current = sys.stdout
    if current is None or not isinstance(current, io.TextIOWrapper):
        return
    with contextlib.suppress(OSError, ValueError):
        if current.fileno() != 1:
            return
        current.flush()
        raw = _CheckedStdout(1, "w", closefd=False)
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=current.encoding,
            errors=current.errors,
            line_buffering=current.line_buffering,
        )


@contextlib.contextmanager
def to_stderr() -> Iterator[None]:
    """While third-party code runs (a check plugin's import and its checks), what it prints goes
    to stderr: standard output may be carrying a report (`--format sarif > results.sarif`), and a
    plugin's debug `print` at its top had made that file invalid JSON. Python-level writes only."""
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved
