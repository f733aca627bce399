"""Defender shapes: plans from Azure Policy 640d2586 (Microsoft Defender for Storage should be enabled),
scanned through the real CLI: one subscription per case, since a plan is judged per subscription.

The policy's existence condition: pricings/StorageAccounts with pricingTier Standard, subPlan
DefenderForStorageV2, and both the OnUploadMalwareScanning and SensitiveDataDiscovery extensions
isEnabled 'true'. The pricing rows are our own, in the REST 2024-01-01 pricings shape. Assessments
(MLW-DEF-08) follow, in the REST Assessments_Get shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.checks.reference_scan import SUB, record, scan_snapshot, status

_ON = [
    {"name": "OnUploadMalwareScanning", "isEnabled": "True"},
    {"name": "SensitiveDataDiscovery", "isEnabled": "True"},
]
_MALWARE_OFF = [{"name": "OnUploadMalwareScanning", "isEnabled": "False"}, _ON[1]]

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("640d2586 compliant: V2 with both extensions on", {"subPlan": "DefenderForStorageV2", "extensions": _ON}, "pass"),
    ("640d2586 non-compliant: the classic per-transaction sub-plan", {"subPlan": "PerTransaction"}, "fail"),
    (
        "640d2586 non-compliant: V2 with malware scanning off",
        {"subPlan": "DefenderForStorageV2", "extensions": _MALWARE_OFF},
        "fail",
    ),
]


@pytest.mark.parametrize(("source", "properties", "want"), CASES, ids=[c[0].split(": ")[1] for c in CASES])
def test_storage_plan_verdicts_match_policy_640d2586(
    tmp_path: Path, source: str, properties: dict[str, Any], want: str
) -> None:
    pricing = {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/StorageAccounts",
        "name": "StorageAccounts",
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": "Standard", **properties},
    }
    account = record("Microsoft.Storage/storageAccounts", "stplan", {"minimumTlsVersion": "TLS1_2"}, kind="StorageV2")
    found = scan_snapshot(tmp_path, account, pricing)
    assert status(found, "MLW-DEF-04", SUB) == want, source


_GUID = "dbd0cb49-b563-45e7-9724-889e799fa648"


@pytest.mark.parametrize(
    ("code", "want"), [("Unhealthy", "fail"), ("Healthy", "pass"), ("NotApplicable", "not_applicable")]
)
def test_assessment_verdicts_follow_defender_status(tmp_path: Path, code: str, want: str) -> None:
    """REST 2021-06-01 Assessments_Get shape (a securityresources row under the assessed resource's id):
    Defender's own status code becomes the verdict on the resource it names."""
    registry = record("Microsoft.ContainerRegistry/registries", "acrassessed", {}, sku={"name": "Premium"})
    assessment = {
        "id": f"{registry['id']}/providers/Microsoft.Security/assessments/{_GUID}",
        "name": _GUID,
        "type": "Microsoft.Security/assessments",
        "properties": {
            "resourceDetails": {"Source": "Azure", "Id": registry["id"]},
            "displayName": "Container registry images should have vulnerability findings resolved",
            "status": {"code": code},
            "metadata": {"severity": "High", "assessmentType": "BuiltIn"},
        },
    }
    found = scan_snapshot(tmp_path, registry, assessment)
    [(key, findings)] = [(k, v) for k, v in found.items() if k[0] == "MLW-DEF-08"]
    assert [f["status"] for f in findings] == [want], key
