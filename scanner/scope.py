"""Narrow an inventory to a scope: the same --subscription / --resource-group / --tag filters the
live collector puts into its queries, applied to a snapshot or the demo so an auditor can rescan
one subscription or one application's resource group from a full collection.

A child row (config, compute, diagnostic setting, assessment) follows the top-level resource it
belongs to; subscription-level rows (Defender plans, security contacts, the subscription itself)
follow their subscription, since they have no resource group or tags of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scanner.estate import parent_id
from scanner.inventory import Inventory
from scanner.models import Resource


def _top(resource_id: str) -> str:
    current = resource_id
    while (parent := parent_id(current)) is not None:
        current = parent
    return current.lower()


def subscription_level(resource: Resource) -> bool:
    """A row scoped to a subscription itself (the subscription, a Defender plan, a security contact)."""
    return not resource.resource_group and resource.id.lower().startswith("/subscriptions/")


def _tags_match(resource: Resource, tags: Mapping[str, str]) -> bool:
    own = {str(k).lower(): str(v).lower() for k, v in (resource.tags or {}).items()}
    return all(own.get(key.lower()) == value.lower() for key, value in tags.items())


def within(
    resources: Sequence[Resource], *, resource_groups: Sequence[str] = (), tags: Mapping[str, str] | None = None
) -> list[Resource]:
    """The resources in those resource groups and with those tags (keys and values in any casing),
    in order: a child row follows its top-level resource, a subscription-level row is kept. The
    live collector narrows its rows with this too, so a live scan and a rescan of a full snapshot
    take the same resources."""
    tags = dict(tags or {})
    if not (resource_groups or tags):
        return list(resources)
    groups = {g.lower() for g in resource_groups}
    kept_tops: set[str] = set()
    for resource in resources:
        if parent_id(resource.id) is not None:
            continue
        in_group = not groups or (resource.resource_group or "").lower() in groups
        if subscription_level(resource) or (in_group and _tags_match(resource, tags)):
            kept_tops.add(resource.id_key)
    return [r for r in resources if _top(r.id) in kept_tops]


def narrow(
    inventory: Inventory,
    *,
    subscriptions: Sequence[str] = (),
    resource_groups: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
) -> Inventory:
    """The part of `inventory` inside the scope; the inventory itself when no filter is given."""
    tags = dict(tags or {})
    if not (subscriptions or resource_groups or tags):
        return inventory
    subs = {s.lower() for s in subscriptions}
    in_subscription = [r for r in inventory.resources if not subs or (r.subscription_id or "").lower() in subs]
    resources = within(in_subscription, resource_groups=resource_groups, tags=tags)
    kept_ids = {r.id_key for r in resources}
    vaults = {k.vault_id.lower() for k in inventory.keys} & kept_ids
    description = ", ".join(
        part
        for part in (
            f"subscriptions {', '.join(subscriptions)}" if subscriptions else "",
            f"resource groups {', '.join(resource_groups)}" if resource_groups else "",
            f"tags {', '.join(f'{k}={v}' for k, v in tags.items())}" if tags else "",
        )
        if part
    )
    scope = inventory.header.scope
    header = inventory.header.model_copy(
        update={
            "scope": scope.model_copy(
                update={
                    "description": f"{scope.description or 'inventory'} narrowed to {description}",
                    "subscriptions": tuple(s for s in scope.subscriptions if not subs or s.lower() in subs),
                    "resource_groups": tuple(resource_groups) or scope.resource_groups,
                    "tags": tags or scope.tags,
                }
            )
        }
    )
    return Inventory(
        header=header,
        resources=resources,
        keys=[k for k in inventory.keys if k.vault_id.lower() in vaults],
        app_settings=[a for a in inventory.app_settings if a.resource_id.lower() in kept_ids],
    )
