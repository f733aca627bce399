"""The exact KQL sent to Resource Graph: one query per table, projected to the columns checks read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

COLUMNS = "id, name, type, kind, location, subscriptionId, resourceGroup, tags, identity, sku, properties"

RESOURCE_TYPES = (
    "microsoft.containerservice/managedclusters",
    "microsoft.web/sites",
    "microsoft.web/sites/slots",
    "microsoft.machinelearningservices/workspaces",
    "microsoft.machinelearningservices/workspaces/onlineendpoints",
    "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments",
    "microsoft.keyvault/vaults",
    "microsoft.storage/storageaccounts",
    "microsoft.containerregistry/registries",
    "microsoft.cognitiveservices/accounts",
    "microsoft.network/privateendpoints",
)

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


def resources(resource_groups: Sequence[str] = (), tags: Mapping[str, str] | None = None) -> str:
    """The one `resources` query: every type a check reads, narrowed by resource group and tag."""
    stages = [f"resources | where type in~ ({', '.join(_quote(t) for t in RESOURCE_TYPES)})"]
    if resource_groups:
        stages.append(f"where resourceGroup in~ ({', '.join(_quote(g) for g in resource_groups)})")
    for key, value in sorted((tags or {}).items()):
        stages.append(f"where tags[{_quote(key)}] =~ {_quote(value)}")
    stages.append(f"project {COLUMNS}")
    return " | ".join(stages)
