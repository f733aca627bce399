"""Terraform plans (`terraform show -json plan.out`) translated into the ARM shape the checks read.

One table per azurerm resource type maps its attributes to ARM property paths (azurerm provider
documentation, v3 and v4 attribute names both accepted). A value Terraform knows only after apply
is an `unevaluated` marker, so the checks that read it report `unknown`. A reference to another
resource's `id` in the same plan is resolved through the plan's `configuration` to that
resource's ARM id, so a workspace still finds its Key Vault before either exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.iac import diagnostics, plan_shape
from scanner.iac.arm_expr import PLACEHOLDER_RESOURCE_GROUP, PLACEHOLDER_SUBSCRIPTION
from scanner.unevaluated import PREFIX as UNEVALUATED_PREFIX
from scanner.unevaluated import marker

Values = dict[str, Any]
Translate = Callable[[Values, str], dict[str, Any]]
"""(attribute values, ARM id of the resource) -> the ARM row fields beyond id, name and type."""

_DELETE_ONLY = (["delete"],)


def _first(values: Values, *names: str, default: Any = None) -> Any:
    """The first attribute present under any of its names (v4 renamed several v3 attributes)."""
    for name in names:
        if name in values and values[name] is not None:
            return values[name]
    return default


def _unknown(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(UNEVALUATED_PREFIX)


class _UnknownBlock(dict[str, Any]):
    """A nested block known only after apply: present, and every attribute in it is the marker."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def __bool__(self) -> bool:
        return True

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return self.marker

    def get(self, key: str, default: Any = None) -> Any:
        return self.marker


def _block(values: Values, name: str) -> Values:
    """A nested block: Terraform writes `[{...}]` (or `[]` when absent); one known only after apply
    is an `_UnknownBlock`."""
    value = values.get(name)
    if _unknown(value):
        return _UnknownBlock(str(value))
    if isinstance(value, list) and value and _unknown(value[0]):
        return _UnknownBlock(value[0])
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return dict(value[0])
    return dict(value) if isinstance(value, Mapping) else {}


def _bool(flag: Any) -> Any:
    """A flag as a boolean (null is false); a value known only after apply stays its marker."""
    return flag if _unknown(flag) else bool(flag)


def _choose(flag: Any, yes: Any, no: Any) -> Any:
    """`yes` or `no` by a flag or a block's presence; the marker when that is known only after apply."""
    if isinstance(flag, _UnknownBlock):
        return flag.marker
    return flag if _unknown(flag) else (yes if flag else no)


def _mapping(value: Any) -> Mapping[str, Any]:
    """A map attribute; {} when absent or known only after apply (nothing in it can be classified)."""
    return value if isinstance(value, Mapping) else {}


def _unknown_list(value: Any, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """A list of blocks known only after apply, as one entry named by its marker (never as no entries)."""
    return [{"name": value, **fields}] if _unknown(value) else []


def _enabled(flag: Any) -> Any:
    if isinstance(flag, bool):
        return "Enabled" if flag else "Disabled"
    return flag  # an unknown marker stays a marker


def _not(flag: Any) -> Any:
    return (not flag) if isinstance(flag, bool) else flag


def _identity(values: Values) -> dict[str, Any] | None:
    block = _block(values, "identity")
    if not block:
        return None
    ids = block.get("identity_ids") or []
    identity: dict[str, Any] = {"type": block.get("type")}
    if isinstance(ids, list) and ids:
        identity["userAssignedIdentities"] = {str(i): {} for i in ids}
    return identity


def _common(values: Values) -> dict[str, Any]:
    out: dict[str, Any] = {"location": values.get("location"), "tags": values.get("tags") or None}
    identity = _identity(values)
    if identity:
        out["identity"] = identity
    return out


def _workspace(v: Values, rid: str) -> dict[str, Any]:
    encryption = _block(v, "encryption")
    network = _block(v, "managed_network")
    props: dict[str, Any] = {
        "publicNetworkAccess": _enabled(v.get("public_network_access_enabled")),
        "keyVault": v.get("key_vault_id"),
        "storageAccount": v.get("storage_account_id"),
        "containerRegistry": v.get("container_registry_id"),
        "applicationInsights": v.get("application_insights_id"),
        "primaryUserAssignedIdentity": v.get("primary_user_assigned_identity"),
        "hbiWorkspace": v.get("high_business_impact"),
        "imageBuildCompute": v.get("image_build_compute_name"),
    }
    if encryption:
        props["encryption"] = {
            "status": "Enabled",
            "keyVaultProperties": {
                "keyVaultArmId": encryption.get("key_vault_id"),
                "keyIdentifier": encryption.get("key_id"),
            },
        }
    if network:
        props["managedNetwork"] = {"isolationMode": network.get("isolation_mode")}
    return {**_common(v), "kind": v.get("kind") or "Default", "properties": props}


def _compute(compute_type: str) -> Translate:
    def translate(v: Values, rid: str) -> dict[str, Any]:
        inner: dict[str, Any] = {
            "enableNodePublicIp": _first(v, "node_public_ip_enabled", default=True),
            "vmSize": _first(v, "virtual_machine_size", "vm_size"),
        }
        subnet = _first(v, "subnet_resource_id")
        if subnet:
            inner["subnet"] = {"id": subnet}
        if compute_type == "AmlCompute":
            inner["remoteLoginPortPublicAccess"] = _enabled(_first(v, "ssh_public_access_enabled", default=False))
        else:
            inner["sshSettings"] = {"sshPublicAccess": _choose(_block(v, "ssh"), "Enabled", "Disabled")}
        props = {
            "computeType": compute_type,
            "disableLocalAuth": _not(_first(v, "local_auth_enabled", default=True)),
            "properties": inner,
        }
        return {**_common(v), "properties": props}

    return translate


def _aks(v: Values, rid: str) -> dict[str, Any]:
    access = _block(v, "api_server_access_profile")
    aad = _block(v, "azure_active_directory_role_based_access_control")
    pool = _block(v, "default_node_pool")
    secrets_provider = _block(v, "key_vault_secrets_provider")
    kms = _block(v, "key_management_service")
    network = _block(v, "network_profile")
    ranges = access.get("authorized_ip_ranges") or v.get("api_server_authorized_ip_ranges") or []
    addons: dict[str, Any] = {
        "azurepolicy": {"enabled": _bool(v.get("azure_policy_enabled"))},
        "httpApplicationRouting": {"enabled": _bool(v.get("http_application_routing_enabled"))},
    }
    if secrets_provider:
        rotation = secrets_provider.get("secret_rotation_enabled")
        addons["azureKeyvaultSecretsProvider"] = {
            "enabled": _choose(secrets_provider, True, False),
            "config": {"enableSecretRotation": _choose(rotation, "true", "false")},
        }
    security: dict[str, Any] = {"workloadIdentity": {"enabled": _bool(v.get("workload_identity_enabled"))}}
    if kms:
        security["azureKeyVaultKms"] = {
            "enabled": _choose(kms, True, False),
            "keyId": kms.get("key_vault_key_id"),
            "keyVaultNetworkAccess": kms.get("key_vault_network_access") or "Public",
        }
    if defender := _block(v, "microsoft_defender"):
        security["defender"] = {"securityMonitoring": {"enabled": _choose(defender, True, False)}}
    props: dict[str, Any] = {
        "apiServerAccessProfile": {
            "enablePrivateCluster": _bool(v.get("private_cluster_enabled")),
            "authorizedIPRanges": ranges,
            "disableRunCommand": _not(_first(v, "run_command_enabled", default=True)),
        },
        "disableLocalAccounts": _bool(v.get("local_account_disabled")),
        "enableRBAC": _first(v, "role_based_access_control_enabled", default=True),
        "addonProfiles": addons,
        "securityProfile": security,
        "oidcIssuerProfile": {"enabled": _bool(v.get("oidc_issuer_enabled"))},
        "diskEncryptionSetID": v.get("disk_encryption_set_id"),
        "agentPoolProfiles": [
            {
                "name": pool.get("name"),
                "enableEncryptionAtHost": _first(
                    pool, "host_encryption_enabled", "enable_host_encryption", default=False
                ),
                "enableNodePublicIP": _first(pool, "node_public_ip_enabled", "enable_node_public_ip", default=False),
            }
        ]
        if pool
        else [],
        "networkProfile": {"networkPolicy": network.get("network_policy")} if network else {},
        "autoUpgradeProfile": {
            "upgradeChannel": _first(v, "automatic_upgrade_channel", "automatic_channel_upgrade"),
            "nodeOSUpgradeChannel": _first(v, "node_os_upgrade_channel", "node_os_channel_upgrade"),
        },
    }
    if aad:
        props["aadProfile"] = {
            "managed": _choose(aad, True, False),
            "enableAzureRBAC": _bool(aad.get("azure_rbac_enabled")),
        }
    if not v.get("identity") and _block(v, "service_principal"):
        props["servicePrincipalProfile"] = {"clientId": _block(v, "service_principal").get("client_id")}
    return {**_common(v), "properties": props}


def _site(kind: str) -> Translate:
    def translate(v: Values, rid: str) -> dict[str, Any]:
        config = _block(v, "site_config")
        cors = _block(config, "cors")
        site_config: dict[str, Any] = {
            "minTlsVersion": _first(config, "minimum_tls_version", "min_tls_version"),
            "ftpsState": config.get("ftps_state"),
            "remoteDebuggingEnabled": _bool(config.get("remote_debugging_enabled")),
            "http20Enabled": config.get("http2_enabled"),
            "vnetRouteAllEnabled": config.get("vnet_route_all_enabled"),
            "appSettings": [{"name": k, "value": val} for k, val in _mapping(v.get("app_settings")).items()]
            # a map known only after apply: one entry named by its marker, so the settings are unknown
            + _unknown_list(v.get("app_settings"), {"value": None}),
            "connectionStrings": [
                {"name": c.get("name"), "connectionString": c.get("value"), "type": c.get("type")}
                for c in v.get("connection_string") or ()
                if isinstance(c, Mapping)
            ]
            + _unknown_list(v.get("connection_string"), {"connectionString": None}),
        }
        if cors:
            site_config["cors"] = {"allowedOrigins": cors.get("allowed_origins") or []}
        if kind.startswith("functionapp"):
            if v.get("storage_connection_string"):  # azurerm_function_app before provider 2.x's key attribute
                site_config["appSettings"].append(
                    {"name": "AzureWebJobsStorage", "value": v.get("storage_connection_string")}
                )
            elif v.get("storage_account_access_key"):
                site_config["appSettings"].append(
                    {"name": "AzureWebJobsStorage", "value": _storage_key_setting(v.get("storage_account_access_key"))}
                )
            elif _unknown(v.get("storage_uses_managed_identity")):  # identity or key: decided after apply
                site_config["appSettings"].append(
                    {"name": "AzureWebJobsStorage", "value": v.get("storage_uses_managed_identity")}
                )
            elif v.get("storage_uses_managed_identity"):
                site_config["appSettings"].append(
                    {"name": "AzureWebJobsStorage__accountName", "value": v.get("storage_account_name")}
                )
        auth = _block(v, "auth_settings_v2") or _block(v, "auth_settings")
        props: dict[str, Any] = {
            "httpsOnly": _bool(v.get("https_only")),
            "publicNetworkAccess": _enabled(_first(v, "public_network_access_enabled", default=True)),
            "clientCertEnabled": _bool(_first(v, "client_certificate_enabled", "client_cert_enabled")),
            "virtualNetworkSubnetId": v.get("virtual_network_subnet_id"),
            "siteConfig": site_config,
        }
        children = {
            "basicPublishingCredentialsPolicies/ftp": {
                "allow": _first(v, "ftp_publish_basic_authentication_enabled", default=True)
            },
            "basicPublishingCredentialsPolicies/scm": {
                "allow": _first(v, "webdeploy_publish_basic_authentication_enabled", default=True)
            },
            "config/authsettingsV2": {"platform": {"enabled": _bool(_first(auth, "auth_enabled", "enabled"))}},
        }
        return {**_common(v), "kind": kind, "properties": props, "_children": children}

    return translate


def _storage_key_setting(key: Any) -> str:
    """The connection string Azure builds from the key: classified here, the key itself dropped."""
    return f"DefaultEndpointsProtocol=https;AccountName=x;AccountKey={'k' * 40 if isinstance(key, str) else key}"


def _key_vault(v: Values, rid: str) -> dict[str, Any]:
    acls = _block(v, "network_acls")
    props: dict[str, Any] = {
        "tenantId": v.get("tenant_id"),
        "enablePurgeProtection": _bool(v.get("purge_protection_enabled")),
        "enableSoftDelete": True,
        "enableRbacAuthorization": _bool(_first(v, "rbac_authorization_enabled", "enable_rbac_authorization")),
        "publicNetworkAccess": _enabled(_first(v, "public_network_access_enabled", default=True)),
        "accessPolicies": [
            {
                "objectId": p.get("object_id"),
                "tenantId": p.get("tenant_id"),
                "permissions": {
                    "keys": _permissions(p.get("key_permissions")),
                    "secrets": _permissions(p.get("secret_permissions")),
                },
            }
            for p in v.get("access_policy") or ()
            if isinstance(p, Mapping)
        ]
        if not _unknown(v.get("access_policy"))
        else v["access_policy"],  # the whole list known only after apply: so are the policies
    }
    if acls:
        props["networkAcls"] = {"defaultAction": acls.get("default_action"), "bypass": acls.get("bypass")}
    return {**_common(v), "properties": props}


def _managed_hsm(v: Values, rid: str) -> dict[str, Any]:
    """`azurerm_key_vault_managed_hardware_security_module`: the settings the vault checks judge on an HSM.
    Soft delete is always on for an HSM; `security_domain_encrypted_data` (the security domain) is never read."""
    acls = _block(v, "network_acls")
    props: dict[str, Any] = {
        "tenantId": v.get("tenant_id"),
        "initialAdminObjectIds": v.get("admin_object_ids"),
        "enablePurgeProtection": _bool(v.get("purge_protection_enabled")),
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": v.get("soft_delete_retention_days"),
        "publicNetworkAccess": _enabled(_first(v, "public_network_access_enabled", default=True)),
    }
    if acls:
        props["networkAcls"] = {"defaultAction": acls.get("default_action"), "bypass": acls.get("bypass")}
    return {**_common(v), "sku": {"name": v.get("sku_name")}, "properties": props}


def _vault_key(v: Values, rid: str) -> dict[str, Any]:
    policy = _block(v, "rotation_policy")
    automatic = _block(policy, "automatic")
    props: dict[str, Any] = {
        "kty": v.get("key_type"),
        "keySize": v.get("key_size"),
        "curveName": v.get("curve"),
        "attributes": {"enabled": True, "exp": v.get("expiration_date"), "nbf": v.get("not_before_date")},
    }
    if policy:
        actions = []
        if automatic:
            actions.append(
                {
                    "trigger": {
                        "timeAfterCreate": automatic.get("time_after_creation"),
                        "timeBeforeExpiry": automatic.get("time_before_expiry"),
                    },
                    # a block known only after apply may turn out empty: whether it rotates is unknown
                    "action": {"type": automatic.marker if isinstance(automatic, _UnknownBlock) else "Rotate"},
                }
            )
        if policy.get("notify_before_expiry"):
            actions.append(
                {"trigger": {"timeBeforeExpiry": policy["notify_before_expiry"]}, "action": {"type": "Notify"}}
            )
        props["rotationPolicy"] = {"lifetimeActions": actions, "attributes": {"expiryTime": policy.get("expire_after")}}
    if isinstance(policy, _UnknownBlock):
        props["rotationPolicy"] = policy.marker
    return {"properties": props}


def _vault_secret(v: Values, rid: str) -> dict[str, Any]:
    """Secret metadata only: the `value` attribute is never read."""
    return {
        "properties": {
            "contentType": v.get("content_type"),
            "attributes": {"enabled": True, "exp": v.get("expiration_date"), "nbf": v.get("not_before_date")},
        }
    }


def _storage(v: Values, rid: str) -> dict[str, Any]:
    rules = _block(v, "network_rules")
    cmk = _block(v, "customer_managed_key")
    encryption: dict[str, Any] = {
        "keySource": _choose(cmk, "Microsoft.Keyvault", "Microsoft.Storage"),
        "requireInfrastructureEncryption": _bool(v.get("infrastructure_encryption_enabled")),
    }
    if cmk:
        uri, name = _split_key(_first(cmk, "key_vault_key_id", "managed_hsm_key_id"))
        encryption["keyvaultproperties"] = {"keyvaulturi": uri, "keyname": name}
    props: dict[str, Any] = {
        "supportsHttpsTrafficOnly": _first(v, "https_traffic_only_enabled", "enable_https_traffic_only", default=True),
        "minimumTlsVersion": v.get("min_tls_version") or "TLS1_2",
        "allowBlobPublicAccess": _first(v, "allow_nested_items_to_be_public", "allow_blob_public_access", default=True),
        "publicNetworkAccess": _enabled(_first(v, "public_network_access_enabled", default=True)),
        "allowSharedKeyAccess": _first(v, "shared_access_key_enabled", default=True),
        "allowCrossTenantReplication": _bool(v.get("cross_tenant_replication_enabled")),
        "encryption": encryption,
    }
    if rules:
        props["networkAcls"] = {"defaultAction": rules.get("default_action"), "bypass": rules.get("bypass")}
    return {**_common(v), "kind": v.get("account_kind") or "StorageV2", "properties": props}


def _registry(v: Values, rid: str) -> dict[str, Any]:
    rules = _block(v, "network_rule_set")
    encryption = _block(v, "encryption")
    props: dict[str, Any] = {
        "adminUserEnabled": _bool(v.get("admin_enabled")),
        "anonymousPullEnabled": _bool(v.get("anonymous_pull_enabled")),
        "publicNetworkAccess": _enabled(_first(v, "public_network_access_enabled", default=True)),
        "policies": {
            "exportPolicy": {"status": _choose(_first(v, "export_policy_enabled", default=True), "enabled", "disabled")}
        },
        "encryption": {"status": "enabled", "keyVaultProperties": {"keyIdentifier": encryption.get("key_vault_key_id")}}
        if encryption and encryption.get("key_vault_key_id")
        else {"status": "disabled"},
    }
    if rules:
        props["networkRuleSet"] = {"defaultAction": rules.get("default_action")}
    return {**_common(v), "sku": {"name": v.get("sku")}, "properties": props}


def _cognitive(v: Values, rid: str) -> dict[str, Any]:
    acls = _block(v, "network_acls")
    cmk = _block(v, "customer_managed_key")
    props: dict[str, Any] = {
        "disableLocalAuth": _not(_first(v, "local_auth_enabled", default=True)),
        "publicNetworkAccess": _enabled(_first(v, "public_network_access_enabled", default=True)),
        "customSubDomainName": v.get("custom_subdomain_name"),
        "encryption": {
            "keySource": _choose(cmk, "Microsoft.KeyVault", "Microsoft.CognitiveServices"),
            "keyVaultProperties": dict(
                zip(("keyVaultUri", "keyName"), _split_key(cmk.get("key_vault_key_id")), strict=True)
            ),
        }
        if cmk
        else {"keySource": "Microsoft.CognitiveServices"},
    }
    if acls:
        props["networkAcls"] = {"defaultAction": acls.get("default_action")}
    return {**_common(v), "kind": v.get("kind"), "sku": {"name": v.get("sku_name")}, "properties": props}


def _private_endpoint(v: Values, rid: str) -> dict[str, Any]:
    automatic: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    connections = v.get("private_service_connection")
    for conn in [connections] if _unknown(connections) else connections or ():
        if _unknown(conn):  # known only after apply: its target and whether it is approved too
            conn = _UnknownBlock(str(conn))
        if not isinstance(conn, Mapping):
            continue
        entry: dict[str, Any] = {
            "name": conn.get("name"),
            "properties": {
                "privateLinkServiceId": conn.get("private_connection_resource_id"),
                "groupIds": conn.get("subresource_names") or [],
            },
        }
        manual_flag = conn.get("is_manual_connection")
        if _unknown(manual_flag):  # approved on creation, or waiting for the target's owner: not known yet
            entry["properties"]["privateLinkServiceConnectionState"] = {"status": manual_flag}
        (manual if manual_flag is True else automatic).append(entry)
    props = {
        "subnet": {"id": v.get("subnet_id")},
        "privateLinkServiceConnections": automatic,
        "manualPrivateLinkServiceConnections": manual,
    }
    return {**_common(v), "properties": props}


def _diagnostic_setting(v: Values, rid: str) -> dict[str, Any]:
    """`enabled_log` (v3.39+, v4) is on by being there; the older `log` block says `enabled`."""
    logs: Any = [
        {"category": b.get("category"), "categoryGroup": b.get("category_group"), "enabled": True}
        for b in _blocks(v.get("enabled_log"))
    ] + [
        {"category": b.get("category"), "categoryGroup": b.get("category_group"), "enabled": _bool(b.get("enabled"))}
        for b in _blocks(v.get("log"))
    ]
    unknown = next((x for x in (v.get("enabled_log"), v.get("log")) if _unknown(x)), None)
    props: dict[str, Any] = {
        "workspaceId": v.get("log_analytics_workspace_id"),
        "storageAccountId": v.get("storage_account_id"),
        "eventHubAuthorizationRuleId": v.get("eventhub_authorization_rule_id"),
        "eventHubName": v.get("eventhub_name"),
        "marketplacePartnerId": v.get("partner_solution_id"),
        "logs": logs if unknown is None or logs else unknown,  # all of them known only after apply
    }
    return {"properties": {k: val for k, val in props.items() if val is not None}}


def _blocks(value: Any) -> list[Mapping[str, Any]]:
    """A repeated block's entries; one known only after apply reads as all-unknown."""
    if _unknown(value):
        return []
    return [_UnknownBlock(b) if _unknown(b) else b for b in value or () if isinstance(b, Mapping) or _unknown(b)]


# azurerm type -> (ARM type, attribute naming the parent resource or None, translation)
TABLE: dict[str, tuple[str, str | None, Translate]] = {
    "azurerm_machine_learning_workspace": ("Microsoft.MachineLearningServices/workspaces", None, _workspace),
    "azurerm_machine_learning_compute_instance": (
        "Microsoft.MachineLearningServices/workspaces/computes",
        "machine_learning_workspace_id",
        _compute("ComputeInstance"),
    ),
    "azurerm_machine_learning_compute_cluster": (
        "Microsoft.MachineLearningServices/workspaces/computes",
        "machine_learning_workspace_id",
        _compute("AmlCompute"),
    ),
    "azurerm_kubernetes_cluster": ("Microsoft.ContainerService/managedClusters", None, _aks),
    "azurerm_machine_learning_inference_cluster": (
        "Microsoft.MachineLearningServices/workspaces/computes",
        "machine_learning_workspace_id",
        lambda v, rid: {
            **_common(v),
            "properties": {"computeType": "AKS", "resourceId": v.get("kubernetes_cluster_id")},
        },
    ),
    "azurerm_linux_web_app": ("Microsoft.Web/sites", None, _site("app,linux")),
    "azurerm_windows_web_app": ("Microsoft.Web/sites", None, _site("app")),
    "azurerm_linux_function_app": ("Microsoft.Web/sites", None, _site("functionapp,linux")),
    "azurerm_windows_function_app": ("Microsoft.Web/sites", None, _site("functionapp")),
    "azurerm_linux_web_app_slot": ("Microsoft.Web/sites/slots", "app_service_id", _site("app,linux")),
    "azurerm_windows_web_app_slot": ("Microsoft.Web/sites/slots", "app_service_id", _site("app")),
    "azurerm_linux_function_app_slot": ("Microsoft.Web/sites/slots", "function_app_id", _site("functionapp,linux")),
    "azurerm_windows_function_app_slot": ("Microsoft.Web/sites/slots", "function_app_id", _site("functionapp")),
    # provider 2.x/3.x resources, deprecated in favour of the Linux/Windows ones above but still in wide use
    "azurerm_app_service": ("Microsoft.Web/sites", None, _site("app")),
    "azurerm_function_app": ("Microsoft.Web/sites", None, _site("functionapp")),
    "azurerm_app_service_slot": ("Microsoft.Web/sites/slots", "app_service_name", _site("app")),
    "azurerm_function_app_slot": ("Microsoft.Web/sites/slots", "function_app_name", _site("functionapp")),
    "azurerm_key_vault": ("Microsoft.KeyVault/vaults", None, _key_vault),
    "azurerm_key_vault_key": ("Microsoft.KeyVault/vaults/keys", "key_vault_id", _vault_key),
    "azurerm_key_vault_secret": ("Microsoft.KeyVault/vaults/secrets", "key_vault_id", _vault_secret),
    "azurerm_key_vault_managed_hardware_security_module": ("Microsoft.KeyVault/managedHSMs", None, _managed_hsm),
    # the same key attributes as a vault's key (key_type, key_size, curve, expiration_date, rotation_policy)
    "azurerm_key_vault_managed_hardware_security_module_key": (
        "Microsoft.KeyVault/managedHSMs/keys",
        "managed_hsm_id",
        _vault_key,
    ),
    "azurerm_storage_account": ("Microsoft.Storage/storageAccounts", None, _storage),
    "azurerm_container_registry": ("Microsoft.ContainerRegistry/registries", None, _registry),
    "azurerm_cognitive_account": ("Microsoft.CognitiveServices/accounts", None, _cognitive),
    "azurerm_private_endpoint": ("Microsoft.Network/privateEndpoints", None, _private_endpoint),
    "azurerm_monitor_diagnostic_setting": (diagnostics.TYPE, "target_resource_id", _diagnostic_setting),
}


def _network_rules(target: dict[str, Any], v: Values) -> None:
    target["networkAcls"] = {"defaultAction": v.get("default_action"), "bypass": v.get("bypass")}


def _storage_cmk(target: dict[str, Any], v: Values) -> None:
    encryption = target.setdefault("encryption", {})
    encryption["keySource"] = "Microsoft.Keyvault"
    if v.get("managed_hsm_key_id"):  # a key in a Managed HSM: its URL names the HSM and the key
        uri, name = _split_key(v["managed_hsm_key_id"])
        encryption["keyvaultproperties"] = {"keyvaulturi": uri, "keyname": name}
        return
    encryption["keyvaultproperties"] = {
        "keyvaulturi": _vault_uri(_first(v, "key_vault_uri", "key_vault_id")),
        "keyname": v.get("key_name"),
    }


def _node_pool(target: dict[str, Any], v: Values) -> None:
    target.setdefault("agentPoolProfiles", []).append(
        {
            "name": v.get("name"),
            "osType": v.get("os_type") or "Linux",  # the provider's default; Windows pools are not judged for SSH
            "enableEncryptionAtHost": _first(v, "host_encryption_enabled", "enable_host_encryption", default=False),
            "enableNodePublicIP": _first(v, "node_public_ip_enabled", "enable_node_public_ip", default=False),
        }
    )


def _access_policy(target: dict[str, Any], v: Values) -> None:
    policies = target.get("accessPolicies")
    target["accessPolicies"] = [
        *(policies if isinstance(policies, list) else []),
        {
            "objectId": v.get("object_id"),
            "tenantId": v.get("tenant_id"),
            "permissions": {
                "keys": _permissions(v.get("key_permissions")),
                "secrets": _permissions(v.get("secret_permissions")),
            },
        },
    ]


def _hsm_rotation_policy(target: dict[str, Any], v: Values) -> None:
    """`azurerm_key_vault_managed_hardware_security_module_key_rotation_policy`: an HSM key's rotation policy
    is its own resource (the key has no `rotation_policy` block). Exactly one of `time_after_creation` and
    `time_before_expiry` is required, and it is when the key rotates: the policy always rotates."""
    trigger = {"timeAfterCreate": v.get("time_after_creation"), "timeBeforeExpiry": v.get("time_before_expiry")}
    target["rotationPolicy"] = {
        "lifetimeActions": [{"trigger": trigger, "action": {"type": "Rotate"}}],
        "attributes": {"expiryTime": v.get("expire_after")},
    }


def _permissions(value: Any) -> Any:
    """Permission names lower-cased; a list known only after apply stays its marker."""
    return [str(x).lower() for x in value] if isinstance(value, list) else value if _unknown(value) else []


def _swift_connection(target: dict[str, Any], v: Values) -> None:
    """`azurerm_app_service_virtual_network_swift_connection`: regional VNet integration declared on its
    own (the azurerm documentation's way for apps that do not set `virtual_network_subnet_id`); ARM then
    reports the subnet as the site's `virtualNetworkSubnetId`."""
    if not target.get("virtualNetworkSubnetId"):
        target["virtualNetworkSubnetId"] = v.get("subnet_id")


AUGMENT: dict[str, tuple[str, Callable[[dict[str, Any], Values], None]]] = {
    "azurerm_app_service_virtual_network_swift_connection": ("app_service_id", _swift_connection),
    "azurerm_key_vault_access_policy": ("key_vault_id", _access_policy),
    "azurerm_storage_account_network_rules": ("storage_account_id", _network_rules),
    "azurerm_storage_account_customer_managed_key": ("storage_account_id", _storage_cmk),
    "azurerm_kubernetes_cluster_node_pool": ("kubernetes_cluster_id", _node_pool),
    "azurerm_key_vault_managed_hardware_security_module_key_rotation_policy": (
        "managed_hsm_key_id",
        _hsm_rotation_policy,
    ),
}
"""Resources that set part of another resource's ARM properties: (attribute naming it, merge)."""


_CLASSIFIED = frozenset(
    {"app_settings", "connection_string", "storage_account_access_key", "storage_connection_string", "value"}
)
"""Attributes whose values are classified as secrets and dropped by the translation (a Key Vault
secret's `value` is never read): Terraform marking them sensitive changes nothing."""


def _hide_sensitive(values: Any, sensitive: Any, address: str, path: str = "") -> Any:
    """Overlay `after_sensitive`/`sensitive_values`: `terraform show -json` writes sensitive values in
    clear, so every sensitive string becomes a marker naming the attribute (never the value), which
    the checks that read it report as `unknown`. Flags and numbers carry no secret and stay."""
    if sensitive is True:
        if isinstance(values, str):
            return marker(f"{address}.{path} (sensitive in the plan)")
        if isinstance(values, list):
            return [_hide_sensitive(v, True, address, f"{path}[{i}]") for i, v in enumerate(values)]
        if isinstance(values, Mapping):
            return {k: _hide_sensitive(v, True, address, f"{path}.{k}") for k, v in values.items()}
        return values
    if isinstance(values, Mapping) and isinstance(sensitive, Mapping):
        return {
            key: value
            if not path and key in _CLASSIFIED
            else _hide_sensitive(value, sensitive.get(key), address, f"{path}.{key}" if path else key)
            for key, value in values.items()
        }
    if isinstance(values, list) and isinstance(sensitive, list):
        return [
            _hide_sensitive(v, sensitive[i] if i < len(sensitive) else None, address, f"{path}[{i}]")
            for i, v in enumerate(values)
        ]
    return values


def _unknowns(values: Any, unknown: Any, address: str, path: str = "") -> Any:
    """Overlay `after_unknown`: every attribute known only after apply becomes a marker."""
    if unknown is True:
        return marker(f"{address}.{path} (known after apply)")
    if isinstance(values, Mapping) and isinstance(unknown, Mapping):
        out = dict(values)
        for key, flag in unknown.items():
            out[key] = _unknowns(values.get(key), flag, address, f"{path}.{key}" if path else key)
        return out
    if isinstance(values, list) and isinstance(unknown, list):
        return [
            _unknowns(values[i] if i < len(values) else None, flag, address, f"{path}[{i}]")
            for i, flag in enumerate(unknown)
        ] + values[len(unknown) :]
    return values


_SITES = frozenset(t for t, (arm_type, _, _) in TABLE.items() if arm_type.startswith("Microsoft.Web/sites"))


def _references(expression: Any) -> list[str]:
    found = expression.get("references") if isinstance(expression, Mapping) else None
    return [str(r) for r in found] if isinstance(found, list) else []


def _sourced(value: Any, references: list[str]) -> Any:
    """A setting known only after apply names what its configuration refers to (addresses, never
    values): whether it can hold a credential depends on them."""
    if not _unknown(value) or not references or not value.endswith("(known after apply)>"):
        return value
    return marker(f"{value[len(UNEVALUATED_PREFIX) : -2]} from [{', '.join(references)}])")


def _setting_sources(values: Values, expressions: Any) -> Values:
    """App settings and connection strings known only after apply, with the references of the
    configuration that sets them (a map's references are those of the whole map)."""
    if not isinstance(expressions, Mapping):
        return values
    out = dict(values)
    settings, shared = values.get("app_settings"), _references(expressions.get("app_settings"))
    if isinstance(settings, Mapping):
        out["app_settings"] = {k: _sourced(v, shared) for k, v in settings.items()}
    else:
        out["app_settings"] = _sourced(settings, shared)
    blocks, declared = values.get("connection_string"), expressions.get("connection_string")
    if isinstance(blocks, list) and isinstance(declared, list):
        out["connection_string"] = [
            {**b, "value": _sourced(b.get("value"), _references(declared[i].get("value")))}
            if isinstance(b, Mapping) and i < len(declared) and isinstance(declared[i], Mapping)
            else b
            for i, b in enumerate(blocks)
        ]
    return out


def _expressions(document: Mapping[str, Any]) -> dict[str, Any]:
    """Configuration address -> its `expressions` (each attribute's `references`, nested like the values)."""
    out: dict[str, Any] = {}

    def walk(module: Any, prefix: str) -> None:
        if not isinstance(module, Mapping):
            return
        resources = module.get("resources")
        for resource in resources if isinstance(resources, list) else ():
            if isinstance(resource, Mapping):
                out[f"{prefix}{resource.get('address')}"] = resource.get("expressions") or {}
        calls = module.get("module_calls")
        for name, call in calls.items() if isinstance(calls, Mapping) else ():
            if isinstance(call, Mapping):
                walk(call.get("module"), f"{prefix}module.{name}.")

    configuration = document.get("configuration")
    walk(configuration.get("root_module") if isinstance(configuration, Mapping) else None, "")
    return out


def _module_outputs(document: Mapping[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """`module.NAME.OUTPUT` -> (the module's address prefix, the references of the output's expression)."""
    out: dict[str, tuple[str, list[str]]] = {}

    def walk(module: Any, prefix: str, depth: int) -> None:
        calls = module.get("module_calls") if isinstance(module, Mapping) else None
        for name, call in calls.items() if isinstance(calls, Mapping) and depth < 16 else ():
            inner = call.get("module") if isinstance(call, Mapping) else None
            outputs = inner.get("outputs") if isinstance(inner, Mapping) else None
            for output, declared in outputs.items() if isinstance(outputs, Mapping) else ():
                expression = declared.get("expression") if isinstance(declared, Mapping) else None
                out[f"{prefix}module.{name}.{output}"] = (f"{prefix}module.{name}.", _references(expression))
            walk(inner, f"{prefix}module.{name}.", depth + 1)

    configuration = document.get("configuration")
    walk(configuration.get("root_module") if isinstance(configuration, Mapping) else None, "", 0)
    return out


def _follow_outputs(ids: dict[str, str], outputs: Mapping[str, tuple[str, list[str]]]) -> None:
    """A module output that passes on a resource's id resolves like the resource (`module.data.account_id`
    -> the module's `azurerm_storage_account.st`); an output of an output, a few modules deep, too."""
    for _ in range(4):
        found = False
        for name, (prefix, references) in outputs.items():
            if name not in ids:
                target = next((t for r in references if (t := _target(f"{prefix}{r}", ids))), None)
                if target:
                    ids[name], found = target, True
        if not found:
            return


def _resolve(values: Any, expressions: Any, ids: Mapping[str, str], module: str = "") -> Any:
    """An `*_id` known only after apply that refers to a resource of this plan gets that resource's ARM id.
    A reference inside a module names a resource of the same module instance (`module` is its prefix)."""
    if isinstance(values, list) and isinstance(expressions, list):
        return [
            _resolve(v, expressions[i] if i < len(expressions) else None, ids, module) for i, v in enumerate(values)
        ]
    if not isinstance(values, Mapping) or not isinstance(expressions, Mapping):
        return values
    out = dict(values)
    for key, value in values.items():
        expression = expressions.get(key)
        unknown = value is None or (isinstance(value, str) and value.startswith("<unevaluated: "))
        if key.endswith("_id") and unknown and isinstance(expression, Mapping):
            for reference in expression.get("references") or ():
                target = _target(f"{module}{reference}", ids) or (_target(reference, ids) if module else None)
                if target:
                    out[key] = _key_url(target) if key.endswith("key_id") else target
                    break
        elif isinstance(value, (list, Mapping)):
            out[key] = _resolve(value, expression, ids, module)
    return out


def _key_url(arm_id: str) -> str:
    """A key attribute (`key_id`, `key_vault_key_id`) holds the key's URL, not its ARM id: the URL of
    the plan's key it refers to (public cloud), as the resources that encrypt with it name it."""
    parts = arm_id.split("/")
    lowered = [p.lower() for p in parts]
    if len(parts) >= 4 and lowered[-2] == "keys" and lowered[-4] == "vaults":
        return f"https://{parts[-3].lower()}.vault.azure.net/keys/{parts[-1]}"
    if len(parts) >= 4 and lowered[-2] == "keys" and lowered[-4] == "managedhsms":
        return f"https://{parts[-3].lower()}.managedhsm.azure.net/keys/{parts[-1]}"
    return arm_id


def _vault_uri(value: Any) -> Any:
    """A vault's URI from its ARM id (`key_vault_id`); a URI or a marker stays as it is."""
    if isinstance(value, str) and value.lower().startswith("/subscriptions/") and "/vaults/" in value.lower():
        return f"https://{value.rstrip('/').rsplit('/', 1)[-1].lower()}.vault.azure.net/"
    return value


def _split_key(key_id: Any) -> tuple[Any, Any]:
    """(vault URI, key name) of a key URL `https://kv.vault.azure.net/keys/k[/version]`; a marker is both."""
    if isinstance(key_id, str) and key_id.startswith("https://") and "/keys/" in key_id:
        vault, _, rest = key_id.partition("/keys/")
        return f"{vault}/", rest.split("/", 1)[0]
    return key_id, key_id


def _target(reference: str, ids: Mapping[str, str]) -> str | None:
    if reference in ids:
        return ids[reference]
    declared = _config_address(reference)
    return next((i for a, i in ids.items() if _config_address(a) == declared), None)


def _address_name(address: str, module: str, tf_type: str) -> str:
    """A resource's name from its address when the name is known only after apply: `st["prod.eu"]`
    (a for_each key may hold dots or slashes, and instances must stay apart)."""
    declared = f"{module}{tf_type}."
    name = address[len(declared) :] if address.startswith(declared) else address.rsplit(".", 1)[-1]
    return name.replace("/", "%2F") or address


def _module_of(address: str, tf_type: str) -> str:
    """`module.ml["a"].` for `module.ml["a"].azurerm_key_vault.kv[0]`; "" at the root."""
    at = address.rfind(f"{tf_type}.")
    return address[:at] if at > 0 else ""


def _planned(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    def walk(module: Any) -> Iterator[Mapping[str, Any]]:
        if not isinstance(module, Mapping):
            return
        for resource in module.get("resources") or ():
            if isinstance(resource, Mapping):
                yield resource
        for child in module.get("child_modules") or ():
            yield from walk(child)

    planned = document.get("planned_values") or document.get("values")  # `terraform show -json` of a state
    yield from walk(planned.get("root_module") if isinstance(planned, Mapping) else None)


def _config_address(address: str) -> str:
    """`module.ml["a"].azurerm_x.y[0]` -> `module.ml.azurerm_x.y`: configuration is per declaration."""
    return re.sub(r"\[[^\]]*\]", "", address)


def plan_rows(document: Any, path: Path) -> list[tuple[dict[str, Any], int, str]]:
    """(ARM-shaped row, line, Terraform address) for every audited azurerm resource the plan leaves in place."""
    if not isinstance(document, Mapping) or not {"planned_values", "resource_changes", "values"} & document.keys():
        raise InputError(f"{path}: not a Terraform plan (`terraform show -json plan.out` output)")
    plan_shape.check(document, path)
    entries: dict[str, tuple[Values, Any, int, str]] = {}
    for resource in _planned(document):
        # a state's deposed object (`deposed_key`) is the one a create-before-destroy replaces
        if _managed(resource) and resource.get("type") in _READ and not resource.get("deposed_key"):
            values = resource.get("values")
            address = str(resource.get("address"))
            entries[address] = (
                _hide_sensitive(dict(values), resource.get("sensitive_values"), address)
                if isinstance(values, Mapping)
                else {},
                None,
                getattr(resource, "line", 0),
                str(resource["type"]),
            )
    for change in document.get("resource_changes") or ():
        if not isinstance(change, Mapping) or not _managed(change) or change.get("type") not in _READ:
            continue
        if change.get("deposed"):  # the old object a create-before-destroy replaces: its address is the new one's
            continue
        detail = change.get("change")
        detail = detail if isinstance(detail, Mapping) else {}
        address = str(change.get("address"))
        if detail.get("actions") in _DELETE_ONLY:
            entries.pop(address, None)
            continue
        after = detail.get("after")
        line = getattr(change, "line", 0)
        if isinstance(after, Mapping):
            after = _hide_sensitive(dict(after), detail.get("after_sensitive"), address)
            entries[address] = (after, detail.get("after_unknown"), line, str(change["type"]))
        elif address in entries:
            values, unknown, _, tf_type = entries[address]
            entries[address] = (values, unknown, line, tf_type)
    expressions = _expressions(document)
    ids: dict[str, str] = {}
    augments = [a for a in entries if entries[a][3] in AUGMENT]
    # Top-level resources first, so that children can find their parent's ARM id.
    order = sorted((a for a in entries if entries[a][3] in TABLE), key=lambda a: TABLE[entries[a][3]][1] is not None)
    rows: list[tuple[dict[str, Any], int, str]] = []
    resolved: dict[str, tuple[Values, str]] = {}
    outputs, followed = _module_outputs(document), False
    for address in order:  # ARM ids first: a reference anywhere in the plan can then be resolved
        values, unknown, line, tf_type = entries[address]
        arm_type, parent_attr, _ = TABLE[tf_type]
        if parent_attr and not followed:  # top-level ids known: a parent may be named by a module output
            _follow_outputs(ids, outputs)
            followed = True
        module = _module_of(address, tf_type)
        expression = expressions.get(_config_address(address))
        values = _resolve(_unknowns(values, unknown, address), expression, ids, module)
        if tf_type in _SITES:
            values = _setting_sources(values, expression)
        name = values.get("name")
        if not isinstance(name, str) or name.startswith("<unevaluated: "):
            name = _address_name(address, module, tf_type)
        ids[address] = _arm_id(arm_type, name, values, parent_attr)
        resolved[address] = (values, name)
    _follow_outputs(ids, outputs)
    for address in order:
        _, _, line, tf_type = entries[address]
        arm_type, _, translate = TABLE[tf_type]
        values, name = resolved[address]
        values = _resolve(values, expressions.get(_config_address(address)), ids, _module_of(address, tf_type))
        rid = ids[address]
        try:
            row = translate(values, rid)
        except (TypeError, AttributeError, ValueError) as exc:  # `access_policy: 1.5`: a shape no provider writes
            raise InputError(
                f"{path}:{line}: {address}: an attribute holds a value of a type the azurerm provider never "
                f"writes ({type(exc).__name__}; the value is not shown: it may be a secret)"
            ) from None
        children = row.pop("_children", {})
        row.update(id=rid, name=name, type=arm_type)
        rows.append(({k: v for k, v in row.items() if v is not None}, line, address))
        for suffix, properties in children.items():
            child_type, child_name = suffix.split("/")
            rows.append(
                (
                    {
                        "id": f"{rid}/{suffix}",
                        "name": child_name,
                        "type": f"{arm_type}/{child_type}",
                        "properties": properties,
                    },
                    line,
                    address,
                )
            )
    by_id = {row["id"].lower(): row for row, _, _ in rows}
    # a key is named by its URL (`managed_hsm_key_id`), never by its ARM id: find it by that too
    by_id.update({_key_url(row["id"]).lower(): row for row, _, _ in rows if row["type"].lower().endswith("/keys")})
    for address in augments:
        values, unknown, _, tf_type = entries[address]
        attribute, merge = AUGMENT[tf_type]
        values = _resolve(
            _unknowns(values, unknown, address),
            expressions.get(_config_address(address)),
            ids,
            _module_of(address, tf_type),
        )
        target = values.get(attribute)
        if isinstance(target, str) and target.startswith("https://") and "/keys/" in target:
            uri, name = _split_key(target)  # a versioned key URL names the same key
            target = f"{uri}keys/{name}"
        parent = by_id.get(target.lower()) if isinstance(target, str) else None
        if parent is not None and isinstance(parent.get("properties"), dict):
            merge(parent["properties"], values)  # a target outside the plan is judged where it is deployed
    return rows


def _managed(resource: Mapping[str, Any]) -> bool:
    """A managed resource; hand-written and older plans may leave `mode` out (data sources say `data`)."""
    mode = resource.get("mode", "managed")
    return mode == "managed" and not _MODULES.sub("", str(resource.get("address", ""))).startswith("data.")


_MODULES = re.compile(r'^(?:module\.[^.\[]+(?:\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\])?\.)*')
"""The module path in front of an address: `module.ml["a.b"].module.net[0].`."""


_READ = TABLE.keys() | AUGMENT.keys()


def _arm_id(arm_type: str, name: str, values: Values, parent_attr: str | None) -> str:
    parent = values.get(parent_attr) if parent_attr else None
    if arm_type == diagnostics.TYPE:  # an extension resource: under its target, whatever type that is
        return diagnostics.setting_id(str(parent) if parent else "<unevaluated: target_resource_id>", name)
    if isinstance(parent, str) and parent.startswith("/subscriptions/"):
        child = arm_type.rsplit("/", 1)[-1]
        return f"{parent.rstrip('/')}/{child}/{name}"
    group = values.get("resource_group_name")
    group = group if isinstance(group, str) and not group.startswith("<") else PLACEHOLDER_RESOURCE_GROUP
    namespace, *segments = arm_type.split("/")
    base = f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/resourceGroups/{group}/providers/{namespace}/{segments[0]}"
    if parent_attr and isinstance(parent, str) and parent and "/" not in parent and not parent.startswith("<"):
        return f"{base}/{parent}/{segments[-1]}/{name}"  # a parent given by name (the provider 2.x slots)
    if parent_attr:  # the parent is not in the plan: name it by placeholder
        return f"{base}/unknown-parent/{segments[-1]}/{name}"
    return f"{base}/{name}"
