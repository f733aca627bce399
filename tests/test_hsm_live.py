"""Customer-managed keys held in a Managed HSM, collected live from the local Azure fake over HTTPS.

The scanner finds the HSM in Resource Graph (`microsoft.keyvault/managedhsms`), reads its keys on the
data plane with the real `KeyClient` at its `hsmUri` (a real `*.managedhsm.azure.net` host, reached
through a recording proxy), answers the HSM's own challenge (`resource="https://managedhsm.azure.net"`;
the fake takes only a token for that audience), and judges the keys on the HSM. Key material never
reaches a snapshot, report, log or console output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.inventory import Inventory, KeyMetadata, LifetimeAction, RotationPolicy
from scanner.models import Resource
from tests.azure_fake import AzureFake
from tests.azure_fake.canary import MARK
from tests.azure_fake.harness import env
from tests.azure_fake.proxy import RecordingProxy
from tests.azure_fake.sample import SUB_A, sample_inventory

RG = f"/subscriptions/{SUB_A}/resourceGroups/rg-ml/providers"
HSM_ID = f"{RG}/Microsoft.KeyVault/managedHSMs/hsm-claims"
HSM_URI = "https://hsm-claims.managedhsm.azure.net/"
STORAGE_ID = f"{RG}/Microsoft.Storage/storageAccounts/sthsmclaims"
ARM = "https://management.azure.com/.default"
VAULT = "https://vault.azure.net/.default"
HSM = "https://managedhsm.azure.net/.default"
MATERIAL = f"{MARK}0KEYMATERIAL0{MARK}000"
"""Base64url text the fake serves as the keys' `n`, `d`, `p`, `q` and `k`: it must never come back out."""


def _row(resource_id: str, type_: str, properties: dict[str, Any], **extra: Any) -> Resource:
    name = resource_id.rsplit("/", 1)[-1]
    row = {"id": resource_id, "name": name, "type": type_, "location": "westeurope", "subscriptionId": SUB_A}
    return Resource.model_validate({**row, "resourceGroup": "rg-ml", "properties": properties, **extra})


def _key(name: str, **extra: Any) -> KeyMetadata:
    rotates = RotationPolicy(lifetime_actions=(LifetimeAction(action="Rotate", time_after_create="P90D"),))
    values: dict[str, Any] = {"enabled": True, "key_type": "RSA-HSM", "key_size": 3072, "rotation_policy": rotates}
    return KeyMetadata(vault_id=HSM_ID, vault_uri=HSM_URI, name=name, kid=f"{HSM_URI}keys/{name}", **values | extra)


def hsm_inventory() -> Inventory:
    """The sample estate plus a Managed HSM whose keys encrypt a storage account (one has no expiry)."""
    inventory = sample_inventory()
    inventory.resources += [
        _row(
            HSM_ID,
            "microsoft.keyvault/managedhsms",
            {"hsmUri": HSM_URI, "enablePurgeProtection": True, "publicNetworkAccess": "Disabled"},
            sku={"family": "B", "name": "Standard_B1"},
        ),
        _row(
            STORAGE_ID,
            "microsoft.storage/storageaccounts",
            {
                "minimumTlsVersion": "TLS1_2",
                "supportsHttpsTrafficOnly": True,
                "encryption": {
                    "keySource": "Microsoft.Keyvault",
                    "keyvaultproperties": {"keyvaulturi": HSM_URI, "keyname": "cmk-hsm"},
                },
            },
            kind="StorageV2",
        ),
    ]
    inventory.keys += [_key("cmk-hsm"), _key("cmk-spare", expires=1893456000)]
    return inventory


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(hsm_inventory()) as server:
        server.wire.kv_key_material = MATERIAL
        yield server


def _scan(fake: AzureFake, tmp_path: Path, *extra: str) -> tuple[Result, RecordingProxy]:
    port = int(fake.url.rsplit(":", 1)[1])
    hosts = ["kv-claims.vault.azure.net", "hsm-claims.managedhsm.azure.net"]
    with RecordingProxy(dict.fromkeys(hosts, port)) as proxy:  # the real data-plane URIs reach the fake
        environment = {**env(fake, tmp_path), "HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"}
        args = [
            "scan", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
            "--fail-on", "none", "--format", "json,html,sarif,csv", "--out", str(tmp_path / "out"), *extra,
        ]  # fmt: skip
        result = CliRunner().invoke(cli, args, env=environment)
    return result, proxy


def _on_hsm(report: dict[str, Any], check_id: str) -> list[tuple[str, str]]:
    return sorted(
        (f["status"], f["message"])
        for f in report["findings"]
        if f["check_id"] == check_id and f["resource_id"] == HSM_ID
    )


def test_a_live_scan_reads_and_judges_managed_hsm_keys(
    fake: AzureFake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result, proxy = _scan(fake, tmp_path)
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "out" / "mlwarden-report.json").read_text())
    assert fake.counts["hsm:list"] == 1 and fake.counts["hsm:challenge"] >= 1
    assert fake.counts["kv:get"] >= 2  # each HSM key's bundle, key material and all, was served
    assert "hsm-claims.managedhsm.azure.net" in proxy.hosts
    assert sorted(set(fake.token_scopes)) == sorted([ARM, HSM, VAULT])  # the HSM's own audience, from its challenge
    assert _on_hsm(report, "MLW-KV-07") == [
        ("fail", "key cmk-hsm has no expiration date"),
        ("pass", "key cmk-spare has an expiration date"),
    ]
    assert _on_hsm(report, "MLW-KV-08") == [
        ("pass", "key cmk-hsm rotates automatically"),
        ("pass", "key cmk-spare rotates automatically"),
    ]
    assert _on_hsm(report, "MLW-KV-11") == [
        ("not_applicable", "key cmk-spare is not used as a customer-managed key"),
        ("pass", "CMK key cmk-hsm is HSM-backed (RSA-HSM)"),
    ]
    (storage,) = [f for f in report["findings"] if f["check_id"] == "MLW-ST-08" and f["resource_id"] == STORAGE_ID]
    assert storage["status"] == "pass"
    # key material read from the HSM goes nowhere
    for path in (tmp_path / "out").iterdir():
        assert MARK not in path.read_text(errors="replace"), path.name
    assert MARK not in result.output + result.stderr and MARK not in caplog.text


def test_snapshot_of_a_managed_hsm_holds_metadata_only(fake: AzureFake, tmp_path: Path) -> None:
    port = int(fake.url.rsplit(":", 1)[1])
    hosts = ["kv-claims.vault.azure.net", "hsm-claims.managedhsm.azure.net"]
    snapshot = tmp_path / "estate.jsonl"
    with RecordingProxy(dict.fromkeys(hosts, port)) as proxy:
        environment = {**env(fake, tmp_path), "HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"}
        args = [
            "collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
            "--out", str(snapshot),
        ]  # fmt: skip
        result = CliRunner().invoke(cli, args, env=environment)
    assert result.exit_code == 0, result.stderr
    text = snapshot.read_text()
    assert MARK not in text and MARK not in result.output + result.stderr
    keys = [json.loads(line)["data"] for line in text.splitlines() if '"record":"key"' in line]
    assert sorted(k["name"] for k in keys if k["vault_id"] == HSM_ID) == ["cmk-hsm", "cmk-spare"]


def test_a_managed_hsm_that_refuses_is_a_gap_and_its_keys_unknown(fake: AzureFake, tmp_path: Path) -> None:
    """Data plane and ARM's key listing both refuse: no verdict on the HSM's keys, and the scan says so."""
    fake.faults.forbidden_vaults |= {"hsm-claims"}
    fake.faults.forbidden_vaults_arm |= {"hsm-claims"}
    result, _ = _scan(fake, tmp_path)
    assert result.exit_code == 3, result.stderr
    report = json.loads((tmp_path / "out" / "mlwarden-report.json").read_text())
    for check_id in ("MLW-KV-07", "MLW-KV-08", "MLW-KV-11"):
        statuses = [status for status, _ in _on_hsm(report, check_id)]
        assert statuses == ["unknown"], (check_id, statuses)
    gaps = [g for s in report["sources"] if s["name"] == "key_metadata" for g in s["gaps"]]
    assert [g["scope"] for g in gaps] == [HSM_ID], gaps
    (storage,) = [f for f in report["findings"] if f["check_id"] == "MLW-ST-08" and f["resource_id"] == STORAGE_ID]
    assert storage["status"] == "pass"  # the CMK is there; only its key's metadata was not read


def test_no_keyvault_leaves_managed_hsm_keys_unknown(fake: AzureFake, tmp_path: Path) -> None:
    result, proxy = _scan(fake, tmp_path, "--no-keyvault", "--allow-partial")
    assert result.exit_code in (0, 1), result.stderr
    report = json.loads((tmp_path / "out" / "mlwarden-report.json").read_text())
    assert "hsm-claims.managedhsm.azure.net" not in proxy.hosts
    for check_id in ("MLW-KV-07", "MLW-KV-08", "MLW-KV-11"):
        assert [status for status, _ in _on_hsm(report, check_id)] == ["unknown"], check_id


def test_a_managed_hsm_refusing_its_data_plane_falls_back_to_arm(fake: AzureFake, tmp_path: Path) -> None:
    """ARM's `managedHSMs/{h}/keys` (Reader) still gives expiry; rotation and key type are unknown, with a gap."""
    fake.faults.forbidden_vaults |= {"hsm-claims"}
    result, _ = _scan(fake, tmp_path)
    assert result.exit_code == 3, result.stderr
    report = json.loads((tmp_path / "out" / "mlwarden-report.json").read_text())
    assert _on_hsm(report, "MLW-KV-07") == [
        ("fail", "key cmk-hsm has no expiration date"),
        ("pass", "key cmk-spare has an expiration date"),
    ]
    assert {status for status, _ in _on_hsm(report, "MLW-KV-08")} == {"unknown"}
    assert ("unknown", "the type of CMK key cmk-hsm was not collected") in [
        (status, message.split(" (", 1)[0]) for status, message in _on_hsm(report, "MLW-KV-11")
    ]
    (gap,) = [g for s in report["sources"] if s["name"] == "key_metadata" for g in s["gaps"]]
    assert gap["scope"] == f"{HSM_ID}/keys" and gap["reason"].startswith("managed HSM hsm-claims: data plane HTTP 403")


def _open_hsm_inventory() -> Inventory:
    """The HSM is open to the internet (publicNetworkAccess Enabled) yet reached by an approved private
    endpoint (its own `privateEndpointConnections`, as Resource Graph returns it), and sends its audit
    logs to Log Analytics (a diagnostic setting read per resource with `--diagnostics`)."""
    inventory = hsm_inventory()
    endpoint = f"/subscriptions/{SUB_A}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-hsm"
    connection = {
        "id": f"{HSM_ID}/privateEndpointConnections/pe-hsm",
        "properties": {
            "privateEndpoint": {"id": endpoint},
            "privateLinkServiceConnectionState": {"status": "Approved", "description": "", "actionsRequired": "None"},
            "provisioningState": "Succeeded",
        },
    }
    properties = {
        "hsmUri": HSM_URI,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enablePurgeProtection": True,
        "publicNetworkAccess": "Enabled",
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
        "privateEndpointConnections": [connection],
    }
    setting = {
        "workspaceId": f"{RG}/Microsoft.OperationalInsights/workspaces/law",
        "logs": [{"category": None, "categoryGroup": "audit", "enabled": True}],
    }
    inventory.resources = [r for r in inventory.resources if r.id != HSM_ID] + [
        _row(HSM_ID, "microsoft.keyvault/managedhsms", properties, sku={"family": "B", "name": "Standard_B1"}),
        _row(
            f"{HSM_ID}/providers/microsoft.insights/diagnosticSettings/hsm-audit",
            "microsoft.insights/diagnosticsettings",
            setting,
        ),
    ]
    return inventory


def test_a_live_scan_judges_the_managed_hsms_own_settings(tmp_path: Path) -> None:
    with AzureFake(_open_hsm_inventory()) as server:
        result, _ = _scan(server, tmp_path, "--diagnostics")
        asked = [path for _, _, path in server.requests if "diagnosticsettings" in path.lower()]
    assert result.exit_code == 0, result.stderr
    assert any(path.lower().startswith(HSM_ID.lower() + "/providers/microsoft.insights/") for path in asked)
    report = json.loads((tmp_path / "out" / "mlwarden-report.json").read_text())
    assert _on_hsm(report, "MLW-KV-04") == [("fail", "public network access is Enabled")]
    assert _on_hsm(report, "MLW-KV-05") == [
        ("fail", "public network access is open and the firewall default action is Allow")
    ]
    assert _on_hsm(report, "MLW-KV-06") == [("pass", "the Managed HSM has an approved private endpoint")]
    assert _on_hsm(report, "MLW-KV-01") == [("pass", "purge protection is enabled")]
    assert _on_hsm(report, "MLW-KV-02") == [
        ("pass", "soft delete is always on for a Managed HSM and cannot be disabled")
    ]
    assert _on_hsm(report, "MLW-KV-10") == [("pass", "audit logs are sent by diagnostic setting hsm-audit")]
    (pe,) = [f for f in report["findings"] if f["check_id"] == "MLW-KV-06" and f["resource_id"] == HSM_ID]
    assert pe["evidence"][0]["value"] == [
        f"/subscriptions/{SUB_A}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-hsm: Approved"
    ]
