"""Snapshot files: JSON Lines (optionally gzip), one header line then one record per line.

    {"record": "header", "schema": "mlwarden-snapshot", "schema_version": 1, ...}
    {"record": "resource", "data": {<Resource Graph row>}}
    {"record": "key", "data": {<KeyMetadata>}}
    {"record": "app_settings", "data": {<AppSettingsFacts>}}

Defender plans, assessments, security contacts, ML computes, site config, publishing-credential
policies and diagnostic settings are ARM resources and travel as `resource` records with their
own types. Reading streams line by line; any bad line is one `InputError` naming file and line.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from importlib import resources as package_files
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from scanner.atomic import atomic_open
from scanner.errors import InputError
from scanner.inventory import (
    SNAPSHOT_SCHEMA,
    SNAPSHOT_SCHEMA_VERSION,
    AppSettingsFacts,
    Inventory,
    KeyMetadata,
    SnapshotHeader,
)
from scanner.models import Resource

GZIP_MAGIC = b"\x1f\x8b"
DEMO_SNAPSHOT = "demo-estate.jsonl"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    return f"{where}: {err['msg']}"


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    yield from enumerate(handle, start=1)


def _open(path: Path) -> IO[bytes]:
    handle: IO[bytes] = path.open("rb")
    magic = handle.read(2)
    handle.seek(0)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def read_snapshot(path: Path, *, label: str | None = None) -> Inventory:
    """Read a snapshot file, failing with one clear line on the first bad record."""
    name = label or str(path)
    try:
        handle = _open(path)
    except OSError as exc:
        raise InputError(f"snapshot {name}: cannot open: {exc.strerror or exc}") from None
    try:
        with handle:
            return _parse(_lines(handle), name)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"snapshot {name}: unreadable or truncated file ({exc})") from None


def read_demo() -> Inventory:
    """The bundled demo estate: a fictional health-care ML estate shipped with the package."""
    ref = package_files.files("scanner") / "data" / DEMO_SNAPSHOT
    with package_files.as_file(ref) as path:
        return read_snapshot(path, label=f"demo:{DEMO_SNAPSHOT}")


def _parse(lines: Iterator[tuple[int, bytes]], name: str) -> Inventory:
    header: SnapshotHeader | None = None
    inventory: Inventory | None = None
    seen_ids: set[str] = set()
    for number, raw in lines:
        if not raw.strip():
            continue
        where = f"snapshot {name} line {number}"
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
        kind = record.get("record")
        if header is None:
            header = _header(record, where)
            inventory = Inventory(header=header)
            continue
        assert inventory is not None
        data = record.get("data")
        if not isinstance(data, dict):
            raise InputError(f"{where}: record {kind!r} has no 'data' object")
        try:
            if kind == "resource":
                resource = Resource.model_validate(data)
                if resource.id_key in seen_ids:
                    raise InputError(f"{where}: duplicate resource id {resource.id}")
                seen_ids.add(resource.id_key)
                inventory.resources.append(resource)
            elif kind == "key":
                inventory.keys.append(KeyMetadata.model_validate(data))
            elif kind == "app_settings":
                inventory.app_settings.append(AppSettingsFacts.model_validate(data))
            else:
                raise InputError(f"{where}: unknown record type {kind!r}")
        except ValidationError as exc:
            raise InputError(f"{where}: invalid {kind} record: {_first_error(exc)}") from None
    if inventory is None:
        raise InputError(f"snapshot {name}: empty file (no header line)")
    return inventory


def _header(record: dict[str, Any], where: str) -> SnapshotHeader:
    if record.get("record") != "header" or record.get("schema") != SNAPSHOT_SCHEMA:
        raise InputError(f"{where}: not an mlwarden snapshot (first line must be the {SNAPSHOT_SCHEMA} header)")
    version = record.get("schema_version")
    if version != SNAPSHOT_SCHEMA_VERSION:
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
