"""Container registry checks on Resource Graph rows: pass, fail, absent properties and SKU-dependent rules."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.inventory import ALL_SOURCES, REGISTRY_TOKENS
from scanner.models import Resource, Status
from tests.helpers import estate, resource, rid, run, status

ACR = "Microsoft.ContainerRegistry/registries"
KEY_ID = "https://kv-ml.vault.azure.net/keys/cmk-acr/0123456789abcdef0123456789abcdef"


def registry(properties: dict[str, Any] | None = None, *, sku: str = "Premium", name: str = "acrml") -> Resource:
    base: dict[str, Any] = {"loginServer": f"{name}.azurecr.io", "provisioningState": "Succeeded"}
    base.update(properties or {})
    return resource(ACR, name, base, sku={"name": sku, "tier": sku})


def approved_connection(name: str = "pe-acr", state: str = "Approved") -> dict[str, Any]:
    return {
        "id": rid(ACR, "acrml") + f"/privateEndpointConnections/{name}",
        "properties": {
            "privateEndpoint": {"id": rid("Microsoft.Network/privateEndpoints", name)},
            "privateLinkServiceConnectionState": {"status": state, "description": "", "actionsRequired": "None"},
        },
    }


HARDENED: dict[str, Any] = {
    "adminUserEnabled": False,
    "anonymousPullEnabled": False,
    "publicNetworkAccess": "Disabled",
    "networkRuleSet": {"defaultAction": "Deny", "ipRules": []},
    "networkRuleBypassOptions": "AzureServices",
    "privateEndpointConnections": [approved_connection()],
    "encryption": {
        "status": "enabled",
        "keyVaultProperties": {"keyIdentifier": KEY_ID, "identity": "00000000-0000-0000-0000-0000000000c1"},
    },
    "policies": {
        "exportPolicy": {"status": "disabled"},
        "azureADAuthenticationAsArmPolicy": {"status": "disabled"},
        "quarantinePolicy": {"status": "disabled"},
        "retentionPolicy": {"days": 7, "status": "disabled"},
    },
}

PERMISSIVE: dict[str, Any] = {
    "adminUserEnabled": True,
    "anonymousPullEnabled": True,
    "publicNetworkAccess": "Enabled",
    "networkRuleSet": {"defaultAction": "Allow", "ipRules": []},
    "privateEndpointConnections": [],
    "encryption": {"status": "disabled"},
    "policies": {"exportPolicy": {"status": "enabled"}, "azureADAuthenticationAsArmPolicy": {"status": "enabled"}},
}

ROW_CHECKS = [f"MLW-ACR-{n:02d}" for n in range(1, 9)]


def token(name: str, state: str | None, registry_name: str = "acrml") -> Resource:
    props: dict[str, Any] = {"scopeMapId": rid(ACR, registry_name) + "/scopeMaps/_repositories_pull"}
    if state is not None:
        props["status"] = state
    return resource(f"{ACR}/tokens", name, props, id=rid(ACR, registry_name) + f"/tokens/{name}")


@pytest.mark.parametrize("check_id", ROW_CHECKS)
def test_hardened_premium_registry_passes(check_id: str) -> None:
    assert status(check_id, registry(HARDENED)) is Status.PASS


@pytest.mark.parametrize("check_id", ROW_CHECKS)
def test_permissive_registry_fails(check_id: str) -> None:
    assert status(check_id, registry(PERMISSIVE)) is Status.FAIL


ABSENT_EXPECTED = {
    "MLW-ACR-01": Status.PASS,  # admin user off by default
    "MLW-ACR-02": Status.PASS,  # anonymous pull off by default
    "MLW-ACR-03": Status.FAIL,  # default Enabled
    "MLW-ACR-04": Status.FAIL,  # default Allow
    "MLW-ACR-05": Status.FAIL,  # no private endpoint
    "MLW-ACR-06": Status.FAIL,  # Microsoft-managed keys
    "MLW-ACR-07": Status.FAIL,  # exports enabled by default
    "MLW-ACR-08": Status.FAIL,  # CHECKS.csv: absent = fail
}


@pytest.mark.parametrize(("check_id", "expected"), sorted(ABSENT_EXPECTED.items()))
def test_absent_properties_score_as_decided(check_id: str, expected: Status) -> None:
    assert status(check_id, registry()) is expected


def test_admin_user_absent_passes_as_service_default() -> None:
    [finding] = run("MLW-ACR-01", registry())
    assert finding.status is Status.PASS and finding.evidence[0].value is None


def test_public_network_access_absent_says_default() -> None:
    [finding] = run("MLW-ACR-03", registry())
    assert finding.status is Status.FAIL and "not set" in finding.message


def test_network_rules_on_basic_fail_and_name_premium() -> None:
    [finding] = run("MLW-ACR-04", registry({"publicNetworkAccess": "Enabled"}, sku="Basic"))
    assert finding.status is Status.FAIL and "Premium" in finding.message


def test_network_rules_pass_with_deny_while_public_access_on() -> None:
    open_but_filtered = registry({"publicNetworkAccess": "Enabled", "networkRuleSet": {"defaultAction": "Deny"}})
    assert status("MLW-ACR-04", open_but_filtered) is Status.PASS


def test_private_link_on_standard_sku_fails_saying_premium_is_needed() -> None:
    [finding] = run("MLW-ACR-05", registry(sku="Standard"))
    assert finding.status is Status.FAIL
    assert "Standard" in finding.message and "Premium" in finding.message


def test_pending_private_endpoint_on_premium_does_not_count() -> None:
    pending = registry({"privateEndpointConnections": [approved_connection(state="Pending")]})
    [finding] = run("MLW-ACR-05", pending)
    assert finding.status is Status.FAIL and "not approved" in finding.message


def test_private_endpoint_resource_in_estate_counts() -> None:
    target = registry()
    endpoint = resource(
        "Microsoft.Network/privateEndpoints",
        "pe-acrml",
        {
            "privateLinkServiceConnections": [
                {
                    "name": "registry",
                    "properties": {
                        "privateLinkServiceId": target.id,
                        "groupIds": ["registry"],
                        "privateLinkServiceConnectionState": {"status": "Approved"},
                    },
                }
            ]
        },
    )
    assert status("MLW-ACR-05", target, estate([target, endpoint])) is Status.PASS


def test_cmk_status_compares_case_insensitively() -> None:
    cmk = registry({"encryption": {"status": "Enabled", "keyVaultProperties": {"keyIdentifier": KEY_ID}}})
    assert status("MLW-ACR-06", cmk) is Status.PASS


def test_cmk_enabled_without_key_identifier_passes_as_policy_does() -> None:
    """Policy 5b9159ae tests encryption.status only; the service refuses enabled without a key."""
    [finding] = run("MLW-ACR-06", registry({"encryption": {"status": "enabled", "keyVaultProperties": {}}}))
    assert finding.status is Status.PASS and "no key identifier" in finding.message


def test_exports_disabled_but_public_access_on_fails() -> None:
    half = registry({"publicNetworkAccess": "Enabled", "policies": {"exportPolicy": {"status": "disabled"}}})
    [finding] = run("MLW-ACR-07", half)
    assert finding.status is Status.FAIL and "not enforced" in finding.message


def test_exports_on_basic_fail_and_name_premium() -> None:
    [finding] = run("MLW-ACR-07", registry({"publicNetworkAccess": "Enabled"}, sku="Basic"))
    assert finding.status is Status.FAIL and "Premium" in finding.message


def test_scoped_tokens_one_verdict_per_token() -> None:
    target = registry()
    tokens = [token("ci-pull", "enabled"), token("old-push", "disabled")]
    findings = run("MLW-ACR-09", target, estate([target, *tokens]))
    by_token = {f.detail_key: f.status for f in findings}
    assert by_token == {"ci-pull": Status.FAIL, "old-push": Status.PASS}
    assert len({f.fingerprint for f in findings}) == 2


def test_scoped_token_without_status_fails_as_enabled() -> None:
    target = registry()
    [finding] = run("MLW-ACR-09", target, estate([target, token("legacy", None)]))
    assert finding.status is Status.FAIL and "not set" in finding.message


def test_scoped_tokens_not_collected_is_unknown_and_none_passes() -> None:
    target = registry(HARDENED)
    not_collected = estate([target], collected=[s for s in ALL_SOURCES if s != REGISTRY_TOKENS])
    assert status("MLW-ACR-09", target, not_collected) is Status.UNKNOWN
    assert status("MLW-ACR-09", target) is Status.PASS
