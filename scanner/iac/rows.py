"""Evaluated IaC rows -> an `Inventory`: app settings and key metadata become facts, secrets are dropped.

What a template declares inline the live collector reads from separate records, so it is laid
out the same way here: a site's `siteConfig` becomes its `config/web` record, app settings and
connection strings become classified facts (values dropped), ML deployment environment variables
are classified and redacted, Key Vault keys become key metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from scanner import __version__, inventory, secrets, unevaluated
from scanner.errors import InputError
from scanner.iac.arm_expr import SECURE_PREFIX, UNEVALUATED_PREFIX
from scanner.inventory import (
    AppSettingFact,
    AppSettingsFacts,
    Inventory,
    KeyMetadata,
    LifetimeAction,
    RotationPolicy,
    SnapshotHeader,
    SnapshotScope,
)
from scanner.models import Gap, Resource, SourceCoverage

NOT_IN_TEMPLATES = {
    inventory.DEFENDER_PLANS: "Defender for Cloud plans are subscription settings, not part of a template or plan",
    inventory.DEFENDER_ASSESSMENTS: "Defender for Cloud assessments exist only for deployed resources",
    inventory.SECURITY_CONTACTS: "security contacts are subscription settings, not part of a template or plan",
}
"""Sources a template cannot hold: their checks are `not_applicable` with this reason, never a gap."""

_SITE_TYPES = ("microsoft.web/sites", "microsoft.web/sites/slots")
_LIST_FUNCTION = re.compile(r"\blist[A-Za-z]*\(", re.IGNORECASE)
_SETTINGS_CONFIGS = {"appsettings": "app_setting", "connectionstrings": "connection_string"}


@dataclass(frozen=True, slots=True)
class SourceRow:
    data: dict[str, Any]
    file: str
    line: int
    address: str


def _get(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    return next((v for k, v in mapping.items() if str(k).lower() == key.lower()), None)


def classify(name: str, value: Any, source: str) -> AppSettingFact:
    """A fact about one setting; a value from a secure parameter is a secret landing in plain settings."""
    if isinstance(value, str) and value.startswith(SECURE_PREFIX):
        return AppSettingFact.model_validate({"name": name, "source": source, "classification": "secret"})
    if isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX):
        return _classify_unknown(name, value, source)
    return secrets.fact(name, value, source)


def _classify_unknown(name: str, value: str, source: str) -> AppSettingFact:
    """A value known only at deployment is not proof of no secret: it passes only when its shape
    (a Key Vault reference, resource properties that never hold a credential) or its name (an
    identity-based setting) proves it; a literal credential or `list*()` in it is a plaintext
    secret; anything else is unknown, naming the setting and the expression."""
    expression = unevaluated.find(value) or value

    def fact(classification: str, reference: bool = False) -> AppSettingFact:
        return AppSettingFact.model_validate(
            {"name": name, "source": source, "classification": classification, "key_vault_reference": reference}
        )

    if "@microsoft.keyvault(" in expression.lower():  # a Key Vault reference whose secret URI comes at deployment
        return fact("none", reference=True)
    carried = _carried(expression)
    if carried != "none":
        return fact(carried)
    if _LIST_FUNCTION.search(expression):  # `listKeys()`, `listCredentials()`: a key at deployment
        return fact("account-key")
    if secrets.named_without_secret(name) or (
        _no_secret_by_shape(expression) and not _may_wrap_a_credential(name, expression, source)
    ):
        return fact("none")
    return _unknown_settings(unevaluated.marker(f"{name} = [{expression}]"), source)


_SAFE_ARM_FUNCTIONS = frozenset(
    {
        "reference",
        "resourceid",
        "subscriptionresourceid",
        "tenantresourceid",
        "extensionresourceid",
        "resourcegroup",
        "subscription",
        "tenant",
        "environment",
        "deployment",
        "parameters",
        "variables",
        "concat",
        "format",
        "string",
        "tolower",
        "toupper",
        "uri",
        "replace",
        "split",
        "first",
        "last",
        "trim",
        "substring",
        "take",
        "skip",
        "if",
        "equals",
        "not",
        "and",
        "or",
        "empty",
    }
)
"""ARM functions whose result carries no credential unless their input does: `reference()` returns a
resource's GET properties, which Azure never fills with keys (those take a `list*()` POST)."""
_ARM_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_ARM_LITERAL = re.compile(r"'(?:[^']|'')*'")
_KNOWN_AFTER_APPLY = " (known after apply"
_FROM = " from ["
_SAFE_TF_ATTRIBUTES = re.compile(
    r"(?:^|_)(?:id|ids|name|fqdn|endpoint|host|hostname|uri|url|location|principal_id|client_id|tenant_id)$"
)
"""Attributes of another Terraform resource that never hold a credential (`vault_uri`, `client_id`,
`default_hostname`, a secret's `versionless_id`...)."""
_SAFE_TF_PAIRS = {
    ("azurerm_application_insights", "connection_string"),
    ("azurerm_application_insights", "instrumentation_key"),
}


def _carried(expression: str) -> str:
    """The credential class the literal text of an expression carries (`concat('Password=...;', x)`),
    whatever the setting is called; "none" for a plan's marker, which holds no literal text."""
    if _KNOWN_AFTER_APPLY in expression:
        return "none"
    literals = "".join(m.group()[1:-1].replace("''", "'") for m in _ARM_LITERAL.finditer(expression))
    return secrets.classify("", literals) if literals else "none"


def _no_secret_by_shape(expression: str) -> bool:
    """Whether an unknown value is built only from what never holds a credential: resource GET
    properties in an ARM expression, or non-secret attributes of the Terraform resources it refers to."""
    if _KNOWN_AFTER_APPLY in expression:
        _, found, listed = expression.partition(_FROM)
        if not found or not listed.endswith("])"):  # no references recorded, or cut short
            return False
        references = [r.strip() for r in listed.removesuffix("])").split(",")]
        return bool(references) and all(_safe_reference(r, references) for r in references)
    calls = {name.lower() for name in _ARM_CALL.findall(_ARM_LITERAL.sub("''", expression))}
    return "reference" in calls and calls <= _SAFE_ARM_FUNCTIONS and ".outputs" not in expression.lower()


_HOST_LIKE_TF_ATTRIBUTE = re.compile(r"(?:^|_)(?:name|fqdn|endpoint|host|hostname|uri|url)$")
_CONNECTION_NAME = re.compile(r"conn|dsn|jdbc|odbc", re.IGNORECASE)


def _may_wrap_a_credential(name: str, expression: str, source: str) -> bool:
    """Whether a Terraform value known after apply may hold literal text with a credential that the
    plan cannot show. The plan records only what an expression refers to, never its literal text:
    `"Server=${azurerm_mssql_server.db.fully_qualified_domain_name};Password=..."` reads as a
    reference to a host name alone. Where a credential would go beside a host (a connection string
    block, a setting named as a connection string or a secret), a host-like reference proves nothing;
    ids, client and tenant ids, Key Vault secret ids and Application Insights' own string still do."""
    if _KNOWN_AFTER_APPLY not in expression:
        return False  # an ARM expression keeps its literal text: `_carried` has read it
    if source != "connection_string" and not _CONNECTION_NAME.search(name) and not secrets.names_a_secret(name):
        return False
    _, _, listed = expression.partition(_FROM)
    for reference in listed.removesuffix("])").split(","):
        parts = _reference_parts(reference.strip())
        if len(parts) < 3 or parts[0] == "azurerm_key_vault_secret" or (parts[0], parts[2]) in _SAFE_TF_PAIRS:
            continue
        if _HOST_LIKE_TF_ATTRIBUTE.search(parts[2]):
            return True
    return False


def _safe_reference(reference: str, references: list[str]) -> bool:
    """`azurerm_x.y.attr` with a non-secret attribute; a bare `azurerm_x.y` only beside one of its attributes."""
    parts = _reference_parts(reference)
    if len(parts) < 2 or not parts[0].startswith("azurerm_"):  # var., local., another provider ...
        return False
    if len(parts) == 2:
        return any(other != reference and other.startswith(f"{reference}.") for other in references)
    attribute = parts[2]
    return bool(_SAFE_TF_ATTRIBUTES.search(attribute)) or (parts[0], attribute) in _SAFE_TF_PAIRS


def _reference_parts(reference: str) -> list[str]:
    """`module.m.azurerm_x.y[0].attr` -> [azurerm_x, y, attr]: index keys dropped, a module's
    resource as its own, an azurerm data source's attributes as those of the resource it reads."""
    parts = [p for p in re.sub(r"\[[^\]]*\]", "", reference).split(".") if p]
    if parts and parts[0] == "module":
        parts = parts[2:]
    if parts and parts[0] == "data":
        parts = parts[1:]
    return parts


def _site_settings(properties: Any) -> list[AppSettingFact]:
    """`siteConfig.appSettings` [{name, value}] and `siteConfig.connectionStrings` [{name, connectionString}]."""
    site_config = properties if _unknown(properties) else _get(properties, "siteConfig")
    facts: list[AppSettingFact] = []
    for key, source in (("appSettings", "app_setting"), ("connectionStrings", "connection_string")):
        value = site_config if _unknown(site_config) else _get(site_config, key)  # unknown as a whole: so are both
        if _unknown(value):
            facts.append(_unknown_settings(str(value), source))
    for entry in _get(site_config, "appSettings") or ():
        if isinstance(entry, Mapping):
            facts.append(classify(str(_get(entry, "name")), _get(entry, "value"), "app_setting"))
    for entry in _get(site_config, "connectionStrings") or ():
        if isinstance(entry, Mapping):
            facts.append(classify(str(_get(entry, "name")), _get(entry, "connectionString"), "connection_string"))
    return facts


def _unknown(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX)


def _unknown_settings(marker: str, source: str) -> AppSettingFact:
    """Settings known only at deployment: a fact named by the marker, so the check says unknown."""
    return AppSettingFact.model_validate({"name": marker, "source": source, "classification": "none"})


def _strip_settings(site_config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in site_config.items() if k.lower() not in ("appsettings", "connectionstrings")}


def _redact(value: Any, name: str = "") -> Any:
    """Every string a secret classifier would flag, anywhere in a row, becomes `<redacted>`."""
    if isinstance(value, Mapping):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, name) for v in value]
    if isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX):
        # an expression known only at deployment may still hold a literal credential:
        # `concat('Password=...;Server=', reference(...).fqdn)` is unknown, its text never shown
        carried = _carried(unevaluated.find(value) or "")
        return value if carried == "none" else unevaluated.marker(f"an expression holding a {carried} ({name})")
    if (
        isinstance(value, str)
        and not value.startswith((SECURE_PREFIX, UNEVALUATED_PREFIX))
        and not secrets.is_key_vault_reference(value)
        and secrets.classify(name, value) != "none"
    ):
        return secrets.REDACTED
    return value


def _epoch(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value and not value.startswith("<"):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def _unknown_policy(policy: Any) -> str | None:
    """Why a rotation policy is known only at deployment (all of it, or whether an action rotates)."""
    actions = _get(policy, "lifetimeActions")
    for value in (policy, actions):
        if _unknown(value):
            return f"the rotation policy is set at deployment from [{unevaluated.find(value)}]"
    for action in actions if isinstance(actions, list) else ():
        # an action's type, or whether it has a trigger at all (a Rotate with none never runs)
        if (
            unevaluated.find(_get(action, "action")) is not None
            or _unknown(action)
            or _unknown(_get(action, "trigger"))
        ):
            return f"whether the rotation policy rotates is decided at deployment by [{unevaluated.find(action)}]"
    return None


def key_metadata(row: Mapping[str, Any], source: Literal["template"] = "template") -> KeyMetadata:
    """A `Microsoft.KeyVault/vaults/keys` (or `managedHSMs/keys`) row as the metadata the key checks read."""
    vault_id = row["id"].rsplit("/keys/", 1)[0]
    vault_name = vault_id.rsplit("/", 1)[-1]
    host = _store_host(vault_id, vault_name)
    properties = row.get("properties") if isinstance(row.get("properties"), Mapping) else {}
    attributes = row.get("properties") if _unknown(row.get("properties")) else _get(properties, "attributes") or {}
    policy = row.get("properties") if _unknown(row.get("properties")) else _get(properties, "rotationPolicy")
    rotation, unread = None, _unknown_policy(policy)
    if isinstance(policy, Mapping) and unread is None:
        actions = []
        for action in _get(policy, "lifetimeActions") or ():
            trigger, act = _get(action, "trigger") or {}, _get(action, "action") or {}
            actions.append(
                LifetimeAction(
                    action=str(_get(act, "type") or ""),
                    time_after_create=_get(trigger, "timeAfterCreate"),
                    time_before_expiry=_get(trigger, "timeBeforeExpiry"),
                )
            )
        rotation = RotationPolicy(
            lifetime_actions=tuple(actions), expiry_time=_get(_get(policy, "attributes"), "expiryTime")
        )
    enabled = _get(attributes, "enabled")
    size = _get(properties, "keySize")
    expires = _get(attributes, "exp")
    if _unknown(attributes):  # whether the object known only at deployment holds an expiry is unknown too
        expires = unevaluated.marker(f"tryGet({unevaluated.find(attributes)}, 'exp')")
    return KeyMetadata(
        vault_id=vault_id,
        vault_uri=f"https://{host}/",
        name=str(row["name"]),
        kid=f"https://{host}/keys/{row['name']}",
        enabled=enabled if isinstance(enabled, bool) else True,
        expires=_epoch(expires),
        expires_at_deployment=expires if _unknown(expires) else None,
        not_before=_epoch(_get(attributes, "nbf")),
        key_type=_get(properties, "kty") if isinstance(_get(properties, "kty"), str) else None,
        key_size=size if isinstance(size, int) else None,
        curve=_get(properties, "curveName") if isinstance(_get(properties, "curveName"), str) else None,
        rotation_policy=rotation,
        rotation_policy_readable=unread is None,
        unread_reason=unread,
        source=source,
    )


def build_inventory(
    rows: Iterable[SourceRow],
    *,
    origin: Literal["template", "plan"],
    description: str,
    now: datetime,
    gaps: Iterable[Gap] = (),
) -> Inventory:
    gaps = tuple(gaps)
    resources: dict[str, Resource] = {}
    settings: dict[str, list[AppSettingFact]] = {}
    keys: list[KeyMetadata] = []
    configs: set[str] = set()
    pending_configs: dict[str, tuple[dict[str, Any], SourceRow]] = {}
    sites: dict[str, tuple[dict[str, Any], SourceRow]] = {}
    key_sources: dict[str, tuple[str, SourceRow]] = {}
    rows = list(rows)
    pools = _agent_pools(rows)
    integrations = _vnet_integrations(rows)
    policies = _access_policies(rows)
    clusters = {str(r.data["id"]).lower() for r in rows if str(r.data.get("type", "")).lower() == _CLUSTER_TYPE}
    for source in rows:
        data = {k: v for k, v in source.data.items() if not k.startswith("_")}
        type_key, id_key = str(data["type"]).lower(), str(data["id"]).lower()
        parent = id_key.rsplit("/", 2)[0]
        if type_key == _POOL_TYPE and parent in clusters:
            continue  # judged as one of its cluster's node pools
        if type_key == _CLUSTER_TYPE and id_key in pools:
            data["properties"] = _with_pools(data.get("properties"), pools[id_key])
        if type_key == _POLICIES_TYPE and parent in policies.vaults:
            continue  # merged into its vault's accessPolicies
        if type_key == _VAULT_TYPE and id_key in policies.changes:
            data["properties"] = policies.apply(data.get("properties"), id_key)
        if type_key == _VAULT_TYPE:
            data["properties"] = _with_vault_uri(data.get("properties"), str(data.get("name", "")))
        if type_key.endswith("/config") and type_key.rsplit("/", 1)[0] in _SITE_TYPES:
            name = str(data["name"]).lower()
            if name in _SETTINGS_CONFIGS:
                values = data.get("properties")
                if _unknown(values):
                    settings.setdefault(parent, []).append(_unknown_settings(str(values), _SETTINGS_CONFIGS[name]))
                values = values if isinstance(values, Mapping) else {}
                settings.setdefault(parent, []).extend(
                    classify(str(k), v, _SETTINGS_CONFIGS[name]) for k, v in values.items()
                )
                continue
            if name == "web":
                configs.add(parent)
                if isinstance(data.get("properties"), Mapping):
                    data["properties"] = _strip_settings(data["properties"])
        if type_key == _HSM_TYPE:
            data["properties"] = _with_hsm_uri(data.get("properties"), str(data.get("name", "")))
        if type_key in _KEY_TYPES:
            try:
                key = key_metadata(data)
            except ValidationError as exc:
                raise InputError(f"{source.file}:{source.line}: {source.address}: {_first_error(exc)}") from None
            keys.append(key.model_copy(update={"deploy_condition": source.data.get("_condition")}))
            key_sources.setdefault(key.vault_id.lower(), (key.vault_id, source))
            continue
        if type_key in _SITE_TYPES:
            if id_key in integrations:
                data["properties"] = _with_integration(data.get("properties"), integrations[id_key])
            settings.setdefault(id_key, []).extend(_site_settings(data.get("properties")))
            site_config = _get(data.get("properties"), "siteConfig")
            if _unknown(data.get("properties")):
                site_config = data.get("properties")  # so is the siteConfig inside it
            if isinstance(site_config, Mapping) or _unknown(site_config):
                if isinstance(data.get("properties"), Mapping):
                    data["properties"] = {k: v for k, v in data["properties"].items() if k.lower() != "siteconfig"}
                config = {
                    "id": f"{data['id']}/config/web",
                    "name": "web",
                    "type": f"{data['type']}/config",
                    "properties": _strip_settings(dict(site_config))
                    if isinstance(site_config, Mapping)
                    else site_config,
                }
                pending_configs[id_key] = (config, source)
            settings.setdefault(id_key, [])
            sites[id_key] = (data, source)
        if type_key == "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments":
            env = _get(data.get("properties"), "environmentVariables")
            if isinstance(env, Mapping):
                settings.setdefault(id_key, []).extend(
                    classify(str(k), v, "environment_variable") for k, v in env.items()
                )
                data["properties"] = {
                    k: (secrets.redact_map(v) if k.lower() == "environmentvariables" else v)
                    for k, v in data["properties"].items()
                }
        if type_key == "microsoft.network/privateendpoints" and isinstance(data.get("properties"), Mapping):
            data["properties"] = _connection_states(data["properties"], source.data.get("_condition"))
        if type_key == "microsoft.insights/diagnosticsettings" and source.data.get("_condition"):
            # what it sends counts only if it is deployed: that is decided at deployment
            data["properties"] = _conditional_logs(data.get("properties"), source.data["_condition"])
        if type_key == "microsoft.keyvault/vaults/secrets" and isinstance(data.get("properties"), Mapping):
            data["properties"] = {k: v for k, v in data["properties"].items() if k.lower() != "value"}
        _add(resources, data, source)
    for vault_key, (vault_id, source) in key_sources.items():
        if vault_key not in resources:
            _add(resources, _vault_outside(vault_id, origin), source)
    for site, (config, source) in pending_configs.items():
        if site not in configs:  # an explicit config/web resource wins over the inline siteConfig
            _add(resources, config, source)
    if origin == "template":
        for data, source in sites.values():
            for child in _site_defaults(data, resources):
                _add(resources, child, source)
    facts = [
        AppSettingsFacts(resource_id=resources[k].id if k in resources else k, settings=tuple(v))
        for k, v in settings.items()
    ]
    header = SnapshotHeader(
        tool_version=__version__,
        collected_at=now,
        scope=SnapshotScope(description=description),
        inputs=origin,
        sources=tuple(
            SourceCoverage(
                name=name,
                collected=name not in NOT_IN_TEMPLATES,
                not_applicable=NOT_IN_TEMPLATES.get(name),
                gaps=tuple(gap for gap in gaps if gap.source == name),
            )
            for name in inventory.ALL_SOURCES
        ),
    )
    return Inventory(header=header, resources=list(resources.values()), keys=keys, app_settings=facts)


_CLUSTER_TYPE = "microsoft.containerservice/managedclusters"
_POOL_TYPE = f"{_CLUSTER_TYPE}/agentpools"


def _agent_pools(rows: list[SourceRow]) -> dict[str, list[dict[str, Any]]]:
    """`managedClusters/agentPools` declared on their own, by cluster id: live ARM lists every pool in the
    cluster's `agentPoolProfiles`, and so the node-pool checks read them there."""
    pools: dict[str, list[dict[str, Any]]] = {}
    for source in rows:
        if str(source.data.get("type", "")).lower() == _POOL_TYPE:
            properties = source.data.get("properties")
            pool = {"name": source.data.get("name"), **(properties if isinstance(properties, Mapping) else {})}
            pools.setdefault(str(source.data["id"]).lower().rsplit("/", 2)[0], []).append(pool)
    return pools


def _vnet_integrations(rows: list[SourceRow]) -> dict[str, Any]:
    """Subnet of each site's `networkConfig/virtualNetwork` child (regional VNet integration declared on
    its own, as Bicep and the quickstarts do), by site id: ARM then reports it as the site's
    `virtualNetworkSubnetId`. One deployed only under an open condition is left out."""
    found: dict[str, Any] = {}
    for source in rows:
        type_key = str(source.data.get("type", "")).lower()
        if type_key.rsplit("/", 1)[0] not in _SITE_TYPES or not type_key.endswith("/networkconfig"):
            continue
        properties = source.data.get("properties")
        subnet = _get(properties, "subnetResourceId") if isinstance(properties, Mapping) else None
        if (
            str(source.data.get("name", "")).lower() == "virtualnetwork"
            and subnet
            and not source.data.get("_condition")
        ):
            found[str(source.data["id"]).lower().rsplit("/", 2)[0]] = subnet
    return found


def _with_integration(properties: Any, subnet: Any) -> Any:
    if not isinstance(properties, Mapping) or _get(properties, "virtualNetworkSubnetId"):
        return properties  # unknown as a whole, or the site names its subnet itself
    return {**properties, "virtualNetworkSubnetId": subnet}


def _with_pools(properties: Any, pools: list[dict[str, Any]]) -> Any:
    if not isinstance(properties, Mapping):
        return properties  # unknown as a whole: so are its pools
    declared = _get(properties, "agentPoolProfiles")
    names = {str(_get(p, "name")).lower() for p in declared or () if isinstance(p, Mapping)}
    extra = [p for p in pools if str(p.get("name")).lower() not in names]
    key = next((k for k in properties if k.lower() == "agentpoolprofiles"), "agentPoolProfiles")
    return {**properties, key: [*(declared if isinstance(declared, list) else []), *extra]}


_VAULT_TYPE = "microsoft.keyvault/vaults"
_POLICIES_TYPE = f"{_VAULT_TYPE}/accesspolicies"
_HSM_TYPE = "microsoft.keyvault/managedhsms"
_KEY_TYPES = (f"{_VAULT_TYPE}/keys", f"{_HSM_TYPE}/keys")
"""Keys of a vault and of a Managed HSM: both are key metadata, judged on the store that holds them."""


def _store_host(store_id: str, name: str) -> str:
    """The data-plane host of a vault or Managed HSM, from its name (public cloud)."""
    suffix = "managedhsm.azure.net" if "/managedhsms/" in store_id.lower() else "vault.azure.net"
    return f"{name.lower()}.{suffix}"


@dataclass
class _AccessPolicies:
    """`vaults/accessPolicies` children (`add` or `replace`), by vault id: they change the vault's own
    `accessPolicies`, which is where the live vault reports them."""

    changes: dict[str, list[tuple[str, Any]]]
    vaults: set[str]

    def apply(self, properties: Any, vault: str) -> Any:
        if not isinstance(properties, Mapping):
            return properties
        key = next((k for k in properties if k.lower() == "accesspolicies"), "accessPolicies")
        current: Any = properties.get(key) or []
        for operation, added in self.changes[vault]:
            if isinstance(added, str) or isinstance(current, str):
                current = added if isinstance(added, str) else current  # unknown at deployment: stays unknown
            elif operation == "replace":
                current = list(added)
            elif operation == "add":
                current = [*current, *added]
        return {**properties, key: current}


def _with_vault_uri(properties: Any, name: str) -> Any:
    """A vault's URI is known only once deployed, but follows from its name (public cloud); keys that
    encrypt other resources are found by it."""
    if not isinstance(properties, Mapping) or _get(properties, "vaultUri") or not name or "<" in name:
        return properties
    return {**properties, "vaultUri": f"https://{name.lower()}.vault.azure.net/"}


def _with_hsm_uri(properties: Any, name: str) -> Any:
    """A Managed HSM's `hsmUri`, as `_with_vault_uri` does a vault's: its keys' ids start with it."""
    if not isinstance(properties, Mapping) or _get(properties, "hsmUri") or not name or "<" in name:
        return properties
    return {**properties, "hsmUri": f"https://{name.lower()}.managedhsm.azure.net/"}


def _access_policies(rows: list[SourceRow]) -> _AccessPolicies:
    changes: dict[str, list[tuple[str, Any]]] = {}
    vaults = {str(r.data["id"]).lower() for r in rows if str(r.data.get("type", "")).lower() == _VAULT_TYPE}
    for source in rows:
        if str(source.data.get("type", "")).lower() != _POLICIES_TYPE:
            continue
        vault, operation = str(source.data["id"]).lower().rsplit("/", 2)[0], str(source.data.get("name")).lower()
        added = _get(source.data.get("properties"), "accessPolicies")
        if vault in vaults and operation in ("add", "replace") and isinstance(added, (list, str)):
            changes.setdefault(vault, []).append((operation, added))
    return _AccessPolicies(changes, {v for v in vaults if v in changes})


_SITE_DEFAULTS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("config/web", (), {}),
    ("basicPublishingCredentialsPolicies/ftp", (), {"allow": True}),
    ("basicPublishingCredentialsPolicies/scm", (), {"allow": True}),
    ("config/authsettingsV2", ("config/authsettings",), {"platform": {"enabled": False}}),
)
"""What an app gets when its template does not declare the child: the service's defaults (the
Terraform translation writes the same ones)."""


def _site_defaults(site: Mapping[str, Any], resources: Mapping[str, Resource]) -> list[dict[str, Any]]:
    children = []
    for suffix, alternatives, properties in _SITE_DEFAULTS:
        declared = (f"{site['id']}/{s}".lower() for s in (suffix, *alternatives))
        if not any(child in resources for child in declared):
            child_type, name = suffix.split("/")
            children.append(
                {
                    "id": f"{site['id']}/{suffix}",
                    "name": name,
                    "type": f"{site['type']}/{child_type}",
                    "properties": properties,
                }
            )
    return children


def _conditional_logs(properties: Any, condition: str) -> Any:
    if not isinstance(properties, Mapping):
        return properties
    return {**properties, "logs": unevaluated.marker(f"logs of a setting deployed only if [{condition}]")}


def _connection_states(properties: Mapping[str, Any], condition: str | None = None) -> dict[str, Any]:
    """A declared connection has no state yet: an automatic one is approved on creation (the deployer
    holds rights on the target), a manual one waits for the target's owner; one of an endpoint whose
    `condition` is known only at deployment may not exist at all."""
    out = dict(properties)
    unknown = unevaluated.marker(f"an endpoint deployed only if [{condition}]") if condition else None
    for key, status in (
        ("privateLinkServiceConnections", unknown or "Approved"),
        ("manualPrivateLinkServiceConnections", unknown or "Pending"),
    ):
        connections = []
        for conn in _get(properties, key) or ():
            if isinstance(conn, Mapping):
                inner = dict(_get(conn, "properties") or {})
                inner.setdefault("privateLinkServiceConnectionState", {"status": status})
                conn = {**conn, "properties": inner}
            connections.append(conn)
        out[key] = connections
    return out


_ENVELOPE_OBJECTS = {"identity": "type", "sku": "name"}
"""Envelope objects a template may fill from one unknown value: the marker moves to the field the
checks read, so they are `unknown` rather than the row being refused."""


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    for key, inner in _ENVELOPE_OBJECTS.items():
        value = data.get(key)
        if isinstance(value, str) and value.startswith((UNEVALUATED_PREFIX, SECURE_PREFIX)):
            data[key] = {inner: value}
    if isinstance(data.get("tags"), str):  # tags from an unknown parameter: nothing a check judges
        data["tags"] = None
    return data


_VAULT_PROPERTIES = (
    "tenantId",
    "sku",
    "accessPolicies",
    "enabledForDeployment",
    "enabledForDiskEncryption",
    "enabledForTemplateDeployment",
    "enableSoftDelete",
    "softDeleteRetentionInDays",
    "enableRbacAuthorization",
    "createMode",
    "enablePurgeProtection",
    "networkAcls",
    "provisioningState",
    "publicNetworkAccess",
)
"""Every property of the Microsoft.KeyVault/vaults schema but `vaultUri` and the connections."""

_HSM_PROPERTIES = (
    "tenantId",
    "initialAdminObjectIds",
    "softDeleteRetentionInDays",
    "enablePurgeProtection",
    "createMode",
    "networkAcls",
    "provisioningState",
    "publicNetworkAccess",
)
"""The settable properties of the Microsoft.KeyVault/managedHSMs schema (REST spec 2023-07-01) but
`hsmUri`, the connections and `enableSoftDelete`: soft delete is always on for an HSM and immutable."""


def _vault_outside(vault_id: str, origin: str) -> dict[str, Any]:
    """The vault of a key the template or plan creates in a vault it does not declare (an existing
    vault, a data source). Key checks are judged per vault, so without it the key went unjudged and
    the scan passed. None of the vault's own settings is in the input: each property of its schema,
    and its private endpoint connections, are known only where it is deployed (`unknown`)."""
    hsm = "/managedhsms/" in vault_id.lower()
    store = "a Managed HSM" if hsm else "a vault"
    where = unevaluated.marker(f"{store} outside the {'plan' if origin == 'plan' else 'template'}: judge it live")
    name = vault_id.rstrip("/").rsplit("/", 1)[-1]
    connection = {"privateEndpoint": {"id": where}, "privateLinkServiceConnectionState": {"status": where}}
    if hsm:  # its settings are as unknown as a vault's (soft delete is always on)
        return {
            "id": vault_id,
            "name": name,
            "type": "Microsoft.KeyVault/managedHSMs",
            "properties": {
                **dict.fromkeys(_HSM_PROPERTIES, where),
                "hsmUri": f"https://{_store_host(vault_id, name)}/",
                "privateEndpointConnections": [{"properties": connection}],
            },
        }
    return {
        "id": vault_id,
        "name": name,
        "type": "Microsoft.KeyVault/vaults",
        "properties": {
            **dict.fromkeys(_VAULT_PROPERTIES, where),
            "vaultUri": f"https://{name}.vault.azure.net/",
            "privateEndpointConnections": [{"properties": connection}],
        },
    }


def _add(resources: dict[str, Resource], data: dict[str, Any], source: SourceRow) -> None:
    data = _envelope({**data, "properties": _redact(data.get("properties"))})
    data.setdefault("subscriptionId", data["id"].split("/")[2] if data["id"].startswith("/subscriptions/") else None)
    if "/resourcegroups/" in data["id"].lower():
        data.setdefault("resourceGroup", data["id"].split("/")[4])
    data.update(source_file=source.file, source_line=source.line, source_address=source.address)
    data["deploy_condition"] = source.data.get("_condition")
    try:
        resource = Resource.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source.file}:{source.line}: {source.address}: {_first_error(exc)}") from None
    if resource.id_key in resources and "<unevaluated: " in resource.id:
        # Names unknown before deployment (a copy loop over guid(...) of a runtime value) are not duplicates.
        resource = resource.model_copy(update={"id": f"{resource.id}#{source.address}"})
    if resource.id_key in resources:
        raise InputError(f"{source.file}:{source.line}: {source.address}: duplicate resource {resource.id}")
    resources[resource.id_key] = resource


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
