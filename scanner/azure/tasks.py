"""Per-resource reads Resource Graph cannot do, planned as independent tasks for a thread pool.

Each task returns an `Outcome` (rows, key metadata or setting facts, or a gap) and never
raises for a service error: a 404 means nothing to read if the resource still exists and that
it is gone if not; anything else is a coverage gap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError

from scanner import inventory as sources
from scanner.azure import containers, failures, refill
from scanner.azure.arm import ACR_API, DIAGNOSTICS_API, KEYVAULT_API, ML_API, WEB_API, ArmClient, as_row
from scanner.azure.keyvault import KeyVaultReader
from scanner.azure.options import CollectOptions
from scanner.azure.progress import ARM_READS, VAULT_READS
from scanner.azure.settings import site_facts
from scanner.inventory import KEYVAULT_SECRETS, REGISTRY_TOKENS, AppSettingsFacts, KeyMetadata
from scanner.models import Gap, Resource

# Sources beyond `scanner.inventory.ALL_SOURCES`: child metadata some checks read when present.

WORKSPACE = "microsoft.machinelearningservices/workspaces"
REGISTRY = "microsoft.containerregistry/registries"
APPS = ("microsoft.web/sites", "microsoft.web/sites/slots")
"""Sites and deployment slots: a slot has its own config, policies and settings under its own id."""
APP_CONFIGS = tuple(f"{app}/config" for app in APPS)
VAULT = "microsoft.keyvault/vaults"
MANAGED_HSM = "microsoft.keyvault/managedhsms"
NO_DIAGNOSTICS = {
    "microsoft.resources/subscriptions",
    "microsoft.network/privateendpoints",
    "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments",
}


SECRET_FIELDS = {"clientsecret", "consumersecret", "appsecret", "password", "secret", "clientsecretvalue"}


def without_secrets(node: Any) -> Any:
    """The same JSON with every field named like a secret value removed, at any depth."""
    if isinstance(node, dict):
        return {k: without_secrets(v) for k, v in node.items() if str(k).lower() not in SECRET_FIELDS}
    if isinstance(node, list):
        return [without_secrets(item) for item in node]
    return node


def _has_diagnostics(resource: Resource) -> bool:
    """Top-level resources only: not subscriptions, endpoints' children, config or Defender rows."""
    type_key = resource.type_key
    return (
        type_key not in NO_DIAGNOSTICS
        and not type_key.startswith("microsoft.security/")
        and "/config/" not in resource.id_key
    )


@dataclass(slots=True)
class Outcome:
    source: str
    rows: list[Resource] = field(default_factory=list)
    keys: list[KeyMetadata] = field(default_factory=list)
    facts: AppSettingsFacts | None = None
    gap: Gap | None = None
    subscription: str | None = None
    """Set by per-subscription reads, for progress."""
    gone: str | None = None
    """The id of a resource ARM no longer knows (deleted since Resource Graph listed it): the
    collection leaves it out, with everything under it."""


Task = Callable[[], Outcome]


@dataclass(frozen=True, slots=True)
class Job:
    """A task with what progress needs: its phase and the subscription whose reads it is part of."""

    run: Task
    subscription: str | None
    phase: str = ARM_READS


def _add(jobs: list[Job], subscription: str | None, task: Task, phase: str = ARM_READS) -> None:
    jobs.append(Job(task, subscription, phase))


class Reads:
    def __init__(
        self, options: CollectOptions, arm: ArmClient, vaults: KeyVaultReader, present: Iterable[str] = ()
    ) -> None:
        """`present`: lower-cased ids whose own GET already answered this run (no need to ask again)."""
        self.options = options
        self.arm = arm
        self.vaults = vaults
        self._known: dict[str, bool | None] = dict.fromkeys(present, True)
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def plan(self, resources: list[Resource]) -> list[Job]:
        """One job per (resource, source) the options and the rows call for."""
        configured = {r.id_key.rsplit("/config/", 1)[0] for r in resources if r.type_key in APP_CONFIGS}
        jobs: list[Job] = []
        ml_storage = containers.ml_storage(resources)
        for resource in resources:
            add = partial(_add, jobs, resource.subscription_id)
            type_key = resource.type_key
            if type_key == WORKSPACE:
                add(self._guard(sources.ML_COMPUTES, resource, self._computes, listing=True))
            elif type_key in APPS:
                add(self._guard(sources.PUBLISHING_CREDENTIALS, resource, self._publishing, listing=True))
                if resource.id_key not in configured:
                    add(self._guard(sources.APPSERVICE_CONFIG, resource, self._site_config))
                add(self._guard(sources.APPSERVICE_CONFIG, resource, self._auth_settings))
                if self.options.app_settings:
                    add(self._guard(sources.APP_SETTINGS, resource, self._app_settings))
            elif type_key == VAULT and self.options.keyvault:
                add(partial(self._keys, resource), VAULT_READS)
                add(self._guard(KEYVAULT_SECRETS, resource, self._secrets, listing=True))
            elif type_key == MANAGED_HSM and self.options.keyvault:  # keys only: an HSM holds no secrets
                add(partial(self._keys, resource), VAULT_READS)
            elif type_key == REGISTRY:
                add(self._guard(REGISTRY_TOKENS, resource, self._tokens, absent=(400,), listing=True))
            elif resource.id_key in ml_storage:
                add(self._guard(sources.BLOB_CONTAINERS, resource, self._containers, listing=True))
            if self.options.diagnostics and _has_diagnostics(resource):
                add(self._guard(sources.DIAGNOSTIC_SETTINGS, resource, self._diagnostics, listing=True))
        return jobs

    def _guard(
        self,
        source: str,
        resource: Resource,
        read: Callable[[Resource, Outcome], None],
        absent: tuple[int, ...] = (),
        *,
        listing: bool = False,
    ) -> Task:
        """Run one read; a status in `absent` means nothing to read, any other failure is a gap.

        A 404 counts as "nothing to read" only once the resource's own GET shows it still exists,
        and never for a `listing`: ARM lists an existing resource's children as an empty `value`, so
        a 404 there is a list the service does not serve (read as none, a registry without its tokens
        or a vault without its secrets passed on nothing): a gap.
        """

        def run() -> Outcome:
            outcome = Outcome(source)
            try:
                read(resource, outcome)
            except HttpResponseError as exc:
                if exc.status_code == 404:
                    self._not_found(resource, outcome, exc, listing=listing)
                elif exc.status_code not in absent:
                    outcome.gap = Gap(source=source, scope=resource.id, reason=failures.reason(exc))
            except (AzureError, ValueError) as exc:
                outcome.gap = Gap(source=source, scope=resource.id, reason=failures.reason(exc))
            return outcome

        return run

    def _not_found(
        self, resource: Resource, outcome: Outcome, exc: HttpResponseError, *, listing: bool = False
    ) -> None:
        """A read of the resource's children answered 404: gone, truly none, or (unconfirmed) a gap."""
        outcome.rows.clear()
        outcome.facts = None
        known = self._exists(resource)
        if known is False:
            outcome.gone = resource.id
        elif known and listing:
            why = f"{failures.reason(exc)} for a resource that exists (this list is not served here)"
            outcome.gap = Gap(source=outcome.source, scope=resource.id, reason=why)
        elif known is None:
            why = f"{failures.reason(exc)}, and whether the resource still exists could not be read"
            outcome.gap = Gap(source=outcome.source, scope=resource.id, reason=why)

    def _exists(self, resource: Resource) -> bool | None:
        """`refill.exists`, asked once per resource however many of its reads answer 404."""
        key = resource.id_key
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._known:
                self._known[key] = refill.exists(self.arm, resource)
            return self._known[key]

    def _computes(self, workspace: Resource, outcome: Outcome) -> None:
        items = self.arm.list(f"{workspace.id}/computes", ML_API)
        outcome.rows.extend(as_row(item, f"{WORKSPACE}/computes") for item in items)

    # Site and slot reads share one shape: the child type follows the app's own type.
    def _publishing(self, app: Resource, outcome: Outcome) -> None:
        items = self.arm.list(f"{app.id}/basicPublishingCredentialsPolicies", WEB_API)
        outcome.rows.extend(as_row(item, f"{app.type_key}/basicpublishingcredentialspolicies") for item in items)

    def _site_config(self, app: Resource, outcome: Outcome) -> None:
        body = self.arm.get(f"{app.id}/config/web", WEB_API)
        if isinstance(body, dict):
            outcome.rows.append(as_row({"id": f"{app.id}/config/web", **body}, f"{app.type_key}/config"))

    def _auth_settings(self, app: Resource, outcome: Outcome) -> None:
        """`config/authsettingsV2` (Easy Auth); secret-valued fields, if any came back, are dropped."""
        body = self.arm.get(f"{app.id}/config/authsettingsV2", WEB_API)
        if isinstance(body, dict):
            row = {"id": f"{app.id}/config/authsettingsV2", **without_secrets(body)}
            outcome.rows.append(as_row(row, f"{app.type_key}/config"))

    def _app_settings(self, app: Resource, outcome: Outcome) -> None:
        outcome.facts = site_facts(self.arm, app.id)

    def _diagnostics(self, resource: Resource, outcome: Outcome) -> None:
        items = self.arm.list(f"{resource.id}/providers/Microsoft.Insights/diagnosticSettings", DIAGNOSTICS_API)
        outcome.rows.extend(as_row(item, "microsoft.insights/diagnosticsettings") for item in items)

    def _secrets(self, vault: Resource, outcome: Outcome) -> None:
        """Secret metadata (attributes, content type) from ARM; ARM never returns values, and any is dropped."""
        for item in self.arm.list(f"{vault.id}/secrets", KEYVAULT_API):
            properties = item.get("properties")
            if isinstance(properties, dict):
                item = {**item, "properties": {k: v for k, v in properties.items() if k.lower() != "value"}}
            outcome.rows.append(as_row(item, f"{VAULT}/secrets"))

    def _tokens(self, registry: Resource, outcome: Outcome) -> None:
        """Repository-scoped tokens (Basic registries answer 400: none to read)."""
        items = self.arm.list(f"{registry.id}/tokens", ACR_API)
        outcome.rows.extend(as_row(item, f"{REGISTRY}/tokens") for item in items)

    def _containers(self, account: Resource, outcome: Outcome) -> None:
        containers.read(self.arm, account, outcome.rows)

    def _keys(self, vault: Resource) -> Outcome:
        outcome = Outcome(sources.KEY_METADATA)
        try:
            outcome.keys, outcome.gap = self.vaults.read(vault)
        except HttpResponseError as exc:  # ARM's key listing answered 404 (`KeyVaultReader.read`)
            self._not_found(vault, outcome, exc)
        return outcome
