"""Settings a tier or account kind does not have: a flag on a resource that cannot use the feature is not
applicable, not a fail, where the references say so. Scanned through the real CLI as a snapshot and as
an ARM template.

- MLW-ACR-02: Checkov tests/arm/checks/resource/example_ACRAnonymousPullDisabled (pass5.json: Basic with
  anonymousPullEnabled true passes; fail2.json: Premium with it fails) and PSRule Azure.ACR.AnonymousAccess
  (Standard and Premium only). Azure Policy 9f2dea28 tests the flag on every SKU: the divergence is in
  the check's rationale.
- MLW-ST-10: object replication exists on general-purpose v2 and premium block blob accounts only
  (Azure Storage docs, "Object replication for block blobs", prerequisites), so allowCrossTenantReplication
  means nothing on FileStorage, classic Storage (v1) or BlobStorage accounts. Policy 92a89a79 flags an
  explicit true on any kind, and passes an account that leaves it out (so does mlwarden for a template,
  whose new account defaults to false; a live row without it stays a fail).

Records are our own, in the shapes of the REST API GET examples (registries 2023-07-01, storageAccounts
2023-05-01).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
PASS, FAIL, NA = "pass", "fail", "not_applicable"
ACR = "Microsoft.ContainerRegistry/registries"
ST = "Microsoft.Storage/storageAccounts"
API_VERSIONS = {ACR: "2023-07-01", ST: "2023-05-01"}


def _registry(name: str, sku: str, **properties: Any) -> dict[str, Any]:
    return record(ACR, name, {"adminUserEnabled": False, **properties}, sku={"name": sku, "tier": sku})


def _account(name: str, kind: str, **properties: Any) -> dict[str, Any]:
    sku = "Premium_LRS" if kind in ("FileStorage", "BlockBlobStorage") else "Standard_LRS"
    body = {"minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": True, **properties}
    return record(ST, name, body, kind=kind, sku={"name": sku})


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "Checkov pass5.json, PSRule (Standard/Premium only)",
        _registry("acrbasicanon", "Basic", anonymousPullEnabled=True),
        "MLW-ACR-02",
        NA,
    ),
    (
        "Checkov fail2.json, Policy 9f2dea28",
        _registry("acrpremanon", "Premium", anonymousPullEnabled=True),
        "MLW-ACR-02",
        FAIL,
    ),
    (
        "Policy 9f2dea28 (Standard has anonymous pull)",
        _registry("acrstdanon", "Standard", anonymousPullEnabled=True),
        "MLW-ACR-02",
        FAIL,
    ),
    (
        "Basic with the flag off passes as before",
        _registry("acrbasicoff", "Basic", anonymousPullEnabled=False),
        "MLW-ACR-02",
        PASS,
    ),
    (
        "Object replication prerequisites: FileStorage",
        _account("stfilesxt", "FileStorage", allowCrossTenantReplication=True),
        "MLW-ST-10",
        NA,
    ),
    ("Object replication prerequisites: classic Storage (v1)", _account("stv1xt", "Storage"), "MLW-ST-10", NA),
    ("Object replication prerequisites: BlobStorage", _account("stblobxt", "BlobStorage"), "MLW-ST-10", NA),
    (
        "Policy 92a89a79: general-purpose v2 with it allowed",
        _account("stv2xt", "StorageV2", allowCrossTenantReplication=True),
        "MLW-ST-10",
        FAIL,
    ),
    (
        "Policy 92a89a79: premium block blob with it allowed",
        _account("stbbxt", "BlockBlobStorage", allowCrossTenantReplication=True),
        "MLW-ST-10",
        FAIL,
    ),
    (
        "Premium block blob with it disallowed",
        _account("stbbnoxt", "BlockBlobStorage", allowCrossTenantReplication=False),
        "MLW-ST-10",
        PASS,
    ),
]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("tiers"), *(body for _, body, _, _ in CASES))


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    declared = [as_template(body, API_VERSIONS[body["type"]]) for _, body, _, _ in CASES]
    return scan_template(tmp_path_factory.mktemp("tiers-template"), *declared)


@pytest.mark.parametrize(("source", "body", "check_id", "want"), CASES, ids=[c[1]["name"] for c in CASES])
@pytest.mark.parametrize("scanned", ["snapshot_findings", "template_findings"])
def test_tier_and_kind_verdicts_match_their_reference(
    request: pytest.FixtureRequest, scanned: str, source: str, body: dict[str, Any], check_id: str, want: str
) -> None:
    found: Found = request.getfixturevalue(scanned)
    finding = found.get((check_id, body["name"]), [{}])[0]
    assert status(found, check_id, body["name"]) == want, (source, finding.get("message"), finding.get("evidence"))


def test_basic_registry_message_names_the_tier(snapshot_findings: Found) -> None:
    [finding] = snapshot_findings[("MLW-ACR-02", "acrbasicanon")]
    assert "Basic SKU has no anonymous pull" in finding["message"]


def test_cross_tenant_replication_left_out_scores_by_source(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Policy 92a89a79 (allowCrossTenantReplication equals true) passes an account that leaves it out; the
    REST spec documents the default as false for new accounts, so a template leaving it out passes. A live
    row without it may be an older account that allowed it when unset: still a fail (the rationale's
    divergence)."""
    body = _account("stv2xtunset", "StorageV2")
    declared = scan_template(tmp_path_factory.mktemp("xt-template"), as_template(body, API_VERSIONS[ST]))
    live = scan_snapshot(tmp_path_factory.mktemp("xt-snapshot"), body)
    assert (status(declared, "MLW-ST-10", "stv2xtunset"), status(live, "MLW-ST-10", "stv2xtunset")) == (PASS, FAIL)
