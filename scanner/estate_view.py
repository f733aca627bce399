"""The estate as a plugin sees it: every lookup works, nothing can be changed.

Before any plugin check runs, the runner deep-freezes every resource (`Estate.freeze`, once per
estate); what is left mutable are the estate's own indexes (lists and dicts). A plugin gets this
facade, which hands out read-only copies of lists and lazy read-only views of dicts, so it cannot
reorder, add or drop what a built-in check reads next. Built-in checks get the estate itself: the
facade costs a wrapper per lookup, and freezing costs a walk of all JSON that a scan without
plugins skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any

from scanner.frozen import FrozenList

if TYPE_CHECKING:
    from scanner.estate import Estate

_MISSING = object()


class MappingView(Mapping[Any, Any]):
    """A read-only view of one of the estate's dicts; a missing key never inserts a default."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[Any, Any]) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        value = dict.get(self._data, key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return read_only(value)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


def read_only(value: Any) -> Any:
    if isinstance(value, FrozenList):
        return value
    if isinstance(value, dict):
        return MappingView(value)
    if isinstance(value, list | set):
        return FrozenList(value)
    return value


class ReadOnlyEstate:
    """Forwards every public attribute and method of an `Estate`, freezing what it returns."""

    __slots__ = ("_estate",)

    def __init__(self, estate: Estate) -> None:
        object.__setattr__(self, "_estate", estate)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._estate, name)
        if callable(value) and not isinstance(value, type):
            return _frozen_result(value)
        return read_only(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("the estate is read-only to checks")

    def __delattr__(self, name: str) -> None:
        raise TypeError("the estate is read-only to checks")


def _frozen_result(method: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return read_only(method(*args, **kwargs))

    return call
