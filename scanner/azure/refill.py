"""Rows Resource Graph sent without their properties, read again from ARM.

Resource Graph can return a row whose `properties` is null (a resource provider that has not
synced its state to the index, or a type it indexes without properties). Judged as it is, every
property would read as absent, that is as the service default: an ACR admin user, an ML
deployment's environment or a site's TLS settings would pass or fail on nothing. Each such row
of an audited type is read again with ARM's own GET (Reader); if that fails too, the resource
is a coverage gap of `resources` that says so, and a resource ARM no longer knows (404) is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import AzureError, HttpResponseError

from scanner.azure import failures
from scanner.azure.arm import ACR_API, KEYVAULT_API, ML_API, WEB_API, ArmClient, as_row
from scanner.azure.settings import redact_deployment
from scanner.inventory import RESOURCES, AppSettingsFacts
from scanner.models import Gap, Resource

API_VERSIONS = {
    "microsoft.containerservice/managedclusters": "2024-05-01",
    "microsoft.web/sites": WEB_API,
    "microsoft.web/sites/slots": WEB_API,
    "microsoft.machinelearningservices/workspaces": ML_API,
    "microsoft.machinelearningservices/workspaces/onlineendpoints": ML_API,
    "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments": ML_API,
    "microsoft.keyvault/vaults": KEYVAULT_API,
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.containerregistry/registries": ACR_API,
    "microsoft.cognitiveservices/accounts": "2023-05-01",
    "microsoft.network/privateendpoints": "2023-09-01",
}
"""A stable api-version per audited type for `GET {id}` (the `resources` query's types)."""
DEPLOYMENT = "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments"
SITES = ("microsoft.web/sites", "microsoft.web/sites/slots")


def bare(rows: Iterable[Resource]) -> list[Resource]:
    """Rows of an audited type that came without a properties object (null, absent, or not an
    object at all: `""`, `[]`, a string; read as they came, every property would be the default)."""
    return [row for row in rows if not isinstance(row.properties, dict) and row.type_key in API_VERSIONS]


@dataclass(slots=True)
class Refilled:
    resource_id: str
    row: Resource | None = None
    """The resource as ARM's GET returned it; None when it is gone (404) or could not be read."""
    gap: Gap | None = None
    facts: AppSettingsFacts | None = None
    """An ML deployment's environment variables, classified (the values are not kept)."""


def read_one(arm: ArmClient, row: Resource) -> Refilled:
    try:
        body = arm.get(row.id, API_VERSIONS[row.type_key])
    except HttpResponseError as exc:
        if exc.status_code == 404:  # deleted since Resource Graph indexed it: nothing left to judge
            return Refilled(row.id)
        return Refilled(row.id, gap=_gap(row, failures.reason(exc)))
    except (AzureError, ValueError) as exc:
        return Refilled(row.id, gap=_gap(row, failures.reason(exc)))
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        return Refilled(row.id, gap=_gap(row, "ARM's GET has no properties either"))
    body = {**body, "id": row.id, "properties": dict(body["properties"])}
    facts = redact_deployment(body) if row.type_key == DEPLOYMENT else None  # values classified, then dropped
    if row.type_key in SITES:
        body["properties"].pop("siteConfig", None)  # as in Resource Graph; settings are read (and dropped) apart
    refilled = as_row(body, row.type_key)
    # Resource Graph's envelope stays (its casing of the group, the tags a --tag scope matched).
    return Refilled(row.id, row.model_copy(update={"properties": refilled.properties}), facts=facts)


def exists(arm: ArmClient, resource: Resource) -> bool | None:
    """Whether ARM still knows the resource: False on 404, None when that cannot be told.

    A child read (config, diagnostic settings, tokens, ...) that answers 404 most often means the
    resource was deleted after Resource Graph listed it; read as "no children", a deleted registry
    would pass its token check on nothing. Its own GET tells the two apart.
    """
    version = API_VERSIONS.get(resource.type_key)
    if version is None:
        return None
    try:
        arm.get(resource.id, version)
    except HttpResponseError as exc:
        return False if exc.status_code == 404 else None
    except (AzureError, ValueError):
        return None
    return True


def _gap(row: Resource, why: str) -> Gap:
    return Gap(source=RESOURCES, scope=row.id, reason=f"Resource Graph sent no properties and ARM's GET failed: {why}")


def read_all(arm: ArmClient, rows: list[Resource], workers: int, done: Callable[[Refilled], None]) -> None:
    """Read every bare row again on a bounded pool; `done` takes each result on this thread."""
    if not rows:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(rows)))) as pool:
        for result in pool.map(lambda row: read_one(arm, row), rows):
            done(result)
