"""Rules several services share, written once so each check is a short call with its own wording.

Only logic that is truly the same lives here: public network access with absent meaning Enabled,
"public access off or the firewall denies by default", approved private endpoints, a managed
identity, a customer-managed key by status and key identifier, per-child verdicts, enabled
diagnostic log entries and evidence labelled with the record it came from. Each check keeps its
own id, messages and evidence; where services differ in rule (not just in words), as Storage's
firewall order or Cognitive Services' CMK do, the check keeps its own code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from scanner import props, unevaluated
from scanner.estate import Estate, PrivateLink
from scanner.models import Evidence, Resource
from scanner.registry import Verdict, failed, not_applicable, passed

PUBLIC_ACCESS = "properties.publicNetworkAccess"
LINK_STATES = "privateEndpointConnections[*].status"
PERIMETER = "SecuredByPerimeter"
"""publicNetworkAccess under a network security perimeter (Storage, Key Vault, AI services, newer API
versions): public traffic is denied unless the perimeter's inbound access rules admit it, and those
rules replace the resource's own firewall (networkAcls). So it passes "firewall denies by default"
rules, and fails "public network access disabled" rules as Azure Policy does (notEquals Disabled):
the perimeter's rules can still admit public address ranges."""
PERIMETER_OPEN = (
    "public network access is SecuredByPerimeter: a network security perimeter's access rules may still "
    "admit public address ranges, so it is not Disabled"
)
PERIMETER_DENIES = (
    "public network access is SecuredByPerimeter: a network security perimeter replaces the firewall and "
    "denies public traffic its access rules do not admit"
)


def public_access_verdict(
    node: Resource,
    *evidence: Evidence,
    disabled: str = "public network access is Disabled",
    unset: str = "public network access is not set (the default is Enabled)",
) -> Verdict:
    """publicNetworkAccess Disabled passes; anything else fails, absent with `unset` (the service
    default is Enabled). Evidence defaults to the property itself."""
    evidence = evidence or props.read(node, PUBLIC_ACCESS)
    if props.equals(node, PUBLIC_ACCESS, "Disabled"):
        return passed(disabled, *evidence)
    value = (props.text(node, PUBLIC_ACCESS) or "").strip()
    if not value:  # absent, null, or the empty string some App Service rows carry
        return failed(unset, *evidence)
    if value.lower() == PERIMETER.lower():
        return failed(PERIMETER_OPEN, *evidence)
    return failed(f"public network access is {value}", *evidence)


def closed_to_public(node: Resource, firewall: str, denies: str, *evidence: Evidence) -> Verdict | None:
    """A pass when public network access is Disabled, the firewall's default action (at path
    `firewall`) is Deny, or a network security perimeter governs access (see PERIMETER); None when
    the endpoint is open, so the check can say why in its own words."""
    if props.equals(node, PUBLIC_ACCESS, "Disabled"):
        return passed("public network access is Disabled", *evidence)
    if props.equals(node, firewall, "Deny"):
        return passed(denies, *evidence)
    if props.equals(node, PUBLIC_ACCESS, PERIMETER):
        return passed(PERIMETER_DENIES, *evidence)
    return None


def default_action(node: Resource, path: str) -> str:
    """A firewall's default action for messages; absent means Allow."""
    return props.text(node, path) or "Allow (not set)"


def link_endpoints(links: Sequence[PrivateLink]) -> Evidence:
    """Each private endpoint connection as `endpoint: status`."""
    value = [f"{link.endpoint_id or 'unnamed endpoint'}: {link.status}" for link in links]
    return Evidence(path=LINK_STATES, value=value)


def link_states(links: Sequence[PrivateLink]) -> Evidence:
    """The status of each private endpoint connection."""
    return Evidence(path=LINK_STATES, value=[link.status for link in links])


_ENDPOINT_WORDS = (
    "{} has an approved private endpoint",
    "{}'s private endpoint connections are not approved",
    "{} has no private endpoint",
)
_CONNECTION_WORDS = (
    "{} has an approved private endpoint connection",
    "{} has private endpoint connections but none is Approved",
    "{} has no private endpoint connection",
)


def _unknown_states(links: Sequence[PrivateLink]) -> list[str]:
    return [link.status for link in links if unevaluated.find(link.status) is not None]


def private_endpoint_verdict(
    owner: str, links: Sequence[PrivateLink], *evidence: Evidence, per_connection: bool = False
) -> Verdict:
    """An Approved connection passes; pending or rejected ones, or none, fail. `owner` names the
    resource in the message ("the vault"); `per_connection` words it as connections."""
    approved, unapproved, none = _CONNECTION_WORDS if per_connection else _ENDPOINT_WORDS
    # A template's link known only at deployment (its target or its approval): a fail on it is unknown.
    evidence = (*evidence, *(Evidence(path=LINK_STATES, value=s) for s in _unknown_states(links)))
    if any(link.approved for link in links):
        return passed(approved.format(owner), *evidence)
    if links:
        return failed(unapproved.format(owner), *evidence)
    return failed(none.format(owner), *evidence)


def identity_verdict(resource: Resource, owner: str, *, assigned: Callable[[Resource], bool]) -> Verdict:
    """Passes naming identity.type when `assigned` finds a managed identity; `owner` names the
    resource in the failure ("the account"). `assigned` is the service's rule: `any_identity` or
    `props.has_managed_identity` (SystemAssigned/UserAssigned only)."""
    evidence = props.read(resource, "identity.type")
    if assigned(resource):
        return passed(f"managed identity: {props.text(resource, 'identity.type')}", *evidence)
    return failed(f"{owner} has no managed identity", *evidence)


def any_identity(resource: Resource) -> bool:
    """Any identity.type other than None (what Cognitive Services and ML endpoints accept)."""
    return bool(props.identity_types(resource))


CMK_STATUS = "properties.encryption.status"
CMK_KEY_ID = "properties.encryption.keyVaultProperties.keyIdentifier"


def cmk_verdict(resource: Resource, *, encrypted: str, off: str) -> Verdict:
    """Customer-managed key by encryption.status Enabled (any casing), as ML workspaces and container
    registries report it and as their Azure Policy definitions (7f40cee6, 5b9159ae) test it; absent
    means Microsoft-managed keys. The service refuses Enabled without a key, so a row that shows no key
    identifier still passes, saying the key could not be named."""
    evidence = props.read(resource, CMK_STATUS, CMK_KEY_ID)
    if not props.equals(resource, CMK_STATUS, "Enabled"):
        return failed(off, *evidence)
    if not props.text(resource, CMK_KEY_ID):
        return passed(f"{encrypted} (encryption is Enabled; the row names no key identifier)", *evidence)
    return passed(encrypted, *evidence)


def read_from(label: str, node: Any, *paths: str) -> tuple[Evidence, ...]:
    """Evidence read from a record other than the judged resource, each path prefixed with `label`
    (e.g. "config/web.", "hub:") so an auditor sees whose value it is."""
    return tuple(props.evidence(f"{label}{e.path}", e.value) for e in props.read(node, *paths))


def per_child(
    resource: Resource,
    estate: Estate,
    child_type: str,
    empty: Verdict,
    judge: Callable[[str, Resource], Verdict],
) -> Iterator[Verdict]:
    """One verdict per child record, by name; `empty` when the resource has none. The check declares
    the source in `needs`, so "none collected" never reaches here as "none exist"."""
    children = estate.children(resource, child_type)
    if not children:
        yield empty
        return
    for child in sorted(children, key=lambda c: c.name.lower()):
        yield judge(child.name.rsplit("/", 1)[-1], child)


def no_diagnostic_settings(resource: Resource, message: str, *evidence: Evidence) -> Verdict:
    """A resource without a diagnostic setting fails; one from a template or plan that declares none
    for it is not applicable: settings are often deployed apart from it (by Azure Policy, another
    pipeline), so only a live scan can tell."""
    if resource.source_file:
        return not_applicable(
            "no diagnostic setting is declared for it in this template or plan (they are often deployed "
            "separately, e.g. by Azure Policy): judge them in a live scan",
            *evidence,
        )
    return failed(message, *evidence)


def unknown_settings(settings: Sequence[Resource]) -> tuple[Evidence, ...]:
    """A template's diagnostic setting with values known only at deployment, as evidence (so a verdict
    resting on it is unknown); none for live settings."""
    return tuple(
        Evidence(path=f"diagnosticSettings/{s.name}.properties", value=found)
        for s in settings
        if (found := _marker_in(s.properties)) is not None
    )[:1]


def _marker_in(value: Any) -> str | None:
    found = unevaluated.find(value)
    return None if found is None else unevaluated.marker(found)


def enabled_logs(setting: Resource) -> list[Any]:
    """The log entries of a diagnostic setting that are switched on."""
    return [entry for entry in props.items(setting, "properties.logs") if props.flag(entry, "enabled") is True]
