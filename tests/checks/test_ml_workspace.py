"""ML workspace checks against workspace rows shaped like Resource Graph returns them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scanner.inventory import DIAGNOSTIC_SETTINGS, RESOURCES
from scanner.models import Resource, Severity, Status
from tests.helpers import SUB, estate, resource, rid, run, status

WS_TYPE = "Microsoft.MachineLearningServices/workspaces"
WS_ID = rid(WS_TYPE, "mlw-claims")
HUB_ID = rid(WS_TYPE, "hub-claims")
KEY_URI = "https://kv-cmk.vault.azure.net/keys/mlw-cmk/0123456789abcdef0123456789abcdef"

HARDENED: dict[str, Any] = {
    "friendlyName": "mlw-claims",
    "provisioningState": "Succeeded",
    "workspaceId": "8d2f4c1e-1111-4a5b-9c0d-0123456789ab",
    "publicNetworkAccess": "Disabled",
    "allowPublicAccessWhenBehindVnet": False,
    "keyVault": rid("Microsoft.KeyVault/vaults", "kv-mlw"),
    "storageAccount": rid("Microsoft.Storage/storageAccounts", "stmlw"),
    "containerRegistry": rid("Microsoft.ContainerRegistry/registries", "acrmlw"),
    "applicationInsights": rid("microsoft.insights/components", "appi-mlw"),
    "hbiWorkspace": True,
    "v1LegacyMode": False,
    "systemDatastoresAuthMode": "identity",
    "primaryUserAssignedIdentity": rid("Microsoft.ManagedIdentity/userAssignedIdentities", "id-mlw"),
    "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound", "status": {"status": "Active"}},
    "encryption": {
        "status": "Enabled",
        "keyVaultProperties": {"keyVaultArmId": rid("Microsoft.KeyVault/vaults", "kv-cmk"), "keyIdentifier": KEY_URI},
        "identity": {"userAssignedIdentity": rid("Microsoft.ManagedIdentity/userAssignedIdentities", "id-mlw")},
    },
    "privateEndpointConnections": [
        {
            "id": f"{WS_ID}/privateEndpointConnections/pe-mlw.1",
            "properties": {
                "privateEndpoint": {"id": rid("Microsoft.Network/privateEndpoints", "pe-mlw")},
                "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
                "provisioningState": "Succeeded",
            },
        }
    ],
}
IDENTITY = {
    "type": "SystemAssigned,UserAssigned",
    "principalId": "11111111-2222-3333-4444-555555555555",
    "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "userAssignedIdentities": {rid("Microsoft.ManagedIdentity/userAssignedIdentities", "id-mlw"): {}},
}


def workspace(
    properties: dict[str, Any] | None = None, *, name: str = "mlw-claims", kind: str = "Default", **extra: Any
) -> Resource:
    body = copy.deepcopy(HARDENED) if properties is None else properties
    extra.setdefault("identity", IDENTITY)
    return resource(WS_TYPE, name, body, kind=kind, sku={"name": "Basic", "tier": "Basic"}, **extra)


def changed(**updates: Any) -> Resource:
    """The hardened workspace with top-level properties replaced (None removes one)."""
    body = copy.deepcopy(HARDENED)
    for key, value in updates.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return workspace(body)


# -- MLW-MLWS-01 public network access -------------------------------------------------------------


def test_public_access_disabled_passes() -> None:
    assert status("MLW-MLWS-01", workspace()) is Status.PASS


def test_public_access_enabled_fails_lower_case_too() -> None:
    assert status("MLW-MLWS-01", changed(publicNetworkAccess="enabled")) is Status.FAIL


def test_public_access_absent_fails_like_azure_policy_not_checkov() -> None:
    """Divergence: Azure Policy 438c38d2 fails an absent value, Checkov CKV2_AZURE_49 passes it."""
    [finding] = run("MLW-MLWS-01", changed(publicNetworkAccess=None))
    assert finding.status is Status.FAIL
    assert "default" in finding.message


def test_public_access_reopened_behind_vnet_fails() -> None:
    target = changed(allowPublicAccessWhenBehindVnet=True)
    [finding] = run("MLW-MLWS-01", target)
    assert finding.status is Status.FAIL
    assert "allowPublicAccessWhenBehindVnet" in finding.message


def test_project_without_own_value_is_judged_by_its_hub() -> None:
    hub = workspace(name="hub-claims", kind="Hub")
    project = workspace({"hubResourceId": HUB_ID}, name="proj-claims", kind="Project")
    assert status("MLW-MLWS-01", project, estate([hub, project])) is Status.PASS
    open_hub = workspace({**HARDENED, "publicNetworkAccess": "Enabled"}, name="hub-claims", kind="Hub")
    assert status("MLW-MLWS-01", project, estate([open_hub, project])) is Status.FAIL


def test_project_with_hub_outside_the_scan_is_unknown() -> None:
    project = workspace({"hubResourceId": HUB_ID}, name="proj-claims", kind="Project")
    assert status("MLW-MLWS-01", project) is Status.UNKNOWN


def test_hub_settings_outrank_the_projects_own_value() -> None:
    """Projects inherit the hub's network: an open hub fails its project whatever the project row says."""
    open_hub = workspace({**HARDENED, "publicNetworkAccess": "Enabled"}, name="hub-claims", kind="Hub")
    project = workspace(
        {"hubResourceId": HUB_ID, "publicNetworkAccess": "Disabled"}, name="proj-claims", kind="Project"
    )
    [finding] = run("MLW-MLWS-01", project, estate([open_hub, project]))
    assert finding.status is Status.FAIL
    assert "inherited from hub hub-claims" in finding.message
    assert any(e.path == "hub:properties.publicNetworkAccess" and e.value == "Enabled" for e in finding.evidence)


def test_project_with_hub_outside_the_scan_is_judged_on_its_own_value() -> None:
    project = workspace({"hubResourceId": HUB_ID, "publicNetworkAccess": "Enabled"}, name="proj-claims", kind="Project")
    assert status("MLW-MLWS-01", project) is Status.FAIL


# -- MLW-MLWS-02 private endpoint ------------------------------------------------------------------


def test_approved_private_endpoint_passes() -> None:
    assert status("MLW-MLWS-02", workspace()) is Status.PASS


def test_pending_private_endpoint_fails() -> None:
    pending = copy.deepcopy(HARDENED["privateEndpointConnections"])
    pending[0]["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"
    [finding] = run("MLW-MLWS-02", changed(privateEndpointConnections=pending))
    assert finding.status is Status.FAIL
    assert "none is Approved" in finding.message


def test_no_private_endpoint_fails() -> None:
    assert status("MLW-MLWS-02", changed(privateEndpointConnections=None)) is Status.FAIL


def test_private_endpoint_row_alone_counts() -> None:
    """The uniform join: a privateEndpoints row naming the workspace, with no connection on the workspace."""
    target = changed(privateEndpointConnections=None)
    endpoint = resource(
        "Microsoft.Network/privateEndpoints",
        "pe-mlw",
        {
            "subnet": {"id": rid("Microsoft.Network/virtualNetworks", "vnet/subnets/pe")},
            "privateLinkServiceConnections": [
                {
                    "name": "pe-mlw",
                    "properties": {
                        "privateLinkServiceId": WS_ID,
                        "groupIds": ["amlworkspace"],
                        "privateLinkServiceConnectionState": {"status": "Approved"},
                    },
                }
            ],
        },
    )
    assert status("MLW-MLWS-02", target, estate([target, endpoint])) is Status.PASS


def test_project_uses_hub_private_endpoint() -> None:
    hub = workspace(name="hub-claims", kind="Hub")
    project = workspace({"hubResourceId": HUB_ID}, name="proj-claims", kind="Project")
    [finding] = run("MLW-MLWS-02", project, estate([hub, project]))
    assert finding.status is Status.PASS
    assert "hub-claims" in finding.message
    assert status("MLW-MLWS-02", project) is Status.UNKNOWN


# -- MLW-MLWS-03 customer-managed key --------------------------------------------------------------


def test_cmk_passes() -> None:
    assert status("MLW-MLWS-03", workspace()) is Status.PASS


def test_encryption_enabled_without_key_identifier_passes_as_policy_does() -> None:
    """Policy 7f40cee6 tests encryption.status only; the service refuses Enabled without a key."""
    assert status("MLW-MLWS-03", changed(encryption={"status": "Enabled"})) is Status.PASS


def test_encryption_absent_fails() -> None:
    assert status("MLW-MLWS-03", changed(encryption=None)) is Status.FAIL


def test_encryption_keyvaultproperties_casing_trap_still_passes() -> None:
    body = {"status": "enabled", "keyvaultproperties": {"keyidentifier": KEY_URI}}
    assert status("MLW-MLWS-03", changed(encryption=body)) is Status.PASS


def test_cmk_not_applicable_to_project() -> None:
    project = workspace({"hubResourceId": HUB_ID}, name="proj-claims", kind="Project")
    assert status("MLW-MLWS-03", project) is Status.NOT_APPLICABLE


# -- MLW-MLWS-04 / 05 identities -------------------------------------------------------------------


def test_managed_identity_passes_on_comma_separated_types() -> None:
    target = workspace(identity={**IDENTITY, "type": "SystemAssigned, UserAssigned"})
    assert status("MLW-MLWS-04", target) is Status.PASS


def test_identity_none_fails() -> None:
    assert status("MLW-MLWS-04", workspace(identity={"type": "None"})) is Status.FAIL


def test_identity_absent_fails() -> None:
    assert status("MLW-MLWS-04", workspace(identity=None)) is Status.FAIL


def test_user_assigned_primary_identity_passes() -> None:
    assert status("MLW-MLWS-05", workspace()) is Status.PASS


def test_system_assigned_only_fails_user_assigned_rule() -> None:
    target = workspace(identity={"type": "SystemAssigned", "principalId": "p"})
    assert status("MLW-MLWS-05", target) is Status.FAIL


def test_user_assigned_without_primary_fails() -> None:
    [finding] = run("MLW-MLWS-05", changed(primaryUserAssignedIdentity=None))
    assert finding.status is Status.FAIL
    assert "not set as primary" in finding.message


def test_user_assigned_rule_absent_identity_fails() -> None:
    assert status("MLW-MLWS-05", workspace(identity=None)) is Status.FAIL


# -- MLW-MLWS-06 managed network -------------------------------------------------------------------


def test_approved_outbound_only_passes_although_policy_default_flags_it() -> None:
    """Divergence: Azure Policy 6ddb1705 at its default parameter (Disabled) flags this hardened workspace."""
    assert status("MLW-MLWS-06", workspace()) is Status.PASS


def test_internet_outbound_fails_at_low_severity() -> None:
    [finding] = run("MLW-MLWS-06", changed(managedNetwork={"isolationMode": "AllowInternetOutbound"}))
    assert finding.status is Status.FAIL
    assert finding.severity is Severity.LOW


def test_managed_network_disabled_fails_at_medium() -> None:
    [finding] = run("MLW-MLWS-06", changed(managedNetwork={"isolationMode": "Disabled"}))
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.MEDIUM)


def test_managed_network_absent_fails() -> None:
    assert status("MLW-MLWS-06", changed(managedNetwork=None)) is Status.FAIL


def test_project_inherits_hub_managed_network() -> None:
    hub = workspace(name="hub-claims", kind="Hub")
    project = workspace(
        {"hubResourceId": HUB_ID, "managedNetwork": {"isolationMode": "Disabled"}}, name="proj-claims", kind="Project"
    )
    [finding] = run("MLW-MLWS-06", project, estate([hub, project]))
    assert finding.status is Status.PASS
    assert "hub-claims" in finding.message


def test_project_without_hub_or_managed_network_is_unknown() -> None:
    project = workspace({"hubResourceId": HUB_ID}, name="proj-claims", kind="Project")
    assert status("MLW-MLWS-06", project) is Status.UNKNOWN


# -- MLW-MLWS-07 system datastore auth -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["identity", "Identity", "UserDelegationSAS"])
def test_identity_or_user_delegation_datastores_pass(mode: str) -> None:
    assert status("MLW-MLWS-07", changed(systemDatastoresAuthMode=mode)) is Status.PASS


def test_access_key_datastores_fail() -> None:
    assert status("MLW-MLWS-07", changed(systemDatastoresAuthMode="AccessKey")) is Status.FAIL


def test_datastore_auth_absent_fails() -> None:
    assert status("MLW-MLWS-07", changed(systemDatastoresAuthMode=None)) is Status.FAIL


# -- MLW-MLWS-08 resource logs ---------------------------------------------------------------------


def diagnostic(name: str, logs: list[dict[str, Any]], **destination: str) -> Resource:
    body: dict[str, Any] = {"logs": logs, "metrics": [{"category": "AllMetrics", "enabled": True}]}
    body.update(destination or {"workspaceId": rid("Microsoft.OperationalInsights/workspaces", "law")})
    return resource(
        "Microsoft.Insights/diagnosticSettings",
        name,
        body,
        id=f"{WS_ID}/providers/microsoft.insights/diagnosticSettings/{name}",
    )


def test_logs_sent_to_log_analytics_pass() -> None:
    target = workspace()
    setting = diagnostic("audit", [{"categoryGroup": "allLogs", "category": None, "enabled": True}])
    assert status("MLW-MLWS-08", target, estate([target, setting])) is Status.PASS


def test_setting_with_all_logs_disabled_fails() -> None:
    target = workspace()
    setting = diagnostic("metrics-only", [{"category": "AmlComputeJobEvent", "enabled": False}])
    assert status("MLW-MLWS-08", target, estate([target, setting])) is Status.FAIL


def test_no_diagnostic_setting_fails() -> None:
    assert status("MLW-MLWS-08", workspace()) is Status.FAIL


def test_diagnostics_not_collected_is_unknown_not_pass() -> None:
    target = workspace()
    est = estate([target], collected=[RESOURCES])
    assert DIAGNOSTIC_SETTINGS not in {s.name for s in est.header.sources if s.collected}
    assert status("MLW-MLWS-08", target, est) is Status.UNKNOWN


def test_every_workspace_check_carries_evidence() -> None:
    target = workspace()
    for check_id in [f"MLW-MLWS-0{n}" for n in range(1, 9)]:
        for finding in run(check_id, target):
            assert finding.evidence, check_id
            assert finding.subscription_id == SUB
