"""Duplicate keys in small JSON documents (a snapshot's header, a baseline).

orjson, like most parsers, keeps the last of two equal keys. In a file an auditor relies on that
is ambiguous (`"schema_version": 1, ..., "schema_version": 2`, or a second `fingerprints` list
that silently replaces the first), so the documents that steer a scan are checked once more
with the standard library, which reports every key pair. Records of a snapshot are not: their
number makes the second parse too dear, and a record's keys only describe one resource.
"""

from __future__ import annotations

import json
from typing import Any


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
    try:
        json.loads(data, object_pairs_hook=_pairs)
    except _Duplicate as found:
        return found.key
    except (ValueError, RecursionError):
        return None  # orjson already accepted it; nothing more to say here
    return None
