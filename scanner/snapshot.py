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
import sys
import zlib
from collections.abc import Iterator
from importlib import resources as package_files
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from scanner import key_check
from scanner.atomic import atomic_open
from scanner.bulk import collector_paused, keep_resident
from scanner.cores import free_cores
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
from scanner.jsonl import CHUNK, GZIP_MAGIC, Limits, batches
from scanner.resource_rows import RowBuilder

DEMO_SNAPSHOT = "demo-estate.jsonl"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    return f"{where}: {err['msg']}"


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
    raw: IO[bytes] = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    head = raw.read(2)
    stream: IO[bytes]
    if raw.seekable():  # a regular file: read it directly, 1 MiB at a time, no copy through a wrapper
        raw.seek(-len(head), io.SEEK_CUR)
        stream = raw
    else:
        stream = io.BufferedReader(_Rejoined(head, raw), buffer_size=CHUNK)
    if head == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    return stream, raw


def read_snapshot(
    path: Path, *, label: str | None = None, limits: Limits | None = None, jobs: int | str = 1
) -> Inventory:
    """Read a snapshot file (`-` for stdin; FIFOs work too), failing with one clear line on the
    first bad record or the first limit exceeded. With `jobs` above 1 (`auto`: when a core is
    free) a large regular file has its records' keys checked by a second process (`key_check`)."""
    name = label or ("<stdin>" if str(path) == "-" else str(path))
    limits = limits or Limits()
    try:
        stream, raw = _open(path)
    except OSError as exc:
        raise InputError(f"snapshot {name}: cannot open: {exc.strerror or exc}") from None
    checker: key_check.KeyCheck | None = None
    try:
        checker = _keys_elsewhere(raw, jobs, limits)
        inventory = _read(stream, name, limits, keys=checker is None)
        if checker is None or checker.clean():
            return inventory
        del inventory  # a record has a key twice (or the checker could not tell): read again below
    except InputError:
        if checker is None:
            raise
    finally:
        if checker is not None:
            checker.end()
        if str(path) != "-":  # stdin stays open (and may be None: a scan started with `<&-`)
            raw.close()
    # The serial read gives the first error exactly: a duplicate key on an earlier line than the one
    # this read failed on comes first, and the checker's answer says neither which nor where.
    return read_snapshot(path, label=label, limits=limits)


def _read(stream: IO[bytes], name: str, limits: Limits, *, keys: bool) -> Inventory:
    """The inventory of `stream`; `keys`: refuse records with a key twice (else checked elsewhere)."""
    try:
        with collector_paused():
            inventory = _parse(batches(stream, name, limits), name, keys=keys)
            keep_resident(inventory)
            return inventory
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"snapshot {name}: unreadable or truncated file ({type(exc).__name__})") from None


KEY_CHECK_BYTES = 32 << 20
"""Snapshot size from which a second process checks the records' keys (`key_check`): below it,
starting the process costs about what the check takes off the read."""


def _keys_elsewhere(raw: IO[bytes], jobs: int | str, limits: Limits) -> key_check.KeyCheck | None:
    """The checker of the records' keys (`key_check`), or None (they are checked by the read) when
    it does not pay: one process asked for, no core free, a small file, stdin or a pipe (which
    cannot be read twice)."""
    if jobs == 1 or not raw.seekable():
        return None
    try:
        size = os.fstat(raw.fileno()).st_size
    except (OSError, ValueError):
        return None
    if size < KEY_CHECK_BYTES or (jobs == "auto" and free_cores(2) < 2):
        return None
    return key_check.start(raw.fileno(), limits)


def read_demo() -> Inventory:
    """The bundled demo estate: a fictional health-care ML estate shipped with the package."""
    ref = package_files.files("scanner") / "data" / DEMO_SNAPSHOT
    with package_files.as_file(ref) as path:
        return read_snapshot(path, label=f"demo:{DEMO_SNAPSHOT}")


def _parse(batches: Iterator[tuple[int, list[bytes]]], name: str, *, keys: bool = True) -> Inventory:
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
                raise InputError(f"{_where(name, first + offset)}: not valid JSON ({exc.msg})") from None
            if type(record) is not dict:
                raise InputError(f"{_where(name, first + offset)}: expected a JSON object, got {type(record).__name__}")
            if inventory is None:
                if (twice := duplicate_key(raw)) is not None:
                    raise InputError(f"{_where(name, first + offset)}: the header has the key {twice!r} twice")
                header = _header(record, _where(name, first + offset))
                inventory = Inventory(header=header)
                continue
            if keys and (twice := duplicate_in(raw, record)) is not None:
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
            raise InputError(f"{where}: unknown record type {kind!r}")
    except ValidationError as exc:
        raise InputError(f"{where}: invalid {kind} record: {_first_error(exc)}") from None


def _header(record: dict[str, Any], where: str) -> SnapshotHeader:
    if record.get("record") != "header" or record.get("schema") != SNAPSHOT_SCHEMA:
        raise InputError(f"{where}: not an mlwarden snapshot (first line must be the {SNAPSHOT_SCHEMA} header)")
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
