"""The canonical JSON report: the ScanResult dump, and the JSON Schema published beside it.

Consumers parse this file, so it is the model's own serialisation with sorted keys (stable bytes
for diffs and signatures) and a schema generated from the same model, committed so that a change
to the model shows up as a reviewed schema change.

At 100,000 resources it holds a few hundred thousand findings, so it is written as a stream:
one finding (one control, one posture, one check) per line, compact. A finding leaves out the
fields only some findings carry when they are empty (`OPTIONAL`: template source, change
attribution, per-item detail key, remediation, which passes never have); the schema does not
require them and `ScanResult.model_validate_json` restores them as null. Every other field is
always there (`waived_by: null` says "not waived" to a consumer), passes keep their evidence,
and the file round-trips to an equal result. Findings are turned into dicts directly: a pydantic
dump of the whole result cost 60x the parse of the snapshot and a second copy of every finding.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
import pydantic_core
from pydantic import BaseModel

from scanner.models import (
    SCAN_RESULT_SCHEMA_VERSION,
    Finding,
    FrameworkResult,
    ScanResult,
)

SCHEMA_PATH = Path(__file__).parent / "schema" / "scan-result.schema.json"
SCHEMA_ID = f"urn:mlwarden:scan-result:{SCAN_RESULT_SCHEMA_VERSION}"

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
_LINE = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
_STREAMED = frozenset({"checks", "findings", "frameworks", "postures", "sources", "waivers"})
"""Top-level lists written one element per line."""
_FLUSH_BYTES = 1 << 20
_BATCH = 64
"""Elements dumped per orjson call, about 80 KB of findings: 1,024 (a megabyte and more per call)
was faster at 20,000 resources but 40% slower at 100,000, where each call's fresh megabyte buffers
cost page faults; 64 measured best at both (`reports.options.write` on generated estates)."""
_NEWLINE = orjson.Fragment(b"\n")
_MARKER_BYTES = 40
"""How far after a separator `_drop_commas` looks for the end of the first key."""

OPTIONAL = ("detail_key", "remediation", "change", "source_file", "source_line", "source_address")
"""Finding fields written only when set."""


def render(result: ScanResult) -> bytes:
    """The whole result, every finding included: this is the machine-readable record of the scan."""
    out = io.BytesIO()
    write(result, out)
    return out.getvalue()


def write(result: ScanResult, handle: IO[bytes]) -> None:
    """Stream the report to a binary handle, about a megabyte at a time."""
    out = _Chunks(handle)
    remediations: dict[int, dict[str, Any]] = {}
    out.add(b"{")
    for index, key in enumerate(sorted(ScanResult.model_fields)):
        out.add(b"\n" if index == 0 else b",\n")
        out.add(orjson.dumps(key) + b":")
        value = getattr(result, key)
        if key == "findings":
            out.lines(lean_finding(finding, remediations) for finding in value)
        elif key == "frameworks":
            out.add(b"[")
            for position, framework in enumerate(value):
                out.add(b"\n" if position == 0 else b",\n")
                _framework(framework, out)
            out.add(b"\n]")
        elif key == "postures":
            out.each(_plain(posture) for posture in value)
        elif key in _STREAMED:
            out.lines(item.model_dump(mode="json") for item in value)
        else:
            out.add(_dumps(pydantic_core.to_jsonable_python(value)))
    out.add(b"\n}\n")
    out.flush()


class _Chunks:
    """Collects small byte strings and hands the handle about a megabyte at a time."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.parts, self.size = handle, list[bytes | memoryview](), 0

    def add(self, data: bytes | memoryview) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= _FLUSH_BYTES:
            self.flush()

    def lines(self, items: Iterable[object]) -> None:
        """A JSON array of `items` with one element per line, dumped a batch at a time."""
        self.add(b"[")
        separator = b"\n"
        iterator = iter(items)
        while batch := list(islice(iterator, _BATCH)):
            self.add(separator)
            self.add(_dump_lines(batch))
            separator = b",\n"
        self.add(b"\n]")

    def each(self, items: Iterable[object]) -> None:
        """`lines` for large elements (a control lists thousands of fingerprints, a posture its
        dependencies): one orjson call each and no `bytes.replace` over megabytes."""
        self.add(b"[")
        separator = b"\n"
        for item in items:
            self.add(separator)
            self.add(_dumps(item))
            separator = b",\n"
        self.add(b"\n]")

    def flush(self) -> None:
        self.handle.write(b"".join(self.parts))
        self.parts, self.size = [], 0


def _dump_lines(batch: list[object]) -> bytes | memoryview:
    """The compact JSON of each element joined by `,\\n`, from one orjson call: a call per element
    costs five times as much. A `\\n` fragment sits between the elements (orjson escapes every
    newline inside a string, so each raw one is ours) and the comma orjson puts after it goes, in one
    `bytes.replace` (splitting into a thousand pieces and joining them again cost half as much again).
    The brackets are cut off by a view, not a copy."""
    spaced: list[object] = [_NEWLINE] * (2 * len(batch) - 1)
    spaced[::2] = batch
    try:
        joined = orjson.dumps(spaced, default=_default, option=_LINE)
    except orjson.JSONEncodeError:  # one element needs the slow way: each alone, as `_dumps` does
        return b",\n".join(_dumps(item) for item in batch)
    return memoryview(_drop_commas(joined, len(batch) - 1))[1:-1]


def _drop_commas(joined: bytes, separators: int) -> bytes:
    """`joined` without the comma after each of its `separators` raw newlines.

    The search is for what follows a newline in every element alike (`,{"baselined":` for findings:
    the comma, then the opening of the first key in sorted order), not for the two bytes `\\n,`:
    the replace looks for its pattern's last byte, and a comma is everywhere in JSON while a longer
    pattern lets it skip ahead (0.23 s instead of 0.55 s at 100,000 resources). Every raw newline is
    a separator, so each match is one, and a match removes one byte: the length shows that every
    separator was matched, else the plain replace does it."""
    at = joined.find(b"\n,")
    colon = joined.find(b":", at, at + _MARKER_BYTES) if at >= 0 else -1
    if colon > 0 and joined.find(b"\n", at + 1, colon) < 0:
        marker = joined[at : colon + 1]
        lean = joined.replace(marker, b"\n" + marker[2:])
        if len(lean) == len(joined) - separators:
            return lean
    return joined.replace(b"\n,", b"\n")


def _dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value, default=_default, option=_LINE)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a non-string key: the slow, exact way
        plain = pydantic_core.to_jsonable_python(value, fallback=_default)
        return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _default(value: Any) -> Any:
    """Whatever orjson does not write itself, written as pydantic would (datetimes end in `Z`)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return pydantic_core.to_jsonable_python(value)


def _plain(model: BaseModel) -> dict[str, Any]:
    """A model's fields for orjson, without pydantic's dump (which copies every fingerprint a
    control lists): a tuple of models becomes the list of their field dicts, a single nested model
    (an attestation) goes to `_default`. Written, it equals `model_dump(mode="json")`: each field
    holds a JSON type, a date, an enum or a model (byte-compared on generated estates)."""
    fields = model.__dict__.copy()
    for name, value in fields.items():
        if type(value) is tuple and value and isinstance(value[0], BaseModel):
            fields[name] = [item.__dict__ for item in value]
    return fields


def lean_finding(finding: Finding, remediations: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The finding's fields but the `OPTIONAL` ones that are None; once written, equal to its
    `model_dump(mode="json")` without those. `remediations` caches the dump of each check's
    remediation, one object shared by all its findings (keyed by id while they live)."""
    fields = finding.__dict__.copy()
    for name in OPTIONAL:
        if fields[name] is None:
            del fields[name]
    evidence = fields["evidence"]
    if evidence:  # plain dicts: cheaper for orjson than a callback per item
        fields["evidence"] = [item.__dict__ for item in evidence]
    remediation = fields.get("remediation")
    if remediation is not None and remediations is not None:
        dumped = remediations.get(id(remediation))
        if dumped is None:
            dumped = remediations[id(remediation)] = remediation.model_dump(mode="json")
        fields["remediation"] = dumped
    return fields


def _framework(framework: FrameworkResult, out: _Chunks) -> None:
    """A framework with its controls one per line (each can list thousands of failing
    fingerprints). Its other keys sort after `controls`."""
    out.add(b'{"controls":')
    out.each(_plain(control) for control in framework.controls)
    rest = _dumps(framework.model_dump(mode="json", exclude={"controls"}))
    out.add(b"}" if rest == b"{}" else b"," + rest[1:])


def schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of what `render` writes."""
    generated = ScanResult.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
    }


def schema_bytes() -> bytes:
    return orjson.dumps(schema(), option=_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    """`python -m reports.json_report --schema` rewrites the committed schema file."""
    parser = argparse.ArgumentParser(prog="python -m reports.json_report")
    parser.add_argument("--schema", action="store_true", help=f"regenerate {SCHEMA_PATH.name}")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="where to write the schema")
    args = parser.parse_args(argv)
    if not args.schema:
        parser.print_help(sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_suffix(".tmp")
    temporary.write_bytes(schema_bytes())
    temporary.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
