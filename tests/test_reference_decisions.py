"""Verdicts an earlier round left open for want of evidence, each decided against a named reference and
scanned through the real CLI (as a snapshot and, where the resource can be declared, as an ARM template).

- MLW-AKS-04: PSRule Azure.AKS.ManagedAAD (Properties.aadProfile.managed equals true) against Azure Policy
  450d2877 (aadProfile exists): mlwarden sides with PSRule; the divergence is in the check's rationale.
- MLW-AKS-11: Azure Policy dbbdc317 tests securityProfile.azureKeyVaultKms.enabled only, and the AKS API
  (azureKeyVaultKms.keyId: "required ... when enabled") admits no enabled KMS without a key.
- MLW-DEF-05: Defender for AI services' per-resource setting is
  Microsoft.CognitiveServices/accounts/defenderForAISettings; nothing of Azure ML carries one.
- MLW-APP-02: an ASE's exposure is Azure Policy 2d048aca's, on Microsoft.Web/hostingEnvironments
  (internalLoadBalancingMode), which the site row does not hold; Policy 1b5ef780 1.0.0 and 969ac98b judge
  ASE apps on the site flag anyway (the divergence is in the check's rationale).
- MLW-MLWS-07: the Foundry guide "Disable shared-key access for your hub's storage account" sets
  systemDatastoresAuthMode on the hub; hub-based projects use the hub's storage account.

Records are our own, in the shapes of the REST API examples for each type.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import SUB, as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
Case = tuple[str, dict[str, Any], dict[str, str]]
"""(the reference the expectation comes from, the ARM body, expected status per check id)."""

PASS, FAIL, NA, UNKNOWN = "pass", "fail", "not_applicable", "unknown"
AKS = "Microsoft.ContainerService/managedClusters"
WEB = "Microsoft.Web/sites"
WS = "Microsoft.MachineLearningServices/workspaces"
_POOL = [{"name": "system", "count": 3, "vmSize": "Standard_D4ds_v5", "mode": "System", "osType": "Linux"}]
_TENANT = "00000000-0000-0000-0000-0000000000aa"
_ASE = f"/subscriptions/{SUB}/resourceGroups/rg-ref/providers/Microsoft.Web/hostingEnvironments/ase-ilb"


def _cluster(name: str, **properties: Any) -> dict[str, Any]:
    body = {"kubernetesVersion": "1.30.3", "dnsPrefix": name, "agentPoolProfiles": _POOL, **properties}
    return record(AKS, name, body, identity={"type": "SystemAssigned"})


def _ase_site(name: str, kind: str, **properties: Any) -> dict[str, Any]:
    """A site on an ASE v3 plan, as the 2023-12-01 sites GET example shows hostingEnvironmentProfile."""
    profile = {"id": _ASE, "name": "ase-ilb", "type": "Microsoft.Web/hostingEnvironments"}
    return record(WEB, name, {"httpsOnly": True, "hostingEnvironmentProfile": profile, **properties}, kind=kind)


def _workspace(name: str, kind: str, **properties: Any) -> dict[str, Any]:
    return record(WS, name, properties, kind=kind, identity={"type": "SystemAssigned"}, sku={"name": "Basic"})


_HUB_ID = f"/subscriptions/{SUB}/resourceGroups/rg-ref/providers/{WS}/hub-ref"
_ORPHAN_HUB = f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/{WS}/hub-elsewhere"

CASES: list[Case] = [
    (
        "PSRule Azure.AKS.ManagedAAD pass / Policy 450d2877 pass: managed integration",
        _cluster("aks-aad-managed", aadProfile={"managed": True, "enableAzureRBAC": True, "tenantID": _TENANT}),
        {"MLW-AKS-04": PASS},
    ),
    (
        "PSRule Azure.AKS.ManagedAAD fail / Policy 450d2877 pass: legacy integration with app registrations",
        _cluster(
            "aks-aad-legacy",
            aadProfile={
                "managed": False,
                "clientAppID": "client-app",
                "serverAppID": "server-app",
                "tenantID": _TENANT,
            },
        ),
        {"MLW-AKS-04": FAIL},
    ),
    (
        "PSRule Azure.AKS.ManagedAAD fail / Policy 450d2877 pass: aadProfile without managed",
        _cluster("aks-aad-unstated", aadProfile={"adminGroupObjectIDs": ["g1"], "tenantID": _TENANT}),
        {"MLW-AKS-04": FAIL},
    ),
    (
        "PSRule Azure.AKS.ManagedAAD fail / Policy 450d2877 fail: no aadProfile",
        _cluster("aks-aad-none"),
        {"MLW-AKS-04": FAIL},
    ),
    (
        "Policy dbbdc317 pass (enabled true); the API requires keyId when enabled",
        _cluster("aks-kms-nokey", securityProfile={"azureKeyVaultKms": {"enabled": True}}),
        {"MLW-AKS-11": PASS},
    ),
    (
        "Policy dbbdc317 fail: KMS disabled",
        _cluster("aks-kms-off", securityProfile={"azureKeyVaultKms": {"enabled": False}}),
        {"MLW-AKS-11": FAIL},
    ),
    (
        "Policy 2d048aca: a web app in an ASE is exposed by the ASE's load balancer, public access unset",
        _ase_site("app-ase-unset", "app,linux"),
        {"MLW-APP-02": NA},
    ),
    (
        "Policy 2d048aca: a function app in an ASE, even with publicNetworkAccess Enabled",
        _ase_site("func-ase-enabled", "functionapp,linux", publicNetworkAccess="Enabled"),
        {"MLW-APP-02": NA},
    ),
    (
        "An ASE app that states Disabled still passes",
        _ase_site("app-ase-disabled", "app", publicNetworkAccess="Disabled"),
        {"MLW-APP-02": PASS},
    ),
    (
        "Foundry guide: the hub holds systemDatastoresAuthMode (identity)",
        _workspace("hub-ref", "Hub", systemDatastoresAuthMode="identity", publicNetworkAccess="Disabled"),
        {"MLW-MLWS-07": PASS},
    ),
    (
        "A project that states no mode takes its hub's (identity): a pass, not a fail for the unset field",
        _workspace("proj-ref-inherits", "Project", hubResourceId=_HUB_ID),
        {"MLW-MLWS-07": PASS},
    ),
    (
        "A project that states its own mode is judged on it",
        _workspace("proj-ref-own", "Project", hubResourceId=_HUB_ID, systemDatastoresAuthMode="accessKey"),
        {"MLW-MLWS-07": FAIL},
    ),
    (
        "A project whose hub is not in the scan and that states no mode cannot be judged",
        _workspace("proj-ref-orphan", "Project", hubResourceId=_ORPHAN_HUB),
        {"MLW-MLWS-07": UNKNOWN},
    ),
]

API_VERSIONS = {AKS: "2024-09-01", WEB: "2023-12-01", WS: "2024-10-01"}


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("decisions"), *(body for _, body, _ in CASES))


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    declared = [_declared(body) for _, body, _ in CASES]
    return scan_template(tmp_path_factory.mktemp("decisions-template"), *declared)


def _declared(body: dict[str, Any]) -> dict[str, Any]:
    """The template resource for `body`; a project names a hub in the same template by resourceId()."""
    declared = as_template(body, API_VERSIONS[body["type"]])
    if declared["properties"].get("hubResourceId") == _HUB_ID:
        hub = f"[resourceId('{WS}', 'hub-ref')]"
        declared["properties"] = {**declared["properties"], "hubResourceId": hub}
    return declared


def _expectations() -> list[tuple[str, str, str, str]]:
    return [
        (source, body["name"], check_id, want) for source, body, checks in CASES for check_id, want in checks.items()
    ]


@pytest.mark.parametrize(("source", "name", "check_id", "want"), _expectations())
@pytest.mark.parametrize("scanned", ["snapshot_findings", "template_findings"])
def test_decided_verdicts_match_their_reference(
    request: pytest.FixtureRequest, scanned: str, source: str, name: str, check_id: str, want: str
) -> None:
    found: Found = request.getfixturevalue(scanned)
    finding = found.get((check_id, name), [{}])[0]
    assert status(found, check_id, name) == want, (source, finding.get("message"), finding.get("evidence"))


def test_kms_without_a_key_says_no_key_is_named(snapshot_findings: Found) -> None:
    [finding] = snapshot_findings[("MLW-AKS-11", "aks-kms-nokey")]
    assert "names no key identifier" in finding["message"]


def test_inherited_datastore_auth_names_the_hub(snapshot_findings: Found) -> None:
    [finding] = snapshot_findings[("MLW-MLWS-07", "proj-ref-inherits")]
    assert "inherited from hub hub-ref" in finding["message"]
    assert {"path": "hub:properties.systemDatastoresAuthMode", "value": "identity"} in finding["evidence"]


def _pricing(name: str, tier: str) -> dict[str, Any]:
    """A Microsoft.Security/pricings row (REST 2024-01-01 GET shape) for the test subscription."""
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/{name}",
        "name": name,
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": tier},
    }


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ([], NA),
        ([record("Microsoft.CognitiveServices/accounts", "oai-ref", {}, kind="OpenAI", sku={"name": "S0"})], FAIL),
    ],
    ids=["ml-only", "with-openai"],
)
def test_ai_plan_applies_to_cognitive_accounts_not_ml_alone(
    tmp_path_factory: pytest.TempPathFactory, extra: list[dict[str, Any]], want: str
) -> None:
    """Defender for AI services (pricing 'AI') off: not applicable where only Azure ML runs (workspace, hub,
    project, online endpoint), a fail once an Azure OpenAI account is there to protect."""
    ml = [
        _workspace("mlw-only", "Default"),
        _workspace("hub-only", "Hub"),
        record(
            f"{WS}/onlineEndpoints", "mlw-only/ep-only", {"authMode": "AADToken"}, identity={"type": "SystemAssigned"}
        ),
    ]
    found = scan_snapshot(tmp_path_factory.mktemp("def-ai"), *ml, *extra, _pricing("AI", "Free"))
    assert status(found, "MLW-DEF-05", SUB) == want
