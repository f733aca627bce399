"""Deeply read-only JSON: a plugin check can read the estate but never change it.

`FrozenDict` and `FrozenList` subclass `dict` and `list`, so every reader (`isinstance(x, dict)`,
orjson, pydantic, `props.get`) works unchanged and reading costs nothing extra; only the
mutating methods raise. Raw resource JSON is frozen once: when a `Resource` is validated, or,
for resources read in bulk from a snapshot, by `Estate.freeze` before the first plugin check
sees the estate, so a plugin that writes to `resource.properties` fails instead of flipping
another check's verdict. Built-in checks are ours and only read; a scan without plugins does
not pay for freezing a snapshot's worth of JSON.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _read_only(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("estate data is read-only: checks must not modify resources")


class FrozenDict(dict[str, Any]):
    """A `dict` whose mutating methods raise; `.copy()` gives a plain, mutable dict."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return FrozenDict, (dict(self),)


class FrozenList(list[Any]):
    """A `list` whose mutating methods raise; `list(x)` or `.copy()` gives a mutable copy."""

    __slots__ = ()
    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _read_only
    __iadd__ = __imul__ = _read_only

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return FrozenList, (list(self),)


def _shallow(value: Any) -> Any:
    if isinstance(value, FrozenDict | FrozenList):
        return None  # already frozen all the way down
    if isinstance(value, dict):
        return FrozenDict(value)
    if isinstance(value, list | tuple):
        return FrozenList(value)
    return None


def _recursive(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        frozen = FrozenDict(value)  # copied at C speed; only the nested containers are replaced
        for key, child in value.items():
            if type(child) not in _SCALARS:
                dict.__setitem__(frozen, key, _recursive(child))
        return frozen
    if kind is list or kind is tuple:
        return FrozenList([v if type(v) in _SCALARS else _recursive(v) for v in value])
    return _iterative(value)  # already frozen, subclasses, other objects: the general path


_SCALARS = frozenset({str, int, float, bool, type(None)})


def deep_freeze(value: Any) -> Any:
    """`value` with every dict and list (at any depth) frozen. Plain JSON takes a recursive fast
    path (about twice as fast); nesting deeper than the interpreter's stack allows falls back to
    an iterative walk, so depth cannot crash the load."""
    if type(value) in _SCALARS:
        return value
    try:
        return _recursive(value)
    except RecursionError:
        return _iterative(value)


def _iterative(value: Any) -> Any:
    root = _shallow(value)
    if root is None:
        return value
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, FrozenDict):
            for key, child in list(dict.items(node)):
                frozen = _shallow(child)
                if frozen is not None:
                    dict.__setitem__(node, key, frozen)
                    stack.append(frozen)
        else:
            for index, child in enumerate(list(list.__iter__(node))):
                frozen = _shallow(child)
                if frozen is not None:
                    list.__setitem__(node, index, frozen)
                    stack.append(frozen)
    return root
