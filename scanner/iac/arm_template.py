"""ARM deployment templates (and `az bicep build` output) evaluated into Resource Graph-shaped rows.

Parameters (defaults and parameter files), variables, copy loops (resource and property),
conditions, nested child `resources` and inline nested deployments are evaluated; `dependsOn` is
ignored. Each row remembers the line where its object starts in the template.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import inventory, unevaluated
from scanner.errors import InputError
from scanner.iac import arm_expr, diagnostics, linked, located_json
from scanner.iac.arm_expr import Context, ExpressionError, Unevaluable
from scanner.iac.located_json import LocatedDict
from scanner.models import Gap

TEMPLATE_SCHEMA_MARKERS = (
    "deploymenttemplate.json",
    "subscriptiondeploymenttemplate.json",
    "managementgroupdeploymenttemplate.json",
    "tenantdeploymenttemplate.json",
)
MAX_COPY = 800
"""ARM's own limit on a copy loop's count."""
MAX_NESTING = 16
RESOURCE_COST = 100
"""Steps of the evaluation budget one resource costs: at most 50,000 resources (copies, nested
deployments and all) per template, where ARM allows 800 per template."""


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
            line = getattr(entry, "line", 0) or getattr(params, "line", 0)
            raise InputError(f"{path}{f':{line}' if line else ''}: parameter {name!r} has no `value`")
    return out


@dataclass
class Row:
    """One evaluated resource: its Resource Graph-shaped row and where it was declared."""

    data: dict[str, Any]
    line: int
    address: str
    """The template path to the resource, e.g. `resources[2].resources[0]`."""
    file: Path | None = None
    """The file that declares it: the main template, or a linked template it reads."""


@dataclass
class _Template:
    path: Path
    document: Mapping[str, Any]
    resource_ids: dict[str, Any] = field(default_factory=dict)
    symbols: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Symbolic names per template scope (keyed by the scope's `resources` address)."""
    unresolved: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    root: Path | None = None
    """The directory linked templates must stay in (None: the template's own directory)."""
    chain: tuple[Path, ...] = ()
    """The linked files from the main template down to this one."""
    gaps: list[Gap] = field(default_factory=list)
    broken: dict[str, None] = field(default_factory=dict)
    """Property values whose expression ARM could not evaluate either, each said once (insertion order)."""
    linked: set[Path] = field(default_factory=set)
    conditions: list[str] = field(default_factory=list)
    scope: tuple[str, str] = (arm_expr.PLACEHOLDER_SUBSCRIPTION, arm_expr.PLACEHOLDER_RESOURCE_GROUP)
    """(subscription, resource group) the resources deploy to: a nested deployment's own, when it names them."""
    deployment: str = ""
    """Which deployment the resources are part of: "" for the template's own, else each enclosing
    deployment's file, address and copy index (two copies of one module are two deployments)."""
    """The unknown `condition`s of the resources (and deployments) being evaluated, outermost first."""


@dataclass
class Evaluated:
    rows: list[Row]
    gaps: list[Gap]
    """Linked templates that could not be read (remote ones): their resources are not judged."""
    linked: set[Path]
    """The local files read as linked templates."""
    broken: list[str] = field(default_factory=list)
    """`FILE:LINE: cannot evaluate ...` for each property value left unknown because its expression is
    broken (an undeclared parameter, text that is not an expression): warnings, not errors."""


def evaluate_template(document: Mapping[str, Any], path: Path, parameters: Mapping[str, Any]) -> list[Row]:
    return evaluate(document, path, parameters).rows


def evaluate(
    document: Mapping[str, Any], path: Path, parameters: Mapping[str, Any], root: Path | None = None
) -> Evaluated:
    """Every resource the template would deploy, evaluated; raises InputError for a broken template.

    ARM orders a deployment by `dependsOn`, not by where resources stand, so a `reference()` may
    name a resource (or a module's outputs) declared further down: when one found nothing, the
    template is evaluated again with every resource of the first pass known."""
    template = _Template(path, document, root=root or path.parent, chain=(path.resolve(),))
    for _ in range(2):
        template.rows, template.unresolved, template.gaps, template.broken = [], [], [], {}
        try:
            ctx = _context(document, path, parameters, None, template, "resources")
            _resources(template, document.get("resources"), ctx, parent=None, address="resources", depth=0)
        except arm_expr.TooCostly as exc:
            raise InputError(f"{path}: not a template ARM would deploy: {exc}") from None
        except RecursionError:
            raise InputError(f"{path}: expressions, variables or functions nested too deeply to evaluate") from None
        if not template.unresolved:
            break
    return Evaluated(template.rows, template.gaps, template.linked, list(template.broken))


def _context(
    document: Mapping[str, Any],
    path: Path,
    given: Mapping[str, Any],
    outer: Context | None,
    template: _Template,
    scope: str,
) -> Context:
    definitions = document.get("parameters") or {}
    if not isinstance(definitions, Mapping):
        raise InputError(f"{path}: `parameters` is not an object")
    values: dict[str, Any] = {}
    ctx = Context(
        parameters=values,
        variables=document.get("variables") or {},
        resource_ids=template.resource_ids,
        functions=_functions(document),
        symbols=template.symbols.setdefault(scope, {}),
        unresolved=template.unresolved,
        budget=outer.budget if outer is not None else [arm_expr.MAX_STEPS],
        scope=template.scope,
    )
    lowered = {k.lower(): v for k, v in given.items()}
    defaults: dict[str, Any] = {}  # lower-cased name -> (name, definition), until its default is evaluated
    for name, definition in definitions.items():
        kind = str(definition.get("type", "")).lower() if isinstance(definition, Mapping) else ""
        if kind in ("securestring", "secureobject"):
            values[name] = arm_expr.secure(name)  # never the value, whether given or defaulted
        elif name.lower() in lowered:
            values[name] = lowered[name.lower()]
        elif isinstance(definition, Mapping) and "defaultValue" in definition:
            defaults[name.lower()] = (name, definition)
        elif _nullable(definition, document):
            values[name] = None  # languageVersion 2.0 (Bicep's `param x string?`): not given is null
        else:
            values[name] = arm_expr.unevaluated(f"parameters('{name}') has no value")
    resolving: set[str] = set()

    def default(wanted: str) -> Any:
        """A default may use a parameter declared after it (ARM and Bicep order them by use, not place)."""
        if wanted.lower() not in defaults:
            raise ExpressionError(f"parameter {wanted!r} is not defined")
        name, definition = defaults[wanted.lower()]
        if name in resolving:
            raise ExpressionError(f"parameter {wanted!r} refers to itself")
        resolving.add(name)
        broken: list[str] = []
        try:
            values[name] = _value(definition["defaultValue"], ctx, path, broken)
        finally:
            resolving.discard(name)
        del defaults[wanted.lower()]
        for said in broken:
            where = f"{path}:{getattr(definition, 'line', 0)}: parameters.{name}.defaultValue"
            template.broken[f"{where}: {said}; the value is left unknown"] = None
        return values[name]

    ctx.evaluate_parameter = default
    for name in definitions:
        if name.lower() in defaults:
            default(name)
    ctx.evaluate_parameter = None
    declared = dict(values)
    values.clear()
    values.update((name, declared[name]) for name in definitions if name in declared)
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
        broken: list[str] = []
        try:
            value = _value(variables[key], ctx, path, broken)
        finally:
            ctx.resolving.discard(key)
        if broken:  # as broken as what it holds: a property using it is left unknown, a name is an error
            raise ExpressionError(f"variable {name!r}: {broken[0]}")
        ctx.variable_cache[key] = value
        return value

    ctx.evaluate_variable = variable
    copies = variables.get("copy") if isinstance(variables, Mapping) else None
    if isinstance(copies, list):
        for loop in copies:
            if isinstance(loop, Mapping) and isinstance(loop.get("name"), str):
                ctx.variable_cache[loop["name"]] = _copy_array(loop, ctx, path, None)
    return ctx


def _nullable(definition: Any, document: Mapping[str, Any]) -> bool:
    """A parameter that may be null: `nullable` on it, or on the user-defined type its `$ref` names
    (Bicep's `type lockType = {...}?` then `param lock lockType`)."""
    if not isinstance(definition, Mapping):
        return False
    if definition.get("nullable") is True:
        return True
    ref, types = definition.get("$ref"), document.get("definitions")
    if isinstance(ref, str) and ref.startswith("#/definitions/") and isinstance(types, Mapping):
        named = types.get(ref.removeprefix("#/definitions/"))
        return isinstance(named, Mapping) and named.get("nullable") is True
    return False


def _functions(document: Mapping[str, Any]) -> dict[str, Any]:
    """The template's own functions as `namespace.member` (lower-cased) -> definition."""
    found: dict[str, Any] = {}
    for namespace in document.get("functions") or ():
        members = namespace.get("members") if isinstance(namespace, Mapping) else None
        for name, definition in members.items() if isinstance(members, Mapping) else ():
            found[f"{namespace.get('namespace')}.{name}".lower()] = definition
    return found


def _value(value: Any, ctx: Context, path: Path, broken: list[str] | None = None) -> Any:
    """Evaluate every expression in a JSON value; property `copy` arrays expand in place.

    A broken expression (an undeclared parameter, bracketed text that is not an expression) is an
    error, unless `broken` is given: then the value is left unknown (a marker naming what is wrong,
    so a check reading it reports `unknown`) and a warning is added to `broken`. Only a resource's
    values get that leniency; a broken type, name, copy count or condition leaves nothing to judge."""
    if isinstance(value, str):
        try:
            return arm_expr.evaluate_string(value, ctx)
        except Unevaluable:
            return arm_expr.unevaluated(value[1:-1])
        except ExpressionError as exc:
            said = f"cannot evaluate {value[:120]!r}: {exc}"
            if broken is None:
                raise InputError(f"{path}: {said}") from None
            broken.append(said)
            return arm_expr.unevaluated(f"{value[1:120]} (broken: {exc})")
    if isinstance(value, list):
        return [_value(item, ctx, path, broken) for item in value]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "copy" and isinstance(item, list) and all(isinstance(c, Mapping) and "input" in c for c in item):
                for loop in item:
                    out[str(loop.get("name"))] = _copy_array(loop, ctx, path, broken)
            else:
                out[_key(key, ctx, path)] = _value(item, ctx, path, broken)
        return out
    return value


def _key(key: str, ctx: Context, path: Path) -> str:
    """A property name may be an expression too (`{"[variables('identityId')]": {}}`)."""
    if not arm_expr.is_expression(key):
        return arm_expr.evaluate_string(key, ctx) if key.startswith("[[") else key
    value = _value(key, ctx, path)
    return value if isinstance(value, str) else json.dumps(value)


def _count(loop: Mapping[str, Any], ctx: Context, path: Path) -> int | None:
    """The loop's count; None when it is known only at deployment (a parameter without a value...)."""
    count = _value(loop.get("count", 0), ctx, path)
    if isinstance(count, str) and count.startswith((arm_expr.UNEVALUATED_PREFIX, arm_expr.SECURE_PREFIX)):
        return None
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COPY:
        raise InputError(f"{path}:{getattr(loop, 'line', 0)}: copy count {count!r} is not 0..{MAX_COPY}")
    return count


def _copy_array(loop: Mapping[str, Any], ctx: Context, path: Path, broken: list[str] | None) -> list[Any] | str:
    name = str(loop.get("name", "")).lower()
    count = _count(loop, ctx, path)
    if count is None:  # how many items is unknown, so is the array
        return arm_expr.unevaluated(f"copy loop {loop.get('name')!r}: count {loop.get('count')!r}")
    items = []
    for index in range(count):
        ctx.copy_index[name] = index
        items.append(_value(loop.get("input"), ctx, path, broken))
    ctx.copy_index.pop(name, None)
    return items


def _resources(
    template: _Template, resources: Any, ctx: Context, parent: dict[str, Any] | None, address: str, depth: int
) -> None:
    if depth > MAX_NESTING:
        raise InputError(f"{template.path}: resources nested more than {MAX_NESTING} levels")
    if isinstance(resources, Mapping):  # languageVersion 2.0: symbolic names
        items: Iterator[tuple[str, str | None, Any]] = ((f"{address}.{k}", str(k), v) for k, v in resources.items())
    elif isinstance(resources, list):
        items = ((f"{address}[{i}]", None, v) for i, v in enumerate(resources))
    elif resources is None:
        return
    else:
        raise InputError(f"{template.path}: `resources` is neither an array nor an object")
    for where, symbol, declared in items:
        if not isinstance(declared, Mapping):
            line = getattr(resources, "line", 0)
            raise InputError(f"{template.path}{f':{line}' if line else ''}: {where} is not an object")
        copy = declared.get("copy")
        if isinstance(copy, Mapping):
            name = str(copy.get("name", "")).lower()
            count = _count(copy, ctx, template.path)
            # An unknown count is judged as one instance whose copyIndex() is unknown: what does not
            # depend on the index holds for every instance, the rest is `unknown`.
            for index in range(count) if count is not None else (None,):
                ctx.copy_index[name] = ctx.copy_index[""] = index
                instance = f"{symbol}[{index}]" if symbol is not None and index is not None else None
                _resource(template, declared, ctx, parent, where, depth, (symbol, instance))
            ctx.copy_index.pop(name, None)
            ctx.copy_index.pop("", None)
        else:
            _resource(template, declared, ctx, parent, where, depth, (symbol,))


def _resource(
    template: _Template,
    declared: Mapping[str, Any],
    ctx: Context,
    parent: dict[str, Any] | None,
    where: str,
    depth: int,
    symbols: tuple[str | None, ...] = (),
) -> None:
    if declared.get("existing") is True or "import" in declared or "extension" in declared:
        return  # not deployed here, or a Bicep extension's (Microsoft Graph, Kubernetes) object: not an ARM resource
    arm_expr.spend(ctx, RESOURCE_COST)
    condition = _value(declared["condition"], ctx, template.path) if "condition" in declared else True
    if condition is False:
        return
    unknown = arm_expr.unknown_text(condition)
    if unknown is not None and arm_expr.is_expression(declared["condition"]):
        unknown = str(declared["condition"])[1:-1]  # as written: `parameters('deploy')`, not what it lacks
    if unknown is not None:  # deployed or not is decided at deployment: judged, and its findings say so
        template.conditions.append(unknown)
    try:
        _declared_resource(template, declared, ctx, parent, where, depth, symbols)
    finally:
        if unknown is not None:
            template.conditions.pop()


def _declared_resource(
    template: _Template,
    declared: Mapping[str, Any],
    ctx: Context,
    parent: dict[str, Any] | None,
    where: str,
    depth: int,
    symbols: tuple[str | None, ...],
) -> None:
    path, line = template.path, getattr(declared, "line", 0)
    rtype, name = _value(declared.get("type"), ctx, path), _value(declared.get("name"), ctx, path)
    if isinstance(name, str) and name.startswith(arm_expr.UNEVALUATED_PREFIX):
        # The marker's own text may hold a `/` (`last(split(..., '/'))`): it is one name, not segments.
        name = _name_with_unknown_parts(declared.get("name"), ctx) or name.replace("/", "%2F")
    if isinstance(name, int) and not isinstance(name, bool):  # a name from an int parameter: ARM makes it a string
        name = str(name)
    if not isinstance(rtype, str) or not isinstance(name, str) or not rtype or not name:
        raise InputError(f"{path}:{line}: {where} has no string `type` and `name`")
    scope = _value(declared["scope"], ctx, path) if "scope" in declared and diagnostics.is_setting(rtype) else None
    target = diagnostics.target(rtype, name, scope, parent)
    if target is not None:  # an extension resource: it lives under the resource it is attached to
        rtype, name = diagnostics.TYPE, diagnostics.setting_name(name)
        _add_row(template, declared, ctx, where, depth, symbols, rtype, name, diagnostics.setting_id(target, name))
        return
    if parent is not None and "." not in rtype.split("/", 1)[0]:
        # a nested child's type relative to its parent: `config` under `Microsoft.Web/sites`, or
        # `blobServices/containers` (named `default/x`) under `Microsoft.Storage/storageAccounts`
        rtype, name = f"{parent['type']}/{rtype}", f"{parent['_full_name']}/{name}"
    elif parent is not None and name.count("/") < rtype.count("/") - 1:
        name = f"{parent['_full_name']}/{name}"
    if rtype.lower() == "microsoft.resources/deployments":  # its inner template has a scope of its own
        outputs = _nested_deployment(template, declared, ctx, where, depth)
        _register(
            ctx,
            {
                "type": rtype,
                "_full_name": name,
                "id": _id(rtype, name, template.scope),
                "properties": {"outputs": outputs},
            },
            symbols,
        )
        return
    _add_row(template, declared, ctx, where, depth, symbols, rtype, name, _id(rtype, name, template.scope))


def _add_row(
    template: _Template,
    declared: Mapping[str, Any],
    ctx: Context,
    where: str,
    depth: int,
    symbols: tuple[str | None, ...],
    rtype: str,
    name: str,
    rid: str,
) -> None:
    path, broken = template.path, list[str]()
    row = {
        key: _value(declared[key], ctx, path, broken)
        for key in ("kind", "location", "tags", "identity", "sku", "properties", "zones")
        if key in declared
    }
    for said in broken:
        template.broken[f"{path}:{getattr(declared, 'line', 0)}: {where}: {said}; the value is left unknown"] = None
    _older_api_defaults(row, rtype, _value(declared.get("apiVersion"), ctx, path))
    row.update(type=rtype, _full_name=name, id=rid, name=name.rsplit("/", 1)[-1])
    if template.conditions:  # its own condition, or that of a parent or deployment it is part of
        row["_condition"] = " and ".join(dict.fromkeys(template.conditions))
    if template.deployment:
        row["_deployment"] = template.deployment
    _register(ctx, row, symbols)
    template.rows.append(Row(data=row, line=getattr(declared, "line", 0), address=where, file=template.path))
    _resources(template, declared.get("resources"), ctx, row, f"{where}.resources", depth + 1)


def _name_with_unknown_parts(declared: Any, ctx: Context) -> str | None:
    if not isinstance(declared, str):
        return None
    try:
        return arm_expr.name_with_unknown_parts(declared, ctx)
    except ExpressionError:
        return None


_OLDER_API_DEFAULTS = {
    "microsoft.storage/storageaccounts": (("supportsHttpsTrafficOnly", "2019-04-01", False),),
}
"""(property, API version, value): before that API version an absent property was created with this
value, not today's default (secure transfer became the default with 2019-04-01)."""

_NEWER_API_CREATE_DEFAULTS = {
    "microsoft.keyvault/vaults": (
        (
            "enableRbacAuthorization",
            "2026-02-01",
            "enableRbacAuthorization left out at API version 2026-02-01 or later: Azure RBAC when this "
            "deployment creates the vault, unchanged when the vault already exists",
        ),
    ),
}
"""(property, API version, why): from that API version an absent property is given a new default
when the resource is created only; a redeployment leaves an existing resource's value as it was.
A template does not say which, so the property is known only at deployment (an unevaluated marker)."""


def _older_api_defaults(row: dict[str, Any], rtype: str, api_version: Any) -> None:
    """Write the default an older API version deploys, where it differs from the checks' (current)
    one, and mark a property whose default a newer API version gives new resources only."""
    properties = row.get("properties")
    if not isinstance(api_version, str) or not isinstance(properties, Mapping):
        return
    absent = {k.lower() for k in properties}.isdisjoint
    for name, since, value in _OLDER_API_DEFAULTS.get(rtype.lower(), ()):
        if api_version[:10] < since and absent((name.lower(),)):
            row["properties"] = properties = {**properties, name: value}
    for name, since, why in _NEWER_API_CREATE_DEFAULTS.get(rtype.lower(), ()):
        if api_version[:10] >= since and absent((name.lower(),)):
            row["properties"] = properties = {**properties, name: unevaluated.marker(why)}


def _register(ctx: Context, row: dict[str, Any], symbols: tuple[str | None, ...]) -> None:
    """Make the evaluated resource visible to `reference()` by id and by its symbolic names."""
    ctx.resource_ids[row["id"].lower()] = row
    for symbol in symbols:
        if symbol is not None:
            ctx.symbols[symbol.lower()] = row


def _id(rtype: str, name: str, scope: tuple[str, str]) -> str:
    namespace, *types = rtype.split("/")
    names = name.split("/")
    segments = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=False))
    return f"/subscriptions/{scope[0]}/resourceGroups/{scope[1]}/providers/{namespace}/{segments}"


def _deployment_scope(template: _Template, declared: Mapping[str, Any], ctx: Context) -> tuple[str, str]:
    """Where a nested deployment's resources go: its `subscriptionId` and `resourceGroup` when they
    are known (Bicep's `scope: resourceGroup('data')`), else where the parent's go."""
    scope = list(template.scope)
    for index, key in ((0, "subscriptionId"), (1, "resourceGroup")):
        value = _value(declared[key], ctx, template.path) if key in declared else None
        if isinstance(value, str) and value and arm_expr.unknown_text(value) is None and "/" not in value:
            scope[index] = value
    return scope[0], scope[1]


def _nested_deployment(
    template: _Template, declared: Mapping[str, Any], ctx: Context, where: str, depth: int
) -> dict[str, Any] | str:
    """An inline nested template: `inner` scope gets its own parameters; `outer` sees the parent's.
    Returns its outputs as `reference()` of the deployment sees them (`outputs.NAME.value`), or the
    marker of outputs known only at deployment (a link that is not read)."""
    template = dataclasses.replace(
        template, scope=_deployment_scope(template, declared, ctx), deployment=_instance(template, ctx, where)
    )
    properties = declared.get("properties")
    if arm_expr.is_expression(properties):  # `"properties": "[variables('module')]"`
        properties = _value(properties, ctx, template.path)
        if arm_expr.unknown_text(properties) is not None:
            return _unread_template(template, declared, where)
    if properties is not None and not isinstance(properties, Mapping):
        raise InputError(f"{template.path}:{getattr(declared, 'line', 0)}: {where}: `properties` is not an object")
    inner = properties.get("template") if isinstance(properties, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    link = properties.get("templateLink")
    if not isinstance(inner, Mapping) and isinstance(link, Mapping):
        return _linked_deployment(template, declared, properties, link, ctx, where, depth)
    if inner is not None and not isinstance(inner, Mapping):  # `"template": "[variables('inner')]"`
        inner = _value(inner, ctx, template.path)
        if arm_expr.unknown_text(inner) is not None:
            return _unread_template(template, declared, where)
        if not isinstance(inner, Mapping):
            raise InputError(f"{template.path}:{getattr(declared, 'line', 0)}: {where}: `template` is not an object")
    if not isinstance(inner, Mapping):
        return {}
    options = properties.get("expressionEvaluationOptions")
    scope = str(options.get("scope", "outer")).lower() if isinstance(options, Mapping) else "outer"
    if scope == "inner":
        given = _passed_parameters(template, properties, ctx)
        inner_ctx = _context(inner, template.path, given, ctx, template, f"{where}.properties.template.resources")
    else:
        inner_ctx = ctx
    _resources(template, inner.get("resources"), inner_ctx, None, f"{where}.properties.template.resources", depth + 1)
    return _outputs(inner.get("outputs"), inner_ctx, template.path)


def _instance(template: _Template, ctx: Context, where: str) -> str:
    """The deployment declared at `where` (with its copy index) inside the one being evaluated."""
    return f"{template.deployment} > {template.path}:{where}#{ctx.copy_index.get('')}"


def _unread_template(template: _Template, declared: Mapping[str, Any], where: str) -> str:
    """A nested template known only at deployment: a coverage gap naming it; its outputs are unknown."""
    here = f"{template.path}:{getattr(declared, 'line', 0)}: {where}"
    template.gaps.append(
        Gap(
            source=inventory.RESOURCES,
            scope=f"{here}: inline template known only at deployment",
            reason="a nested template mlwarden cannot read offline: the resources it deploys are not judged",
        )
    )
    return arm_expr.unevaluated(f"outputs of the nested template at {where}")


def _passed_parameters(template: _Template, properties: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    passed = properties.get("parameters") or {}
    given = {}
    for name, entry in passed.items() if isinstance(passed, Mapping) else ():
        if isinstance(entry, str):  # Bicep/AVM: one expression that yields `{"value": ...}`
            entry = _value(entry, ctx, template.path)
        if isinstance(entry, Mapping) and "value" in entry:
            given[name] = _value(entry.get("value"), ctx, template.path)
        elif isinstance(entry, Mapping) and "reference" in entry:
            given[name] = arm_expr.secure(name)  # a Key Vault reference: resolved only at deployment
    return given


def _linked_deployment(
    template: _Template,
    declared: Mapping[str, Any],
    properties: Mapping[str, Any],
    link: Mapping[str, Any],
    ctx: Context,
    where: str,
    depth: int,
) -> dict[str, Any] | str:
    """A linked template: a local `relativePath` is read with its own parameters (a linked template
    always has its own scope); any other link is a coverage gap. Returns its outputs."""
    here = f"{template.path}:{getattr(declared, 'line', 0)}: {where}"
    relative = _value(link.get("relativePath"), ctx, template.path) if "relativePath" in link else None
    if not isinstance(relative, str) or relative.startswith(("<", "[")) or not relative:
        evaluated = {k: _value(v, ctx, template.path) for k, v in link.items() if k in ("uri", "id", "relativePath")}
        template.gaps.append(linked.remote_gap(evaluated, here))
        return arm_expr.unevaluated(f"outputs of the linked template at {where}")
    root = template.root or template.path.parent
    file = linked.local_file(relative, template.path, root, template.chain, here)
    try:
        document = located_json.load(file, "linked ARM template", comments=True)
    except InputError as exc:
        raise InputError(f"{exc} (linked from {here})") from None
    if not is_deployment_template(document):
        raise InputError(f"{here}: linked template {relative!r} is not an ARM deployment template")
    template.linked.add(file)
    given = _passed_parameters(template, properties, ctx)
    if "parametersLink" in properties:  # a parameters file elsewhere: every value is known only then
        given = {name: arm_expr.unevaluated(f"parametersLink of {where}") for name in document.get("parameters") or {}}
    child = dataclasses.replace(
        template,
        path=file,
        document=document,
        chain=(*template.chain, file),
        deployment=_instance(template, ctx, where),
    )
    inner_ctx = _context(document, file, given, ctx, child, f"{file}:{where}")
    _resources(child, document.get("resources"), inner_ctx, None, "resources", depth + 1)
    return _outputs(document.get("outputs"), inner_ctx, file)


def _outputs(outputs: Any, ctx: Context, path: Path) -> dict[str, Any]:
    """A nested template's outputs, each `{type, value}`; one that cannot be evaluated is unknown,
    never a broken template (ARM evaluates outputs after the resources exist)."""
    out: dict[str, Any] = {}
    for name, output in outputs.items() if isinstance(outputs, Mapping) else ():
        if not isinstance(output, Mapping):
            continue
        try:
            copy = output.get("copy")
            value = (
                _copy_array(copy, ctx, path, None)
                if isinstance(copy, Mapping)
                else _value(output.get("value"), ctx, path)
            )
        except InputError:
            value = arm_expr.unevaluated(f"outputs('{name}')")
        out[name] = {"type": output.get("type"), "value": value}
    return out


def located_line(value: Any) -> int:
    return value.line if isinstance(value, LocatedDict) else 0
