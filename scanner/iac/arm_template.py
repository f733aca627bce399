"""ARM deployment templates (and `az bicep build` output) evaluated into Resource Graph-shaped rows.

Parameters (defaults and parameter files), variables, copy loops (resource and property),
conditions, nested child `resources` and inline nested deployments are evaluated; `dependsOn` is
ignored. Each row remembers the line where its object starts in the template.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.iac import arm_expr
from scanner.iac.arm_expr import Context, ExpressionError, Unevaluable
from scanner.iac.located_json import LocatedDict

TEMPLATE_SCHEMA_MARKERS = (
    "deploymenttemplate.json",
    "subscriptiondeploymenttemplate.json",
    "managementgroupdeploymenttemplate.json",
    "tenantdeploymenttemplate.json",
)
MAX_COPY = 800
"""ARM's own limit on a copy loop's count."""
MAX_NESTING = 16


def is_deployment_template(document: Any) -> bool:
    schema = document.get("$schema") if isinstance(document, Mapping) else None
    return isinstance(schema, str) and any(marker in schema.lower() for marker in TEMPLATE_SCHEMA_MARKERS)


def parameter_values(document: Any, path: Path) -> dict[str, Any]:
    """The `parameters` of an ARM parameters file as name -> value (Key Vault references stay unknown)."""
    params = document.get("parameters") if isinstance(document, Mapping) else None
    if not isinstance(params, Mapping):
        raise InputError(f"{path}: not an ARM parameters file (no `parameters` object)")
    out: dict[str, Any] = {}
    for name, entry in params.items():
        if isinstance(entry, Mapping) and "value" in entry:
            out[name] = entry["value"]
        elif isinstance(entry, Mapping) and "reference" in entry:
            out[name] = arm_expr.secure(name)  # a Key Vault reference: resolved only at deployment
        else:
            raise InputError(f"{path}:{getattr(entry, 'line', 0)}: parameter {name!r} has no `value`")
    return out


@dataclass
class Row:
    """One evaluated resource: its Resource Graph-shaped row and where it was declared."""

    data: dict[str, Any]
    line: int
    address: str
    """The template path to the resource, e.g. `resources[2].resources[0]`."""


@dataclass
class _Template:
    path: Path
    document: Mapping[str, Any]
    ctx: Context
    rows: list[Row] = field(default_factory=list)


def evaluate_template(document: Mapping[str, Any], path: Path, parameters: Mapping[str, Any]) -> list[Row]:
    """Every resource the template would deploy, evaluated; raises InputError for a broken template."""
    template = _Template(path, document, _context(document, path, parameters, None))
    _resources(template, document.get("resources"), template.ctx, parent=None, address="resources", depth=0)
    return template.rows


def _context(document: Mapping[str, Any], path: Path, given: Mapping[str, Any], outer: Context | None) -> Context:
    definitions = document.get("parameters") or {}
    if not isinstance(definitions, Mapping):
        raise InputError(f"{path}: `parameters` is not an object")
    values: dict[str, Any] = {}
    ctx = Context(parameters=values, variables=document.get("variables") or {})
    lowered = {k.lower(): v for k, v in given.items()}
    for name, definition in definitions.items():
        kind = str(definition.get("type", "")).lower() if isinstance(definition, Mapping) else ""
        if kind in ("securestring", "secureobject"):
            values[name] = arm_expr.secure(name)  # never the value, whether given or defaulted
        elif name.lower() in lowered:
            values[name] = lowered[name.lower()]
        elif isinstance(definition, Mapping) and "defaultValue" in definition:
            values[name] = _value(definition["defaultValue"], ctx, path)
        else:
            values[name] = arm_expr.unevaluated(f"parameters('{name}') has no value")
    variables = ctx.variables if isinstance(ctx.variables, Mapping) else {}

    def variable(name: str) -> Any:
        key = next((k for k in variables if k.lower() == name.lower()), None)
        if key is None:
            raise ExpressionError(f"variable {name!r} is not defined")
        if key in ctx.variable_cache:
            return ctx.variable_cache[key]
        if key in ctx.resolving:
            raise ExpressionError(f"variable {name!r} refers to itself")
        ctx.resolving.add(key)
        try:
            ctx.variable_cache[key] = _value(variables[key], ctx, path)
        finally:
            ctx.resolving.discard(key)
        return ctx.variable_cache[key]

    ctx.evaluate_variable = variable
    copies = variables.get("copy") if isinstance(variables, Mapping) else None
    if isinstance(copies, list):
        for loop in copies:
            if isinstance(loop, Mapping) and isinstance(loop.get("name"), str):
                ctx.variable_cache[loop["name"]] = _copy_array(loop, ctx, path)
    if outer is not None:
        ctx.resource_ids = outer.resource_ids
    return ctx


def _value(value: Any, ctx: Context, path: Path) -> Any:
    """Evaluate every expression in a JSON value; property `copy` arrays expand in place."""
    if isinstance(value, str):
        try:
            return arm_expr.evaluate_string(value, ctx)
        except Unevaluable:
            return arm_expr.unevaluated(value[1:-1])
        except ExpressionError as exc:
            raise InputError(f"{path}: cannot evaluate {value[:120]!r}: {exc}") from None
    if isinstance(value, list):
        return [_value(item, ctx, path) for item in value]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "copy" and isinstance(item, list) and all(isinstance(c, Mapping) and "input" in c for c in item):
                for loop in item:
                    out[str(loop.get("name"))] = _copy_array(loop, ctx, path)
            else:
                out[key] = _value(item, ctx, path)
        return out
    return value


def _count(loop: Mapping[str, Any], ctx: Context, path: Path) -> int:
    count = _value(loop.get("count", 0), ctx, path)
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COPY:
        raise InputError(f"{path}:{getattr(loop, 'line', 0)}: copy count {count!r} is not 0..{MAX_COPY}")
    return count


def _copy_array(loop: Mapping[str, Any], ctx: Context, path: Path) -> list[Any]:
    name = str(loop.get("name", "")).lower()
    items = []
    for index in range(_count(loop, ctx, path)):
        ctx.copy_index[name] = index
        items.append(_value(loop.get("input"), ctx, path))
    ctx.copy_index.pop(name, None)
    return items


def _resources(
    template: _Template, resources: Any, ctx: Context, parent: dict[str, Any] | None, address: str, depth: int
) -> None:
    if depth > MAX_NESTING:
        raise InputError(f"{template.path}: resources nested more than {MAX_NESTING} levels")
    if isinstance(resources, Mapping):  # languageVersion 2.0: symbolic names
        items: Iterator[tuple[str, Any]] = ((f"{address}.{k}", v) for k, v in resources.items())
    elif isinstance(resources, list):
        items = ((f"{address}[{i}]", v) for i, v in enumerate(resources))
    elif resources is None:
        return
    else:
        raise InputError(f"{template.path}: `resources` is neither an array nor an object")
    for where, declared in items:
        if not isinstance(declared, Mapping):
            raise InputError(f"{template.path}:{getattr(resources, 'line', 0)}: {where} is not an object")
        copy = declared.get("copy")
        if isinstance(copy, Mapping):
            name = str(copy.get("name", "")).lower()
            for index in range(_count(copy, ctx, template.path)):
                ctx.copy_index[name] = ctx.copy_index[""] = index
                _resource(template, declared, ctx, parent, where, depth)
            ctx.copy_index.pop(name, None)
            ctx.copy_index.pop("", None)
        else:
            _resource(template, declared, ctx, parent, where, depth)


def _resource(
    template: _Template,
    declared: Mapping[str, Any],
    ctx: Context,
    parent: dict[str, Any] | None,
    where: str,
    depth: int,
) -> None:
    path, line = template.path, getattr(declared, "line", 0)
    if declared.get("existing") is True:
        return
    if "condition" in declared:
        condition = _value(declared["condition"], ctx, path)
        if condition is False:
            return
    rtype, name = _value(declared.get("type"), ctx, path), _value(declared.get("name"), ctx, path)
    if not isinstance(rtype, str) or not isinstance(name, str) or not rtype or not name:
        raise InputError(f"{path}:{line}: {where} has no string `type` and `name`")
    if parent is not None and rtype.count("/") == 0:  # a nested child: `config` under `Microsoft.Web/sites`
        rtype, name = f"{parent['type']}/{rtype}", f"{parent['_full_name']}/{name}"
    elif parent is not None and name.count("/") < rtype.count("/") - 1:
        name = f"{parent['_full_name']}/{name}"
    if rtype.lower() == "microsoft.resources/deployments":  # its inner template has a scope of its own
        _nested_deployment(template, declared, ctx, where, depth)
        return
    row = {
        key: _value(declared[key], ctx, path)
        for key in ("kind", "location", "tags", "identity", "sku", "properties", "zones")
        if key in declared
    }
    row.update(type=rtype, _full_name=name, id=_id(rtype, name), name=name.rsplit("/", 1)[-1])
    ctx.resource_ids[row["id"].lower()] = row
    template.rows.append(Row(data=row, line=line, address=where))
    _resources(template, declared.get("resources"), ctx, row, f"{where}.resources", depth + 1)


def _id(rtype: str, name: str) -> str:
    namespace, *types = rtype.split("/")
    names = name.split("/")
    segments = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=False))
    return (
        f"/subscriptions/{arm_expr.PLACEHOLDER_SUBSCRIPTION}/resourceGroups/{arm_expr.PLACEHOLDER_RESOURCE_GROUP}"
        f"/providers/{namespace}/{segments}"
    )


def _nested_deployment(template: _Template, declared: Mapping[str, Any], ctx: Context, where: str, depth: int) -> None:
    """An inline nested template: `inner` scope gets its own parameters; `outer` sees the parent's."""
    properties = declared.get("properties")
    inner = properties.get("template") if isinstance(properties, Mapping) else None
    if not isinstance(properties, Mapping) or not isinstance(inner, Mapping):
        return  # a linked template (templateLink) is not read: nothing of it is judged
    options = properties.get("expressionEvaluationOptions")
    scope = str(options.get("scope", "outer")).lower() if isinstance(options, Mapping) else "outer"
    if scope == "inner":
        passed = properties.get("parameters") or {}
        given = {
            name: _value(entry.get("value"), ctx, template.path)
            for name, entry in (passed.items() if isinstance(passed, Mapping) else ())
            if isinstance(entry, Mapping) and "value" in entry
        }
        inner_ctx = _context(inner, template.path, given, ctx)
    else:
        inner_ctx = ctx
    _resources(template, inner.get("resources"), inner_ctx, None, f"{where}.properties.template.resources", depth + 1)


def located_line(value: Any) -> int:
    return value.line if isinstance(value, LocatedDict) else 0
