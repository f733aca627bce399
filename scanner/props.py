"""Safe, case-insensitive reads of raw ARM JSON.

Resource Graph, ARM templates and the SDKs disagree on casing (`keyVaultProperties` vs
`keyvaultproperties`, `MinTlsVersion` vs `minTlsVersion`) and any property may be absent,
null or oddly shaped. Every check reads through these helpers so none of that can crash it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

from scanner.frozen import FrozenDict
from scanner.models import Evidence, Resource
from scanner.unevaluated import PREFIX as UNEVALUATED

MISSING: Any = None
T = TypeVar("T")

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


def _child(node: Any, key: str, lowered: str) -> Any:
    if not isinstance(node, Mapping):
        return MISSING
    if key in node:
        return node[key]
    return _casefold_child(node, lowered)


def _casefold_child(node: Mapping[Any, Any], lowered: str) -> Any:
    """The first key equal to `lowered` ignoring case (ARM casing varies), in the mapping's order."""
    for name, value in node.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return MISSING


_Parsed = tuple[str | None, tuple[tuple[str, str, int | None], ...], tuple[tuple[str, str, int | None], ...]]
_PATHS: dict[str, _Parsed] = {}
"""Each path split once: (Resource field of its first segment, the steps after it, every step); a
step is (segment, lower-cased segment, list index if it is ASCII digits). Bounded: paths built from
data (key names) must not grow it without limit."""
_MAX_PATHS = 8192
_DICTS = (dict, FrozenDict)


def _index(part: str) -> int | None:
    if not (part.isascii() and part.isdigit()):
        return None
    return int(part) if len(part) < 19 else sys.maxsize  # past any list, without int()'s digit limit


def _parse(path: str) -> _Parsed:
    steps = tuple((part, part.lower(), _index(part)) for part in path.split("."))
    parsed = (_ROW_FIELDS.get(steps[0][1]), steps[1:], steps)
    if len(_PATHS) < _MAX_PATHS:
        _PATHS[path] = parsed
    return parsed


_FOCUS: tuple[Resource | None, dict[Any, Any]] = (None, {})
"""The resource the runner is evaluating and what was read of it (see `focus`)."""
_UNREAD: Any = object()


def focus(resource: Resource | None) -> None:
    """Remember what is read of `resource` until the next call: the checks of one resource read
    the same paths again and again (half of all reads). The runner calls it as it moves to each
    resource (None when done). Sound because a resource's JSON does not change while its checks
    run (built-in checks only read; plugins see it frozen, and the runner freezes before the
    first one). Each focus has its own memo, so a thread abandoned on another resource cannot
    put its reads into this one's."""
    global _FOCUS
    _FOCUS = (resource, {})


def derived(resource: Resource, compute: Callable[[Resource, Any], T], estate: Any) -> T:
    """`compute(resource, estate)`, worked out once per focused resource (see `focus`) for what
    several checks of one resource all derive first (Cloud Shell exemption, an app's config
    record). `compute` must depend only on the resource and the scan's estate."""
    memo = _FOCUS
    if resource is not memo[0]:
        return compute(resource, estate)
    key = (compute, id(estate))
    found = memo[1].get(key, _UNREAD)
    if found is _UNREAD:
        found = memo[1][key] = compute(resource, estate)
    return cast(T, found)


def get(node: Any, path: str, default: Any = None) -> Any:
    """Read a dotted path (`properties.encryption.keySource`) case-insensitively.

    A `Resource` is read as its Resource Graph row. Any missing step, null, or non-object on
    the way yields `default`. Numeric segments index into lists. Every check reads through
    here (hundreds of thousands of calls per large scan), so reads of the focused resource are
    remembered, and plain dicts and lists take exact type tests before the general `Mapping` path.
    """
    memo = _FOCUS
    if node is memo[0]:
        value = memo[1].get(path, _UNREAD)
        if value is _UNREAD:
            value = memo[1][path] = _get(node, path, None)
        return default if value is None else value
    return _get(node, path, default)


def _get(node: Any, path: str, default: Any) -> Any:
    parsed = _PATHS.get(path) or _parse(path)
    if type(node) in _DICTS:
        current: Any = node
        steps = parsed[2]
    elif isinstance(node, Resource):
        if parsed[0] is None:
            return default
        current = getattr(node, parsed[0])
        if current is None:
            return default
        steps = parsed[1]
    else:
        current = node
        steps = parsed[2]
    for part, lowered, index in steps:
        kind = type(current)
        if kind in _DICTS:
            current = current[part] if part in current else _casefold_child(current, lowered)
        elif index is not None and isinstance(current, list):
            current = current[index] if index < len(current) else MISSING
        elif kind is str and current.startswith(UNEVALUATED):
            return current  # a whole object unknown before deployment: so is everything inside it
        else:
            current = _child(current, part, lowered)
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
    return value if type(value) is str else scalar_text(value)  # most are text: no second call


def scalar_text(value: Any) -> str | None:
    """A JSON scalar as text (`True` -> "true"); None for null, objects and lists."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def equals(node: Any, path: str, *expected: str) -> bool:
    """True when the scalar at `path` matches any `expected`, case-insensitively."""
    value = text(node, path)
    if value is None:
        return False
    lowered = value.lower()
    return any(lowered == e.lower() for e in expected)


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
    if len(paths) == 1:  # most reads: no generator
        return (_seen(node, paths[0]),)
    return tuple([_seen(node, path) for path in paths])


def _seen(node: Any, path: str) -> Evidence:
    """`evidence(path, _scalarize(get(node, path)))`, the shared scalar case first; `get`'s memo of
    the focused resource read here without a call to it (checks read evidence half a million times)."""
    memo = _FOCUS
    if node is memo[0]:
        value = memo[1].get(path, _UNREAD)
        if value is _UNREAD:
            value = memo[1][path] = _get(node, path, None)
    else:
        value = _get(node, path, None)
    kind = type(value)
    if kind in _PLAIN or (kind is str and len(value) <= 300):
        found = _EVIDENCE.get((path, value, kind))
        if found is not None:
            return found
        return evidence(path, value)
    return evidence(path, _scalarize(value))


_EVIDENCE: dict[tuple[str, Any, type], Evidence] = {}
_MAX_EVIDENCE = 1 << 15


def evidence(path: str, value: Any) -> Evidence:
    """`Evidence(path=path, value=value)`, shared between findings when the value is a scalar:
    a large estate repeats the same few (path, value) pairs across hundreds of thousands of
    findings, and Evidence is immutable. Keyed with the value's type (1, 1.0 and True are equal)."""
    kind = type(value)
    if kind not in _PLAIN and kind is not str:
        return Evidence(path=path, value=value)
    key = (path, value, kind)
    found = _EVIDENCE.get(key)
    if found is None:
        found = Evidence(path=path, value=value)
        if len(_EVIDENCE) < _MAX_EVIDENCE:
            _EVIDENCE[key] = found
    return found


_PLAIN = frozenset({bool, int, float, type(None)})


def _scalarize(value: Any) -> Any:
    """Keep evidence small: scalars as-is, containers summarised."""
    kind = type(value)
    if kind in _PLAIN or (kind is str and len(value) <= 300):
        return value
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
