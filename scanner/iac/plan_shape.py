"""The structure of a `terraform show -json` document, checked before anything is read from it.

A plan Terraform did not write (a hand edit, a truncated merge, another major format version) must
not be judged as though its odd parts were absent: a `change` that is not an object would otherwise
read as "no change" and an `after_unknown` that is not an object as "everything known". Each
problem is one `InputError` naming the file, the line and the JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner.errors import InputError

_MAX_MODULE_DEPTH = 64


def check(document: Mapping[str, Any], path: Path) -> None:
    version = document.get("format_version")
    if version is not None and (not isinstance(version, str) or version.split(".", 1)[0] not in ("0", "1")):
        raise InputError(
            f"{path}: format_version {version!r} is not 1.x (or the 0.x of Terraform 0.12 to 0.15), "
            "the `terraform show -json` formats read here"
        )
    changes = document.get("resource_changes")
    _expect(changes, (list,), path, document, "resource_changes", "an array")
    seen: dict[str, str] = {}
    for index, change in enumerate(changes or ()):
        where = f"resource_changes[{index}]"
        _expect(change, (Mapping,), path, changes, where, "an object", required=True)
        _change(change, path, where)
        address = change["address"]
        if not change.get("deposed") and address in seen:
            raise InputError(f"{_at(path, change)}: {where}: {address} is already {seen[address]}")
        seen.setdefault(address, where)
    for key in ("planned_values", "values", "prior_state"):
        values = document.get(key)
        _expect(values, (Mapping,), path, document, key, "an object")
        if isinstance(values, Mapping):
            state = values.get("values") if key == "prior_state" else values
            _expect(state, (Mapping,), path, values, f"{key}.values", "an object")
            if isinstance(state, Mapping):
                _module(state.get("root_module"), path, state, f"{key}.root_module", 0)


def _change(change: Mapping[str, Any], path: Path, where: str) -> None:
    for key in ("address", "type"):
        _expect(change.get(key), (str,), path, change, f"{where}.{key}", "a string", required=True)
    _expect(change.get("mode"), (str,), path, change, f"{where}.mode", "a string")
    detail: Any = change.get("change")
    _expect(detail, (Mapping,), path, change, f"{where}.change", "an object", required=True)
    actions: Any = detail.get("actions")
    _expect(actions, (list,), path, detail, f"{where}.change.actions", "an array", required=True)
    if not all(isinstance(action, str) for action in actions):
        raise InputError(f"{_at(path, detail)}: {where}.change.actions: holds a non-string action")
    for key in ("before", "after"):
        _expect(detail.get(key), (Mapping,), path, detail, f"{where}.change.{key}", "an object or null")
    for key in ("after_unknown", "after_sensitive", "before_sensitive"):
        _expect(detail.get(key), (Mapping, bool), path, detail, f"{where}.change.{key}", "an object or a boolean")
    if detail.get("after_unknown") is True:  # Terraform writes an object shaped like `after`; `true` made no row
        raise InputError(f"{_at(path, detail)}: {where}.change.after_unknown: expected an object, found true")


def _module(module: Any, path: Path, parent: Any, where: str, depth: int) -> None:
    _expect(module, (Mapping,), path, parent, where, "an object")
    if not isinstance(module, Mapping):
        return
    if depth > _MAX_MODULE_DEPTH:
        raise InputError(f"{_at(path, module)}: {where}: modules nested more than {_MAX_MODULE_DEPTH} deep")
    resources = module.get("resources")
    _expect(resources, (list,), path, module, f"{where}.resources", "an array")
    for index, resource in enumerate(resources or ()):
        at = f"{where}.resources[{index}]"
        _expect(resource, (Mapping,), path, resources, at, "an object", required=True)
        _expect(resource.get("address"), (str,), path, resource, f"{at}.address", "a string", required=True)
        for key in ("type", "mode", "name"):  # a list as `type` was a TypeError (exit 4) where it is looked up
            _expect(resource.get(key), (str,), path, resource, f"{at}.{key}", "a string")
        _expect(resource.get("values"), (Mapping,), path, resource, f"{at}.values", "an object")
        _expect(
            resource.get("sensitive_values"), (Mapping, bool), path, resource, f"{at}.sensitive_values", "an object"
        )
    children = module.get("child_modules")
    _expect(children, (list,), path, module, f"{where}.child_modules", "an array")
    for index, child in enumerate(children or ()):
        _module(child, path, children, f"{where}.child_modules[{index}]", depth + 1)


def _expect(
    value: Any, types: tuple[type, ...], path: Path, parent: Any, where: str, what: str, required: bool = False
) -> None:
    if value is None and not required:
        return
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        found = "nothing" if value is None else _json_type(value)
        raise InputError(f"{_at(path, value, parent)}: {where}: expected {what}, found {found}")


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (str, "a string"), (Mapping, "an object"), (list, "an array")):
        if isinstance(value, kind):
            return name
    return "a number"


def _at(path: Path, *nodes: Any) -> str:
    """`file:line` of the first node that knows its line (the value itself, or its parent)."""
    line = next((n.line for n in nodes if getattr(n, "line", 0)), 0)
    return f"{path}:{line}" if line else str(path)
