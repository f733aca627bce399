"""A nested deployment that names its resource group (Bicep's `scope: resourceGroup('data')`)
deploys there: its resources' ids, `resourceGroup()` and `resourceId()` inside it say so, and a
workspace that names the account by `resourceId('data', ...)` or by the module's output finds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.iac.conftest import by, findings, scan, template, write

STORAGE = {
    "type": "Microsoft.Storage/storageAccounts",
    "apiVersion": "2023-05-01",
    "name": "stdata",
    "location": "westeurope",
    "kind": "StorageV2",
    "properties": {"allowBlobPublicAccess": True},
}


def _module(scope: str) -> dict[str, Any]:
    inner = template(
        STORAGE,
        outputs={
            "id": {"type": "string", "value": "[resourceId('Microsoft.Storage/storageAccounts', 'stdata')]"},
            "group": {"type": "string", "value": "[resourceGroup().name]"},
        },
    )
    return {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "data",
        "resourceGroup": "data-rg",
        "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": scope}, "template": inner},
    }


def _workspace(storage: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.MachineLearningServices/workspaces",
        "apiVersion": "2024-04-01",
        "name": "mlw",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {"storageAccount": storage, "friendlyName": "[reference('data').outputs.group.value]"},
    }


@pytest.mark.parametrize(
    "storage",
    [
        "[resourceId('data-rg', 'Microsoft.Storage/storageAccounts', 'stdata')]",
        "[reference('data').outputs.id.value]",  # the deployment by its bare name
        "[reference(resourceId('Microsoft.Resources/deployments', 'data'), '2022-09-01').outputs.id.value]",
    ],
)
def test_a_module_scoped_to_another_resource_group(tmp_path: Path, storage: str) -> None:
    found = findings(
        scan("--template", str(write(tmp_path / "main.json", template(_module("inner"), _workspace(storage)))))
    )
    containers = by(found, "MLW-ST-11", "stdata")
    assert containers["status"] == "pass", containers["message"]  # judged as the workspace's storage
    assert "/resourceGroups/data-rg/providers/Microsoft.Storage/storageAccounts/stdata" in containers["resource_id"]


def test_outer_scope_evaluates_in_the_parent_but_deploys_to_the_named_group(tmp_path: Path) -> None:
    storage = "[resourceId('data-rg', 'Microsoft.Storage/storageAccounts', 'stdata')]"
    found = findings(
        scan("--template", str(write(tmp_path / "main.json", template(_module("outer"), _workspace(storage)))))
    )
    containers = by(found, "MLW-ST-11", "stdata")
    assert "/resourceGroups/data-rg/" in containers["resource_id"] and containers["status"] == "pass"


def test_parameters_files_a_template_cannot_take(tmp_path: Path) -> None:
    """ARM refuses a parameter the template does not declare; Bicep source is compiled first."""
    main = write(tmp_path / "main.json", template(STORAGE, parameters={"tls": {"type": "string"}}))
    other = write(
        tmp_path / "other.parameters.json", {"parameters": {"tls": {"value": "TLS1_2"}, "sku": {"value": "x"}}}
    )
    bicep = tmp_path / "main.bicepparam"
    bicep.write_text("using 'main.bicep'\nparam tls = 'TLS1_2'\n")
    for given, message in (
        (other, "parameter 'sku' is not declared by the template"),
        (bicep, "Bicep source; compile it with `az bicep build-params"),
    ):
        result = CliRunner().invoke(cli, ["scan", "--template", str(main), "--parameters", str(given)])
        assert result.exit_code == 2 and result.stderr.startswith(f"mlwarden: error: {given}"), result.output
        assert message in result.stderr and len(result.stderr.splitlines()) == 1


def _deployment(properties: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "m",
        "properties": properties,
    }


def test_a_nested_template_given_by_an_expression(tmp_path: Path) -> None:
    """From a variable it is read; from a parameter without a value it is a coverage gap (exit 3);
    a `template` or `properties` that is no object at all is a broken template (exit 2)."""
    inline = {"mode": "Incremental", "template": "[variables('inner')]"}
    document = template(_deployment(inline), variables={"inner": template(STORAGE)})
    assert (
        by(findings(scan("--template", str(write(tmp_path / "main.json", document)))), "MLW-ST-03")["status"] == "fail"
    )

    unknown = template(_deployment("[parameters('module')]"), parameters={"module": {"type": "object"}})
    result = CliRunner().invoke(
        cli, ["scan", "--template", str(write(tmp_path / "gap.json", unknown)), "--format", "json"]
    )
    assert result.exit_code == 3, result.output
    assert "inline template known only at deployment" in result.stdout

    for broken, what in (
        (_deployment({"mode": "Incremental", "template": "inline"}), "template"),
        (_deployment("x"), "properties"),
    ):
        path = write(tmp_path / "broken.json", template(broken))
        result = CliRunner().invoke(cli, ["scan", "--template", str(path)])
        assert result.exit_code == 2 and f"resources[0]: `{what}` is not an object" in result.stderr, result.output
