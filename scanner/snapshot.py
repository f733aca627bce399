"""Snapshot files: JSON Lines (optionally gzip), one header line then one record per line.

    {"record": "header", "schema": "mlwarden-snapshot", "schema_version": 1, ...}
    {"record": "resource", "data": {<Resource Graph row>}}
    {"record": "key", "data": {<KeyMetadata>}}
    {"record": "app_settings", "data": {<AppSettingsFacts>}}
    {"record": "change", "data": {<ResourceChange>}}     (who changed what, from `resourcechanges`)

Defender plans, assessments, security contacts, ML computes, site config, publishing-credential
policies and diagnostic settings are ARM resources and travel as `resource` records with their
own types. Reading streams line by line; any bad line is one `InputError` naming file and line.
Reading is bounded (`Limits`): a line longer than 16 MiB or more than 1 GiB of data, inflated,
stop the read before it is held in memory.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources as package_files
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from scanner import files
from scanner.argv import plain_number
from scanner.atomic import atomic_open
from scanner.bulk import collector_paused, keep_resident
from scanner.errors import InputError
from scanner.inventory import (
    SNAPSHOT_SCHEMA,
    SNAPSHOT_SCHEMA_VERSION,
    AppSettingsFacts,
    Inventory,
    KeyMetadata,
    ResourceChange,
    SnapshotHeader,
)
from scanner.json_keys import duplicate_in, duplicate_key
from scanner.resource_rows import RowBuilder

GZIP_MAGIC = b"\x1f\x8b"
DEMO_SNAPSHOT = "demo-estate.jsonl"
_CHUNK = 1024 * 1024
_BLANK = re.compile(rb"[ \t\r\n]+")
_TINY_LINE = 16
"""Bytes per line below which a chunk is read line by line with blank runs skipped: no record is that short."""


def _env_int(name: str, default: int) -> int:
    """A limit from the environment; one set but unusable (`2GiB`, `0`) is an error, not the default
    it would silently fall back to (the read would then stop at a limit the user thinks is raised)."""
    value = os.environ.get(name, "")
    if not value.strip():
        return default
    if not (plain_number(value, fraction=False) and int(value) > 0):
        raise InputError(f"{name}={value[:40]!r}: expected a whole number of bytes above 0")
    return int(value)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    return f"{where}: {err['msg']}"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a snapshot may hold, checked while streaming and before a line is parsed, so a
    small gzip cannot inflate into a huge line or an endless run of lines in memory."""

    max_line_bytes: int = field(default_factory=lambda: _env_int("MLWARDEN_SNAPSHOT_MAX_LINE_BYTES", 16 << 20))
    max_total_bytes: int = field(default_factory=lambda: _env_int("MLWARDEN_SNAPSHOT_MAX_BYTES", 1 << 30))


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB" if size >= 1 << 20 else f"{size:,} bytes"


def _too_long(name: str, number: int, limits: Limits) -> InputError:
    return InputError(
        f"snapshot {name} line {number}: longer than {_mib(limits.max_line_bytes)} (set "
        "MLWARDEN_SNAPSHOT_MAX_LINE_BYTES to read longer records)"
    )


def _batches(stream: IO[bytes], name: str, limits: Limits) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, consecutive lines) for every chunk read: the lines of a chunk
    are split at C speed and handed over together, the unfinished last one carried into the next
    chunk's first (never a copy of the whole chunk). No line is held beyond `max_line_bytes` and
    no more than `max_total_bytes` are ever inflated. Lines may be blank; a chunk made mostly of
    tiny lines has its blank runs skipped at C speed (a gzip of a billion newlines must not
    take minutes), its other lines handed over one by one."""
    number, total, size = 1, 0, 0
    parts: list[bytes] = []
    while chunk := stream.read(_CHUNK):
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


class _Rejoined(io.RawIOBase):
    """A stream whose first bytes were read to sniff gzip: pipes and FIFOs cannot seek back."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._head[: len(buffer)] if self._head else self._rest.read(len(buffer))
        self._head = self._head[len(data) :] if self._head else b""
        buffer[: len(data)] = data
        return len(data)


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(stream of the snapshot's bytes, inflated when gzip; the handle to close). `-` is stdin."""
    if str(path) == "-" and sys.stdin is None:  # started with stdin closed (`<&-`)
        raise OSError(0, "stdin is closed")
    if str(path) == "-" and sys.stdin.isatty():
        raise OSError(0, "stdin is a terminal (pipe a snapshot in, or name the file)")
    if str(path) == "-" and (why := _stdin_kind()) is not None:
        raise OSError(0, f"stdin is {why}")
    raw: IO[bytes] = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    head = raw.read(2)
    stream: IO[bytes]
    if raw.seekable():  # a regular file: read it directly, 1 MiB at a time, no copy through a wrapper
        raw.seek(-len(head), io.SEEK_CUR)
        stream = raw
    else:
        stream = io.BufferedReader(_Rejoined(head, raw), buffer_size=_CHUNK)
    if head == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    return stream, raw


def _stdin_kind() -> str | None:
    """What standard input is when it can hold no snapshot, judged by kind as a named file is
    (`scanner.files`): `< /dev/zero` was read up to the size limit, `< /dev/null` was an empty
    snapshot and `< /proc/self/environ` was parsed. Pipes, FIFOs, sockets and regular files pass."""
    try:
        info = os.fstat(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):  # no descriptor (an embedding host): let the read say
        return None
    if stat.S_ISCHR(info.st_mode):
        return "a character device (such as /dev/null or /dev/zero), not a snapshot"
    if stat.S_ISBLK(info.st_mode):
        return "a block device, not a snapshot"
    if stat.S_ISREG(info.st_mode) and (system := files.pseudo_file_system(info.st_dev)) is not None:
        return f"a {system} file of the kernel, whose content is made up as it is read, not a snapshot"
    return None


def read_snapshot(path: Path, *, label: str | None = None, limits: Limits | None = None) -> Inventory:
    """Read a snapshot file (`-` for stdin; FIFOs work too), failing with one clear line on the
    first bad record or the first limit exceeded."""
    name = label or ("<stdin>" if str(path) == "-" else str(path))
    try:
        stream, raw = _open(path)
    except OSError as exc:
        raise InputError(f"snapshot {name}: cannot open: {exc.strerror or exc}") from None
    try:
        with collector_paused():
            inventory = _parse(_batches(stream, name, limits or Limits()), name)
            keep_resident(inventory)
            return inventory
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"snapshot {name}: unreadable or truncated file ({type(exc).__name__})") from None
    finally:
        if str(path) != "-":  # stdin stays open (and may be None: a scan started with `<&-`)
            raw.close()


def read_demo() -> Inventory:
    """The bundled demo estate: a fictional health-care ML estate shipped with the package."""
    ref = package_files.files("scanner") / "data" / DEMO_SNAPSHOT
    with package_files.as_file(ref) as path:
        return read_snapshot(path, label=f"demo:{DEMO_SNAPSHOT}")


def _parse(batches: Iterator[tuple[int, list[bytes]]], name: str) -> Inventory:
    header: SnapshotHeader | None = None
    inventory: Inventory | None = None
    seen_ids: set[str] = set()
    build = RowBuilder().build
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for first, lines in batches:
        for offset, raw in enumerate(lines):
            if not raw:
                continue
            try:
                record = loads(raw)
            except decode_error as exc:
                if not raw.strip():
                    continue
                raise InputError(f"{_where(name, first + offset)}: {_not_json(raw, exc.msg)}") from None
            if type(record) is not dict:
                raise InputError(f"{_where(name, first + offset)}: expected a JSON object, got {_json_kind(record)}")
            if inventory is None:
                if (twice := duplicate_key(raw)) is not None:
                    raise InputError(f"{_where(name, first + offset)}: the header has the key {twice!r} twice")
                header = _header(record, _where(name, first + offset))
                inventory = Inventory(header=header)
                continue
            if (twice := duplicate_in(raw, record)) is not None:
                raise InputError(f"{_where(name, first + offset)}: {_twice(twice)}")
            data = record.get("data")
            kind = record.get("record")
            if kind == "resource" and type(data) is dict:
                try:
                    resource = build(data)
                except ValidationError as exc:
                    raise InputError(
                        f"{_where(name, first + offset)}: invalid resource record: {_first_error(exc)}"
                    ) from None
                key = resource.id_key
                if key in seen_ids:
                    raise InputError(f"{_where(name, first + offset)}: duplicate resource id {resource.id}")
                seen_ids.add(key)
                inventory.resources.append(resource)
            else:
                _other(inventory, kind, data, _where(name, first + offset))
    if inventory is None:
        raise InputError(f"snapshot {name}: empty file (no header line)")
    return inventory


_FORMATS = ((b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"PK\x03\x04", "zip"))


def _not_json(raw: bytes, why: str) -> str:
    """What a line that does not parse is, when that says more than the parser's message: orjson
    calls any byte that is not UTF-8 "surrogates not allowed", for a UTF-16 file or a zstd one alike."""
    if raw.startswith(b"\xef\xbb\xbf"):  # valid UTF-8, so orjson's "not UTF-8" misnamed it
        return "starts with a UTF-8 byte order mark (BOM), which JSON Lines does not allow: save it without one"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and raw[:2].count(0) == 1):
        return "UTF-16 text: a snapshot is UTF-8 (convert it, e.g. iconv -f UTF-16 -t UTF-8)"
    for magic, label in _FORMATS:
        if raw.startswith(magic):
            return f"{label}-compressed data: a snapshot is JSON Lines, plain or gzip"
    if b"\x00" in raw[:64]:  # a zero-filled file (a preallocated or truncated download) is no UTF-16
        return "binary data (NUL bytes), not text: a snapshot is JSON Lines, plain or gzip"
    if raw.strip() in (b"{", b"["):
        return "a JSON document spread over several lines: a snapshot is JSON Lines, one record a line"
    if "UTF-8" in why:
        return "not valid JSON (it holds bytes that are not UTF-8 text)"
    return f"not valid JSON ({why})"


def _instead(record: dict[str, Any]) -> str:
    """The option meant, when the file is another input mlwarden reads (a careless `--snapshot`)."""
    if "deploymenttemplate" in str(record.get("$schema", "")).lower():
        return "; it is an ARM template: scan it with --template"
    if "format_version" in record and ("resource_changes" in record or "planned_values" in record):
        return "; it is a Terraform plan: scan it with --terraform-plan"
    return ""


def _json_kind(value: object) -> str:
    return {"NoneType": "null", "str": "a string", "list": "an array", "bool": "a boolean"}.get(
        type(value).__name__, "a number"
    )


def _twice(key: str) -> str:
    """Which value would count is ambiguous (orjson keeps the last, a reviewer may read the first)."""
    shown = repr(key) if len(key) <= 64 and key.isprintable() else "(a long or unprintable name)"
    return f"the key {shown} appears twice in one object (JSON keeps only the last: refused as ambiguous)"


def _where(name: str, number: int) -> str:
    return f"snapshot {name} line {number}"


def _other(inventory: Inventory, kind: object, data: object, where: str) -> None:
    """A record other than a resource: a key, app settings or a change (rare, so validated)."""
    if kind == "header":  # two files concatenated, or a header repeated: which one would hold?
        raise InputError(f"{where}: a second header (a snapshot has one, on its first line)")
    if not isinstance(data, dict):
        raise InputError(f"{where}: record {kind!r} has no 'data' object")
    try:
        if kind == "key":
            inventory.keys.append(KeyMetadata.model_validate(data))
        elif kind == "app_settings":
            inventory.app_settings.append(AppSettingsFacts.model_validate(data))
        elif kind == "change":
            inventory.changes.append(ResourceChange.model_validate(data))
        else:
            raise InputError(
                f"{where}: unknown record type {kind!r} (a snapshot holds header, resource, key, app_settings "
                "and change records)"
            )
    except ValidationError as exc:
        raise InputError(f"{where}: invalid {kind} record: {_first_error(exc)}") from None


def _header(record: dict[str, Any], where: str) -> SnapshotHeader:
    if record.get("record") != "header" or record.get("schema") != SNAPSHOT_SCHEMA:
        raise InputError(
            f"{where}: not an mlwarden snapshot (first line must be the {SNAPSHOT_SCHEMA} header){_instead(record)}"
        )
    version = record.get("schema_version")
    if type(version) is not int or version != SNAPSHOT_SCHEMA_VERSION:  # not 1.0 or true, which equal 1
        raise InputError(
            f"{where}: snapshot schema version {version!r} is not supported (this build reads "
            f"{SNAPSHOT_SCHEMA_VERSION})"
        )
    try:
        return SnapshotHeader.model_validate(record)
    except ValidationError as exc:
        raise InputError(f"{where}: invalid header: {_first_error(exc)}") from None


def _dump(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"


def encode_records(inventory: Inventory) -> Iterator[bytes]:
    """The snapshot's lines, header first, records in a stable order."""
    yield _dump(inventory.header.model_dump(mode="json", by_alias=True))
    for resource in sorted(inventory.resources, key=lambda r: r.id_key):
        yield _dump({"record": "resource", "data": resource.model_dump(mode="json", by_alias=True, exclude_none=True)})
    for key in sorted(inventory.keys, key=lambda k: k.kid.lower()):
        yield _dump({"record": "key", "data": key.model_dump(mode="json", exclude_none=True)})
    for facts in sorted(inventory.app_settings, key=lambda a: a.resource_id.lower()):
        yield _dump({"record": "app_settings", "data": facts.model_dump(mode="json")})
    for change in sorted(inventory.changes, key=lambda c: (c.resource_id.lower(), c.time)):
        yield _dump({"record": "change", "data": change.model_dump(mode="json", exclude_none=True)})


def write_snapshot(inventory: Inventory, path: Path) -> None:
    """Write atomically; `.gz` paths are gzip-compressed."""
    with atomic_open(path) as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
                for line in encode_records(inventory):
                    zipped.write(line)
        else:
            for line in encode_records(inventory):
                raw.write(line)
