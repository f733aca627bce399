"""A key the template or plan creates in a vault it does not declare (an existing vault, a
Terraform data source): key checks are judged per vault, so the key went unjudged and the scan
passed (no finding at all). The vault now stands in for judging its keys; its own settings, which
the input does not hold, are `unknown`, never a fail such as 'no private endpoint'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import findings, scan, template, write

VAULT = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-sec"
    "/providers/Microsoft.KeyVault/vaults/kv-existing"
)
VAULT_SETTINGS = ("MLW-KV-01", "MLW-KV-02", "MLW-KV-03", "MLW-KV-04", "MLW-KV-06")


def _plan(key: dict[str, Any], *, data_source: bool) -> dict[str, Any]:
    resources = [
        {
            "address": "azurerm_key_vault_key.k",
            "mode": "managed",
            "type": "azurerm_key_vault_key",
            "name": "k",
            "values": key,
        }
    ]
    configuration: dict[str, Any] = {"root_module": {"resources": []}}
    if data_source:
        key["key_vault_id"] = VAULT
        configuration["root_module"]["resources"].append(
            {
                "address": "azurerm_key_vault_key.k",
                "mode": "managed",
                "type": "azurerm_key_vault_key",
                "name": "k",
                "expressions": {
                    "key_vault_id": {"references": ["data.azurerm_key_vault.kv.id", "data.azurerm_key_vault.kv"]}
                },
            }
        )
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": resources}},
        "resource_changes": [],
        "configuration": configuration,
    }


def _key(**extra: Any) -> dict[str, Any]:
    return {"name": "cmk", "key_vault_id": VAULT, "key_type": "RSA", "key_size": 2048, "key_opts": ["wrapKey"], **extra}


ROTATION = {"rotation_policy": [{"expire_after": "P90D", "automatic": [{"time_before_expiry": "P30D"}]}]}


def _plan_verdicts(tmp_path: Path, key: dict[str, Any], data_source: bool) -> dict[str, str]:
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", _plan(key, data_source=data_source)))))
    assert all(f["resource_id"] == VAULT for f in found if f["check_id"].startswith("MLW-KV"))
    return {f["check_id"]: f["status"] for f in found if f["check_id"].startswith("MLW-KV")}


@pytest.mark.parametrize("data_source", [False, True], ids=["literal-id", "data-source"])
def test_a_plan_key_in_a_vault_outside_the_plan_is_judged(tmp_path: Path, data_source: bool) -> None:
    verdicts = _plan_verdicts(tmp_path, _key(), data_source)
    assert verdicts["MLW-KV-07"] == "fail" and verdicts["MLW-KV-08"] == "fail", verdicts
    assert {verdicts[c] for c in VAULT_SETTINGS} == {"unknown"}, verdicts


def test_a_plan_key_with_expiry_and_rotation_in_an_outside_vault_passes(tmp_path: Path) -> None:
    verdicts = _plan_verdicts(tmp_path, _key(expiration_date="2027-01-01T00:00:00Z", **ROTATION), False)
    assert verdicts["MLW-KV-07"] == "pass" and verdicts["MLW-KV-08"] == "pass", verdicts


def test_a_template_key_in_a_vault_outside_the_template_is_judged(tmp_path: Path) -> None:
    key = {
        "type": "Microsoft.KeyVault/vaults/keys",
        "apiVersion": "2023-07-01",
        "name": "kv-existing/cmk",
        "properties": {"kty": "RSA", "keySize": 2048},
    }
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(key)))))
    verdicts = {f["check_id"]: f for f in found if f["check_id"].startswith("MLW-KV")}
    assert verdicts["MLW-KV-07"]["status"] == "fail" and "cmk" in verdicts["MLW-KV-07"]["message"]
    assert {verdicts[c]["status"] for c in VAULT_SETTINGS} == {"unknown"}
    assert "a vault outside the template" in verdicts["MLW-KV-01"]["message"]


def test_a_key_in_a_vault_the_template_declares_is_judged_with_that_vault(tmp_path: Path) -> None:
    vault = {
        "type": "Microsoft.KeyVault/vaults",
        "apiVersion": "2023-07-01",
        "name": "kv-own",
        "location": "westeurope",
        "properties": {
            "tenantId": "00000000-0000-0000-0000-000000000001",
            "sku": {"family": "A", "name": "standard"},
            "enablePurgeProtection": True,
            "enableRbacAuthorization": True,
        },
    }
    key = {
        "type": "Microsoft.KeyVault/vaults/keys",
        "apiVersion": "2023-07-01",
        "name": "kv-own/cmk",
        "properties": {"kty": "RSA", "keySize": 2048},
    }
    found = findings(scan("--template", str(write(tmp_path / "main.json", template(vault, key)))))
    vaults = {f["resource_name"] for f in found if f["check_id"] == "MLW-KV-01"}
    assert vaults == {"kv-own"}
    assert next(f for f in found if f["check_id"] == "MLW-KV-01")["status"] == "pass"
