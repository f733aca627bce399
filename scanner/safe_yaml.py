"""The one YAML loader for every file mlwarden reads (waivers, framework catalogs, attestations).

YAML files come from users and repositories, so loading must stay bounded whatever they hold.
Everything is checked before a Python object is built: the file's size (read at most
`MAX_BYTES + 1` bytes), strict UTF-8, no aliases (`*name`: a kilobyte of nested aliases is a
"billion laughs" bomb once anything walks it, and no mlwarden file needs them), nesting depth
(composed node by node, so 100,000 `[` stop at level `MAX_DEPTH`), then only plain YAML types.
Values that cannot exist (`2027-02-30`, a 5,000-digit integer) are errors with their line.
Mappings remember where each key sits (`LocatedDict`) and duplicate keys are errors, so every
complaint can name a line. Every problem is one `LocatedError(line, message)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64


class LocatedDict(dict[str, Any]):
    """A YAML mapping with the 1-based line it starts on and the line of each of its keys."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """The line of `key` when present, else where the mapping starts."""
        return self.key_lines.get(key, self.line)


class LocatedError(Exception):
    """Why a YAML file cannot be used, with the 1-based line it sits on."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def is_date(value: Any) -> bool:
    """A calendar date: YAML reads `2027-03-31T10:00:00` as a datetime, which is a `date` too."""
    return isinstance(value, date) and not isinstance(value, datetime)


_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"[A-Za-z0-9_.$@-]{1,64}")


def key_name(key: str, *, quote: bool = True) -> str:
    """A key from a user's file, fit to quote in an error: a plain name is quoted; anything else
    is not, because a wrong file passed by mistake (`/etc/shadow`, a `user:hash` list) makes
    whole lines into keys, and the error line must not repeat what they hold."""
    if not _NAME.fullmatch(key):
        return "(not a plain name, so not repeated here)"
    return repr(key) if quote else key


def kind_name(value: Any) -> str:
    """What a YAML value is, in a reader's words rather than Python's (`NoneType`, `str`): said
    where a file holds another kind of value than the one expected (an empty file is nothing)."""
    if value is None:
        return "nothing (an empty document or value)"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while composing, and whose mappings
    are `LocatedDict`s."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            raise LocatedError(line, "YAML aliases (*name) are not supported: write the value out")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LocatedError(line, f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)  # type: ignore[return-value]
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            # e.g. 2027-02-30, a month 13, an integer of 5,000 digits
            what = "date or time" if node.tag.endswith(":timestamp") else "value"
            value = _short(str(node.value)) if isinstance(node, yaml.ScalarNode) else node.tag
            raise LocatedError(node.start_mark.line + 1, f"invalid {what} {value!r} ({type(exc).__name__})") from None
        if isinstance(value, str) and _SURROGATE.search(value):  # "\ud800": not text, cannot be written out
            raise LocatedError(node.start_mark.line + 1, "a lone surrogate escape (\\ud800-\\udfff) is not text")
        return value


def _construct_mapping(loader: _BoundedLoader, node: yaml.MappingNode) -> Iterator[LocatedDict]:
    data = LocatedDict(node.start_mark.line + 1)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise LocatedError(line, f"key {_short(repr(key))} must be a string")
        if key in data:
            raise LocatedError(line, f"duplicate key {_short(key)!r} (first at line {data.key_lines[key]})")
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line


_BoundedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, max(position, 0)) + 1


def parse(text: str) -> Any:
    """One YAML document from text. Raises `LocatedError` for every problem."""
    if len(text) > MAX_BYTES:
        raise LocatedError(1, f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # the reader checks characters here already
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        raise LocatedError(
            mark.line + 1 if mark else 1, f"invalid YAML: {exc.problem or 'syntax error'}{context}"
        ) from None
    except yaml.reader.ReaderError as exc:
        raise LocatedError(
            _line_at(text, exc.position), f"invalid YAML: unacceptable character #x{exc.character:04x}"
        ) from None
    except yaml.YAMLError as exc:
        raise LocatedError(1, f"invalid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise LocatedError(1, "nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_bytes(data: bytes) -> Any:
    """One YAML document from UTF-8 bytes (a BOM is allowed)."""
    if len(data) > MAX_BYTES:
        raise LocatedError(1, f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LocatedError(data.count(b"\n", 0, exc.start) + 1, f"not UTF-8 (byte {exc.start})") from None
    return parse(text)


def load_file(path: Path) -> Any:
    """One YAML document from a file, reading at most `MAX_BYTES + 1` bytes of it.

    Raises `OSError` when the file cannot be read and `LocatedError` for its content."""
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    return parse_bytes(data)
