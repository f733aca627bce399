"""Defender plan shapes from Azure Policy 640d2586 (Microsoft Defender for Storage should be enabled),
scanned through the real CLI: one subscription per case, since a plan is judged per subscription.

The policy's existence condition: pricings/StorageAccounts with pricingTier Standard, subPlan
DefenderForStorageV2, and both the OnUploadMalwareScanning and SensitiveDataDiscovery extensions
isEnabled 'true'. The pricing rows are our own, in the REST 2024-01-01 pricings shape.
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
