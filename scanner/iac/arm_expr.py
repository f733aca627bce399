"""ARM template expressions: `[concat(parameters('name'), '-ws')]`, parsed and evaluated.

Only what real templates use is evaluated; anything else (`reference()` of a resource outside the
template, `list*()`, an unknown function) raises `Unevaluable` naming the expression, and the
caller stores an `unevaluated(...)` marker so the checks that read it report `unknown`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.unevaluated import PREFIX as UNEVALUATED_PREFIX
from scanner.unevaluated import marker as unevaluated

__all__ = ["SECURE_PREFIX", "UNEVALUATED_PREFIX", "Context", "evaluate_string", "unevaluated", "unknown_text"]

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


class TooCostly(Exception):
    """The template asks for more evaluation than any template ARM deploys (a copy loop of nested
    deployments of copy loops, `padLeft(x, 2000000000)`): refused before it exhausts the machine."""


MAX_STEPS = 5_000_000
"""Expression calls and resources evaluated per pass over one template and everything it holds."""
MAX_TEXT = 4 * 1024 * 1024
MAX_ITEMS = 100_000
MAX_RANGE = 10_000
"""ARM's own limit on `range()`'s count."""
MAX_INT = 2**63


def unknown_text(value: Any) -> str | None:
    """What a value known only at deployment stands for (an expression, or a secure parameter); else None."""
    if isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX):
        return value[len(UNEVALUATED_PREFIX) : -1]
    if isinstance(value, str) and value.startswith(SECURE_PREFIX):
        return f"parameters('{value[len(SECURE_PREFIX) : -1]}')"
    return None


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
            following = self.tokens[self.pos : self.pos + 3]
            if [t[1] for t in following[:1]] == ["."] and len(following) == 3 and following[2][1] == "(":
                self.pos += 2  # a user-defined function: `namespace.member(...)`
                value = f"{value}.{following[1][1]}"
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
    copy_index: dict[str, int | None] = field(default_factory=dict)
    """Active copy loops by lower-cased name ("" = the resource's own); None = an unknown count."""
    resource_ids: dict[str, Any] = field(default_factory=dict)
    """Lower-cased resource id -> the evaluated resource, for `reference()` of a resource in the template."""
    symbols: dict[str, Any] = field(default_factory=dict)
    """Lower-cased symbolic name (languageVersion 2.0) -> the evaluated resource, in this template's scope."""
    unresolved: list[str] = field(default_factory=list)
    """`reference()` calls that found no resource: a later declaration may hold it (see arm_template)."""
    functions: Mapping[str, Any] = field(default_factory=dict)
    """User-defined functions (`namespace.member`, lower-cased) -> their definition."""
    lambda_variables: Mapping[str, Any] = field(default_factory=dict)
    resolving: set[str] = field(default_factory=set)
    variable_cache: dict[str, Any] = field(default_factory=dict)
    evaluate_variable: Callable[[str], Any] | None = None
    evaluate_parameter: Callable[[str], Any] | None = None
    """A parameter whose default is not evaluated yet: ARM lets a default use a parameter declared after it."""
    scope: tuple[str, str] = (PLACEHOLDER_SUBSCRIPTION, PLACEHOLDER_RESOURCE_GROUP)
    """`subscription()` and `resourceGroup()` of this scope (a nested deployment's own, if it names them)."""
    budget: list[int] = field(default_factory=lambda: [MAX_STEPS])
    """Steps left, shared by every scope of one evaluation (nested and linked templates pass it on)."""


def spend(ctx: Context, steps: int = 1) -> None:
    ctx.budget[0] -= steps
    if ctx.budget[0] < 0:
        raise TooCostly(f"evaluating it takes more than {MAX_STEPS:,} steps")


def evaluate_string(value: str, ctx: Context) -> Any:
    """A template string: an expression, an escaped `[[literal`, or plain text."""
    if value.startswith("[["):
        return value[1:]
    if not is_expression(value):
        return value
    return evaluate(parse(value[1:-1]), ctx)


def evaluate(node: Any, ctx: Context) -> Any:
    spend(ctx)
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Access):
        target = evaluate(node.target, ctx)
        key = node.key if isinstance(node.key, str) else evaluate(node.key, ctx)
        return _member(target, key, node)
    if node.name in ctx.functions:
        return _user_function(ctx, node, [evaluate(arg, ctx) for arg in node.args])
    function = _FUNCTIONS.get(node.name)
    if function is None:
        raise Unevaluable(node.text)
    if node.name == "if":  # lazy: only the chosen branch is evaluated
        if len(node.args) != 3:
            raise ExpressionError("if() takes three arguments")
        condition = evaluate(node.args[0], ctx)
        return evaluate(node.args[1] if _truthy(condition, node) else node.args[2], ctx)
    if node.name == "lambda":  # its body is evaluated per item by map(), filter(), ...
        if not node.args:
            raise ExpressionError("lambda() needs a body")
        names = tuple(str(evaluate(arg, ctx)).lower() for arg in node.args[:-1])
        return Lambda(names, node.args[-1], ctx)
    args = [evaluate(arg, ctx) for arg in node.args]
    if node.name not in _MARKER_AWARE and any(
        isinstance(a, str) and a.startswith((UNEVALUATED_PREFIX, SECURE_PREFIX)) for a in args
    ):
        raise Unevaluable(node.text)  # a function of an unknown value is unknown, never a broken template
    try:
        return _bounded(function(ctx, node, *args), node)
    except (Unevaluable, ExpressionError):
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, ArithmeticError) as exc:  # div(1, 0) too
        raise ExpressionError(f"{node.text}: {type(exc).__name__}") from None


def _member(target: Any, key: Any, node: Access) -> Any:
    if isinstance(target, str) and target.startswith((UNEVALUATED_PREFIX, SECURE_PREFIX)):
        return target
    if isinstance(key, str) and key.startswith((UNEVALUATED_PREFIX, SECURE_PREFIX)):
        raise Unevaluable(f"[{key}]")  # which member is unknown, so is its value
    if isinstance(target, Mapping):
        if isinstance(key, str):
            for name, value in target.items():
                if name.lower() == key.lower():
                    return declared(value) if isinstance(target, Declared) else value
        if isinstance(target, Declared):  # a runtime property (clientId, principalId...): known after deployment
            raise Unevaluable(f"reference(...).{key}")
        raise ExpressionError(f"no property {key!r}")
    if isinstance(target, list) and isinstance(key, int) and not isinstance(key, bool):
        if not -len(target) <= key < len(target) and target and isinstance(target[0], Declared):
            raise Unevaluable(f"reference(...)[{key}]")
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


def _bounded(value: Any, node: Call) -> Any:
    """A function's result within what ARM itself allows (64-bit integers, bounded strings and arrays)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value < MAX_INT:
        raise ExpressionError(f"{node.text}: integer overflow")
    if isinstance(value, str | list | dict) and len(value) > (MAX_TEXT if isinstance(value, str) else MAX_ITEMS):
        raise ExpressionError(f"{node.text[:120]}: result too large")
    return value


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        _check_nodes(value)
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _check_nodes(value: Any) -> None:
    """Refuse to serialize a value of more than MAX_ITEMS nodes (arrays of the same array, nested,
    are small in memory but exponential as text)."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            raise ExpressionError("value too large to turn into a string")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _at_most(count: Any, limit: int) -> int:
    number = int(count)
    if not 0 <= number <= limit:
        raise ExpressionError(f"{number} is not 0..{limit}")
    return number


def _parameters(ctx: Context, node: Call, name: str) -> Any:
    for key, value in ctx.parameters.items():
        if key.lower() == str(name).lower():
            return value
    if ctx.evaluate_parameter is not None:
        return ctx.evaluate_parameter(str(name))
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


def name_with_unknown_parts(text: str, ctx: Context) -> str | None:
    """A resource name built by `concat`/`format` from parts some of which are unknown: the parts
    joined with each unknown one as its marker text, so `parent/child` names keep their `/` and a
    child still lands under its parent (whose name is the same marker). None when that cannot be done."""
    node = parse(text[1:-1]) if is_expression(text) else None
    if not isinstance(node, Call) or node.name not in ("concat", "format"):
        return None
    parts: list[Any] = []
    for arg in node.args:
        try:
            part = evaluate(arg, ctx)
        except Unevaluable as exc:
            part = unevaluated(exc.expression)
        if isinstance(part, str) and part.startswith(SECURE_PREFIX):
            return None
        if isinstance(part, str) and part.startswith(UNEVALUATED_PREFIX) and "/" in part:
            return None
        parts.append(part)
    if node.name == "concat":
        return "".join(_str(p) for p in parts)
    if not parts:
        return None
    try:
        return _FORMAT_ITEM.sub(lambda m: _str(parts[1:][int(m.group(1))]), str(parts[0]))
    except IndexError:
        return None


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
    subscription = str(prefix[0]) if index == 2 else ctx.scope[0]
    group = str(prefix[-1]) if index >= 1 else ctx.scope[1]
    return _resource_id_parts(subscription, group, args[index], args[index + 1 :])


def _subscription_resource_id(ctx: Context, node: Call, *args: Any) -> str:
    index = next((i for i, a in enumerate(args) if _looks_like_type(a)), None)
    if index is None or index > 1:
        raise ExpressionError("subscriptionResourceId: no resource type")
    subscription = str(args[0]) if index == 1 else ctx.scope[0]
    return _resource_id_parts(subscription, None, args[index], args[index + 1 :])


def _extension_resource_id(ctx: Context, node: Call, scope: str, rtype: str, *names: Any) -> str:
    segments = str(rtype).split("/")
    path = "/".join(f"{t}/{n}" for t, n in zip(segments[1:], names, strict=True))
    return f"{str(scope).rstrip('/')}/providers/{segments[0]}/{path}"


def _resource_group(ctx: Context, node: Call) -> Declared:
    return Declared(
        {
            "id": f"/subscriptions/{ctx.scope[0]}/resourceGroups/{ctx.scope[1]}",
            "name": ctx.scope[1],
            "type": "Microsoft.Resources/resourceGroups",
            "location": PLACEHOLDER_LOCATION,
            "tags": {},
            "properties": {"provisioningState": "Succeeded"},
        }
    )


def _subscription(ctx: Context, node: Call) -> Declared:
    return Declared(
        {
            "id": f"/subscriptions/{ctx.scope[0]}",
            "subscriptionId": ctx.scope[0],
            "tenantId": PLACEHOLDER_TENANT,
            "displayName": "template subscription",
        }
    )


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
    index = ctx.copy_index[key]
    if index is None:
        raise Unevaluable(node.text)
    return index + offset


class Declared(dict[str, Any]):
    """What `reference()` knows of a resource in this template: its declared properties only."""


def declared(value: Any) -> Any:
    """A value read from a `Declared` object: objects stay `Declared` (one level at a time), so a
    property the template does not declare is unknown, never a broken template."""
    if isinstance(value, Mapping) and not isinstance(value, Declared):
        return Declared(value)
    if isinstance(value, list):
        return [declared(item) for item in value]
    return value


def _resource_named(ctx: Context, target: Any) -> Any:
    """A resource of this template by id, or by symbolic name (languageVersion 2.0)."""
    if not isinstance(target, str):
        return None
    found = ctx.resource_ids.get(target.lower()) or ctx.symbols.get(target.lower())
    if found is None and target and "/" not in target.strip("/"):  # `reference('data')`: a resource's bare name
        named = [row for row in ctx.resource_ids.values() if str(row.get("_full_name", "")).lower() == target.lower()]
        found = named[0] if len(named) == 1 else None
    return found


def _reference(ctx: Context, node: Call, target: Any, *rest: Any) -> Any:
    """Only the declared properties of a resource in this template (or a nested deployment's outputs);
    never runtime state. With 'full', the declared envelope (identity, sku, ...) too."""
    found = _resource_named(ctx, target)
    if found is None:
        ctx.unresolved.append(node.text)
        raise Unevaluable(node.text)
    return _declared_view(found, full=len(rest) > 1 and str(rest[1]).lower() == "full")


def _references(ctx: Context, node: Call, target: Any, *rest: Any) -> list[Any]:
    """`references('loop')`: what `reference()` gives for each instance of a copy loop, in order."""
    name = str(target).lower()
    instances = sorted(
        (int(key[len(name) + 1 : -1]), row)
        for key, row in ctx.symbols.items()
        if key.startswith(f"{name}[") and key.endswith("]") and key[len(name) + 1 : -1].isdigit()
    )
    if not instances:  # not declared (yet), or a loop whose count is unknown
        ctx.unresolved.append(node.text)
        raise Unevaluable(node.text)
    full = len(rest) > 1 and str(rest[1]).lower() == "full"
    return [_declared_view(row, full=full) for _, row in instances]


def _declared_view(found: Mapping[str, Any], *, full: bool) -> Declared:
    properties = found.get("properties")
    properties = {**(properties if isinstance(properties, Mapping) else {}), **_known_uris(found)}
    if full:
        return Declared({**{k: v for k, v in found.items() if not k.startswith("_")}, "properties": properties})
    return Declared(properties)


def _known_uris(found: Mapping[str, Any]) -> dict[str, str]:
    """Runtime properties that follow from a vault's or key's name (public cloud): a workspace's
    `keyIdentifier: reference(key).keyUriWithVersion` then names the key it encrypts with."""
    rtype, name = str(found.get("type", "")).lower(), str(found.get("_full_name", ""))
    if "<" in name or not isinstance(found.get("properties"), Mapping):
        return {}
    if rtype == "microsoft.keyvault/vaults":
        return {"vaultUri": f"https://{name.lower()}.vault.azure.net/"}
    if rtype == "microsoft.keyvault/managedhsms":
        return {"hsmUri": f"https://{name.lower()}.managedhsm.azure.net/"}
    if rtype in ("microsoft.keyvault/vaults/keys", "microsoft.keyvault/managedhsms/keys") and name.count("/") == 1:
        vault, key = name.split("/")
        suffix = "vault.azure.net" if rtype.endswith("vaults/keys") else "managedhsm.azure.net"
        uri = f"https://{vault.lower()}.{suffix}/keys/{key}"
        return {"keyUri": uri, "keyUriWithVersion": f"{uri}/(version known at deployment)"}
    return {}


def _resource_info(ctx: Context, node: Call, target: Any) -> Any:
    found = _resource_named(ctx, target)
    if found is None:
        raise Unevaluable(node.text)
    return {"id": found.get("id"), "name": found.get("_full_name"), "type": found.get("type")}


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


_ENVIRONMENT = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "graphAudience": "https://graph.windows.net/",
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "azureFrontDoorEndpointSuffix": "azurefd.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}
"""The public cloud's `environment()`; anything else it holds is unknown (a `Declared` object)."""


@dataclass(frozen=True, slots=True)
class Lambda:
    """A `lambda('x', body)` bound to where it was written; `call` evaluates the body per item."""

    names: tuple[str, ...]
    body: Any
    ctx: Context

    def call(self, *values: Any) -> Any:
        bound = dict(self.ctx.lambda_variables)
        bound.update(zip(self.names, values, strict=False))
        return evaluate(self.body, replace(self.ctx, lambda_variables=bound))


def _lambda_variable(ctx: Context, node: Call, name: Any) -> Any:
    key = str(name).lower()
    if key not in ctx.lambda_variables:
        raise ExpressionError(f"lambdaVariables({name!r}) outside its lambda")
    return ctx.lambda_variables[key]


def _filter(ctx: Context, node: Call, items: Any, fn: Lambda) -> Any:
    if isinstance(items, Mapping):
        return {k: v for k, v in items.items() if _truthy(fn.call({"key": k, "value": v}), node)}
    return [item for i, item in enumerate(items) if _truthy(fn.call(item, i), node)]


def _map(ctx: Context, node: Call, items: Any, fn: Lambda) -> list[Any]:
    return [fn.call(item, i) for i, item in enumerate(items)]


def _reduce(ctx: Context, node: Call, items: Any, initial: Any, fn: Lambda) -> Any:
    value = initial
    for i, item in enumerate(items):
        value = fn.call(value, item, i)
    return value


def _sort(ctx: Context, node: Call, items: Any, fn: Lambda) -> list[Any]:
    return sorted(items, key=functools.cmp_to_key(lambda a, b: -1 if _truthy(fn.call(a, b), node) else 1))


def _to_object(ctx: Context, node: Call, items: Any, key: Lambda, value: Lambda | None = None) -> dict[str, Any]:
    return {str(key.call(item)): (value.call(item) if value is not None else item) for item in items}


def _group_by(ctx: Context, node: Call, items: Any, fn: Lambda) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(str(fn.call(item)), []).append(item)
    return groups


def _try_get(ctx: Context, node: Call, value: Any, *keys: Any) -> Any:
    """`tryGet(obj, 'a', 0)` (Bicep's `obj.?a[0]`): null where a step is missing, unknown where the
    missing step is a runtime property of a declared resource."""
    for key in keys:
        if isinstance(value, Mapping) and isinstance(key, str):
            found = next((v for k, v in value.items() if k.lower() == key.lower()), _ABSENT)
            if found is _ABSENT:
                if isinstance(value, Declared):
                    raise Unevaluable(node.text)
                return None
            value = declared(found) if isinstance(value, Declared) else found
        elif isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
            value = value[key] if -len(value) <= key < len(value) else None
        else:
            return None
    return value


_ABSENT = object()


def _intersection(ctx: Context, node: Call, first: Any, *rest: Any) -> Any:
    if isinstance(first, Mapping):
        return {k: v for k, v in first.items() if all(isinstance(r, Mapping) and r.get(k) == v for r in rest)}
    return [item for item in first if all(item in r for r in rest)]


def _index_of(container: Any, item: Any, *, first: bool) -> int:
    if isinstance(container, str):
        text, part = container.lower(), str(item).lower()
        return text.find(part) if first else text.rfind(part)
    matches = [i for i, value in enumerate(container) if value == item]
    return (matches[0] if first else matches[-1]) if matches else -1


def _numbers(args: tuple[Any, ...]) -> list[int]:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    return [int(v) for v in values]


def _user_function(ctx: Context, node: Call, args: list[Any]) -> Any:
    """A template's own function: its `output.value` evaluated with only its parameters in scope."""
    definition = ctx.functions[node.name]
    declared_params = definition.get("parameters") if isinstance(definition, Mapping) else None
    names = [str(p.get("name")) for p in declared_params or () if isinstance(p, Mapping)]
    output = definition.get("output") if isinstance(definition, Mapping) else None
    if not isinstance(output, Mapping) or len(names) != len(args):
        raise ExpressionError(f"{node.text}: does not match its definition")
    if node.name in ctx.resolving:
        raise ExpressionError(f"{node.text}: calls itself")
    inner = Context(
        parameters=dict(zip(names, args, strict=True)),
        variables=ctx.variables,  # Bicep's functions may read the template's variables
        functions=ctx.functions,
        evaluate_variable=ctx.evaluate_variable,
        budget=ctx.budget,
        scope=ctx.scope,
    )
    inner.resolving = {*ctx.resolving, node.name}
    return evaluate_value(output.get("value"), inner)


def evaluate_value(value: Any, ctx: Context) -> Any:
    """Every expression inside a JSON value (no property copy loops: a function's output)."""
    if isinstance(value, str):
        return evaluate_string(value, ctx)
    if isinstance(value, list):
        return [evaluate_value(v, ctx) for v in value]
    if isinstance(value, Mapping):
        return {k: evaluate_value(v, ctx) for k, v in value.items()}
    return value


_MARKER_AWARE = frozenset(
    {
        "parameters", "variables", "concat", "format", "tolower", "toupper", "trim", "replace", "substring",
        "string", "coalesce", "createobject", "createarray", "array", "resourceid", "subscriptionresourceid",
        "extensionresourceid", "tenantresourceid", "guid", "uniquestring", "equals", "empty", "length",
        "contains", "not", "and", "or", "reference", "references", "resourceinfo", "copyindex",
    }
)  # fmt: skip
"""Functions that handle an unknown argument themselves (keep it, or say why it is unknown); any
other function of an unknown value is unknown as a whole."""

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
    "tenant": lambda ctx, node: Declared({"tenantId": PLACEHOLDER_TENANT}),
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
    "resourceinfo": _resource_info,
    "references": _references,
    "environment": lambda ctx, node: Declared(_ENVIRONMENT),
    "deployment": lambda ctx, node: Declared({"name": "template-deployment", "properties": {}}),
    "lambda": lambda ctx, node, *a: None,  # built lazily in `evaluate`
    "lambdavariables": _lambda_variable,
    "filter": _filter,
    "map": _map,
    "reduce": _reduce,
    "sort": _sort,
    "toobject": _to_object,
    "mapvalues": lambda ctx, node, obj, fn: {k: fn.call(v) for k, v in obj.items()},
    "groupby": _group_by,
    "tryget": _try_get,
    "items": lambda ctx, node, obj: [{"key": k, "value": v} for k, v in sorted(obj.items(), key=lambda i: i[0])],
    "objectkeys": lambda ctx, node, obj: sorted(obj),
    "shallowmerge": lambda ctx, node, objs: {k: v for o in objs for k, v in o.items()},
    "flatten": lambda ctx, node, arrays: [item for a in arrays for item in a],
    "intersection": _intersection,
    "join": lambda ctx, node, items, sep: str(sep).join(_str(i) for i in items),
    "indexof": lambda ctx, node, c, i: _index_of(c, i, first=True),
    "lastindexof": lambda ctx, node, c, i: _index_of(c, i, first=False),
    "range": lambda ctx, node, start, count: list(range(int(start), int(start) + _at_most(count, MAX_RANGE))),
    "add": lambda ctx, node, a, b: int(a) + int(b),
    "sub": lambda ctx, node, a, b: int(a) - int(b),
    "mul": lambda ctx, node, a, b: int(a) * int(b),
    "div": lambda ctx, node, a, b: int(int(a) / int(b)),
    "mod": lambda ctx, node, a, b: int(math.fmod(int(a), int(b))),
    "min": lambda ctx, node, *a: min(_numbers(a)),
    "max": lambda ctx, node, *a: max(_numbers(a)),
    "padleft": lambda ctx, node, v, n, c=" ": _str(v).rjust(_at_most(n, MAX_TEXT), str(c)[:1] or " "),
    "base64": lambda ctx, node, v: base64.b64encode(_str(v).encode()).decode(),
    "base64tostring": lambda ctx, node, v: base64.b64decode(str(v)).decode("utf-8", "replace"),
    "utcnow": _unevaluable,
    "newguid": _unevaluable,
}
