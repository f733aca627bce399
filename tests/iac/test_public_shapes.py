"""Shapes found in public reference templates and plans that mlwarden misread.

Every document here is our own minimal reproduction of a shape; the docstring of each test names the
public file where the shape was seen. No text is copied from those repositories."""

from __future__ import annotations

from pathlib import Path

from tests.iac.conftest import by, findings, scan, template, write


def _storage(public_network_access: str) -> dict[str, object]:
    """A storage account whose `publicNetworkAccess` (MLW-ST-04) is the expression under test."""
    return {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-01-01",
        "name": "stpublicshape",
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": {"publicNetworkAccess": public_network_access},
    }


def test_a_parameter_default_may_use_a_parameter_declared_after_it(tmp_path: Path) -> None:
    """Azure/azure-quickstart-templates quickstarts/microsoft.machinelearningservices/machine-learning-advanced/
    azuredeploy.json: `vnetOption`'s default reads `privateEndpointType`, declared further down. ARM (and
    Bicep, which keeps declaration order) resolve defaults by use, so the value is known, not broken."""
    doc = template(
        _storage("[parameters('access')]"),
        parameters={
            "access": {
                "type": "string",
                "defaultValue": "[if(equals(parameters('mode'), 'private'), 'Disabled', 'Enabled')]",
            },
            "mode": {"type": "string", "defaultValue": "[parameters('chosen')]"},
            "chosen": {"type": "string", "defaultValue": "private"},
        },
    )
    result = scan("--template", str(write(tmp_path / "t.json", doc)))
    assert "cannot evaluate" not in result.stderr
    assert by(findings(result), "MLW-ST-04")["status"] == "pass"


def test_parameter_defaults_that_use_each_other_are_left_unknown(tmp_path: Path) -> None:
    """The lazy order above must not loop: two defaults naming each other stay broken (a warning, unknown)."""
    doc = template(
        _storage("[parameters('a')]"),
        parameters={
            "a": {"type": "string", "defaultValue": "[parameters('b')]"},
            "b": {"type": "string", "defaultValue": "[parameters('a')]"},
        },
    )
    result = scan("--template", str(write(tmp_path / "t.json", doc)))
    assert "refers to itself" in result.stderr
    assert by(findings(result), "MLW-ST-04")["status"] == "unknown"


def test_a_nested_child_may_name_a_two_segment_type_relative_to_its_parent(tmp_path: Path) -> None:
    """fugue/regula rego/tests/rules/arm/storage/inputs/disable_public_access_infra.json (and many
    quickstarts): containers nested in a storage account as type `blobServices/containers`, name
    `default/<container>`. The type is relative to the parent like a one-segment `config`; it was read
    as a top-level type, every container got the id `.../providers/blobServices/containers/default`,
    and the second was refused as a duplicate (exit 2)."""
    containers = [
        {
            "type": "blobServices/containers",
            "apiVersion": "2023-01-01",
            "name": f"default/{name}",
            "dependsOn": ["stnested"],
            "properties": {"publicAccess": "None"},
        }
        for name in ("first", "second")
    ]
    doc = template(
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2023-01-01",
            "name": "stnested",
            "location": "westeurope",
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS"},
            "properties": {"allowBlobPublicAccess": False},
            "resources": containers,
        }
    )
    result = scan("--template", str(write(tmp_path / "t.json", doc)))
    assert by(findings(result), "MLW-ST-03", "stnested")["status"] == "pass"


def test_a_nullable_parameter_left_out_is_null(tmp_path: Path) -> None:
    """Bicep's `param zone string?` compiles to `"nullable": true` with no default (seen in the
    aci-linuxcontainer-public-ip quickstart as printed on learn.microsoft.com, and throughout
    Azure/bicep-registry-modules, where `publicNetworkAccess` falls back to a value when the parameter
    is empty). ARM gives such a parameter null when it is not passed; it was left unknown."""
    doc = template(
        _storage("[if(not(empty(parameters('access'))), parameters('access'), 'Disabled')]"),
        parameters={"access": {"type": "string", "nullable": True, "allowedValues": ["Enabled", "Disabled"]}},
    )
    path = write(tmp_path / "t.json", doc)
    assert by(findings(scan("--template", str(path))), "MLW-ST-04")["status"] == "pass"
    given = write(tmp_path / "t.parameters.json", {"parameters": {"access": {"value": "Enabled"}}})
    assert by(findings(scan("--template", str(path), "--parameters", str(given))), "MLW-ST-04")["status"] == "fail"


def _site(name: str) -> dict[str, object]:
    return {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": name,
        "location": "westeurope",
        "kind": "functionapp",
        "properties": {"vnetRouteAllEnabled": True},
    }


def test_vnet_integration_declared_as_a_network_config_child_integrates_the_site(tmp_path: Path) -> None:
    """Azure/azure-quickstart-templates quickstarts/microsoft.web/function-app-storage-private-endpoints/
    azuredeploy.json: regional VNet integration as a separate `Microsoft.Web/sites/networkConfig`
    named `virtualNetwork` with `subnetResourceId`. ARM then reports the subnet as the site's
    `virtualNetworkSubnetId`; MLW-APP-06 failed the app as not integrated."""
    subnet = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/apps"
    doc = template(
        _site("fn-integrated"),
        {
            "type": "Microsoft.Web/sites/networkConfig",
            "apiVersion": "2023-12-01",
            "name": "fn-integrated/virtualNetwork",
            "dependsOn": ["[resourceId('Microsoft.Web/sites', 'fn-integrated')]"],
            "properties": {"subnetResourceId": subnet, "swiftSupported": True},
        },
        _site("fn-alone"),
    )
    found = findings(scan("--template", str(write(tmp_path / "t.json", doc))))
    assert by(found, "MLW-APP-06", "fn-integrated")["status"] == "pass"
    assert by(found, "MLW-APP-06", "fn-alone")["status"] == "fail"


def test_a_swift_connection_integrates_its_app_in_a_plan(tmp_path: Path) -> None:
    """The azurerm provider's `azurerm_app_service_virtual_network_swift_connection` (its documented
    example for VNet integration declared apart from the app; the Terraform twin of the quickstart's
    `networkConfig` child above). Its `app_service_id` is known after apply and resolved through the
    configuration; MLW-APP-06 failed the app as not integrated."""
    subnet = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/apps"

    def app(name: str) -> dict[str, object]:
        return {
            "address": f"azurerm_linux_web_app.{name}",
            "mode": "managed",
            "type": "azurerm_linux_web_app",
            "name": name,
            "values": {
                "name": f"app-{name}",
                "location": "westeurope",
                "resource_group_name": "rg",
                "virtual_network_subnet_id": None,
                "site_config": [{"vnet_route_all_enabled": True}],
            },
        }

    link = {
        "address": "azurerm_app_service_virtual_network_swift_connection.vnet",
        "mode": "managed",
        "type": "azurerm_app_service_virtual_network_swift_connection",
        "name": "vnet",
    }
    plan = {
        "format_version": "1.2",
        "planned_values": {
            "root_module": {"resources": [app("linked"), app("alone"), {**link, "values": {"subnet_id": subnet}}]}
        },
        "resource_changes": [
            {
                **link,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"subnet_id": subnet},
                    "after_unknown": {"app_service_id": True, "id": True},
                },
            }
        ],
        "configuration": {
            "root_module": {
                "resources": [
                    {
                        **link,
                        "expressions": {
                            "app_service_id": {
                                "references": ["azurerm_linux_web_app.linked.id", "azurerm_linux_web_app.linked"]
                            }
                        },
                    }
                ]
            }
        },
    }
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan))))
    assert by(found, "MLW-APP-06", "app-linked")["status"] == "pass"
    assert by(found, "MLW-APP-06", "app-alone")["status"] == "fail"


def test_a_parameter_of_a_nullable_user_defined_type_left_out_is_null(tmp_path: Path) -> None:
    """Azure/bicep-registry-modules compiled main.json files type parameters as `$ref` to a
    `definitions` entry that is itself `nullable` (`type lockType = {...}?`, `param lock lockType`):
    not passed, ARM gives null, as for a parameter marked nullable itself."""
    doc = template(
        _storage("[coalesce(tryGet(parameters('network'), 'access'), 'Disabled')]"),
        parameters={"network": {"$ref": "#/definitions/networkType"}},
        languageVersion="2.0",
        definitions={"networkType": {"type": "object", "properties": {"access": {"type": "string"}}, "nullable": True}},
    )
    doc["resources"] = {"account": doc["resources"][0]}
    found = findings(scan("--template", str(write(tmp_path / "t.json", doc))))
    assert by(found, "MLW-ST-04")["status"] == "pass"
