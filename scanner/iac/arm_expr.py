"""ARM template expressions: `[concat(parameters('name'), '-ws')]`, parsed and evaluated.

Only what real templates use is evaluated; anything else (`reference()` of a resource outside the
template, `list*()`, an unknown function) raises `Unevaluable` naming the expression, and the
caller stores an `unevaluated(...)` marker so the checks that read it report `unknown`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.unevaluated import PREFIX as UNEVALUATED_PREFIX
from scanner.unevaluated import marker as unevaluated

__all__ = ["SECURE_PREFIX", "UNEVALUATED_PREFIX", "Context", "evaluate_string", "unevaluated"]

SECURE_PREFIX = "<secure parameter: "
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_TENANT = "00000000-0000-0000-0000-000000000001"
PLACEHOLDER_RESOURCE_GROUP = "template-resource-group"
PLACEHOLDER_LOCATION = "resourcegrouplocation"
MAX_EXPRESSION = 64 * 1024


class Unevaluable(Exception):
    """An expression mlwarden cannot evaluate offline; `expression` names it."""

    def __init__(self, expression: str) -> None:
        super().__init__(expression)
        self.expression = expression


class ExpressionError(Exception):
    """A malformed expression: the template is broken, not merely beyond offline evaluation."""


def secure(name: str) -> str:
    """The marker that stands for a secure parameter's value: the value itself is never kept."""
    return f"{SECURE_PREFIX}{name}>"


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


# ---------------------------------------------------------------------------------------------- parsing
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[().,\[\]]))"
)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Any, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Access:
    target: Any
    key: Any  # a str for `.prop`, or a node for `[expr]`


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected character {text[pos]!r} at {pos}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'a token'} in {self.text!r}")
        self.pos += 1
        return token

    def expression(self) -> Any:
        kind, value, start = self.take()
        node: Any
        if kind == "string":
            node = Literal(value[1:-1].replace("''", "'"))
        elif kind == "number":
            node = Literal(int(value))
        elif kind == "name":
            self.take("(")
            args: list[Any] = []
            if self.peek() is not None and self.peek()[1] == ")":  # type: ignore[index]
                self.take(")")
            else:
                while True:
                    args.append(self.expression())
                    if self.take()[1] == ")":
                        break
            end = self.tokens[self.pos - 1][2] + 1
            node = Call(value.lower(), tuple(args), self.text[start:end])
        else:
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        while (token := self.peek()) is not None and token[1] in (".", "["):
            self.take()
            if token[1] == ".":
                node = Access(node, self.take()[1])
            else:
                key = self.expression()
                self.take("]")
                node = Access(node, key)
        return node


def parse(text: str) -> Any:
    """Parse the inside of `[...]`; a syntax error raises ExpressionError."""
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION} characters")
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()[1]!r} in {text!r}")  # type: ignore[index]
    return node


# ---------------------------------------------------------------------------------------------- evaluating
@dataclass
class Context:
    """What an expression can see: parameters, variables, the active copy loops, and the deployment scope."""

    parameters: Mapping[str, Any]
    variables: Mapping[str, Any]
    copy_index: dict[str, int] = field(default_factory=dict)
    resource_ids: dict[str, Any] = field(default_factory=dict)
    """Lower-cased resource id -> the evaluated resource, for `reference()` of a resource in the template."""
    resolving: set[str] = field(default_factory=set)
    variable_cache: dict[str, Any] = field(default_factory=dict)
    evaluate_variable: Callable[[str], Any] | None = None


def evaluate_string(value: str, ctx: Context) -> Any:
    """A template string: an expression, an escaped `[[literal`, or plain text."""
    if value.startswith("[["):
        return value[1:]
    if not is_expression(value):
        return value
    return evaluate(parse(value[1:-1]), ctx)


def evaluate(node: Any, ctx: Context) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Access):
        target = evaluate(node.target, ctx)
        key = node.key if isinstance(node.key, str) else evaluate(node.key, ctx)
        return _member(target, key, node)
    function = _FUNCTIONS.get(node.name)
    if function is None:
        raise Unevaluable(node.text)
    if node.name == "if":  # lazy: only the chosen branch is evaluated
        if len(node.args) != 3:
            raise ExpressionError("if() takes three arguments")
        condition = evaluate(node.args[0], ctx)
        return evaluate(node.args[1] if _truthy(condition, node) else node.args[2], ctx)
    args = [evaluate(arg, ctx) for arg in node.args]
    try:
        return function(ctx, node, *args)
    except (Unevaluable, ExpressionError):
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError) as exc:
        raise ExpressionError(f"{node.text}: {type(exc).__name__}") from None


def _member(target: Any, key: Any, node: Access) -> Any:
    if isinstance(target, str) and target.startswith((UNEVALUATED_PREFIX, SECURE_PREFIX)):
        return target
    if isinstance(target, Mapping):
        if isinstance(key, str):
            for name, value in target.items():
                if name.lower() == key.lower():
                    return value
        if isinstance(target, Declared):  # a runtime property (clientId, principalId...): known after deployment
            raise Unevaluable(f"reference(...).{key}")
        raise ExpressionError(f"no property {key!r}")
    if isinstance(target, list) and isinstance(key, int) and not isinstance(key, bool):
        return target[key]
    raise ExpressionError(f"cannot index {type(target).__name__} with {key!r}")


def _truthy(value: Any, node: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX):
        raise Unevaluable(value[len(UNEVALUATED_PREFIX) : -1])
    raise ExpressionError(f"{getattr(node, 'text', node)}: expected a boolean")


def _marker_in(*values: Any) -> str | None:
    """A secure marker wins (its value must never mix into a string); an unevaluated one makes the whole
    expression unevaluated."""
    found = None
    for value in values:
        if isinstance(value, str) and value.startswith(SECURE_PREFIX):
            return value
        if isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX):
            found = value
    return found


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _parameters(ctx: Context, node: Call, name: str) -> Any:
    for key, value in ctx.parameters.items():
        if key.lower() == str(name).lower():
            return value
    raise ExpressionError(f"parameter {name!r} is not defined")


def _variables(ctx: Context, node: Call, name: str) -> Any:
    if ctx.evaluate_variable is None:
        raise ExpressionError("variables() outside a template")
    return ctx.evaluate_variable(str(name))


def _concat(ctx: Context, node: Call, *args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    marker = _marker_in(*args)
    if marker and marker.startswith(SECURE_PREFIX):
        return marker
    if marker:
        raise Unevaluable(node.text)
    return "".join(_str(a) for a in args)


_FORMAT_ITEM = re.compile(r"\{(\d+)(?::[^}]*)?\}")


def _format(ctx: Context, node: Call, template: str, *args: Any) -> str:
    marker = _marker_in(*args)
    if marker and marker.startswith(SECURE_PREFIX):
        return marker
    if marker:
        raise Unevaluable(node.text)
    return _FORMAT_ITEM.sub(lambda m: _str(args[int(m.group(1))]), str(template))


def _resource_id_parts(subscription: str, group: str | None, rtype: str, names: tuple[Any, ...]) -> str:
    segments = str(rtype).split("/")
    namespace, types = segments[0], segments[1:]
    if len(types) != len(names):
        raise ExpressionError(f"resourceId: {len(types)} type segment(s) but {len(names)} name(s)")
    path = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    scope = f"/subscriptions/{subscription}" + (f"/resourceGroups/{group}" if group is not None else "")
    return f"{scope}/providers/{namespace}/{path}"


def _looks_like_type(value: Any) -> bool:
    return isinstance(value, str) and "/" in value and "." in value.split("/", 1)[0]


def _resource_id(ctx: Context, node: Call, *args: Any) -> str:
    """resourceId([subscriptionId], [resourceGroupName], type, name1, ...)."""
    index = next((i for i, a in enumerate(args) if _looks_like_type(a)), None)
    if index is None or index > 2:
        raise ExpressionError("resourceId: no resource type")
    prefix = args[:index]
    subscription = str(prefix[0]) if index == 2 else PLACEHOLDER_SUBSCRIPTION
    group = str(prefix[-1]) if index >= 1 else PLACEHOLDER_RESOURCE_GROUP
    return _resource_id_parts(subscription, group, args[index], args[index + 1 :])


def _subscription_resource_id(ctx: Context, node: Call, *args: Any) -> str:
    index = next((i for i, a in enumerate(args) if _looks_like_type(a)), None)
    if index is None or index > 1:
        raise ExpressionError("subscriptionResourceId: no resource type")
    subscription = str(args[0]) if index == 1 else PLACEHOLDER_SUBSCRIPTION
    return _resource_id_parts(subscription, None, args[index], args[index + 1 :])


def _extension_resource_id(ctx: Context, node: Call, scope: str, rtype: str, *names: Any) -> str:
    segments = str(rtype).split("/")
    path = "/".join(f"{t}/{n}" for t, n in zip(segments[1:], names, strict=True))
    return f"{str(scope).rstrip('/')}/providers/{segments[0]}/{path}"


def _resource_group(ctx: Context, node: Call) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/resourceGroups/{PLACEHOLDER_RESOURCE_GROUP}",
        "name": PLACEHOLDER_RESOURCE_GROUP,
        "type": "Microsoft.Resources/resourceGroups",
        "location": PLACEHOLDER_LOCATION,
        "tags": {},
        "properties": {"provisioningState": "Succeeded"},
    }


def _subscription(ctx: Context, node: Call) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}",
        "subscriptionId": PLACEHOLDER_SUBSCRIPTION,
        "tenantId": PLACEHOLDER_TENANT,
        "displayName": "template subscription",
    }


def _unique_string(ctx: Context, node: Call, *args: Any) -> str:
    """Deterministic 13 lower-case characters, as Azure's is; not Azure's exact hash."""
    marker = _marker_in(*args)
    if marker:
        return marker
    digest = hashlib.sha256("-".join(_str(a) for a in args).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:13]


def _guid(ctx: Context, node: Call, *args: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "-".join(_str(a) for a in args)))


def _equals(ctx: Context, node: Call, a: Any, b: Any) -> bool:
    marker = _marker_in(a, b)
    if marker and marker.startswith(UNEVALUATED_PREFIX):
        raise Unevaluable(marker[len(UNEVALUATED_PREFIX) : -1])
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


def _empty(ctx: Context, node: Call, value: Any) -> bool:
    if _marker_in(value):
        raise Unevaluable(node.text)
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def _union(ctx: Context, node: Call, *args: Any) -> Any:
    if all(isinstance(a, list) for a in args):
        out: list[Any] = []
        for a in args:
            out.extend(item for item in a if item not in out)
        return out
    if all(isinstance(a, Mapping) for a in args):
        merged: dict[str, Any] = {}
        for a in args:
            for key, value in a.items():
                if isinstance(merged.get(key), Mapping) and isinstance(value, Mapping):
                    merged[key] = _union(ctx, node, merged[key], value)
                else:
                    merged[key] = value
        return merged
    raise ExpressionError("union() takes all arrays or all objects")


def _create_object(ctx: Context, node: Call, *args: Any) -> dict[str, Any]:
    if len(args) % 2:
        raise ExpressionError("createObject() takes key/value pairs")
    return {str(args[i]): args[i + 1] for i in range(0, len(args), 2)}


def _copy_index(ctx: Context, node: Call, *args: Any) -> int:
    name = next((a for a in args if isinstance(a, str)), None)
    offset = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), 0)
    key = name.lower() if name else ""
    if key not in ctx.copy_index:
        raise ExpressionError(f"copyIndex({name or ''}) outside its copy loop")
    return ctx.copy_index[key] + offset


class Declared(dict[str, Any]):
    """What `reference()` knows of a resource in this template: its declared properties only."""


def _reference(ctx: Context, node: Call, target: Any, *rest: Any) -> Any:
    """Only the declared properties of a resource in this template; never runtime state."""
    if isinstance(target, str):
        declared = ctx.resource_ids.get(target.lower())
        if declared is not None and not (len(rest) > 1 and str(rest[1]).lower() == "full"):
            properties = declared.get("properties")
            return Declared(properties if isinstance(properties, Mapping) else {})
    raise Unevaluable(node.text)


def _length(ctx: Context, node: Call, value: Any) -> int:
    if _marker_in(value):
        raise Unevaluable(node.text)
    return len(value)


def _contains(ctx: Context, node: Call, container: Any, item: Any) -> bool:
    if _marker_in(container, item):
        raise Unevaluable(node.text)
    if isinstance(container, str):
        return str(item).lower() in container.lower()
    if isinstance(container, Mapping):
        return any(str(k).lower() == str(item).lower() for k in container)
    return item in container


def _bool(ctx: Context, node: Call, value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ExpressionError("bool() of a non-boolean string")
    return bool(value)


def _string_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(ctx: Context, node: Call, value: Any, *rest: Any) -> Any:
        if _marker_in(value):
            return value
        return fn(str(value), *rest)

    return apply


def _replace(text: str, old: Any, new: Any) -> str:
    return text.replace(str(old), str(new))


def _substring(text: str, start: int, length: int | None = None) -> str:
    return text[start : None if length is None else start + length]


def _coalesce(ctx: Context, node: Call, *args: Any) -> Any:
    return next((a for a in args if a is not None), None)


def _logic(ctx: Context, node: Call, *args: Any) -> bool:
    values = [_truthy(a, node) for a in args]
    return all(values) if node.name == "and" else any(values)


def _unevaluable(ctx: Context, node: Call, *args: Any) -> Any:
    raise Unevaluable(node.text)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "parameters": _parameters,
    "variables": _variables,
    "concat": _concat,
    "format": _format,
    "tolower": _string_fn(str.lower),
    "toupper": _string_fn(str.upper),
    "trim": _string_fn(str.strip),
    "replace": _string_fn(_replace),
    "substring": _string_fn(_substring),
    "startswith": lambda ctx, node, s, p: str(s).lower().startswith(str(p).lower()),
    "endswith": lambda ctx, node, s, p: str(s).lower().endswith(str(p).lower()),
    "split": lambda ctx, node, s, sep: str(s).split(sep) if isinstance(sep, str) else [str(s)],
    "string": lambda ctx, node, v: _str(v),
    "int": lambda ctx, node, v: int(v),
    "bool": _bool,
    "json": lambda ctx, node, v: json.loads(str(v)),
    "length": _length,
    "contains": _contains,
    "first": lambda ctx, node, v: v[0] if v else None,
    "last": lambda ctx, node, v: v[-1] if v else None,
    "take": lambda ctx, node, v, n: v[:n],
    "skip": lambda ctx, node, v, n: v[n:],
    "coalesce": _coalesce,
    "resourceid": _resource_id,
    "subscriptionresourceid": _subscription_resource_id,
    "extensionresourceid": _extension_resource_id,
    "tenantresourceid": lambda ctx, node, t, *n: "/" + _resource_id_parts("x", None, t, n).split("/", 3)[3],
    "resourcegroup": _resource_group,
    "subscription": _subscription,
    "tenant": lambda ctx, node: {"tenantId": PLACEHOLDER_TENANT},
    "managementgroup": lambda ctx, node, *a: {
        "id": "/providers/Microsoft.Management/managementGroups/template-management-group",
        "name": "template-management-group",
        "type": "Microsoft.Management/managementGroups",
    },
    "uniquestring": _unique_string,
    "guid": _guid,
    "equals": _equals,
    "not": lambda ctx, node, v: not _truthy(v, node),
    "and": _logic,
    "or": _logic,
    "greater": lambda ctx, node, a, b: a > b,
    "greaterorequals": lambda ctx, node, a, b: a >= b,
    "less": lambda ctx, node, a, b: a < b,
    "lessorequals": lambda ctx, node, a, b: a <= b,
    "empty": _empty,
    "union": _union,
    "createobject": _create_object,
    "createarray": lambda ctx, node, *args: list(args),
    "array": lambda ctx, node, v: v if isinstance(v, list) else [v],
    "copyindex": _copy_index,
    "true": lambda ctx, node: True,
    "false": lambda ctx, node: False,
    "null": lambda ctx, node: None,
    "if": lambda ctx, node, *a: None,  # evaluated lazily in `evaluate`
    "reference": _reference,
    "environment": lambda ctx, node: {"name": "AzureCloud", "suffixes": {"storage": "core.windows.net"}},
    "deployment": lambda ctx, node: {"name": "template-deployment", "properties": {}},
    "utcnow": _unevaluable,
    "newguid": _unevaluable,
}
