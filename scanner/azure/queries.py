"""The exact KQL sent to Resource Graph: one query per table, projected to the columns checks read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

COLUMNS = "id, name, type, kind, location, subscriptionId, resourceGroup, tags, identity, sku, properties"

RESOURCE_TYPES = (
    "microsoft.containerservice/managedclusters",
    "microsoft.web/sites",
    "microsoft.web/sites/slots",
    "microsoft.machinelearningservices/workspaces",
    "microsoft.machinelearningservices/workspaces/onlineendpoints",
    "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments",
    "microsoft.keyvault/vaults",
    "microsoft.keyvault/managedhsms",
    "microsoft.storage/storageaccounts",
    "microsoft.containerregistry/registries",
    "microsoft.cognitiveservices/accounts",
    "microsoft.network/privateendpoints",
)

SITE_CONFIG_TYPES = ("microsoft.web/sites/config", "microsoft.web/sites/slots/config")
SECURITY_TYPES = ("microsoft.security/assessments", "microsoft.security/pricings")


def asked(rows: list[dict[str, Any]], types: Sequence[str], id_suffix: str = "") -> list[dict[str, Any]]:
    """The rows a query's `where` asked for. Resource Graph applies it; a service (or fake) that
    ignored it would send more, such as a site's `config/appsettings` with its values or resource
    groups read as subscriptions. A row without a `type` column keeps the query's word for it; one
    without an id stays, to be reported as the malformed row it is."""
    wanted = {t.lower() for t in types}
    return [
        row
        for row in rows
        if not isinstance(row.get("id"), str)
        or (
            str(row.get("type") or next(iter(wanted))).lower() in wanted
            and str(row.get("id")).lower().endswith(id_suffix)
        )
    ]


SUBSCRIPTIONS = (
    "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' "
    "| project id, name, type, subscriptionId, tags, properties"
)

SITE_CONFIG = (
    "appserviceresources | where type in~ ('microsoft.web/sites/config', 'microsoft.web/sites/slots/config') "
    "| where id endswith '/config/web' "
    "| project id, name, type, subscriptionId, resourceGroup, properties"
)

SECURITY = (
    "securityresources | where type in~ ('microsoft.security/assessments', 'microsoft.security/pricings') "
    "| project id, name, type, subscriptionId, resourceGroup, properties"
)


def _quote(value: str) -> str:
    """A KQL string literal; single quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def resources(resource_groups: Sequence[str] = ()) -> str:
    """The one `resources` query: every type a check reads, narrowed by resource group (a child
    lives in its parent's group). Tags are matched on the rows (`scope.within`): in the query,
    `tags['Env']` would miss a resource tagged `env`, and an untagged child of a tagged workspace."""
    stages = [f"resources | where type in~ ({', '.join(_quote(t) for t in RESOURCE_TYPES)})"]
    if resource_groups:
        stages.append(f"where resourceGroup in~ ({', '.join(_quote(g) for g in resource_groups)})")
    stages.append(f"project {COLUMNS}")
    return " | ".join(stages)


MAX_QUERY_CHARS = 10_000
"""Each `resourcechanges` query stays under this many characters (conservative for Resource Graph)."""


def resource_changes(resource_ids: Sequence[str], hours: int) -> list[str]:
    """`resourcechanges` for these resources over the last `hours`, batched so each query stays short."""
    head = (
        "resourcechanges | where todatetime(properties.changeAttributes.timestamp) > ago({hours}h) "
        "| where tostring(properties.targetResourceId) in~ ({ids}) | project id, properties"
    )
    budget = MAX_QUERY_CHARS - len(head)
    queries: list[str] = []
    batch: list[str] = []
    size = 0
    for quoted in (_quote(r) for r in sorted(set(resource_ids), key=str.lower)):
        if batch and size + len(quoted) + 2 > budget:
            queries.append(head.format(hours=hours, ids=", ".join(batch)))
            batch, size = [], 0
        batch.append(quoted)
        size += len(quoted) + 2
    if batch:
        queries.append(head.format(hours=hours, ids=", ".join(batch)))
    return queries
