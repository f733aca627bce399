"""JSON that remembers where each object starts, so a finding can point at a template line.

The standard library's pure-Python scanner calls a replaceable `parse_object` with the offset of
each `{`; wrapping it gives every decoded object its 1-based line without a parser of our own.
"""

from __future__ import annotations

import bisect
import codecs
import json
import json.decoder
import json.scanner
import re
from pathlib import Path
from typing import Any

import orjson

from scanner.errors import InputError

MAX_BYTES = 64 * 1024 * 1024
"""A template or plan larger than this is refused before it is parsed."""


class LocatedDict(dict[str, Any]):
    """A JSON object with the line its `{` stands on (0 for objects built in code)."""

    line: int = 0


class DuplicateKey(ValueError):
    """One object names a key twice: which value counts would be a guess (ARM refuses it)."""

    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


def loads(text: str) -> Any:
    """Parse `text`; every object becomes a `LocatedDict` carrying its line."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    decoder = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        start = s_and_end[1] - 1  # the offset of the `{`
        pairs, end = json.decoder.JSONObject(s_and_end, *args, **kwargs)  # type: ignore[attr-defined]
        located = LocatedDict(pairs)
        located.line = bisect.bisect_left(newlines, start) + 1
        if len(located) != len(pairs):  # ARM refuses a template with a property twice; so do we
            twice = next(key for index, (key, _) in enumerate(pairs) if any(key == k for k, _ in pairs[:index]))
            raise DuplicateKey(twice, located.line)
        return located, end

    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.object_pairs_hook = list  # JSONObject then returns the pairs in order, duplicates kept last-wins below
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    value, end = decoder.raw_decode(text, _skip_ws(text, 0))
    if _skip_ws(text, end) != len(text):
        raise json.JSONDecodeError("extra data after the document", text, end)
    return value


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a BOM), or UTF-16 with its BOM: Windows PowerShell's `>` and `Out-File`
    write `terraform show -json` and exported templates as UTF-16."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


def _blank_comment(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if text.startswith('"') else re.sub(r"[^\n]", " ", text)


def strip_comments(text: str) -> str:
    """`//` and `/* */` comments (ARM accepts them in templates and parameter files) become spaces,
    newlines kept, so every object keeps its line."""
    if "//" not in text and "/*" not in text:
        return text
    return _STRING_OR_COMMENT.sub(_blank_comment, text)


def load(path: Path, what: str, *, comments: bool = False) -> Any:
    """Read and parse a file; a missing, oversized, non-UTF-8 or malformed file is one InputError.
    With `comments`, JSON with comments (as ARM reads templates) is accepted."""
    try:
        with path.open("rb") as handle:  # read at most one byte past the limit: a FIFO or /dev/zero has no size
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InputError(f"{path}: {what} is over the {MAX_BYTES}-byte limit")
        text = _decode(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 (byte {exc.start})") from None
    if comments:
        text = strip_comments(text)
    try:
        orjson.loads(text)  # strict RFC 8259 first: no NaN or Infinity, no lone surrogate, no number beyond a double
    except orjson.JSONDecodeError as exc:
        if "depth" in exc.msg:
            raise InputError(f"{path}:{exc.lineno}: {what} is nested too deeply") from None
        raise InputError(f"{path}:{exc.lineno}: malformed {what}: {exc.msg}") from None
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: malformed {what}: {exc.msg}") from None
    except DuplicateKey as exc:
        raise InputError(f"{path}:{exc.line}: {what} names the key {_key(exc.key)} twice in one object") from None
    except RecursionError:
        raise InputError(f"{path}: {what} is nested too deeply") from None


def _key(key: str) -> str:
    return repr(key) if len(key) <= 64 and key.isprintable() else "(a long or unprintable name)"
