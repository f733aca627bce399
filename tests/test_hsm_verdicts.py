"""Customer-managed keys held in a Key Vault Managed HSM, scanned from a snapshot through the CLI.

A storage account and an ML workspace encrypt with keys of one Managed HSM (key ids on
`*.managedhsm.azure.net`). Whether they use a CMK is judged from their own rows; the keys' metadata
(expiry, rotation, HSM backing) is judged on the HSM that holds them, like a vault's keys: read keys
are judged, unread ones are `unknown` with a coverage gap naming the HSM, never a pass by silence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.inventory import (
    ALL_SOURCES,
    KEY_METADATA,
    Inventory,
    KeyMetadata,
    LifetimeAction,
    RotationPolicy,
    SnapshotHeader,
)
from scanner.models import Gap, Resource, SourceCoverage
from scanner.snapshot import write_snapshot
from tests.helpers import resource, rid

HSM_TYPE = "Microsoft.KeyVault/managedHSMs"
HSM_ID = rid(HSM_TYPE, "hsm-ml")
HSM_URI = "https://hsm-ml.managedhsm.azure.net/"
VAULT_ID = rid("Microsoft.KeyVault/vaults", "kv-ml")
VAULT_URI = "https://kv-ml.vault.azure.net/"
STORAGE_ID = rid("Microsoft.Storage/storageAccounts", "stmlhsm")
WORKSPACE_ID = rid("Microsoft.MachineLearningServices/workspaces", "mlw-hsm")
KEY_CHECKS = ("MLW-KV-07", "MLW-KV-08", "MLW-KV-11")
ROTATES = RotationPolicy(lifetime_actions=(LifetimeAction(action="Rotate", time_after_create="P90D"),))


def _resources() -> list[Resource]:
    hsm = resource(
        HSM_TYPE,
        "hsm-ml",
        {"hsmUri": HSM_URI, "enablePurgeProtection": True, "publicNetworkAccess": "Disabled"},
        sku={"family": "B", "name": "Standard_B1"},
    )
    vault = resource(
        "Microsoft.KeyVault/vaults",
        "kv-ml",
        {"vaultUri": VAULT_URI, "enablePurgeProtection": True, "enableRbacAuthorization": True},
    )
    storage = resource(
        "Microsoft.Storage/storageAccounts",
        "stmlhsm",
        {
            "encryption": {
                "keySource": "Microsoft.Keyvault",
                "keyvaultproperties": {
                    "keyvaulturi": HSM_URI,
                    "keyname": "cmk-storage",
                    "keyversion": "",
                    "currentVersionedKeyIdentifier": f"{HSM_URI}keys/cmk-storage/4c1a9e0f7b2d",
                },
                "services": {"blob": {"enabled": True}},
            }
        },
        kind="StorageV2",
    )
    workspace = resource(
        "Microsoft.MachineLearningServices/workspaces",
        "mlw-hsm",
        {
            "storageAccount": STORAGE_ID,
            "keyVault": VAULT_ID,
            "encryption": {
                "status": "Enabled",
                "keyVaultProperties": {
                    "keyVaultArmId": HSM_ID,
                    "keyIdentifier": f"{HSM_URI}keys/cmk-ml/9d2b7c41e0aa",
                },
            },
        },
        kind="Default",
    )
    return [hsm, vault, storage, workspace]


def _key(vault_id: str, uri: str, name: str, **extra: Any) -> KeyMetadata:
    values: dict[str, Any] = {"enabled": True, "key_type": "RSA-HSM", "key_size": 3072, "rotation_policy": ROTATES}
    values.update(extra)
    return KeyMetadata(vault_id=vault_id, vault_uri=uri, name=name, kid=f"{uri}keys/{name}", **values)


VAULT_KEY = _key(VAULT_ID, VAULT_URI, "cmk-other", expires=1893456000)


def _scan(
    tmp_path: Path, keys: Sequence[KeyMetadata], *, collected: Sequence[str] = ALL_SOURCES, gaps: Sequence[Gap] = ()
) -> tuple[Result, dict[str, Any]]:
    sources = tuple(
        SourceCoverage(name=name, collected=name in collected, gaps=tuple(g for g in gaps if g.source == name))
        for name in ALL_SOURCES
    )
    header = SnapshotHeader(tool_version="test", collected_at=datetime(2026, 11, 1, tzinfo=UTC), sources=sources)
    snapshot = tmp_path / "estate.jsonl"
    write_snapshot(Inventory(header=header, resources=_resources(), keys=list(keys)), snapshot)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["scan", "--snapshot", str(snapshot), "--format", "json", "--out", str(out), "--fail-on", "none"],
        catch_exceptions=False,
    )
    return result, json.loads((out / "mlwarden-report.json").read_text())


def _verdicts(report: dict[str, Any], resource_id: str, check_id: str) -> list[tuple[str, str]]:
    return [
        (f["status"], f["message"])
        for f in report["findings"]
        if f["check_id"] == check_id and f["resource_id"].lower() == resource_id.lower()
    ]


def _statuses(report: dict[str, Any], resource_id: str, check_id: str) -> list[str]:
    return [status for status, _ in _verdicts(report, resource_id, check_id)]


def test_hsm_keys_are_customer_managed(tmp_path: Path) -> None:
    """Storage and a workspace pointing at HSM keys use a CMK, read or not read."""
    _, report = _scan(tmp_path, [VAULT_KEY], gaps=[Gap(source=KEY_METADATA, scope=HSM_ID, reason="not read")])
    assert _statuses(report, STORAGE_ID, "MLW-ST-08") == ["pass"]
    assert _statuses(report, WORKSPACE_ID, "MLW-MLWS-03") == ["pass"]


def test_read_hsm_keys_are_judged_like_vault_keys(tmp_path: Path) -> None:
    """The HSM's keys are judged on the HSM: the workspace key has no expiry (a true fail), the
    storage key has one; both rotate and are HSM-backed, and each names the resource it encrypts."""
    keys = [
        VAULT_KEY,
        _key(HSM_ID, HSM_URI, "cmk-ml"),
        _key(HSM_ID, HSM_URI, "cmk-storage", expires=1893456000),
    ]
    result, report = _scan(tmp_path, keys)
    assert result.exit_code == 0, result.output
    expiry = dict((m.split()[1], s) for s, m in _verdicts(report, HSM_ID, "MLW-KV-07"))
    assert expiry == {"cmk-ml": "fail", "cmk-storage": "pass"}
    assert _statuses(report, HSM_ID, "MLW-KV-08") == ["pass", "pass"]
    hsm = _verdicts(report, HSM_ID, "MLW-KV-11")
    assert [s for s, _ in hsm] == ["pass", "pass"], hsm
    users = {
        f["message"].split()[2]: next(e["value"] for e in f["evidence"] if e["path"].endswith("usedAsCmkBy"))
        for f in report["findings"]
        if f["check_id"] == "MLW-KV-11" and f["resource_id"] == HSM_ID
    }
    assert users == {"cmk-ml": [WORKSPACE_ID], "cmk-storage": [STORAGE_ID]}
    # and the vault's own key is still judged on the vault
    assert _statuses(report, VAULT_ID, "MLW-KV-07") == ["pass"]


def test_unread_hsm_keys_are_unknown_not_silent(tmp_path: Path) -> None:
    """HSM keys that could not be read: their checks are unknown, the gap makes the scan incomplete
    (exit 3), and a key-lifecycle control cannot pass on the vault's keys alone."""
    gap = Gap(source=KEY_METADATA, scope=HSM_ID, reason="managed HSM hsm-ml: data plane 403 Forbidden")
    result, report = _scan(tmp_path, [VAULT_KEY], gaps=[gap])
    assert result.exit_code == 3, result.output
    for check_id in KEY_CHECKS:
        assert _statuses(report, HSM_ID, check_id) == ["unknown"], check_id
    dp7 = next(
        c
        for f in report["frameworks"]
        if f["id"].startswith("mcsb")
        for c in f["controls"]
        if c["control_id"] == "DP-7"
    )
    assert dp7["status"] != "pass", dp7["status"]


def test_hsm_keys_not_collected_are_unknown(tmp_path: Path) -> None:
    """`--no-keyvault`: key metadata was not collected at all, for vaults and HSMs alike."""
    _, report = _scan(tmp_path, [], collected=[s for s in ALL_SOURCES if s != KEY_METADATA])
    for check_id in KEY_CHECKS:
        assert _statuses(report, HSM_ID, check_id) == ["unknown"], check_id
        assert _statuses(report, VAULT_ID, check_id) == ["unknown"], check_id
