"""Defender for Cloud checks: plans the subscription needs, security contacts, and assessments as findings."""

from __future__ import annotations

from typing import Any

import pytest

from scanner import inventory
from scanner.inventory import ALL_SOURCES
from scanner.models import Resource, Severity, Status
from tests.helpers import SUB, estate, resource, rid, run, status

SUB_ID = f"/subscriptions/{SUB}"


def subscription() -> Resource:
    return resource(
        "Microsoft.Resources/subscriptions",
        SUB,
        {"state": "Enabled", "displayName": "ml-prod"},
        id=SUB_ID,
        resourceGroup=None,
    )


def pricing(name: str, tier: str, sub_plan: str | None = None, **extra: Any) -> Resource:
    """A `securityresources` pricing row; enforce/inherited are strings on the wire."""
    properties: dict[str, Any] = {
        "pricingTier": tier,
        "freeTrialRemainingTime": "PT0S",
        "enforce": "False",
        "inherited": "False",
        "resourcesCoverageStatus": "FullyCovered" if tier.lower() == "standard" else "NotCovered",
    }
    if sub_plan:
        properties["subPlan"] = sub_plan
    properties.update(extra)
    return resource(
        "Microsoft.Security/pricings",
        name,
        properties,
        id=f"{SUB_ID}/providers/Microsoft.Security/pricings/{name}",
        resourceGroup=None,
    )


def aks() -> Resource:
    return resource("Microsoft.ContainerService/managedClusters", "aks-inference", {"kubernetesVersion": "1.30.4"})


def web_app() -> Resource:
    return resource("Microsoft.Web/sites", "app-scoring", {"httpsOnly": True}, kind="app,linux,container")


def vault() -> Resource:
    return resource("Microsoft.KeyVault/vaults", "kv-ml", {"vaultUri": "https://kv-ml.vault.azure.net/"})


def account() -> Resource:
    return resource("Microsoft.Storage/storageAccounts", "stmldata", {}, kind="StorageV2")


def openai() -> Resource:
    return resource(
        "Microsoft.CognitiveServices/accounts", "oai-chat", {"publicNetworkAccess": "Disabled"}, kind="OpenAI"
    )


PLANS = {
    "MLW-DEF-01": ("Containers", aks),
    "MLW-DEF-02": ("AppServices", web_app),
    "MLW-DEF-03": ("KeyVaults", vault),
    "MLW-DEF-04": ("StorageAccounts", account),
    "MLW-DEF-05": ("AI", openai),
    "MLW-DEF-06": ("CloudPosture", account),
}


@pytest.mark.parametrize(("check_id", "plan"), sorted(PLANS.items()))
def test_plan_on_passes(check_id: str, plan: tuple[str, Any]) -> None:
    name, user = plan
    sub = subscription()
    assert status(check_id, sub, estate([sub, user(), pricing(name, "Standard")])) is Status.PASS


@pytest.mark.parametrize(("check_id", "plan"), sorted(PLANS.items()))
def test_plan_off_fails(check_id: str, plan: tuple[str, Any]) -> None:
    name, user = plan
    sub = subscription()
    [finding] = run(check_id, sub, estate([sub, user(), pricing(name, "Free")]))
    assert finding.status is Status.FAIL and "Free" in finding.message


@pytest.mark.parametrize(("check_id", "plan"), sorted(PLANS.items()))
def test_plan_record_absent_is_unknown(check_id: str, plan: tuple[str, Any]) -> None:
    _, user = plan
    sub = subscription()
    assert status(check_id, sub, estate([sub, user()])) is Status.UNKNOWN


@pytest.mark.parametrize("check_id", ["MLW-DEF-01", "MLW-DEF-02", "MLW-DEF-03", "MLW-DEF-05"])
def test_plan_not_needed_without_its_services(check_id: str) -> None:
    sub = subscription()
    plan = PLANS[check_id][0]
    [finding] = run(check_id, sub, estate([sub, account(), pricing(plan, "Free")]))
    assert finding.status is Status.NOT_APPLICABLE and "no resources" in finding.message


def test_cspm_applies_to_every_subscription() -> None:
    sub = subscription()
    assert status("MLW-DEF-06", sub, estate([sub, pricing("CloudPosture", "Free")])) is Status.FAIL


def test_containers_plan_needed_for_a_registry_alone() -> None:
    sub = subscription()
    acr = resource("Microsoft.ContainerRegistry/registries", "acrml", {}, sku={"name": "Basic"})
    assert status("MLW-DEF-01", sub, estate([sub, acr, pricing("Containers", "Free")])) is Status.FAIL


def test_ai_plan_not_needed_for_ml_workspaces_alone() -> None:
    """Defender for AI services protects Cognitive Services accounts (its per-resource setting is
    accounts/defenderForAISettings); Azure ML workspaces, hubs included, are not among them."""
    sub = subscription()
    workspace = resource("Microsoft.MachineLearningServices/workspaces", "mlw-prod", {}, kind="Default")
    hub = resource("Microsoft.MachineLearningServices/workspaces", "hub-genai", {}, kind="Hub")
    [finding] = run("MLW-DEF-05", sub, estate([sub, workspace, hub, pricing("AI", "Free")]))
    assert finding.status is Status.NOT_APPLICABLE
    assert status("MLW-DEF-05", sub, estate([sub, workspace, openai(), pricing("AI", "Free")])) is Status.FAIL


def test_function_app_needs_app_service_plan() -> None:
    sub = subscription()
    func = resource("Microsoft.Web/sites", "func-batch", {}, kind="functionapp,linux")
    assert status("MLW-DEF-02", sub, estate([sub, func, pricing("AppServices", "free")])) is Status.FAIL


def test_plan_tier_compared_case_insensitively_and_evidence_keeps_sub_plan() -> None:
    sub = subscription()
    est = estate([sub, account(), pricing("StorageAccounts", "standard", "DefenderForStorageV2")])
    [finding] = run("MLW-DEF-04", sub, est)
    assert finding.status is Status.PASS
    evidence = {e.path: e.value for e in finding.evidence}
    assert evidence["pricings/StorageAccounts.properties.subPlan"] == "DefenderForStorageV2"
    assert evidence["resourceCounts"] == {"storage": 1}


_MALWARE = {"name": "OnUploadMalwareScanning", "isEnabled": "True", "additionalExtensionProperties": {}}
_SENSITIVE = {"name": "SensitiveDataDiscovery", "isEnabled": "True"}


@pytest.mark.parametrize(
    ("sub_plan", "extensions", "expected", "words"),
    [
        ("DefenderForStorageV2", [_MALWARE, _SENSITIVE], Status.PASS, "is on"),
        ("defenderforstoragev2", None, Status.PASS, "is on"),
        ("PerTransaction", None, Status.FAIL, "classic PerTransaction"),
        ("PerStorageAccount", [_MALWARE, _SENSITIVE], Status.FAIL, "classic PerStorageAccount"),
        ("DefenderForStorageV2", [{**_MALWARE, "isEnabled": "False"}, _SENSITIVE], Status.FAIL, "Malware"),
        (
            "DefenderForStorageV2",
            [{**_MALWARE, "isEnabled": False}, {**_SENSITIVE, "isEnabled": "False"}],
            Status.FAIL,
            "are off",
        ),
    ],
)
def test_storage_plan_needs_the_v2_sub_plan_and_its_extensions(
    sub_plan: str, extensions: list[dict[str, Any]] | None, expected: Status, words: str
) -> None:
    """Policy 640d2586: Standard, subPlan DefenderForStorageV2, both extensions isEnabled 'true'."""
    sub = subscription()
    extra = {} if extensions is None else {"extensions": extensions}
    [finding] = run(
        "MLW-DEF-04", sub, estate([sub, account(), pricing("StorageAccounts", "Standard", sub_plan, **extra)])
    )
    assert finding.status is expected
    assert words in finding.message


def test_plans_not_collected_is_unknown() -> None:
    sub = subscription()
    est = estate(
        [sub, vault(), pricing("KeyVaults", "Standard")], collected=set(ALL_SOURCES) - {inventory.DEFENDER_PLANS}
    )
    assert status("MLW-DEF-03", sub, est) is Status.UNKNOWN


def test_synthesized_subscription_row_is_judged() -> None:
    """Collections without subscription rows still get plan findings: the estate synthesises the row."""
    est = estate([vault(), pricing("KeyVaults", "Free")])
    synthesized = est.get(SUB_ID)
    assert synthesized is not None
    assert status("MLW-DEF-03", synthesized, est) is Status.FAIL


# -- security contacts -----------------------------------------------------------------------


def contact(properties: dict[str, Any]) -> Resource:
    return resource(
        "Microsoft.Security/securityContacts",
        "default",
        properties,
        id=f"{SUB_ID}/providers/Microsoft.Security/securityContacts/default",
        resourceGroup=None,
    )


CONTACT_2023 = {
    "emails": "secops@contoso.example;dpo@contoso.example",
    "phone": "",
    "isEnabled": True,
    "notificationsByRole": {"state": "On", "roles": ["Owner"]},
    "notificationsSources": [
        {"sourceType": "Alert", "minimalSeverity": "Medium"},
        {"sourceType": "AttackPath", "minimalRiskLevel": "Critical"},
    ],
}
CONTACT_2020 = {
    "emails": "secops@contoso.example",
    "alertNotifications": {"state": "On", "minimalSeverity": "High"},
    "notificationsByRole": {"state": "On", "roles": ["Owner"]},
}
CONTACT_2017 = {"email": "secops@contoso.example", "alertNotifications": "On", "alertsToAdmins": "On"}


@pytest.mark.parametrize("shape", [CONTACT_2023, CONTACT_2020, CONTACT_2017], ids=["2023", "2020", "2017"])
def test_contact_with_email_and_alerts_passes(shape: dict[str, Any]) -> None:
    sub = subscription()
    assert status("MLW-DEF-07", sub, estate([sub, contact(shape)])) is Status.PASS


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ({**CONTACT_2023, "emails": ""}, "no email"),
        ({**CONTACT_2023, "notificationsSources": [{"sourceType": "AttackPath"}]}, "notifications are off"),
        ({**CONTACT_2023, "isEnabled": False}, "notifications are off"),
        ({**CONTACT_2020, "alertNotifications": {"state": "Off"}}, "notifications are off"),
    ],
    ids=["no-email", "attack-paths-only", "disabled", "alerts-off"],
)
def test_contact_incomplete_fails(shape: dict[str, Any], words: str) -> None:
    sub = subscription()
    [finding] = run("MLW-DEF-07", sub, estate([sub, contact(shape)]))
    assert finding.status is Status.FAIL and words in finding.message


def test_no_contact_fails() -> None:
    sub = subscription()
    [finding] = run("MLW-DEF-07", sub, estate([sub]))
    assert finding.status is Status.FAIL and "no Defender for Cloud security contact" in finding.message


def test_contact_evidence_holds_no_email_address() -> None:
    sub = subscription()
    [finding] = run("MLW-DEF-07", sub, estate([sub, contact(CONTACT_2020)]))
    assert "contoso" not in repr(finding.evidence)


def test_contacts_not_collected_is_unknown() -> None:
    sub = subscription()
    est = estate([sub], collected=set(ALL_SOURCES) - {inventory.SECURITY_CONTACTS})
    assert status("MLW-DEF-07", sub, est) is Status.UNKNOWN


# -- assessments ------------------------------------------------------------------------------

ACR_ID = rid("Microsoft.ContainerRegistry/registries", "acrml")
ASSESSMENT_NAME = "dbd0cb49-b563-45e7-9724-889e799fa648"


def assessment(code: str, severity: str = "High", details: dict[str, Any] | None = None) -> Resource:
    return resource(
        "Microsoft.Security/assessments",
        ASSESSMENT_NAME,
        {
            "resourceDetails": details if details is not None else {"Source": "Azure", "Id": ACR_ID},
            "displayName": "Container registry images should have vulnerability findings resolved",
            "status": {"code": code, "cause": "", "description": ""},
            "metadata": {"severity": severity, "assessmentType": "BuiltIn"},
            "links": {"azurePortalUri": "https://portal.azure.com/#blade/Microsoft_Azure_Security/x"},
        },
        id=f"{ACR_ID}/providers/Microsoft.Security/assessments/{ASSESSMENT_NAME}",
        resourceGroup=None,
    )


def registry() -> Resource:
    return resource("Microsoft.ContainerRegistry/registries", "acrml", {}, sku={"name": "Premium"})


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("Unhealthy", Status.FAIL),
        ("Healthy", Status.PASS),
        ("NotApplicable", Status.NOT_APPLICABLE),
        ("Pending", Status.UNKNOWN),
    ],
)
def test_assessment_status_maps_to_verdict(code: str, expected: Status) -> None:
    item = assessment(code)
    assert status("MLW-DEF-08", item, estate([registry(), item])) is expected


def test_assessment_missing_status_is_unknown() -> None:
    item = resource(
        "Microsoft.Security/assessments",
        "a1",
        {"resourceDetails": {"Id": ACR_ID}},
        id=f"{ACR_ID}/providers/Microsoft.Security/assessments/a1",
    )
    assert status("MLW-DEF-08", item, estate([registry(), item])) is Status.UNKNOWN


def test_assessment_finding_is_about_the_named_resource() -> None:
    target = registry()
    item = assessment("Unhealthy", severity="Low")
    [finding] = run("MLW-DEF-08", item, estate([target, item]))
    assert finding.resource_id == target.id and finding.resource_name == "acrml"
    assert finding.resource_type == "microsoft.containerregistry/registries"
    assert finding.severity is Severity.LOW
    assert finding.detail_key == ASSESSMENT_NAME
    assert finding.message.endswith("vulnerability findings resolved")
    evidence = {e.path: e.value for e in finding.evidence}
    assert evidence["properties.links.azurePortalUri"].startswith("https://portal.azure.com/")


@pytest.mark.parametrize(
    "details",
    [{"source": "Azure", "id": ACR_ID}, {"ResourceId": ACR_ID}],
    ids=["lower-case-id", "ResourceId"],
)
def test_assessment_subject_accepts_other_spellings(details: dict[str, Any]) -> None:
    item = assessment("Unhealthy", details=details)
    [finding] = run("MLW-DEF-08", item, estate([registry(), item]))
    assert finding.resource_id == ACR_ID


def test_assessment_unknown_severity_keeps_check_default() -> None:
    item = assessment("Unhealthy", severity="Informational")
    [finding] = run("MLW-DEF-08", item, estate([registry(), item]))
    assert finding.severity is Severity.MEDIUM


def test_assessments_not_collected_is_unknown() -> None:
    item = assessment("Unhealthy")
    est = estate([registry(), item], collected=set(ALL_SOURCES) - {inventory.DEFENDER_ASSESSMENTS})
    assert status("MLW-DEF-08", item, est) is Status.UNKNOWN


def test_assessment_without_resource_details_falls_back_to_its_parent_id() -> None:
    item = assessment("Unhealthy", details={})
    [finding] = run("MLW-DEF-08", item, estate([registry(), item]))
    assert finding.resource_id == ACR_ID and finding.status is Status.FAIL
