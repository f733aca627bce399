"""The estate: an inventory indexed once, so every lookup a check makes is a dict hit.

Relations checks and the posture need: parent/child (workspace -> computes, site or slot -> config),
private endpoint -> target, ML workspace -> Key Vault / Storage / ACR / App Insights,
deployment -> endpoint -> workspace, AKS attached as a workspace compute, Defender
assessments per resource, Defender plans and security contacts per subscription, key
metadata per vault and per key identifier, app-setting facts per app, and source coverage.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scanner import kinds, props
from scanner.bulk import collector_paused, keep_resident
from scanner.frozen import deep_freeze
from scanner.inventory import AppSettingsFacts, Inventory, KeyMetadata
from scanner.models import Gap, Resource, SourceCoverage
from scanner.unevaluated import PREFIX as UNEVALUATED

_PROVIDERS_TEXT = "/providers/"
_PROVIDERS_LENGTH = len(_PROVIDERS_TEXT)
_PROVIDERS = re.compile(_PROVIDERS_TEXT, re.IGNORECASE)
# A top-level ARM id at the start of a string: runs of non-slash characters between literals.
_TOP_LEVEL_ID = re.compile(r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/[^/]+/[^/]+/[^/]+", re.IGNORECASE)
_ML_PREFIX = "microsoft.machinelearningservices/"
_JSON_FIELDS = ("tags", "identity", "sku", "properties")
_ABSENT = object()
_CONNECTIONS = "privateEndpointConnections"
_CONNECTIONS_KEY = _CONNECTIONS.lower()

ML_WORKSPACE_DEPENDENCIES = {
    "keyVault": "key-vault",
    "storageAccount": "storage",
    "containerRegistry": "registry",
    "applicationInsights": "app-insights",
}


@dataclass(frozen=True, slots=True)
class PrivateLink:
    """One private endpoint connection to a target resource."""

    endpoint_id: str | None
    status: str
    group_ids: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.status.lower() == "approved"


def parent_id(resource_id: str) -> str | None:
    """`.../workspaces/w/onlineEndpoints/e` -> `.../workspaces/w`; extension resources -> their target."""
    stripped = resource_id.rstrip("/")
    if stripped.isascii():
        # The common case without a regex: one `/providers/` (in any case; ASCII lower-cases in place).
        lowered = stripped.lower()
        first = lowered.find(_PROVIDERS_TEXT)
        if first < 0:
            return None
        if first == lowered.rfind(_PROVIDERS_TEXT):
            return _above_last_two(stripped, first)
    parts = _PROVIDERS.split(stripped)
    if len(parts) < 2:
        return None
    segments = parts[-1].split("/")
    if len(segments) > 3:
        return stripped.rsplit("/", 2)[0]
    if len(parts) > 2:
        return "/providers/".join(parts[:-1])
    return None


# A URL urlsplit reads the plain way: scheme, `//`, a host of letters, digits, dots and dashes with
# no user or port, a path without tabs or newlines (urlsplit drops those), then a query or fragment.
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([A-Za-z0-9.\-]+)((?:/[^?#\t\r\n]*)?)(?:[?#][\s\S]*)?\Z")


def _above_last_two(stripped: str, providers: int) -> str | None:
    """The id without its last type/name pair when more than a provider/type/name follows the one
    `/providers/` at `providers`; None for a top-level resource."""
    if stripped.count("/", providers + len(_PROVIDERS_TEXT)) < 3:
        return None
    return stripped[: stripped.rfind("/", 0, stripped.rfind("/"))]


def _lower_parent(key: str) -> str | None:
    """`parent_id(key)` for an id already lower-case and ASCII (the index's keys): no second copy."""
    stripped = key.rstrip("/")
    first = stripped.find(_PROVIDERS_TEXT)
    if first < 0:
        return None
    if first == stripped.rfind(_PROVIDERS_TEXT):
        return _above_last_two(stripped, first)
    return parent_id(stripped)


def versionless_key_id(key_id: str) -> str:
    """`https://v.vault.azure.net/keys/k/abc123` -> `https://v.vault.azure.net/keys/k` (lower-cased)."""
    stripped = key_id.strip()
    plain = _PLAIN_URL.match(stripped)
    if plain is not None:
        host, path = plain.group(1).lower(), plain.group(2)
    else:
        try:
            split = urlsplit(stripped)
        except ValueError:  # e.g. an unbalanced "[" in the host: names no key we know
            return stripped.lower()
        host, path = (split.hostname or "").lower(), split.path
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "keys":
        return f"https://{host}/keys/{segments[1].lower()}"
    return stripped.lower().rstrip("/")


def vault_host(uri: str) -> str:
    stripped = uri.strip()
    plain = _PLAIN_URL.match(stripped)
    if plain is not None:
        return plain.group(1).lower()
    try:
        return (urlsplit(stripped).hostname or "").lower()
    except ValueError:
        return ""


MANAGED_HSM_TYPE = "microsoft.keyvault/managedhsms"
_KEY_STORE_URI = {"microsoft.keyvault/vaults": "vaultUri", MANAGED_HSM_TYPE: "hsmUri"}
"""Where a vault or a Managed HSM states the URI its key identifiers start with."""


def key_store_uri(resource: Resource) -> str | None:
    """The data-plane URI of a vault (`vaultUri`) or Managed HSM (`hsmUri`): a customer-managed key
    id on `*.vault.azure.net` or `*.managedhsm.azure.net` names its store by this URI's host."""
    name = _KEY_STORE_URI.get(resource.type_key)
    return _text(resource.properties, name) if name else None


_CMK_SPLIT = {
    kinds.STORAGE: "keyvaultproperties",
    kinds.COGNITIVE: "keyVaultProperties",
}
"""Under `properties.encryption`: the object holding `keyVaultUri` and `keyName`."""
_CMK_SINGLE = {
    kinds.ML_WORKSPACE: ("encryption", "keyVaultProperties", "keyIdentifier"),
    kinds.REGISTRY: ("encryption", "keyVaultProperties", "keyIdentifier"),
    kinds.AKS: ("securityProfile", "azureKeyVaultKms", "keyId"),
}
"""Under `properties`: the path to the key identifier."""


_CMK_KINDS = frozenset(_CMK_SPLIT) | frozenset(_CMK_SINGLE)


def _lower(text: str | None) -> str | None:
    return text.lower() if text else text


def cmk_key_id(resource: Resource, kind: str | None) -> str | None:
    """The customer-managed key a resource encrypts with, as a key identifier, or None.

    Storage and Cognitive Services split it into a vault URI and a key name (and only use it
    when keySource is Microsoft.KeyVault); the others give one key identifier.
    """
    if kind in _CMK_SPLIT:
        if (_text(resource.properties, "encryption", "keySource") or "").lower() != "microsoft.keyvault":
            return None
        uri = _text(resource.properties, "encryption", _CMK_SPLIT[kind], "keyVaultUri")
        name = _text(resource.properties, "encryption", _CMK_SPLIT[kind], "keyName")
        return f"{uri.rstrip('/')}/keys/{name}" if uri and name else None
    if kind in _CMK_SINGLE:
        return _text(resource.properties, *_CMK_SINGLE[kind])
    return None


_FOLDED: dict[tuple[Any, ...], dict[str, Any]] = {}
_MAX_SHAPES = 8192
"""Per shape of keys (a dict's keys in order): each lower-cased key -> the first key equal to it ignoring
case. Rows of one kind share a few shapes, so a key missing from a row is looked for ignoring case
without lower-casing every key of every row. Bounded: shapes come from data."""


def _folded(node: dict[Any, Any]) -> dict[str, Any]:
    shape = tuple(node)
    folded = _FOLDED.get(shape)
    if folded is None:
        folded = {}
        for name in shape:
            if isinstance(name, str):
                folded.setdefault(name.lower(), name)
        if len(_FOLDED) < _MAX_SHAPES:
            _FOLDED[shape] = folded
    return folded


def _at(node: Any, *keys: str) -> Any:
    """`props.get(node, "k1.k2")` for plain keys, in fewer steps: a dict's exact key first, else its
    first key equal to it ignoring case; None once a step is missing."""
    for key in keys:
        if isinstance(node, dict):
            value = node.get(key, _ABSENT)
            if value is _ABSENT:
                actual = _folded(node).get(key.lower())
                value = None if actual is None else node[actual]
            node = value
        else:
            node = props.get(node, key)
        if node is None:
            return None
    return node


def text_at(node: Any, *keys: str) -> str | None:
    """`props.text(node, "k1.k2")` for plain keys (see `_at`): the estate's and posture's reads."""
    return props.scalar_text(_at(node, *keys))


_text = text_at


def mapping_at(node: Any, *keys: str) -> dict[str, Any]:
    """`props.mapping(node, "k1.k2")` for plain keys (see `_at`)."""
    value = _at(node, *keys)
    return dict(value) if isinstance(value, Mapping) else {}


def _items(node: Any, *keys: str) -> list[Any]:
    """`props.items` along plain keys (see `_at`)."""
    value = _at(node, *keys)
    return value if isinstance(value, list) else []


def referenced_ids(node: object) -> set[str]:
    """The top-level ARM ids (lower-case) named anywhere in a JSON value: what a resource depends on."""
    found: set[str] = set()
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        if type(item) is str:
            if item[:1] == "/" and (match := _TOP_LEVEL_ID.match(item)):
                found.add(match.group(0).lower())
        elif isinstance(item, dict):
            extend(item.values())
        elif isinstance(item, list):
            extend(item)
        elif isinstance(item, str) and (match := _TOP_LEVEL_ID.match(item)):
            found.add(match.group(0).lower())
    return found


def _connections(properties: Any, shapes: dict[tuple[Any, ...], bool]) -> list[Any]:
    """`props.items(resource, "properties.privateEndpointConnections")` without its path walk on the
    common shapes: the exact key, else a key equal to it ignoring case, looked for only when the
    row's shape of keys (remembered in `shapes`) has one."""
    if not isinstance(properties, dict):
        return props.items(properties, _CONNECTIONS)
    value = properties.get(_CONNECTIONS, _ABSENT)
    if value is _ABSENT:
        shape = tuple(properties)
        variant = shapes.get(shape)
        if variant is None:
            variant = shapes[shape] = any(isinstance(k, str) and k.lower() == _CONNECTIONS_KEY for k in shape)
        value = props.get(properties, _CONNECTIONS) if variant else None
    return value if isinstance(value, list) else []


def _slot_target(target: str, group_ids: tuple[str, ...]) -> str:
    """A deployment slot's private endpoint names the parent site with group id `sites-<slot>`."""
    slot = next((g[len("sites-") :] for g in group_ids if g.lower().startswith("sites-")), None)
    if slot and "/providers/microsoft.web/sites/" in target.lower() and "/slots/" not in target.lower():
        return f"{target.rstrip('/')}/slots/{slot}"
    return target


_SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"


def _missing_subscriptions(subscriptions: dict[str, str], known: set[str]) -> list[Resource]:
    """Subscriptions are check subjects (Defender plans): rows for those the source named on its
    resources but did not list (`subscriptions`: each text, in order of first appearance -> lower-case)."""
    seen: set[str] = set()
    added = []
    for sub, lowered in subscriptions.items():
        if f"/subscriptions/{lowered}" not in known and lowered not in seen:
            seen.add(lowered)
            added.append(
                Resource(
                    id=f"/subscriptions/{sub}",
                    name=sub,
                    type=_SUBSCRIPTION_TYPE,
                    subscriptionId=sub,
                    properties={"synthesized": True},
                )
            )
    return added


_SPECIAL_TYPES = frozenset(
    {
        "microsoft.network/privateendpoints",
        "microsoft.security/assessments",
        "microsoft.security/pricings",
        "microsoft.security/securitycontacts",
        "microsoft.machinelearningservices/workspaces/computes",
        "microsoft.keyvault/vaults",
        MANAGED_HSM_TYPE,
    }
)


class Estate:
    """Read-only indexes over one inventory. Build once per scan."""

    _unknown_targets: tuple[tuple[str, PrivateLink], ...] = ()
    """Template endpoints whose target is known only at deployment: (known start of the target's id,
    link); each may connect to any resource whose id starts so. Set on an estate only when it has one."""

    def __init__(self, inventory: Inventory) -> None:
        self.header = inventory.header
        self.resources: list[Resource] = list(inventory.resources)
        self.by_id: dict[str, Resource] = {}
        self.by_type: dict[str, list[Resource]] = defaultdict(list)
        self.by_kind: dict[str, list[Resource]] = defaultdict(list)
        self.kind_of: dict[str, str | None] = {}
        self._children: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        self._kinds_per_subscription: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._private_links: dict[str, dict[str | None, PrivateLink]] = defaultdict(dict)
        self._assessments: dict[str, list[Resource]] = defaultdict(list)
        self._plans: dict[str, dict[str, Resource]] = defaultdict(dict)
        self._plan_overrides: dict[str, dict[str, list[Resource]]] = {}
        """Per subscription, per plan name: the plan's pricing rows set on one resource (not the subscription)."""
        self._contacts: dict[str, list[Resource]] = defaultdict(list)
        self._aks_computes: dict[str, list[Resource]] = defaultdict(list)
        self._vaults_by_host: dict[str, Resource] = {}
        self._cmk_users: dict[str, list[Resource]] = defaultdict(list)
        self._cmk_users_by_vault: dict[str, list[Resource]] = defaultdict(list)
        self._ml_users: dict[str, list[Resource]] = defaultdict(list)
        with collector_paused():
            subscriptions, known = self._index_all(self.resources)
            added = _missing_subscriptions(subscriptions, known)
            self.resources += added
            self._index_all(added)
        self.keys_by_vault: dict[str, list[KeyMetadata]] = defaultdict(list)
        self.keys_by_kid: dict[str, KeyMetadata] = {}
        for key in inventory.keys:
            self.keys_by_vault[key.vault_id.lower()].append(key)
            self.keys_by_kid[versionless_key_id(key.kid)] = key
        self.app_settings: dict[str, AppSettingsFacts] = {
            facts.resource_id.lower(): facts for facts in inventory.app_settings
        }
        self.coverage: dict[str, SourceCoverage] = {source.name: source for source in self.header.sources}
        self._frozen = False
        keep_resident(self)

    def freeze(self) -> None:
        """Deep-freeze every resource's JSON in place, once: the runner calls it before a plugin
        check sees the estate, so no plugin can change what a later check reads. Resources
        built by validation are frozen already and cost nothing here."""
        if self._frozen:
            return
        with collector_paused():
            for resource in self.resources:
                fields = resource.__dict__
                for name in _JSON_FIELDS:
                    fields[name] = deep_freeze(fields[name])
        self._frozen = True

    # -- construction -------------------------------------------------------------------
    def _index_all(self, resources: list[Resource]) -> tuple[dict[str, str], set[str]]:
        """Index `resources` in one loop, the indexes held in locals; return each distinct subscription
        text (in order of first appearance) with its lower-case form, and the ids of subscription rows."""
        by_id, kind_of, by_type, by_kind = self.by_id, self.kind_of, self.by_type, self.by_kind
        children, per_subscription = self._children, self._kinds_per_subscription
        cmk_users, cmk_users_by_vault, ml_users = self._cmk_users, self._cmk_users_by_vault, self._ml_users
        private_links, special = self._private_links, self._special
        subscription_keys: dict[str, str] = {}  # the subscription text is shared by its rows: lower it once
        subscription_rows: set[str] = set()
        shapes: dict[tuple[Any, ...], bool] = {}
        for resource in resources:
            key = resource.id_key
            type_key = resource.type_key
            if type_key == _SUBSCRIPTION_TYPE:
                subscription_rows.add(key)
            by_id[key] = resource
            by_type[type_key].append(resource)
            kind = kinds.kind_of(resource)
            kind_of[key] = kind
            if kind in _CMK_KINDS:
                key_id = cmk_key_id(resource, kind)
                if key_id:
                    cmk_users[versionless_key_id(key_id)].append(resource)
                    cmk_users_by_vault[vault_host(key_id)].append(resource)
            if type_key.startswith(_ML_PREFIX):
                for used in referenced_ids(resource.properties) - {key}:
                    ml_users[used].append(resource)
            subscription = resource.subscription_id
            if subscription:
                subscription_key = subscription_keys.get(subscription)
                if subscription_key is None:
                    subscription_key = subscription_keys[subscription] = subscription.lower()
                if kind:
                    per_subscription[subscription_key][kind] += 1
            if kind:
                by_kind[kind].append(resource)
            # An ASCII id lower-cases in place, so its lower-case form has the lower-case parent;
            # the common case (one `/providers/`, no trailing slash) is `_lower_parent` inlined.
            if resource.id.isascii():
                first = key.find(_PROVIDERS_TEXT)
                if first < 0:
                    parent_key = None
                elif first == key.rfind(_PROVIDERS_TEXT) and key[-1] != "/":
                    if key.count("/", first + _PROVIDERS_LENGTH) < 3:
                        parent_key = None
                    else:
                        parent_key = key[: key.rfind("/", 0, key.rfind("/"))]
                else:
                    parent_key = _lower_parent(key)
            else:
                parent_key = _lower(parent_id(resource.id))
            if parent_key:
                children[(parent_key, type_key)].append(resource)
            if type_key in _SPECIAL_TYPES:
                special(resource, type_key)
            properties = resource.properties
            connections = _connections(properties, shapes) if properties else ()
            for conn in connections:
                endpoint = _text(conn, "properties", "privateEndpoint", "id")
                status = _text(conn, "properties", "privateLinkServiceConnectionState", "status") or "Unknown"
                links = private_links[key]
                endpoint_key = endpoint.lower() if endpoint else None
                if endpoint_key not in links or not links[endpoint_key].approved:
                    links[endpoint_key] = PrivateLink(endpoint, status)
        return subscription_keys, subscription_rows

    def _special(self, resource: Resource, type_key: str) -> None:
        """The few types other indexes are built from: endpoints, assessments, plans, contacts, ..."""
        if type_key == "microsoft.network/privateendpoints":
            self._index_private_endpoint(resource)
        elif type_key == "microsoft.security/assessments":
            target = (
                _text(resource.properties, "resourceDetails", "Id")
                or _text(resource.properties, "resourceDetails", "ResourceId")
                or parent_id(resource.id)
            )
            if target:
                self._assessments[target.lower()].append(resource)
        elif type_key == "microsoft.security/pricings" and resource.subscription_id:
            sub, name = resource.subscription_id.lower(), resource.name.lower()
            if parent_id(resource.id) is None:  # `/subscriptions/{s}/providers/Microsoft.Security/pricings/{p}`
                self._plans[sub][name] = resource
            else:  # `{resource}/providers/Microsoft.Security/pricings/{p}`: that resource's own setting
                self._plan_overrides.setdefault(sub, {}).setdefault(name, []).append(resource)
        elif type_key == "microsoft.security/securitycontacts" and resource.subscription_id:
            self._contacts[resource.subscription_id.lower()].append(resource)
        elif type_key == "microsoft.machinelearningservices/workspaces/computes":
            target = _text(resource.properties, "resourceId")
            if target and (_text(resource.properties, "computeType") or "").lower() in ("kubernetes", "aks"):
                self._aks_computes[target.lower()].append(resource)
        elif type_key in _KEY_STORE_URI:
            uri = key_store_uri(resource)
            if uri:
                self._vaults_by_host[vault_host(uri)] = resource

    def _index_private_endpoint(self, endpoint: Resource) -> None:
        for path in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
            for conn in _items(endpoint.properties, path):
                target = _text(conn, "properties", "privateLinkServiceId")
                if not target:
                    continue
                status = _text(conn, "properties", "privateLinkServiceConnectionState", "status") or "Unknown"
                groups = tuple(str(g) for g in _items(conn, "properties", "groupIds"))
                if UNEVALUATED in target:  # whether it connects to a given resource is itself unknown
                    at = target.index(UNEVALUATED)
                    link = PrivateLink(endpoint.id, target[at:].split(">", 1)[0] + ">", groups)
                    self._unknown_targets = (*self._unknown_targets, (target[:at].lower(), link))
                    continue
                links = self._private_links[_slot_target(target, groups).lower()]
                # The target's own connection list and the endpoint's view describe one link;
                # keep the approved one when they disagree.
                existing = links.get(endpoint.id_key)
                if existing is None or not existing.approved:
                    links[endpoint.id_key] = PrivateLink(endpoint.id, status, groups)

    # -- lookups --------------------------------------------------------------------------
    def get(self, resource_id: str | None) -> Resource | None:
        return self.by_id.get(resource_id.lower()) if resource_id else None

    def of_kind(self, kind: str) -> list[Resource]:
        return self.by_kind.get(kind, [])

    def children(self, resource: Resource | str, child_type: str) -> list[Resource]:
        parent = resource if isinstance(resource, str) else resource.id
        return self._children.get((parent.lower(), child_type.lower()), [])

    def parent(self, resource: Resource) -> Resource | None:
        return self.get(parent_id(resource.id))

    def private_links(self, resource: Resource) -> list[PrivateLink]:
        links = list(self._private_links.get(resource.id_key, {}).values())
        if self._unknown_targets:
            links += [link for start, link in self._unknown_targets if resource.id_key.startswith(start)]
        return links

    def has_approved_private_endpoint(self, resource: Resource) -> bool:
        return any(link.approved for link in self.private_links(resource))

    # ML relations
    def workspace_of(self, resource: Resource) -> Resource | None:
        """The workspace above an endpoint, deployment or compute (found by id, even when the
        rows between them were not collected)."""
        current: str | None = resource.id
        while current:
            found = self.get(current)
            if found is not None and found.type_key == "microsoft.machinelearningservices/workspaces":
                return found
            current = parent_id(current)
        return None

    def workspace_dependencies(self, workspace: Resource) -> dict[str, str]:
        """role -> ARM id of the workspace's Key Vault, storage, registry and App Insights."""
        out: dict[str, str] = {}
        for prop, role in ML_WORKSPACE_DEPENDENCIES.items():
            value = _text(workspace.properties, prop)
            if value:
                out[role] = value
        return out

    def ml_users(self, resource: Resource) -> list[Resource]:
        """ML resources (workspaces, hubs, projects, computes, registries, ...) whose properties name
        this resource: a workspace's storageAccount, a compute's AKS cluster, a registry's storage."""
        return self._ml_users.get(resource.id_key, [])

    def computes_of(self, workspace: Resource) -> list[Resource]:
        return self.children(workspace, "microsoft.machinelearningservices/workspaces/computes")

    def aks_attachments(self, cluster: Resource) -> list[Resource]:
        """Workspace computes that attach this AKS cluster (Kubernetes online endpoints run there)."""
        return self._aks_computes.get(cluster.id_key, [])

    # App Service relations: a site's or a deployment slot's own children
    def app_configs(self, app: Resource) -> dict[str, Resource]:
        """The app's `config/*` records (`web`, `authsettingsV2`, ...) by lower-case name. The child
        type follows the app's own type, so a slot's `sites/slots/config` is found the same way."""
        children = self.children(app, f"{app.type_key}/config")
        return {child.name.lower().rsplit("/", 1)[-1]: child for child in children}

    def site_config(self, site: Resource) -> Resource | None:
        """The app's `config/web` (from `appserviceresources` or the ARM fallback)."""
        return self.app_configs(site).get("web")

    def publishing_policies(self, site: Resource) -> dict[str, Resource]:
        """`ftp` and `scm` basicPublishingCredentialsPolicies by name (a slot has its own)."""
        children = self.children(site, f"{site.type_key}/basicpublishingcredentialspolicies")
        return {child.name.lower().rsplit("/", 1)[-1]: child for child in children}

    def diagnostic_settings(self, resource: Resource) -> list[Resource]:
        return self.children(resource, "microsoft.insights/diagnosticsettings")

    def settings_of(self, resource: Resource) -> AppSettingsFacts | None:
        return self.app_settings.get(resource.id_key)

    # Defender
    def assessments_for(self, resource: Resource) -> list[Resource]:
        return self._assessments.get(resource.id_key, [])

    def plans(self, subscription_id: str | None) -> dict[str, Resource]:
        """Defender plan name (lower-case) -> pricing row, for one subscription."""
        return self._plans.get((subscription_id or "").lower(), {})

    def plan_overrides(self, subscription_id: str | None, plan: str) -> list[Resource]:
        """A plan's pricing rows set on single resources of a subscription (2024-01-01: VMs, AKS clusters,
        registries), which override the subscription's own tier for those resources."""
        return self._plan_overrides.get((subscription_id or "").lower(), {}).get(plan.lower(), [])

    def security_contacts(self, subscription_id: str | None) -> list[Resource]:
        return self._contacts.get((subscription_id or "").lower(), [])

    def kind_count(self, subscription_id: str | None, kind: str) -> int:
        """How many resources of a kind a subscription holds (a plan nobody needs is N/A)."""
        return self._kinds_per_subscription.get((subscription_id or "").lower(), {}).get(kind, 0)

    # Key Vault
    def vault_for_uri(self, uri: str | None) -> Resource | None:
        return self._vaults_by_host.get(vault_host(uri)) if uri else None

    def cmk_users(self, key_id: str) -> list[Resource]:
        """Resources that encrypt with this key (any version) as their customer-managed key."""
        return self._cmk_users.get(versionless_key_id(key_id), [])

    def cmk_key_id(self, resource: Resource) -> str | None:
        """The customer-managed key this resource encrypts with, if any."""
        return cmk_key_id(resource, self.kind_of.get(resource.id_key))

    def cmk_users_in(self, vault: Resource) -> list[Resource]:
        """Resources whose customer-managed key lives in this vault or Managed HSM (found from their
        rows, so key metadata need not have been collected)."""
        uri = key_store_uri(vault)
        return self._cmk_users_by_vault.get(vault_host(uri), []) if uri else []

    def keys_in(self, vault: Resource) -> list[KeyMetadata]:
        return self.keys_by_vault.get(vault.id_key, [])

    def key(self, key_id: str | None) -> KeyMetadata | None:
        return self.keys_by_kid.get(versionless_key_id(key_id)) if key_id else None

    # Coverage
    def not_applicable(self, source: str) -> str | None:
        """Why `source` cannot exist for this input (a template holds no Defender assessments), else None."""
        coverage = self.coverage.get(source)
        return coverage.not_applicable if coverage is not None else None

    def gap(self, source: str, resource_id: str) -> Gap | None:
        """Why `source` has no data for this resource, or None when it was read.

        A source that was never collected, or a gap whose scope contains the resource
        (a 403 subscription, an unreachable vault), means the check cannot judge.
        """
        coverage = self.coverage.get(source)
        if coverage is None or not coverage.collected:
            return Gap(source=source, scope="*", reason=f"{source} was not collected")
        target = resource_id.lower()
        for gap in coverage.gaps:
            scope = gap.scope.lower().rstrip("/")
            if scope == "*" or target == scope or target.startswith(scope + "/"):
                return gap
        return None
