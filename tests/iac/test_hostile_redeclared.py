"""One resource declared by several nested deployments (two Bicep modules declaring one shared
storage account): it was refused as a 'duplicate resource' (exit 2), though ARM deploys it. Alike,
it is one resource; where the declarations differ, which one Azure keeps depends on the deployment
order, so each differing value is `unknown` naming both declarations, never a pass or a fail on
either. Twice in one template stays exit 2, as ARM refuses it. Each copy of a module in a copy loop, and
each use of one linked template, is a deployment of its own: two copies declaring one fixed-name
resource were refused as twice in one template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.iac.conftest import findings, scan, template, write

SECRET = "Wint3r-Is-Coming-42"


def _storage(**properties: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": "stshared",
        "location": "westeurope",
        "kind": "StorageV2",
        "properties": properties,
    }


def _site(settings: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-shared",
        "location": "westeurope",
        "kind": "app,linux",
        "properties": {
            "httpsOnly": True,
            "siteConfig": {"appSettings": [{"name": k, "value": v} for k, v in settings.items()]},
        },
    }


def _module(
    name: str, *resources: dict[str, Any], scope: str = "inner", condition: str | None = None
) -> dict[str, Any]:
    module: dict[str, Any] = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": name,
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": {"scope": scope},
            "template": template(*resources),
        },
    }
    if condition is not None:
        module["condition"] = condition
    return module


def _scan(tmp_path: Path, *resources: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    return findings(scan("--template", str(write(tmp_path / "main.json", template(*resources, **extra)))))


def _of(found: list[dict[str, Any]], check_id: str) -> list[dict[str, Any]]:
    return [f for f in found if f["check_id"] == check_id]


SHAPES = {
    "two-modules": lambda a, b: [_module("a", a), _module("b", b)],
    "outer-module-and-top": lambda a, b: [a, _module("b", b, scope="outer")],
    "module-in-a-module": lambda a, b: [_module("a", a), _module("b", _module("c", b))],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_alike_declarations_are_one_resource(tmp_path: Path, shape: str) -> None:
    same = _storage(minimumTlsVersion="TLS1_2", supportsHttpsTrafficOnly=True)
    found = _scan(tmp_path, *SHAPES[shape](same, same))
    tls = _of(found, "MLW-ST-02")
    assert [f["status"] for f in tls] == ["pass"]
    assert len({f["fingerprint"] for f in found}) == len(found)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_differing_values_are_unknown_naming_both(tmp_path: Path, shape: str) -> None:
    a = _storage(minimumTlsVersion="TLS1_2", supportsHttpsTrafficOnly=True, allowBlobPublicAccess=False)
    b = _storage(minimumTlsVersion="TLS1_0", supportsHttpsTrafficOnly=True)  # public access left out
    found = _scan(tmp_path, *SHAPES[shape](a, b))
    for check_id in ("MLW-ST-02", "MLW-ST-03"):
        (verdict,) = _of(found, check_id)
        assert verdict["status"] == "unknown", verdict
        assert (
            "declared differently at main.json:" in verdict["message"]
            and "Azure keeps the one deployed last" in verdict["message"]
        )
    (https,) = _of(found, "MLW-ST-01")
    assert https["status"] == "pass"  # alike in both: judged
    assert len({f["fingerprint"] for f in found}) == len(found)


def test_a_secret_in_one_declaration_is_never_shown_nor_passed(tmp_path: Path) -> None:
    plain = _site({"DB_PASSWORD": SECRET})
    referenced = _site({"DB_PASSWORD": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db)"})
    result = scan(
        "--template", str(write(tmp_path / "main.json", template(_module("a", plain), _module("b", referenced))))
    )
    assert SECRET not in result.stdout + result.stderr
    (verdict,) = _of(findings(result), "MLW-CFG-06")
    assert verdict["status"] != "pass", verdict


def test_a_conditional_and_an_unconditional_declaration_deploy_it_for_sure(tmp_path: Path) -> None:
    same = _storage(minimumTlsVersion="TLS1_2")
    found = _scan(
        tmp_path,
        _module("a", same, condition="[parameters('on')]"),
        _module("b", same),
        parameters={"on": {"type": "bool"}},
    )
    (tls,) = _of(found, "MLW-ST-02")
    assert tls["status"] == "pass" and "deployed only if" not in tls["message"], tls


def _copied(module: dict[str, Any], count: int = 2, **parameters: str) -> dict[str, Any]:
    """`module` deployed `count` times by a copy loop, each copy given `parameters` (evaluated per copy)."""
    properties = {**module["properties"], "parameters": {k: {"value": v} for k, v in parameters.items()}}
    return {
        **module,
        "name": "[concat('mod-', copyIndex())]",
        "copy": {"name": "mods", "count": count},
        "properties": properties,
    }


def _tls_parameter(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` as a module's inner template would declare it with its TLS version given as parameter `tls`."""
    return {**resource, "properties": {**resource["properties"], "minimumTlsVersion": "[parameters('tls')]"}}


def _inner(*resources: dict[str, Any]) -> dict[str, Any]:
    return {**template(*resources), "parameters": {"tls": {"type": "string"}}}


def _with_parameter(module: dict[str, Any]) -> dict[str, Any]:
    return {
        **module,
        "properties": {**module["properties"], "template": _inner(*module["properties"]["template"]["resources"])},
    }


def test_copies_of_one_module_declaring_one_resource_are_one_resource(tmp_path: Path) -> None:
    same = _tls_parameter(_storage(minimumTlsVersion="TLS1_2", supportsHttpsTrafficOnly=True))
    found = _scan(tmp_path, _copied(_with_parameter(_module("m", same)), 3, tls="TLS1_2"))
    assert [f["status"] for f in _of(found, "MLW-ST-02")] == ["pass"]
    assert len({f["fingerprint"] for f in found}) == len(found)


def test_copies_of_one_module_that_differ_are_unknown(tmp_path: Path) -> None:
    differing = _tls_parameter(_storage(supportsHttpsTrafficOnly=True))
    module = _copied(_with_parameter(_module("m", differing)), tls="[if(equals(copyIndex(), 0), 'TLS1_2', 'TLS1_0')]")
    (tls,) = _of(_scan(tmp_path, module), "MLW-ST-02")
    assert tls["status"] == "unknown" and "declared differently at main.json:" in tls["message"], tls
    (https,) = _of(_scan(tmp_path, module), "MLW-ST-01")
    assert https["status"] == "pass"


def _linking(name: str, relative: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": name,
        "properties": {"mode": "Incremental", "templateLink": {"relativePath": relative}},
    }


@pytest.mark.parametrize("uses", ["two-deployments", "copy-loop"])
def test_one_linked_template_used_twice_is_one_resource(tmp_path: Path, uses: str) -> None:
    write(tmp_path / "storage.json", template(_storage(minimumTlsVersion="TLS1_0", supportsHttpsTrafficOnly=True)))
    links = [_linking("a", "storage.json"), _linking("b", "storage.json")]
    found = _scan(tmp_path, *(links if uses == "two-deployments" else [_copied(links[0])]))
    assert [f["status"] for f in _of(found, "MLW-ST-02")] == ["fail"]
    assert len({f["fingerprint"] for f in found}) == len(found)


@pytest.mark.parametrize("where", ["top", "one-module", "each-copy-of-a-module", "a-linked-template"])
def test_twice_in_one_template_is_still_refused(tmp_path: Path, where: str) -> None:
    same = _storage(minimumTlsVersion="TLS1_2")
    write(tmp_path / "twice.json", template(same, same))
    resources = {
        "top": [same, same],
        "one-module": [_module("a", same, same)],
        "each-copy-of-a-module": [_copied(_module("a", same, same))],
        "a-linked-template": [_linking("a", "twice.json")],
    }[where]
    path = write(tmp_path / "main.json", template(*resources))
    result = CliRunner().invoke(cli, ["scan", "--template", str(path), "--fail-on", "none"])
    assert result.exit_code == 2 and "duplicate resource" in result.stderr, result.output
    assert len(result.stderr.splitlines()) == 1


def test_the_json_report_holds_the_resource_once(tmp_path: Path) -> None:
    a, b = _storage(minimumTlsVersion="TLS1_2"), _storage(minimumTlsVersion="TLS1_1")
    result = scan("--template", str(write(tmp_path / "main.json", template(_module("a", a), _module("b", b)))))
    ids = {f["resource_id"] for f in json.loads(result.stdout)["findings"] if "storageAccounts" in f["resource_id"]}
    assert len(ids) == 1
