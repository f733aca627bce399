"""Just enough KQL to recognise the scanner's own query shapes; anything else is a 400 (query drift)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TABLES = ("resources", "resourcecontainers", "appserviceresources", "securityresources", "resourcechanges")
_STRING = r"'((?:[^'\\]|\\.)*)'"
_LIST = re.compile(r"^where (type|resourceGroup) in~ \((.*)\)$")
_TYPE_EQ = re.compile(rf"^where type =~ {_STRING}$")
_TAG = re.compile(rf"^where tags\[{_STRING}\] =~ {_STRING}$")
_ENDSWITH = re.compile(rf"^where id endswith {_STRING}$")
_SINCE = re.compile(r"^where todatetime\(properties\.changeAttributes\.timestamp\) > ago\((\d+)h\)$")
_TARGETS = re.compile(r"^where tostring\(properties\.targetResourceId\) in~ \((.*)\)$")
_PROJECT = re.compile(r"^project ([A-Za-z]+(?:, [A-Za-z]+)*)$")


class UnknownQuery(ValueError):
    """The query is not one the scanner is known to send."""


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _strings(text: str) -> list[str]:
    values = [_unquote(m.group(1)) for m in re.finditer(_STRING, text)]
    if not values or re.sub(_STRING, "", text).replace(",", "").strip():
        raise UnknownQuery(f"bad list: {text}")
    return values


@dataclass
class Query:
    table: str
    types: set[str] = field(default_factory=set)
    resource_groups: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)
    id_suffixes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)
    since_hours: int | None = None

    def select(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            if self.types and str(row.get("type", "")).lower() not in self.types:
                continue
            if self.resource_groups and str(row.get("resourceGroup", "")).lower() not in self.resource_groups:
                continue
            tags = {str(k).lower(): str(v).lower() for k, v in (row.get("tags") or {}).items()}
            if any(tags.get(k) != v for k, v in self.tags.items()):
                continue
            if any(not str(row.get("id", "")).lower().endswith(s) for s in self.id_suffixes):
                continue
            if self.table == "resourcechanges" and not self._change_selected(row):
                continue
            out.append({column: row.get(column) for column in self.columns} if self.columns else dict(row))
        return out

    def _change_selected(self, row: dict[str, Any]) -> bool:
        """`resourcechanges`: the targets asked for, within `ago(Nh)` of the real clock."""
        properties = row.get("properties") or {}
        if self.targets and str(properties.get("targetResourceId", "")).lower() not in self.targets:
            return False
        if self.since_hours is None:
            return True
        stamp = str((properties.get("changeAttributes") or {}).get("timestamp", ""))
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) > datetime.now(UTC) - timedelta(
            hours=self.since_hours
        )


def parse(text: str) -> Query:
    stages = [stage.strip() for stage in text.split("|")]
    if stages[0] not in TABLES:
        raise UnknownQuery(f"unknown table {stages[0]!r}")
    query = Query(stages[0])
    for stage in stages[1:]:
        if match := _LIST.match(stage):
            target = query.types if match.group(1) == "type" else query.resource_groups
            target.update(v.lower() for v in _strings(match.group(2)))
        elif match := _TYPE_EQ.match(stage):
            query.types.add(_unquote(match.group(1)).lower())
        elif match := _TAG.match(stage):
            query.tags[_unquote(match.group(1)).lower()] = _unquote(match.group(2)).lower()
        elif match := _ENDSWITH.match(stage):
            query.id_suffixes.append(_unquote(match.group(1)).lower())
        elif match := _SINCE.match(stage):
            query.since_hours = int(match.group(1))
        elif match := _TARGETS.match(stage):
            query.targets.update(v.lower() for v in _strings(match.group(1)))
        elif match := _PROJECT.match(stage):
            query.columns = match.group(1).split(", ")
        else:
            raise UnknownQuery(f"unknown stage {stage!r}")
    if len(stages) == 1:
        return query  # the table alone: every column
    if not query.columns or "id" not in query.columns:
        raise UnknownQuery("query must project columns including id (paging needs it)")
    return query
