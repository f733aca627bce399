"""Values a template cannot know before deployment, and what a verdict built on one is worth.

An ARM expression such as `reference(...)` of a resource outside the template is kept as a marker
string `<unevaluated: EXPR>`. A check that read one cannot pass or fail on it: its verdict becomes
`unknown` naming the expression. The marker lives here so the runner and the IaC readers agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.models import Resource, Status
from scanner.registry import Verdict

PREFIX = "<unevaluated: "
MAX_DEPTH = 32


def marker(expression: str) -> str:
    return f"{PREFIX}{expression[:200]}>"


def find(value: Any, depth: int = 0) -> str | None:
    """The first unevaluated expression inside `value`, if any."""
    if isinstance(value, str):
        return value[len(PREFIX) : -1] if value.startswith(PREFIX) else None
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found = find(item, depth + 1)
            if found is not None:
                return found
    return None


def undetermined(verdict: Verdict, condition: str | None = None) -> Verdict:
    """A pass, fail or not-applicable that rests on an unevaluated value becomes `unknown`, naming the
    expression (whether a check applies can be as unknown as its outcome). On a resource whose
    `condition` is known only at deployment, the verdict stands and its message says so."""
    verdict = _undetermined(verdict)
    if condition is None:
        return verdict
    return replace(verdict, message=f"{verdict.message} (deployed only if [{condition}], decided at deployment)")


_CONDITIONAL_CHILDREN = ("secrets", "tokens")
"""Child types a check judges one verdict each of, by `detail_key`, on their parent (vault secrets, registry tokens)."""


def deploy_condition(resource: Resource, verdict: Verdict, estate: Any) -> str | None:
    """The condition a verdict is deployed under: its resource's, and for a verdict on one of the
    resource's keys or children (`detail_key`), that one's own too (a conditional key in a vault
    that is always deployed)."""
    own = resource.deploy_condition
    name = verdict.detail_key
    if name is None:
        return own
    conditions = [k.deploy_condition for k in estate.keys_in(resource) if k.name == name]
    for child in _CONDITIONAL_CHILDREN:
        for row in estate.children(resource, f"{resource.type_key}/{child}"):
            if row.name.rsplit("/", 1)[-1] == name:
                conditions.append(row.deploy_condition)
    found = [c for c in conditions if c]
    if own and not any(own in c for c in found):  # a child nested in a conditional parent already says it
        found.insert(0, own)
    return " and ".join(dict.fromkeys(found)) or None


def _undetermined(verdict: Verdict) -> Verdict:
    if verdict.status not in (Status.PASS, Status.FAIL, Status.NOT_APPLICABLE):
        return verdict
    for evidence in verdict.evidence:
        expression = find(evidence.value)
        if expression is not None:
            return replace(
                verdict,
                status=Status.UNKNOWN,
                message=f"cannot be known before deployment: {evidence.path} is [{expression}]",
            )
    return verdict


_MAY_BE_NULL = re.compile(r"\b(?:if|null|coalesce|tryget|trygetvalue|empty)\s*\(|\?", re.IGNORECASE)
"""What in an expression can make it yield nothing: a conditional, `null()`, a guarded lookup (Bicep's
`?.` and `??` compile to `tryGet`/`coalesce`). A parameter given no value here is not one of them:
ARM refuses a deployment that leaves a parameter without a value."""


def set_at_deployment(value: Any) -> str | None:
    """The expression of a value a template or plan surely sets, though only at deployment
    (`dateTimeAdd(utcNow(), 'P90D')`, a Terraform `(known after apply)`); None for anything else,
    including an expression that may yield null (then whether it is set at all is unknown)."""
    expression = find(value) if isinstance(value, str) else None
    if expression is None or _MAY_BE_NULL.search(expression.removesuffix(" (known after apply)")):
        return None
    return expression
