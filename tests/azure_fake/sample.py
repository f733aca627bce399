"""A small, realistic inventory to serve when the bundled demo estate is not there (or too big to debug)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scanner.inventory import (
    ALL_SOURCES,
    AppSettingFact,
    AppSettingsFacts,
    Inventory,
    KeyMetadata,
    LifetimeAction,
    RotationPolicy,
    SnapshotHeader,
)
from scanner.models import Resource, SourceCoverage

SUB_A = "11111111-1111-4111-8111-111111111111"
SUB_B = "22222222-2222-4222-8222-222222222222"


def _id(sub: str, rg: str, provider: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}"


def _row(resource_id: str, type_: str, properties: dict[str, Any], **extra: Any) -> Resource:
    sub = resource_id.split("/")[2]
    rg = resource_id.split("/")[4].lower() if "/resourceGroups/" in resource_id else None
    return Resource.model_validate(
        {
            "id": resource_id,
            "name": resource_id.rsplit("/", 1)[-1],
            "type": type_,
            "location": "westeurope",
            "subscriptionId": sub,
            "resourceGroup": rg,
            "properties": properties,
            **extra,
        }
    )


def sample_inventory() -> Inventory:
    ml = _id(SUB_A, "rg-ml", "Microsoft.MachineLearningServices/workspaces/mlw-claims")
    kv = _id(SUB_A, "rg-ml", "Microsoft.KeyVault/vaults/kv-claims")
    st = _id(SUB_A, "rg-ml", "Microsoft.Storage/storageAccounts/stclaims")
    acr = _id(SUB_A, "rg-ml", "Microsoft.ContainerRegistry/registries/acrclaims")
    endpoint = f"{ml}/onlineEndpoints/ep-triage"
    deployment = f"{endpoint}/deployments/blue"
    web = _id(SUB_B, "rg-web", "Microsoft.Web/sites/app-intake")
    func = _id(SUB_B, "rg-web", "Microsoft.Web/sites/func-score")
    aks = _id(SUB_B, "rg-aks", "Microsoft.ContainerService/managedClusters/aks-infer")
    pe = _id(SUB_A, "rg-ml", "Microsoft.Network/privateEndpoints/pe-kv")
    resources = [
        _row(
            ml,
            "microsoft.machinelearningservices/workspaces",
            {
                "publicNetworkAccess": "Enabled",
                "keyVault": kv,
                "storageAccount": st,
                "containerRegistry": acr,
                "managedNetwork": {"isolationMode": "Disabled"},
                "hbiWorkspace": False,
            },
            kind="Default",
            identity={"type": "SystemAssigned"},
        ),
        _row(
            kv,
            "microsoft.keyvault/vaults",
            {
                "vaultUri": "https://kv-claims.vault.azure.net/",
                "enableRbacAuthorization": True,
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": 90,
                "publicNetworkAccess": "Disabled",
                "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
                "sku": {"family": "A", "name": "standard"},
            },
        ),
        _row(
            st,
            "microsoft.storage/storageaccounts",
            {
                "allowBlobPublicAccess": True,
                "allowSharedKeyAccess": True,
                "minimumTlsVersion": "TLS1_0",
                "supportsHttpsTrafficOnly": True,
                "publicNetworkAccess": "Enabled",
                "encryption": {
                    "keySource": "Microsoft.Keyvault",
                    "keyvaultproperties": {
                        "keyvaulturi": "https://kv-claims.vault.azure.net/",
                        "keyname": "cmk-storage",
                    },
                },
            },
            kind="StorageV2",
            sku={"name": "Standard_LRS", "tier": "Standard"},
        ),
        _row(
            acr,
            "microsoft.containerregistry/registries",
            {
                "adminUserEnabled": True,
                "anonymousPullEnabled": False,
                "publicNetworkAccess": "Enabled",
            },
            sku={"name": "Premium", "tier": "Premium"},
        ),
        _row(
            endpoint,
            "microsoft.machinelearningservices/workspaces/onlineendpoints",
            {
                "authMode": "Key",
                "publicNetworkAccess": "Enabled",
            },
            identity={"type": "SystemAssigned"},
        ),
        _row(
            deployment,
            "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments",
            {
                "endpointComputeType": "Managed",
                "egressPublicNetworkAccess": "Enabled",
                "environmentVariables": {"DB_PASSWORD": "<redacted>", "MODEL_NAME": "<redacted>"},
            },
            kind="Managed",
        ),
        _row(
            f"{ml}/computes/ci-dev",
            "microsoft.machinelearningservices/workspaces/computes",
            {
                "computeType": "ComputeInstance",
                "disableLocalAuth": False,
                "properties": {"enableNodePublicIp": True, "sshSettings": {"sshPublicAccess": "Enabled"}},
            },
        ),
        _row(
            pe,
            "microsoft.network/privateendpoints",
            {
                "privateLinkServiceConnections": [
                    {
                        "name": "kv",
                        "properties": {
                            "privateLinkServiceId": kv,
                            "groupIds": ["vault"],
                            "privateLinkServiceConnectionState": {"status": "Approved"},
                        },
                    }
                ]
            },
        ),
        _row(
            web,
            "microsoft.web/sites",
            {"httpsOnly": False, "publicNetworkAccess": "Enabled"},
            kind="app,linux,container",
            identity={"type": "SystemAssigned"},
        ),
        _row(
            func,
            "microsoft.web/sites",
            {"httpsOnly": True, "publicNetworkAccess": "Disabled"},
            kind="functionapp,linux",
        ),
        _row(
            f"{web}/config/web",
            "microsoft.web/sites/config",
            {"MinTlsVersion": "1.0", "FtpsState": "AllAllowed", "RemoteDebuggingEnabled": True},
        ),
        _row(f"{func}/config/web", "microsoft.web/sites/config", {"MinTlsVersion": "1.2", "FtpsState": "Disabled"}),
        _row(
            f"{web}/basicPublishingCredentialsPolicies/ftp",
            "microsoft.web/sites/basicpublishingcredentialspolicies",
            {"allow": True},
        ),
        _row(
            f"{web}/basicPublishingCredentialsPolicies/scm",
            "microsoft.web/sites/basicpublishingcredentialspolicies",
            {"allow": False},
        ),
        _row(
            f"{web}/providers/microsoft.insights/diagnosticSettings/to-law",
            "microsoft.insights/diagnosticsettings",
            {"workspaceId": "/subscriptions/x/law", "logs": [{"category": "AppServiceHTTPLogs", "enabled": True}]},
        ),
        _row(
            f"{kv}/secrets/db-password",
            "microsoft.keyvault/vaults/secrets",
            {"attributes": {"enabled": True, "created": 1700000000}, "contentType": "text/plain"},
        ),
        _row(f"{acr}/tokens/ci-pull", "microsoft.containerregistry/registries/tokens", {"status": "enabled"}),
        _row(
            aks,
            "microsoft.containerservice/managedclusters",
            {
                "enableRBAC": True,
                "disableLocalAccounts": False,
                "apiServerAccessProfile": {"enablePrivateCluster": False},
                "aadProfile": {"managed": True, "enableAzureRBAC": True},
            },
            identity={"type": "SystemAssigned"},
            sku={"name": "Base", "tier": "Free"},
        ),
        _row(
            f"/subscriptions/{SUB_A}/providers/Microsoft.Security/pricings/KeyVaults",
            "microsoft.security/pricings",
            {"pricingTier": "Free"},
        ),
        _row(
            f"/subscriptions/{SUB_B}/providers/Microsoft.Security/pricings/Containers",
            "microsoft.security/pricings",
            {"pricingTier": "Standard", "enforce": "False", "inherited": "True"},
        ),
        _row(
            f"/subscriptions/{SUB_B}/providers/Microsoft.Security/securityContacts/default",
            "microsoft.security/securitycontacts",
            {"emails": "secops@example.org", "alertNotifications": {"state": "On", "minimalSeverity": "High"}},
        ),
        _row(
            f"{acr}/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648",
            "microsoft.security/assessments",
            {
                "displayName": "Container images should have vulnerability findings resolved",
                "status": {"code": "Unhealthy"},
                "metadata": {"severity": "High"},
                "resourceDetails": {"Source": "Azure", "Id": acr},
            },
        ),
    ]
    keys = [
        KeyMetadata(
            vault_id=kv,
            vault_uri="https://kv-claims.vault.azure.net/",
            name="cmk-storage",
            kid="https://kv-claims.vault.azure.net/keys/cmk-storage",
            enabled=True,
            created=1700000000,
            updated=1700000000,
            key_type="RSA-HSM",
            key_size=3072,
            rotation_policy=RotationPolicy(
                lifetime_actions=(
                    LifetimeAction(action="Rotate", time_after_create="P90D"),
                    LifetimeAction(action="Notify", time_before_expiry="P30D"),
                ),
                expiry_time="P1Y",
            ),
        ),
        KeyMetadata(
            vault_id=kv,
            vault_uri="https://kv-claims.vault.azure.net/",
            name="signing",
            kid="https://kv-claims.vault.azure.net/keys/signing",
            enabled=True,
            expires=1900000000,
            created=1700000000,
            updated=1700000000,
            key_type="EC",
            curve="P-256",
            rotation_policy=None,
        ),
    ]
    keys.append(
        KeyMetadata(
            vault_id=kv,
            vault_uri="https://kv-claims.vault.azure.net/",
            name="legacy-wrap",
            kid="https://kv-claims.vault.azure.net/keys/legacy-wrap",
            enabled=True,
            created=1600000000,
            key_type="RSA",
            key_size=2048,
        )
    )
    settings = [
        AppSettingsFacts(
            resource_id=web,
            settings=(
                AppSettingFact(name="STORAGE_CONNECTION", classification="account-key"),
                AppSettingFact(name="API_TOKEN", key_vault_reference=True),
                AppSettingFact(name="WEBSITES_PORT"),
                AppSettingFact(name="ClaimsDb", source="connection_string", classification="password"),
            ),
        ),
        AppSettingsFacts(
            resource_id=func,
            settings=(
                AppSettingFact(name="AzureWebJobsStorage", classification="account-key"),
                AppSettingFact(name="OPENAI_API_KEY", classification="secret"),
            ),
        ),
        AppSettingsFacts(
            resource_id=deployment,
            settings=(
                AppSettingFact(name="DB_PASSWORD", source="environment_variable", classification="password"),
                AppSettingFact(name="MODEL_NAME", source="environment_variable"),
            ),
        ),
    ]
    header = SnapshotHeader(
        tool_version="sample",
        collected_at=datetime(2026, 11, 1, tzinfo=UTC),
        sources=tuple(SourceCoverage(name=name, collected=True) for name in ALL_SOURCES),
    )
    return Inventory(header=header, resources=resources, keys=keys, app_settings=settings)


STAGING_SLOT = f"{_id(SUB_B, 'rg-web', 'Microsoft.Web/sites/app-intake')}/slots/staging"


def with_staging_slot(inventory: Inventory) -> Inventory:
    """The sample plus a `staging` deployment slot of app-intake with records of its own: a public
    hostname, TLS 1.0 config, Easy Auth off, SCM basic auth allowed and a plaintext app-setting secret."""
    slot = STAGING_SLOT
    rows = [
        _row(
            slot,
            "microsoft.web/sites/slots",
            {
                "httpsOnly": True,
                "publicNetworkAccess": "Enabled",
                "defaultHostName": "app-intake-staging.azurewebsites.net",
            },
            name="app-intake/staging",  # Resource Graph names a slot `site/slot`
            kind="app,linux,container",
            identity={"type": "SystemAssigned"},
        ),
        _row(
            f"{slot}/config/web", "microsoft.web/sites/slots/config", {"MinTlsVersion": "1.0", "FtpsState": "Disabled"}
        ),
        _row(f"{slot}/config/authsettingsV2", "microsoft.web/sites/slots/config", {"platform": {"enabled": False}}),
        _row(
            f"{slot}/basicPublishingCredentialsPolicies/ftp",
            "microsoft.web/sites/slots/basicpublishingcredentialspolicies",
            {"allow": False},
        ),
        _row(
            f"{slot}/basicPublishingCredentialsPolicies/scm",
            "microsoft.web/sites/slots/basicpublishingcredentialspolicies",
            {"allow": True},
        ),
    ]
    settings = AppSettingsFacts(
        resource_id=slot,
        settings=(
            AppSettingFact(name="API_TOKEN", key_vault_reference=True),
            AppSettingFact(name="STAGING_DB_PASSWORD", classification="password"),
        ),
    )
    return Inventory(
        header=inventory.header,
        resources=[*inventory.resources, *rows],
        keys=list(inventory.keys),
        app_settings=[*inventory.app_settings, settings],
    )
