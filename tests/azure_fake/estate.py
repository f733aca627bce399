"""The served estate: an `Inventory` cut into what each Azure API returns for it."""

from __future__ import annotations

import copy
import math
import re
from collections import defaultdict
from typing import Any

from scanner import inventory as sources
from scanner.azure.queries import RESOURCE_TYPES
from scanner.estate import parent_id
from scanner.inventory import Inventory, KeyMetadata, ResourceChange
from tests.azure_fake.canary import value_for

SUBSCRIPTION = "microsoft.resources/subscriptions"
APP_CONFIGS = ("microsoft.web/sites/config", "microsoft.web/sites/slots/config")
"""`appserviceresources` holds site and deployment-slot config alike."""
ROUTE_SOURCES = {
    "pricings": sources.DEFENDER_PLANS,
    "contacts": sources.SECURITY_CONTACTS,
    "assessments": sources.DEFENDER_ASSESSMENTS,
    "computes": sources.ML_COMPUTES,
    "publishing": sources.PUBLISHING_CREDENTIALS,
    "config": sources.APPSERVICE_CONFIG,
    "authsettings": sources.APPSERVICE_CONFIG,
    "diagnostics": sources.DIAGNOSTIC_SETTINGS,
    "appsettings": sources.APP_SETTINGS,
    "connectionstrings": sources.APP_SETTINGS,
    "vault-keys": sources.KEY_METADATA,
    "containers": sources.BLOB_CONTAINERS,
}
CHILD_ROUTES = {
    "microsoft.machinelearningservices/workspaces/computes": "computes",
    "microsoft.web/sites/basicpublishingcredentialspolicies": "publishing",
    "microsoft.web/sites/slots/basicpublishingcredentialspolicies": "publishing",
    "microsoft.insights/diagnosticsettings": "diagnostics",
    "microsoft.keyvault/vaults/secrets": "secrets",
    "microsoft.containerregistry/registries/tokens": "tokens",
    "microsoft.storage/storageaccounts/blobservices/containers": "containers",
}


class FakeEstate:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        rows = [r.raw() for r in inventory.resources]
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.children: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.configs: dict[tuple[str, str], dict[str, Any]] = {}
        """(site or slot id, config name) -> the config row, both lower-case."""
        self.pricings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.contacts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.assessments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        """Per subscription: Assessments - List items (2021-06-01), the ARM shape of `securityresources` rows."""
        subscriptions: dict[str, dict[str, Any]] = {}
        env_facts = {
            f.resource_id.lower(): f
            for f in inventory.app_settings
            if any(s.source == "environment_variable" for s in f.settings)
        }
        for row in rows:
            type_key = row["type"].lower()
            sub = str(row.get("subscriptionId") or "")
            if sub:
                subscriptions.setdefault(sub.lower(), _subscription_row(sub))
            if type_key == SUBSCRIPTION:
                subscriptions[sub.lower()] = row
            elif type_key in RESOURCE_TYPES:
                self.tables["resources"].append(_plant_env(row, env_facts.get(row["id"].lower())))
            elif type_key in APP_CONFIGS:
                self.tables["appserviceresources"].append(row)
                site, _, config = str(row["id"]).lower().rpartition("/config/")
                self.configs[(site, config)] = row
            elif type_key == "microsoft.security/assessments":
                self.tables["securityresources"].append(row)
                self.assessments[sub.lower()].append(_assessment_item(row))
            elif type_key == "microsoft.security/pricings":
                self.tables["securityresources"].append(row)
                if parent_id(row["id"]) is None:  # a plan set on one resource is not in the subscription's list
                    self.pricings[sub.lower()].append(row)
            elif type_key == "microsoft.security/securitycontacts":
                self.contacts[sub.lower()].append(row)
            elif type_key in CHILD_ROUTES:
                self.children[(CHILD_ROUTES[type_key], str(parent_id(row["id"])).lower())].append(row)
        self.by_id = {str(r["id"]).lower(): r for t in ("resources", "appserviceresources") for r in self.tables[t]}
        """Each resource by lower-cased id, for its own ARM GET."""
        self.tables["resourcecontainers"] = list(subscriptions.values())
        self.tables["resourcechanges"] = [change_row(change) for change in inventory.changes]
        self.vaults = {
            str(r["name"]).lower(): r
            for r in self.tables["resources"]
            if r["type"].lower() == "microsoft.keyvault/vaults"
        }
        self.hsms = {
            str(r["name"]).lower(): r
            for r in self.tables["resources"]
            if r["type"].lower() == "microsoft.keyvault/managedhsms"
        }
        """Managed HSM pools by name: their data plane serves the same key routes as a vault's."""
        self.keys: dict[str, list[KeyMetadata]] = defaultdict(list)
        for key in inventory.keys:
            self.keys[key.vault_id.lower()].append(key)
        self.site_settings: dict[str, dict[str, dict[str, str]]] = {}
        for facts in inventory.app_settings:
            planted: dict[str, dict[str, str]] = {"app_setting": {}, "connection_string": {}}
            for fact in facts.settings:
                if fact.source in planted:
                    planted[fact.source][fact.name] = value_for(fact)
            self.site_settings[facts.resource_id.lower()] = planted

        # The estate's own coverage gaps are served as refusals, so a collection reproduces them.
        self.refused: list[tuple[str, str]] = [
            (gap.source, gap.scope.lower().rstrip("/")) for cov in inventory.header.sources for gap in cov.gaps
        ]
        self.refused_subscriptions = {
            scope.rsplit("/", 1)[-1] for source, scope in self.refused if re.fullmatch(r"/subscriptions/[^/]+", scope)
        }

    def refuses(self, source: str, resource_id: str) -> bool:
        """True when the estate recorded a gap of `source` covering this resource."""
        target = resource_id.lower().rstrip("/")
        return any(src == source and (target == scope or target.startswith(scope + "/")) for src, scope in self.refused)

    def vault_keys_arm(self, vault_id: str, *, full: bool = False) -> list[dict[str, Any]]:
        """`GET vaults/{v}/keys` as documented (2023-07-01 example): `attributes` and `keyUri` only.

        `full` adds what the spec's model allows but the documented response does not show (kty,
        keySize, curveName, rotationPolicy), to test that the scanner uses them only when present.
        """
        out = []
        for key in self.keys.get(vault_id.lower(), []):
            uri = key.kid.replace(".vault.azure.net/", ".vault.azure.net:443/", 1)
            properties: dict[str, Any] = {
                "attributes": _attributes(key),
                "keyUri": uri,
                "keyUriWithVersion": f"{uri}/0123456789abcdef",
            }
            policy = key.rotation_policy
            if full:
                properties.update(kty=key.key_type, keySize=key.key_size, curveName=key.curve)
            if full and policy is not None and key.rotation_policy_readable:
                properties["rotationPolicy"] = {
                    "attributes": {"expiryTime": policy.expiry_time},
                    "lifetimeActions": [
                        _action(a.action, a.time_after_create, a.time_before_expiry, lower=True)
                        for a in policy.lifetime_actions
                    ],
                }
            out.append(
                {
                    "id": f"{key.vault_id}/keys/{key.name}",
                    "name": key.name,
                    "type": "Microsoft.KeyVault/vaults/keys",
                    "location": "westeurope",
                    "properties": {k: v for k, v in properties.items() if v is not None},
                }
            )
        return out


def _assessment_item(row: dict[str, Any]) -> dict[str, Any]:
    """An assessment as Defender's REST list sends it: id, name, type and properties, no Resource Graph columns."""
    return {
        "id": row["id"],
        "name": row["name"],
        "type": "Microsoft.Security/assessments",
        "properties": row["properties"],
    }


def _subscription_row(sub: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub}",
        "name": sub,
        "type": SUBSCRIPTION,
        "subscriptionId": sub,
        "properties": {"state": "Enabled"},
    }


def _plant_env(row: dict[str, Any], facts: Any) -> dict[str, Any]:
    """Deployments carry real-looking environment variable values (canaries) like the live service."""
    if facts is None:
        return row
    row = copy.deepcopy(row)
    env = {s.name: value_for(s) for s in facts.settings if s.source == "environment_variable"}
    properties = row.setdefault("properties", {})
    for key in list(properties):
        if key.lower() == "environmentvariables":
            del properties[key]
    properties["environmentVariables"] = env
    return row


def _attributes(key: KeyMetadata) -> dict[str, Any]:
    values = {
        "enabled": key.enabled,
        "exp": key.expires,
        "nbf": key.not_before,
        "created": key.created,
        "updated": key.updated,
        "recoveryLevel": "Recoverable",
    }
    return {k: v for k, v in values.items() if v is not None}


def _action(action: str, after_create: str | None, before_expiry: str | None, *, lower: bool = False) -> dict[str, Any]:
    trigger = {"timeAfterCreate": after_create} if after_create else {"timeBeforeExpiry": before_expiry}
    return {"trigger": trigger, "action": {"type": action.lower() if lower else action}}


def key_bundle(key: KeyMetadata, vault_url: str) -> dict[str, Any]:
    """`GET /keys/{name}/`: public numbers sized to the recorded key size (never real material)."""
    jwk: dict[str, Any] = {
        "kid": f"{vault_url}/keys/{key.name}/0123456789abcdef",
        "kty": key.key_type or "RSA",
        "key_ops": ["wrapKey", "unwrapKey"],
    }
    if key.curve:
        jwk.update(crv=key.curve, x="AAAA", y="AAAA")
    elif key.key_size:
        jwk.update(n=_b64(math.ceil(key.key_size / 8)), e="AQAB")
    return {"key": jwk, "attributes": _attributes(key), "tags": {}, **({"managed": True} if key.managed else {})}


def key_item(key: KeyMetadata, vault_url: str) -> dict[str, Any]:
    item: dict[str, Any] = {"kid": f"{vault_url}/keys/{key.name}", "attributes": _attributes(key), "tags": {}}
    if key.managed:
        item["managed"] = True
    return item


def rotation_policy(key: KeyMetadata, vault_url: str) -> dict[str, Any] | None:
    policy = key.rotation_policy
    if policy is None:
        return None
    body: dict[str, Any] = {
        "id": f"{vault_url}/keys/{key.name}/rotationpolicy",
        "lifetimeActions": [
            _action(a.action, a.time_after_create, a.time_before_expiry) for a in policy.lifetime_actions
        ],
        "attributes": {"created": 1700000000, "updated": 1700000000},
    }
    if policy.expiry_time:
        body["attributes"]["expiryTime"] = policy.expiry_time
    return body


def _b64(size: int) -> str:
    import base64

    return base64.urlsafe_b64encode(b"\x80" + b"\x01" * (size - 1)).rstrip(b"=").decode()


def change_row(change: ResourceChange) -> dict[str, Any]:
    """A change record as Resource Graph's `resourcechanges` serves it."""
    attributes = {
        "timestamp": change.time.isoformat().replace("+00:00", "Z"),
        "changedBy": change.changed_by,
        "changedByType": change.changed_by_type,
        "clientType": change.client_type,
        "operation": change.operation,
        "correlationId": change.correlation_id,
        "changesCount": len(change.properties),
    }
    diffs = {
        p.path: {"previousValue": p.previous, "newValue": p.new, "propertyChangeType": p.change_type}
        for p in change.properties
    }
    target = change.resource_id
    return {
        "id": f"{target}/providers/Microsoft.Resources/changes/{change.correlation_id or 'c'}",
        "type": "microsoft.resources/changes",
        "subscriptionId": target.split("/")[2] if target.startswith("/subscriptions/") else "",
        "properties": {
            "targetResourceId": target,
            "changeType": change.change_type,
            "changeAttributes": {k: v for k, v in attributes.items() if v is not None},
            "changes": diffs,
        },
    }
