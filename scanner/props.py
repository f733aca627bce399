"""Safe, case-insensitive reads of raw ARM JSON.

Resource Graph, ARM templates and the SDKs disagree on casing (`keyVaultProperties` vs
`keyvaultproperties`, `MinTlsVersion` vs `minTlsVersion`) and any property may be absent,
null or oddly shaped. Every check reads through these helpers so none of that can crash it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.models import Evidence, Resource

MISSING: Any = None

_ROW_FIELDS = {
    "id": "id",
    "name": "name",
    "type": "type",
    "kind": "kind",
    "location": "location",
    "subscriptionid": "subscription_id",
    "resourcegroup": "resource_group",
    "tags": "tags",
    "identity": "identity",
    "sku": "sku",
    "properties": "properties",
}


def _child(node: Any, key: str) -> Any:
    if not isinstance(node, Mapping):
        return MISSING
    if key in node:
        return node[key]
    lowered = key.lower()
    for name, value in node.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return MISSING


def get(node: Any, path: str, default: Any = None) -> Any:
    """Read a dotted path (`properties.encryption.keySource`) case-insensitively.

    A `Resource` is read as its Resource Graph row. Any missing step, null, or non-object on
    the way yields `default`. Numeric segments index into lists.
    """
    parts = path.split(".")
    if isinstance(node, Resource):
        field = _ROW_FIELDS.get(parts[0].lower())
        if field is None:
            return default
        current: Any = getattr(node, field)
        parts = parts[1:]
        if current is None:
            return default
    else:
        current = node
    for part in parts:
        if isinstance(current, list) and part.isascii() and part.isdigit():
            index = int(part)
            current = current[index] if index < len(current) else MISSING
        else:
            current = _child(current, part)
        if current is MISSING:
            return default
    return current


def items(node: Any, path: str) -> list[Any]:
    """A list at `path`, or [] when absent or not a list."""
    value = get(node, path)
    return value if isinstance(value, list) else []


def mapping(node: Any, path: str) -> dict[str, Any]:
    """An object at `path`, or {} when absent or not an object."""
    value = get(node, path)
    return dict(value) if isinstance(value, Mapping) else {}


def text(node: Any, path: str) -> str | None:
    """A scalar at `path` as a string (`True` -> "true"), or None when absent or structured."""
    value = get(node, path)
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def equals(node: Any, path: str, *expected: str) -> bool:
    """True when the scalar at `path` matches any `expected`, case-insensitively."""
    value = text(node, path)
    return value is not None and value.lower() in {e.lower() for e in expected}


def flag(node: Any, path: str) -> bool | None:
    """A boolean at `path`; accepts "true"/"false" strings (Defender sends those). None when absent."""
    value = get(node, path)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def read(node: Any, *paths: str) -> tuple[Evidence, ...]:
    """Evidence for the paths a check read: the path and the value seen (None if absent)."""
    return tuple(Evidence(path=p, value=_scalarize(get(node, p))) for p in paths)


def _scalarize(value: Any) -> Any:
    """Keep evidence small: scalars as-is, containers summarised."""
    if isinstance(value, Mapping):
        return {str(k): _scalarize(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list):
        return [_scalarize(v) for v in value[:20]]
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "…"
    return value


def identity_types(resource: Resource | Mapping[str, Any]) -> frozenset[str]:
    """`identity.type` parsed as a set: ARM returns "SystemAssigned, UserAssigned" as one string."""
    raw = text(resource, "identity.type") or ""
    types = {part.strip().lower() for part in raw.split(",") if part.strip()}
    types.discard("none")
    return frozenset(types)


def has_managed_identity(resource: Resource | Mapping[str, Any]) -> bool:
    return bool(identity_types(resource) & {"systemassigned", "userassigned"})


def approved_private_endpoint_connections(node: Any) -> list[Mapping[str, Any]]:
    """Connections on the target's own `properties.privateEndpointConnections` whose state is Approved."""
    return [
        conn
        for conn in items(node, "properties.privateEndpointConnections")
        if equals(conn, "properties.privateLinkServiceConnectionState.status", "Approved")
    ]


def walk_strings(node: Any) -> Iterator[tuple[str, str]]:
    """Every (path, string) leaf, for pattern checks over free-form maps."""
    stack: list[tuple[str, Any]] = [("", node)]
    while stack:
        prefix, current = stack.pop()
        if isinstance(current, Mapping):
            for key, value in current.items():
                stack.append((f"{prefix}.{key}" if prefix else str(key), value))
        elif isinstance(current, list):
            for index, value in enumerate(current):
                stack.append((f"{prefix}.{index}" if prefix else str(index), value))
        elif isinstance(current, str):
            yield prefix, current
