"""Duplicate keys in JSON documents that steer a scan (a snapshot's lines, a baseline).

orjson, like most parsers, keeps the last of two equal keys. In a file an auditor relies on that
is ambiguous: `{"publicNetworkAccess": "Disabled", ..., "publicNetworkAccess": "Enabled"}` reads
as Enabled to mlwarden while a reviewer (or another tool) sees Disabled, and a second
`fingerprints` list silently replaces the first. So every such document is checked once more.

The check costs almost nothing on what mlwarden itself writes: re-serialising the parsed value
with orjson gives back exactly the line `collect` wrote (compact, keys in their order), and byte
equality proves no key was dropped, since a dropped pair would make the output shorter. Only a
line that differs (other whitespace, escapes, another writer) is parsed again with the standard
library, which reports every key pair.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import orjson

_DEPTH = 5000
"""Recursion the standard library's parser may use here, well above the 1,024 levels orjson accepts."""


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def duplicate_key(data: bytes) -> str | None:
    """The first key that appears twice in one object of `data` (valid JSON), else None."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _DEPTH))  # orjson reads 1,024 levels: a deep record must not hide a key
    try:
        json.loads(data, object_pairs_hook=_pairs)
    except _Duplicate as found:
        return found.key
    except (ValueError, RecursionError):
        return None  # orjson already accepted it; nothing more to say here
    finally:
        sys.setrecursionlimit(limit)
    return None


def duplicate_in(raw: bytes, parsed: Any) -> str | None:
    """`duplicate_key(raw)`, answered without a second parse when `raw` is how orjson writes `parsed`."""
    try:
        canonical = orjson.dumps(parsed)
    except TypeError:  # orjson writes at most 254 levels, reads 1,024: such a record takes the exact path
        return duplicate_key(raw)
    if canonical == raw or (raw[-1:] == b"\r" and canonical == raw[:-1]):  # CRLF files too
        return None
    return duplicate_key(raw)
