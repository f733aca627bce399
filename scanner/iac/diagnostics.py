"""Diagnostic settings a template declares, found under the resource they are attached to.

A diagnostic setting is an extension resource: its live id is the target's id followed by
`/providers/Microsoft.Insights/diagnosticSettings/NAME`, which is how the checks find a resource's
settings. A template writes the target three ways: `"scope"` (Bicep's `scope: vault`, a relative
`Microsoft.KeyVault/vaults/kv` or a full id), a `TYPE/providers/diagnosticSettings` resource named
`target/Microsoft.Insights/NAME` (older quickstarts), or that child nested in the target's own
`resources`. A target known only at deployment keeps its marker: no resource finds the setting.
"""

from __future__ import annotations

from typing import Any

from scanner.iac.arm_expr import PLACEHOLDER_RESOURCE_GROUP, PLACEHOLDER_SUBSCRIPTION

TYPE = "Microsoft.Insights/diagnosticSettings"
_PROVIDERS_CHILD = "/providers/diagnosticsettings"


def is_setting(rtype: str) -> bool:
    return rtype.lower() == TYPE.lower()


def target(rtype: str, name: str, scope: Any, parent: dict[str, Any] | None) -> str | None:
    """The id of the resource a diagnostic setting is attached to; None for any other resource."""
    lowered = rtype.lower()
    if lowered == TYPE.lower() and isinstance(scope, str) and scope:
        return scope if scope.startswith("/") else _relative_id(scope)
    if lowered == "providers/diagnosticsettings" and parent is not None:
        return str(parent["id"])
    if lowered.endswith(_PROVIDERS_CHILD) and lowered.count("/") >= 3:  # `Microsoft.KeyVault/vaults/providers/...`
        owner_type, owner_name = rtype[: -len(_PROVIDERS_CHILD)].split("/"), name.split("/")[:-2]
        pairs = "/".join(f"{t}/{n}" for t, n in zip(owner_type[1:], owner_name, strict=False))
        return _relative_id(f"{owner_type[0]}/{pairs}")
    return None


def setting_name(name: str) -> str:
    """`kv/Microsoft.Insights/audit` and `Microsoft.Insights/audit` name the setting `audit`."""
    return name.rsplit("/", 1)[-1]


def setting_id(target_id: str, name: str) -> str:
    return f"{target_id.rstrip('/')}/providers/{TYPE}/{name}"


def _relative_id(relative: str) -> str:
    """`Microsoft.KeyVault/vaults/kv` (Bicep's scope) as a full id in the template's resource group."""
    namespace, _, rest = relative.partition("/")
    return (
        f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/resourceGroups/{PLACEHOLDER_RESOURCE_GROUP}"
        f"/providers/{namespace}/{rest}"
    )
