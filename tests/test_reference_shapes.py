"""Shapes that public templates and plans use (Bicep output, quickstarts, AVM modules), each in a small
fixture of our own: the scan completes, and each verdict is the one an auditor expects, or `unknown`
naming why, never a pass or a fail that rests on a value the template does not fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import by, findings, scan, template, write

VAULT = "Microsoft.KeyVault/vaults"
STORAGE = "Microsoft.Storage/storageAccounts"
WS = "Microsoft.MachineLearningServices/workspaces"


def vault(name: str = "kv-ref", **properties: Any) -> dict[str, Any]:
    return {
        "type": VAULT,
        "apiVersion": "2023-07-01",
        "name": name,
        "location": "westeurope",
        "properties": {
            "tenantId": "[subscription().tenantId]",
            "sku": {"family": "A", "name": "standard"},
            **properties,
        },
    }


def storage(name: str = "stref", **properties: Any) -> dict[str, Any]:
    return {
        "type": STORAGE,
        "apiVersion": "2023-05-01",
        "name": name,
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": properties,
    }


def run(tmp_path: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    return findings(scan("--template", str(write(tmp_path / "main.json", document))))


def status(found: list[dict[str, Any]], check_id: str, name: str | None = None) -> str:
    return str(by(found, check_id, name)["status"])


def test_a_whole_properties_object_from_an_unknown_parameter_is_unknown_not_failed(tmp_path: Path) -> None:
    declared = {**vault(), "properties": "[parameters('vaultProperties')]"}
    found = run(tmp_path, template(declared, parameters={"vaultProperties": {"type": "object"}}))
    purge = by(found, "MLW-KV-01")
    assert purge["status"] == "unknown" and "parameters('vaultProperties')" in purge["message"]
    assert status(found, "MLW-KV-03") == "unknown"


def test_envelope_objects_from_unknown_parameters_are_judged_unknown(tmp_path: Path) -> None:
    workspace = {
        "type": WS,
        "apiVersion": "2024-04-01",
        "name": "mlw-ref",
        "location": "westeurope",
        "identity": "[parameters('identity')]",
        "sku": "[parameters('sku')]",
        "tags": "[parameters('tags')]",
        "properties": {"publicNetworkAccess": "Disabled"},
    }
    params = {name: {"type": "object"} for name in ("identity", "sku", "tags")}
    found = run(tmp_path, template(workspace, parameters=params))
    assert status(found, "MLW-MLWS-01") == "pass"
    assert status(found, "MLW-MLWS-04") == "unknown"  # the identity is whatever the parameter holds


def test_identity_from_if_with_an_unknown_condition(tmp_path: Path) -> None:
    workspace = {
        "type": WS,
        "apiVersion": "2024-04-01",
        "name": "mlw-ref",
        "location": "westeurope",
        "identity": "[if(parameters('useIdentity'), createObject('type', 'SystemAssigned'), null())]",
        "properties": {},
    }
    found = run(tmp_path, template(workspace, parameters={"useIdentity": {"type": "bool"}}))
    assert status(found, "MLW-MLWS-04") == "unknown"


def test_copy_loop_with_a_count_known_only_at_deployment_is_one_instance(tmp_path: Path) -> None:
    loop = {
        **vault("[format('kv-{0}', parameters('names')[copyIndex()])]", enablePurgeProtection=True),
        "copy": {"name": "vaults", "count": "[length(parameters('names'))]"},
    }
    found = run(tmp_path, template(loop, parameters={"names": {"type": "array"}}))
    purge = by(found, "MLW-KV-01")
    assert purge["status"] == "pass"  # true of every instance, however many
    assert "unevaluated" in purge["resource_name"]


def test_property_copy_with_an_unknown_count_is_unknown(tmp_path: Path) -> None:
    rules = [
        {
            "name": "ipRules",
            "count": "[length(parameters('ips'))]",
            "input": {"value": "[parameters('ips')[copyIndex('ipRules')]]"},
        }
    ]
    declared = storage(networkAcls={"defaultAction": "Deny", "copy": rules}, minimumTlsVersion="TLS1_2")
    found = run(tmp_path, template(declared, parameters={"ips": {"type": "array"}}))
    assert status(found, "MLW-ST-05") == "pass" and status(found, "MLW-ST-02") == "pass"


def test_reference_to_an_undeclared_property_is_unknown_not_a_broken_template(tmp_path: Path) -> None:
    st = storage(minimumTlsVersion="TLS1_2", encryption={"keySource": "Microsoft.Storage"})
    ref = "reference(resourceId('Microsoft.Storage/storageAccounts', 'stref'))"
    kv = vault(
        enablePurgeProtection=f"[empty({ref}.encryption.identity)]",
        enableRbacAuthorization=f"[equals({ref}.minimumTlsVersion, 'TLS1_2')]",
        enableSoftDelete=f"[equals({ref}.networkAcls.ipRules[0].value, 'x')]",
    )
    found = run(tmp_path, template(st, kv))
    assert status(found, "MLW-KV-01") == "unknown"
    assert status(found, "MLW-KV-03") == "pass"
    assert status(found, "MLW-KV-02") == "unknown"


def test_languageversion_2_reference_by_symbolic_name_declared_later(tmp_path: Path) -> None:
    resources = {
        "vault": vault(enablePurgeProtection="[equals(reference('account').minimumTlsVersion, 'TLS1_2')]"),
        "account": storage(minimumTlsVersion="TLS1_2"),
    }
    found = run(tmp_path, template(languageVersion="2.0") | {"resources": resources})
    assert status(found, "MLW-KV-01") == "pass"


def test_module_outputs_link_a_workspace_to_its_storage(tmp_path: Path) -> None:
    """Bicep modules compile to inner-scope nested deployments whose outputs feed the next module."""
    deps = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "deps",
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"accountName": {"value": "stmodule"}},
            "template": template(
                storage("[parameters('accountName')]", allowBlobPublicAccess=False),
                parameters={"accountName": {"type": "string"}},
                outputs={
                    "storageId": {
                        "type": "string",
                        "value": "[resourceId('Microsoft.Storage/storageAccounts', parameters('accountName'))]",
                    }
                },
            ),
        },
    }
    output = "[reference(resourceId('Microsoft.Resources/deployments', 'deps'), '2022-09-01').outputs.storageId.value]"
    hub = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "hub",
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"storageId": {"value": output}},
            "template": template(
                {
                    "type": WS,
                    "apiVersion": "2024-04-01",
                    "name": "hub-ref",
                    "location": "westeurope",
                    "kind": "Hub",
                    "properties": {"storageAccount": "[parameters('storageId')]"},
                },
                parameters={"storageId": {"type": "string"}},
            ),
        },
    }
    for order in ((deps, hub), (hub, deps)):  # ARM follows dependsOn, not the order in the file
        found = run(tmp_path, template(*order))
        used = by(found, "MLW-ST-11", "stmodule")
        assert used["status"] == "pass", used["message"]  # the account is the hub's, so it is judged


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[tryGet(parameters('settings'), 'purge')]", "pass"),
        ("[tryGet(parameters('settings'), 'missing')]", "fail"),  # null: not set
        ("[not(empty(filter(parameters('flags'), lambda('f', equals(lambdaVariables('f'), 'purge')))))]", "pass"),
        ("[contains(map(parameters('flags'), lambda('f', toUpper(lambdaVariables('f')))), 'PURGE')]", "pass"),
        ("[ref.isOn(parameters('mode'))]", "pass"),
        ("[equals(environment().suffixes.keyvaultDns, '.vault.azure.net')]", "pass"),
        ("[greater(parameters('count'), 0)]", "unknown"),  # `count` has no value
        ("[empty(deployment().properties.templateLink.uri)]", "unknown"),  # known only when deployed from a link
        ("[equals(add(div(7, 2), mod(7, 2)), 4)]", "pass"),
    ],
)
def test_template_functions_of_bicep_output(tmp_path: Path, expression: str, expected: str) -> None:
    params = {
        "settings": {"type": "object", "defaultValue": {"purge": True}},
        "flags": {"type": "array", "defaultValue": ["purge", "rbac"]},
        "mode": {"type": "string", "defaultValue": "strict"},
        "count": {"type": "int"},
    }
    functions = [
        {
            "namespace": "ref",
            "members": {
                "isOn": {
                    "parameters": [{"name": "value", "type": "string"}],
                    "output": {"type": "bool", "value": "[equals(parameters('value'), 'strict')]"},
                }
            },
        }
    ]
    found = run(tmp_path, template(vault(enablePurgeProtection=expression), parameters=params, functions=functions))
    assert status(found, "MLW-KV-01") == expected
