"""A resource whose `condition` is known only at deployment is judged (the template can deploy it),
its findings say so; what it would lend another resource (an endpoint, a diagnostic setting) is unknown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import by, findings, scan, template, write
from tests.iac.test_deploy_time import STORAGE, VAULT, endpoint
from tests.iac.test_diagnostic_settings import AUDIT, scoped

PARAMETERS = {"deployStorage": {"type": "bool"}, "withPe": {"type": "bool"}, "subnetId": {"type": "string"}}
SUFFIX = "(deployed only if [parameters('deployStorage')], decided at deployment)"


def _scan(tmp_path: Path, *resources: dict[str, Any]) -> list[dict[str, Any]]:
    path = write(tmp_path / "main.json", template(*resources, parameters=PARAMETERS))
    return findings(scan("--template", str(path)))


def test_a_resource_with_an_unknown_condition_is_judged_and_says_so(tmp_path: Path) -> None:
    weak = {**STORAGE, "condition": "[parameters('deployStorage')]", "properties": {"minimumTlsVersion": "TLS1_0"}}
    found = _scan(tmp_path, weak)
    tls = by(found, "MLW-ST-02")
    assert tls["status"] == "fail" and tls["message"].endswith(SUFFIX)
    assert all(f["message"].endswith(SUFFIX) for f in found if f["resource_name"] == "stml")


@pytest.mark.parametrize("condition", ["[true()]", "[not(equals('a', 'b'))]"])
def test_a_known_condition_adds_nothing(tmp_path: Path, condition: str) -> None:
    found = _scan(tmp_path, {**STORAGE, "condition": condition})
    assert "deployed only if" not in by(found, "MLW-ST-02")["message"]


def test_children_and_nested_deployments_inherit_the_condition(tmp_path: Path) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-score",
        "location": "westeurope",
        "kind": "app,linux",
        "condition": "[parameters('deployStorage')]",
        "properties": {"httpsOnly": True},
        "resources": [
            {"type": "config", "apiVersion": "2023-12-01", "name": "web", "properties": {"minTlsVersion": "1.0"}}
        ],
    }
    module = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "storage-module",
        "condition": "[parameters('deployStorage')]",
        "properties": {"mode": "Incremental", "template": template(STORAGE)},
    }
    found = _scan(tmp_path, site, module)
    assert by(found, "MLW-APP-03")["message"].endswith(SUFFIX)  # judged on its config/web child
    assert by(found, "MLW-ST-02")["message"].endswith(SUFFIX)


def test_an_endpoint_or_setting_deployed_only_on_a_condition_lends_nothing_sure(tmp_path: Path) -> None:
    pe = {**endpoint("[resourceId('Microsoft.KeyVault/vaults', 'kv-ml')]"), "condition": "[parameters('withPe')]"}
    audit = {**scoped("Microsoft.KeyVault/vaults/kv-ml", AUDIT), "condition": "[parameters('withPe')]"}
    found = _scan(tmp_path, VAULT, pe, audit)
    for check in ("MLW-KV-06", "MLW-KV-10"):
        verdict = by(found, check)
        assert verdict["status"] == "unknown", verdict
        assert "parameters('withPe')" in verdict["message"]
    sure = _scan(tmp_path, VAULT, {**pe, "condition": "[true()]"}, {**audit, "condition": True})
    assert by(sure, "MLW-KV-06")["status"] == "pass" and by(sure, "MLW-KV-10")["status"] == "pass"


def test_a_conditional_key_or_secret_in_a_vault_always_deployed_says_so(tmp_path: Path) -> None:
    """Keys and secrets are judged on their vault, one verdict each: a conditional one carries its
    own condition, its unconditional siblings none; nested in a conditional vault, both once."""
    rotate = {"condition": "[parameters('withPe')]"}
    key = {"type": "Microsoft.KeyVault/vaults/keys", "apiVersion": "2023-07-01", "properties": {"kty": "RSA"}}
    secret = {
        "type": "Microsoft.KeyVault/vaults/secrets",
        "apiVersion": "2023-07-01",
        "properties": {"value": "[parameters('subnetId')]"},
    }
    found = _scan(
        tmp_path,
        VAULT,
        {**key, "name": "kv-ml/always"},
        {**key, **rotate, "name": "kv-ml/sometimes"},
        {**secret, **rotate, "name": "kv-ml/token"},
    )
    note = "(deployed only if [parameters('withPe')], decided at deployment)"
    for check in ("MLW-KV-07", "MLW-KV-08"):
        per_key = {f["detail_key"]: f["message"] for f in found if f["check_id"] == check}
        assert per_key["sometimes"].endswith(note), per_key
        assert "deployed only if" not in per_key["always"], per_key
    (expiry,) = [f for f in found if f["check_id"] == "MLW-KV-09" and f.get("detail_key") == "token"]
    assert expiry["message"].endswith(note)
    assert "deployed only if" not in by(found, "MLW-KV-01")["message"]

    nested = {**key, **rotate, "name": "inner"}
    vault = {**VAULT, "condition": "[parameters('deployStorage')]", "resources": [nested]}
    found = _scan(tmp_path, vault)
    (inner,) = [f for f in found if f["check_id"] == "MLW-KV-07"]
    assert inner["message"].endswith(
        "(deployed only if [parameters('deployStorage') and parameters('withPe')], decided at deployment)"
    ), inner["message"]
