"""Who changed it: link a failing finding to the Azure change that explains it.

Resource Graph's `resourcechanges` keeps 14 days of changes, each with the principal, the client
(Azure Portal, Azure CLI, an ARM template deployment...), the ARM operation and a per-property
diff. A failing finding gets the most recent change in the window that touched a property the
check read (its evidence paths) or created the resource. Values of secret-bearing paths never
leave `from_row`: they are replaced there by their secret class.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from scanner import secrets
from scanner.argv import shown
from scanner.bulk import collector_paused
from scanner.errors import InputError
from scanner.inventory import Inventory, PropertyChange, ResourceChange, in_range
from scanner.models import ChangeAttribution, Finding, SourceCoverage, Status

WINDOW = timedelta(days=14)
"""How far back Resource Graph keeps changes."""

_SECRET_PATH = re.compile(
    r"(appsettings|connectionstrings|environmentvariables|secret|password|credential|connectionstring)",
    re.IGNORECASE,
)
_INDEX = re.compile(r"\[[^\]]*\]")
_DURATION = re.compile("([0-9]{1,4})([dh])", re.IGNORECASE)
"""ASCII digits only: `\\d` also matched `７d`, and `$` a trailing newline."""


def parse_since(text: str) -> timedelta:
    """`--changes-since`: `7d`, `72h`; at most Resource Graph's 14 days."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise InputError(f"--changes-since {shown(text)}: expected a duration such as 7d or 72h")
    amount = int(match.group(1))
    span = timedelta(days=amount) if match.group(2).lower() == "d" else timedelta(hours=amount)
    if not timedelta(0) < span <= WINDOW:
        why = "must be more than 0 and at most 14d (Resource Graph's window)"
        raise InputError(f"--changes-since {shown(text)}: {why}")
    return span


def _protect(path: str, value: Any, depth: int = 0) -> Any:
    """A value as it may be kept: on a secret-bearing path, or when it looks like a secret, only its class."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth > 8:
        return "<object>"
    if isinstance(value, Mapping):
        return {str(k): _protect(f"{path}.{k}", v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [_protect(path, v, depth + 1) for v in value[:50]]
    text = str(value)
    if secrets.is_key_vault_reference(text):
        return text[:256]
    label = secrets.classify(path.rsplit(".", 1)[-1], text)
    if label != "none" or _SECRET_PATH.search(path):
        return f"<classified: {label}>"
    return text[:256]


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed if in_range(parsed) else None


def from_row(row: Mapping[str, Any]) -> ResourceChange | None:
    """One `resourcechanges` row as a change record; None when it lacks a target, type or time."""
    properties = row.get("properties")
    if not isinstance(properties, Mapping):
        return None
    attributes = properties.get("changeAttributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    target, kind = _text(properties.get("targetResourceId")), _text(properties.get("changeType"))
    when = _time(attributes.get("timestamp"))
    if not target or not kind or when is None:
        return None
    diffs = properties.get("changes")
    changed: list[PropertyChange] = []
    for path, diff in diffs.items() if isinstance(diffs, Mapping) else ():
        if not isinstance(diff, Mapping):
            continue
        changed.append(
            PropertyChange(
                path=str(path),
                previous=_protect(str(path), diff.get("previousValue")),
                new=_protect(str(path), diff.get("newValue")),
                change_type=_text(diff.get("propertyChangeType")),
            )
        )
    return ResourceChange(
        resource_id=target,
        change_type=kind,
        time=when,
        changed_by=_text(attributes.get("changedBy")),
        changed_by_type=_text(attributes.get("changedByType")),
        client_type=_text(attributes.get("clientType")),
        operation=_text(attributes.get("operation")),
        correlation_id=_text(attributes.get("correlationId")),
        properties=tuple(sorted(changed, key=lambda c: c.path)),
    )


def with_changes(inventory: Inventory, changes: Sequence[ResourceChange], coverage: SourceCoverage) -> Inventory:
    """The inventory with its changes and the `resource_changes` coverage recorded in the header."""
    sources = (*(s for s in inventory.header.sources if s.name != coverage.name), coverage)
    header = inventory.header.model_copy(update={"sources": sources})
    return replace(inventory, header=header, changes=list(changes))


@lru_cache(maxsize=4096)
def _normal(path: str) -> str:
    """`properties.x[0].y (names)` -> `properties.x.y`: indexes and evidence annotations do not matter.
    Cached: a scan reads the same few hundred paths on every resource."""
    return _INDEX.sub("", path.split(" ", 1)[0]).lower().strip(".")


def _touches(changed: str, read: str) -> bool:
    """A changed path explains a read path when one contains the other (`a.b` and `a.b.c`, either way)."""
    changed, read = _normal(changed), _normal(read)
    return changed == read or changed.startswith(read + ".") or read.startswith(changed + ".")


def _explains(change: ResourceChange, finding: Finding) -> ChangeAttribution | None:
    if change.change_type.lower() == "create":
        return _attribution(change, None)
    reads = [e.path for e in finding.evidence]
    for prop in change.properties:
        if any(_touches(prop.path, read) for read in reads):
            return _attribution(change, prop)
    return None


def _attribution(change: ResourceChange, prop: PropertyChange | None) -> ChangeAttribution:
    return ChangeAttribution(
        time=change.time,
        changed_by=change.changed_by,
        changed_by_type=change.changed_by_type,
        client_type=change.client_type,
        operation=change.operation,
        property=prop.path if prop else None,
        previous=prop.previous if prop else None,
        new=prop.new if prop else None,
        change_type=change.change_type,
        correlation_id=change.correlation_id,
    )


@collector_paused()  # builds many small acyclic objects beside every finding: no collector walks
def attribute(
    findings: Sequence[Finding], changes: Iterable[ResourceChange], *, now: datetime, window: timedelta = WINDOW
) -> list[Finding]:
    """Failing findings with the change that explains each; every other finding unchanged."""
    by_resource: dict[str, list[ResourceChange]] = defaultdict(list)
    since = now - window
    for change in changes:
        if since <= change.time <= now + timedelta(minutes=5):
            by_resource[change.resource_id.lower()].append(change)
    if not by_resource:
        return list(findings)
    for items in by_resource.values():
        items.sort(key=lambda c: c.time, reverse=True)
    out = list(findings)
    lowered: dict[str, str] = {}  # findings of one resource share its id string: lower-case it once
    for index, finding in enumerate(out):
        if finding.status != Status.FAIL:
            continue
        resource_id = finding.resource_id
        key = lowered.get(resource_id)
        if key is None:
            key = lowered[resource_id] = resource_id.lower()
        candidates = by_resource.get(key)
        if not candidates:
            continue
        found = next((a for c in candidates if (a := _explains(c, finding)) is not None), None)
        if found is not None:
            out[index] = finding.model_copy(update={"change": found})
    return out
