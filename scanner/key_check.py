"""Duplicate keys in a large snapshot's records, looked for by a second process while the read goes on.

Refusing records with a key twice (`json_keys`) serialises every record once more: about a tenth
of reading a large snapshot, on the one core the read uses. A regular file can be read twice, so
a process started as the read begins reads it again on a core otherwise idle then, and answers
one question: does a record after the header have a key twice? The read skips that test
meanwhile. Whenever the answer is not a plain no (a duplicate, a checker that failed or could not
start), or the read itself failed, the snapshot is read again the serial way, so the error (which
line, which key, or an error on an earlier line first) is exactly the serial read's.

The checker is a fresh interpreter (`python -m scanner.key_check`) that imports no models, not a
fork: a forked child shares the reading process's pages, and each page the read then writes is
copied first (0.17 s more for the read of 100,000 resources, twice what the test costs there).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import subprocess
import sys
import zlib
from typing import IO, Any

import orjson

from scanner.errors import InputError
from scanner.json_keys import duplicate_in
from scanner.jsonl import CHUNK, GZIP_MAGIC, Limits, batches

CLEAN = 0
"""The checker's exit status when no record after the header has a key twice."""


class KeyCheck:
    """A running checker of one open snapshot file."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def clean(self) -> bool:
        """Wait for the answer: True when no record after the header has a key twice (False also
        when the checker failed, so that the caller reads again serially)."""
        return self.process.wait() == CLEAN

    def end(self) -> None:
        """Stop the checker if it has not answered (the answer is no longer needed)."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()
        self.process.wait()


def start(fd: int, limits: Limits) -> KeyCheck | None:
    """A checker of the open regular file `fd`, read from its start at offsets of its own; None
    when no interpreter can be started for it (a frozen application, not POSIX)."""
    if os.name != "posix" or getattr(sys, "frozen", False) or not sys.executable:
        return None
    sizes = (str(limits.max_line_bytes), str(limits.max_total_bytes))
    command = [sys.executable, "-m", "scanner.key_check", str(fd), *sizes]
    # This very code, wherever this process found it (an installed package, a checkout, a path added at run time).
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    try:
        process = subprocess.Popen(
            command,
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
    except (OSError, ValueError):
        return None
    return KeyCheck(process)


def no_duplicate_keys(stream: IO[bytes], limits: Limits) -> bool:
    """True when no record after the header has a key twice, up to where the read stops with an
    error of its own (the snapshot is then read again, serially)."""
    loads, decode_error, header = orjson.loads, orjson.JSONDecodeError, True
    try:
        for _, lines in batches(stream, "snapshot", limits):
            for raw in lines:
                if not raw or raw.isspace():
                    continue
                try:
                    record = loads(raw)
                except decode_error:
                    return True
                if type(record) is not dict:
                    return True
                if header:  # the read checks the header itself
                    header = False
                elif duplicate_in(raw, record) is not None:
                    return False
    except (InputError, OSError, EOFError, zlib.error):
        return True
    return True


class _Positional(io.RawIOBase):
    """An open file read from its start at offsets of its own (`pread`): the reading process's
    offset in the same open file is left alone."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd, self._at = fd, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self._fd, len(buffer), self._at)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def main(argv: list[str]) -> int:
    """`python -m scanner.key_check FD MAX_LINE_BYTES MAX_TOTAL_BYTES`: exit 0 when clean, 1 if not."""
    fd, line, total = map(int, argv)
    buffered = io.BufferedReader(_Positional(fd), buffer_size=CHUNK)
    stream: IO[bytes] = buffered
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
    return CLEAN if no_duplicate_keys(stream, Limits(line, total)) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
