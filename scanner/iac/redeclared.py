"""One resource declared by several nested deployments of a template (two Bicep modules that both
declare a shared storage account, a module used twice).

ARM refuses a resource declared twice in one template, but separate deployments each PUT it, and
which PUT lands last depends on the deployment order, which mlwarden does not evaluate (`dependsOn`
is ignored). Identical declarations are one resource. Where they differ, each differing value is
known only at deployment, so the checks reading it are `unknown` naming both declarations, never a
pass or a fail on whichever came first. Declarations within one deployment are left to the
duplicate check, which refuses them as ARM does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from scanner import unevaluated
from scanner.iac.rows import SourceRow

_NESTED = ".properties.template."
_INSTANCE = "_deployment"
"""The row key naming its deployment instance (set by the ARM template evaluator)."""


def merge(rows: Iterable[SourceRow]) -> list[SourceRow]:
    """`rows` with each resource that separate deployments declare alike or differently made one row."""
    groups: dict[str, list[SourceRow]] = {}
    order: list[list[SourceRow]] = []
    for row in rows:
        rid = str(row.data.get("id", "")).lower()
        if not rid or "<unevaluated: " in rid:
            order.append([row])
        elif rid in groups:
            groups[rid].append(row)
        else:
            order.append(groups.setdefault(rid, [row]))
    out: list[SourceRow] = []
    for group in order:
        deployments = [_deployment(row) for row in group]
        if len(set(deployments)) < len(deployments):
            out += sorted(group, key=_deployment)  # twice in one template: refused next to each other, as ARM does
            continue
        kept = group[0]
        for row in group[1:]:
            if _declared(kept) != _declared(row):
                why = (
                    f"declared differently at {_where(kept)} and {_where(row)} (nested deployments): "
                    "Azure keeps the one deployed last"
                )
                kept = SourceRow(_merged(kept.data, row.data, why, top=True), kept.file, kept.line, kept.address)
        out.append(kept)
    return out


def _where(row: SourceRow) -> str:
    """File name and line: a marker holds 200 characters, too few for two full paths."""
    return f"{PurePosixPath(row.file).name}:{row.line}"


def _deployment(row: SourceRow) -> tuple[str, str]:
    """The deployment a row's resource is declared in: the template's own, or a nested or linked
    one, each copy of a deployment in a copy loop (and each use of a linked file) apart."""
    instance = row.data.get(_INSTANCE)
    if isinstance(instance, str):
        return "", instance
    head, found, _ = row.address.rpartition(_NESTED)
    return row.file, head if found else ""


def _declared(row: SourceRow) -> dict[str, Any]:
    """What a row declares, without the deployment it is declared in."""
    return {k: v for k, v in row.data.items() if k != _INSTANCE}


def _merged(a: Any, b: Any, why: str, *, top: bool = False) -> Any:
    if a == b:
        return a
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = list(dict.fromkeys([*a, *b]))
        if top:  # the id, type and name are one resource's (they may differ in case only)
            return {k: a[k] if k in a and k in ("id", "type", "name") else _top(k, a, b, why) for k in keys}
        return {k: _merged(a[k], b[k], why) if k in a and k in b else unevaluated.marker(why) for k in keys}
    return unevaluated.marker(why)


def _top(key: str, a: Mapping[str, Any], b: Mapping[str, Any], why: str) -> Any:
    if key.startswith("_"):  # `_condition`: deployed for sure when either declaration is unconditional
        return a.get(key) if a.get(key) is not None and b.get(key) is not None else None
    if key in a and key in b:
        return _merged(a[key], b[key], why)
    return unevaluated.marker(why)
