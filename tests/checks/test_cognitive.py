"""Cognitive Services (Azure OpenAI, AI Services) checks against Resource Graph-shaped account rows."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scanner.models import Resource, Status
from tests.helpers import estate, resource, rid, run, status

ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
ACCOUNT_ID = rid(ACCOUNT_TYPE, "oai-claims")

HARDENED: dict[str, Any] = {
    "endpoint": "https://oai-claims.openai.azure.com/",
    "customSubDomainName": "oai-claims",
    "provisioningState": "Succeeded",
    "disableLocalAuth": True,
    "publicNetworkAccess": "Disabled",
    "networkAcls": {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
    "restrictOutboundNetworkAccess": True,
    "encryption": {
        "keySource": "Microsoft.KeyVault",
        "keyVaultProperties": {
            "keyName": "oai-cmk",
            "keyVersion": "0123456789abcdef0123456789abcdef",
            "keyVaultUri": "https://kv-cmk.vault.azure.net/",
            "identityClientId": "33333333-4444-5555-6666-777777777777",
        },
    },
    "privateEndpointConnections": [
        {
            "id": f"{ACCOUNT_ID}/privateEndpointConnections/pe-oai",
            "properties": {
                "privateEndpoint": {"id": rid("Microsoft.Network/privateEndpoints", "pe-oai")},
                "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
                "groupIds": ["account"],
            },
        }
    ],
}
IDENTITY = {"type": "SystemAssigned", "principalId": "p", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}


def account(kind: str = "OpenAI", identity: dict[str, Any] | None = IDENTITY, **updates: Any) -> Resource:
    """The hardened account with top-level properties replaced (None removes one)."""
    body = copy.deepcopy(HARDENED)
    for key, value in updates.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return resource(ACCOUNT_TYPE, "oai-claims", body, kind=kind, sku={"name": "S0"}, identity=identity)


@pytest.mark.parametrize("kind", ["OpenAI", "AIServices", "TextAnalytics", "FormRecognizer"])
def test_hardened_account_passes_every_rule_for_every_kind(kind: str) -> None:
    target = account(kind=kind)
    for check_id in [f"MLW-AI-0{n}" for n in range(1, 6)]:
        assert status(check_id, target) is Status.PASS, check_id


# -- MLW-AI-01 local auth --------------------------------------------------------------------------


def test_keys_enabled_fails() -> None:
    assert status("MLW-AI-01", account(disableLocalAuth=False)) is Status.FAIL


def test_local_auth_absent_fails() -> None:
    assert status("MLW-AI-01", account(disableLocalAuth=None)) is Status.FAIL


def test_local_auth_string_true_passes() -> None:
    assert status("MLW-AI-01", account(disableLocalAuth="true")) is Status.PASS


# -- MLW-AI-02 network access ----------------------------------------------------------------------


def test_firewall_deny_with_public_access_enabled_passes_unlike_checkov() -> None:
    """Divergence: Checkov CKV_AZURE_134 accepts only Disabled; Azure Policy 037eea7a and mlwarden accept Deny."""
    acls = {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}], "virtualNetworkRules": []}
    [finding] = run("MLW-AI-02", account(publicNetworkAccess="Enabled", networkAcls=acls))
    assert finding.status is Status.PASS
    assert "1 listed" in finding.message


def test_public_access_disabled_passes_without_acls() -> None:
    assert status("MLW-AI-02", account(networkAcls=None)) is Status.PASS


def test_open_to_all_networks_fails() -> None:
    target = account(publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"})
    assert status("MLW-AI-02", target) is Status.FAIL


def test_network_settings_absent_fail() -> None:
    assert status("MLW-AI-02", account(publicNetworkAccess=None, networkAcls=None)) is Status.FAIL


def test_deny_compared_case_insensitively() -> None:
    target = account(publicNetworkAccess="Enabled", networkAcls={"defaultaction": "deny"})
    assert status("MLW-AI-02", target) is Status.PASS


# -- MLW-AI-03 private endpoint --------------------------------------------------------------------


def test_pending_private_endpoint_fails() -> None:
    pending = copy.deepcopy(HARDENED["privateEndpointConnections"])
    pending[0]["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"
    assert status("MLW-AI-03", account(privateEndpointConnections=pending)) is Status.FAIL


def test_no_private_endpoint_fails() -> None:
    assert status("MLW-AI-03", account(privateEndpointConnections=None)) is Status.FAIL


_NO_VNET = [{"name": "CommitmentPlan"}]


def test_kind_without_virtual_networks_capability_is_not_applicable_for_private_link() -> None:
    """Policy cddd188c skips accounts whose capabilities lack VirtualNetworks, as MLW-AI-02 does."""
    bare = account(kind="Bing.Search.v7", privateEndpointConnections=None, capabilities=_NO_VNET)
    assert status("MLW-AI-03", bare) is Status.NOT_APPLICABLE


def test_approved_link_passes_whatever_the_capabilities_say() -> None:
    assert status("MLW-AI-03", account(capabilities=_NO_VNET)) is Status.PASS


def test_private_endpoint_row_counts() -> None:
    target = account(privateEndpointConnections=None)
    endpoint = resource(
        "Microsoft.Network/privateEndpoints",
        "pe-oai",
        {
            "privateLinkServiceConnections": [
                {
                    "name": "pe-oai",
                    "properties": {
                        "privateLinkServiceId": ACCOUNT_ID,
                        "groupIds": ["account"],
                        "privateLinkServiceConnectionState": {"status": "Approved"},
                    },
                }
            ]
        },
    )
    assert status("MLW-AI-03", target, estate([target, endpoint])) is Status.PASS


# -- MLW-AI-04 identity ----------------------------------------------------------------------------


def test_user_assigned_identity_passes() -> None:
    assert status("MLW-AI-04", account(identity={"type": "UserAssigned", "userAssignedIdentities": {}})) is Status.PASS


def test_identity_none_fails() -> None:
    assert status("MLW-AI-04", account(identity={"type": "None"})) is Status.FAIL


def test_identity_absent_fails() -> None:
    assert status("MLW-AI-04", account(identity=None)) is Status.FAIL


# -- MLW-AI-05 customer-managed key ----------------------------------------------------------------


def test_key_source_compared_case_insensitively() -> None:
    encryption = copy.deepcopy(HARDENED["encryption"])
    encryption["keySource"] = "Microsoft.Keyvault"
    assert status("MLW-AI-05", account(encryption=encryption)) is Status.PASS


def test_microsoft_managed_keys_fail() -> None:
    assert status("MLW-AI-05", account(encryption={"keySource": "Microsoft.CognitiveServices"})) is Status.FAIL


def test_encryption_absent_fails() -> None:
    assert status("MLW-AI-05", account(encryption=None)) is Status.FAIL
