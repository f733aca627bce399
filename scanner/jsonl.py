"""JSON Lines read in bounded batches: what a snapshot's reader and its duplicate-key checker share.

Kept free of the models (pydantic) so that the checker, a process of its own, starts in a few
milliseconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from scanner.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1024 * 1024
_BLANK = re.compile(rb"[ \t\r\n]+")
_TINY_LINE = 16
"""Bytes per line below which a chunk is read line by line with blank runs skipped: no record is that short."""


def _env_int(name: str, default: int) -> int:
    """A limit from the environment; one set but unusable (`2GiB`, `0`) is an error, not the default
    it would silently fall back to (the read would then stop at a limit the user thinks is raised)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise InputError(f"{name}={value[:40]!r}: expected a whole number of bytes above 0")
    return int(value)


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a snapshot may hold, checked while streaming and before a line is parsed, so a
    small gzip cannot inflate into a huge line or an endless run of lines in memory."""

    max_line_bytes: int = field(default_factory=lambda: _env_int("MLWARDEN_SNAPSHOT_MAX_LINE_BYTES", 16 << 20))
    max_total_bytes: int = field(default_factory=lambda: _env_int("MLWARDEN_SNAPSHOT_MAX_BYTES", 1 << 30))


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _too_long(name: str, number: int, limits: Limits) -> InputError:
    return InputError(
        f"snapshot {name} line {number}: longer than {_mib(limits.max_line_bytes)} (set "
        "MLWARDEN_SNAPSHOT_MAX_LINE_BYTES to read longer records)"
    )


def batches(stream: IO[bytes], name: str, limits: Limits) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, consecutive lines) for every chunk read: the lines of a chunk
    are split at C speed and handed over together, the unfinished last one carried into the next
    chunk's first (never a copy of the whole chunk). No line is held beyond `max_line_bytes` and
    no more than `max_total_bytes` are ever inflated. Lines may be blank; a chunk made mostly of
    tiny lines has its blank runs skipped at C speed (a gzip of a billion newlines must not
    take minutes), its other lines handed over one by one."""
    number, total, size = 1, 0, 0
    parts: list[bytes] = []
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > limits.max_total_bytes:
            raise InputError(
                f"snapshot {name}: more than {_mib(limits.max_total_bytes)} of data (set "
                "MLWARDEN_SNAPSHOT_MAX_BYTES to read a larger estate)"
            )
        count = chunk.count(b"\n")
        if not count:
            size += len(chunk)
            if size > limits.max_line_bytes:
                raise _too_long(name, number, limits)
            parts.append(chunk)
            continue
        end = chunk.rfind(b"\n")
        if size + end < _TINY_LINE * count:
            yield from _sparse(b"".join((*parts, chunk[:end])), number, name, limits)
            rest = chunk[end + 1 :]
        else:
            lines = chunk.split(b"\n")
            rest = lines.pop()
            if parts:
                lines[0] = b"".join((*parts, lines[0]))
            if max(map(len, lines)) > limits.max_line_bytes:
                longest = next(i for i, line in enumerate(lines) if len(line) > limits.max_line_bytes)
                raise _too_long(name, number + longest, limits)
            yield number, lines
        parts.clear()
        number += count
        size = len(rest)
        if size > limits.max_line_bytes:
            raise _too_long(name, number, limits)
        if rest:
            parts.append(rest)
    if parts:
        yield number, [b"".join(parts)]


def _sparse(data: bytes, number: int, name: str, limits: Limits) -> Iterator[tuple[int, list[bytes]]]:
    """The non-blank lines of `data` (complete lines, the first numbered `number`), one by one."""
    pos = 0
    while pos < len(data):
        if blank := _BLANK.match(data, pos):
            number += data.count(b"\n", pos, blank.end())
            pos = blank.end()
            continue
        end = data.find(b"\n", pos)
        if end < 0:
            end = len(data)
        if end - pos > limits.max_line_bytes:
            raise _too_long(name, number, limits)
        yield number, [data[pos:end]]
        number += 1
        pos = end + 1
