"""Shapes that public templates and plans use (Bicep output, quickstarts, AVM modules), each in a small
fixture of our own: the scan completes, and each verdict is the one an auditor expects, or `unknown`
naming why, never a pass or a fail that rests on a value the template does not fix."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------------------------------------- templates: children


def test_node_pools_declared_as_agentpools_children_are_judged_with_their_cluster(tmp_path: Path) -> None:
    cluster = {
        "type": "Microsoft.ContainerService/managedClusters",
        "apiVersion": "2024-02-01",
        "name": "aks-ref",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "dnsPrefix": "ref",
            "agentPoolProfiles": [{"name": "system", "mode": "System", "enableEncryptionAtHost": True}],
        },
    }
    pool = {
        "type": "Microsoft.ContainerService/managedClusters/agentPools",
        "apiVersion": "2024-02-01",
        "name": "aks-ref/gpu",
        "properties": {"mode": "User", "enableNodePublicIP": True},
    }
    found = run(tmp_path, template(cluster, pool))
    public = by(found, "MLW-AKS-14", "aks-ref")
    assert public["status"] == "fail" and "gpu" in public["message"]
    assert status(found, "MLW-AKS-13", "aks-ref") == "fail"


def test_an_app_without_config_children_is_judged_on_the_service_defaults(tmp_path: Path) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-ref",
        "location": "westeurope",
        "kind": "app,linux",
        "properties": {"httpsOnly": True},
    }
    ftp_off = {
        "type": "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
        "apiVersion": "2023-12-01",
        "name": "app-ref/ftp",
        "properties": {"allow": False},
    }
    found = run(tmp_path, template(site))
    assert status(found, "MLW-CFG-01") == "pass"  # minTlsVersion defaults to 1.2
    assert status(found, "MLW-CFG-02") == "fail"  # ftpsState defaults to AllAllowed
    assert status(found, "MLW-APP-05") == "fail"  # basic-auth publishing is on unless switched off
    assert status(found, "MLW-CFG-05") == "fail"  # no authentication configured
    declared = run(tmp_path, template(site, ftp_off))
    assert by(declared, "MLW-APP-05")["message"] == "basic-auth publishing is allowed for SCM"


# ---------------------------------------------------------------------------------------------- Terraform plans


def change(address: str, tf_type: str, after: dict[str, Any], unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": tf_type,
        "name": address.rsplit(".", 1)[-1],
        "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown or {}},
    }


def plan(*changes: dict[str, Any], references: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """A plan of `changes`; `references` maps an address to {attribute: the address it refers to}."""
    resources = [
        {"address": address, "expressions": {k: {"references": [f"{v}.id", v]} for k, v in refs.items()}}
        for address, refs in (references or {}).items()
    ]
    return {
        "format_version": "1.2",
        "resource_changes": list(changes),
        "configuration": {"root_module": {"resources": resources}},
    }


def run_plan(tmp_path: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    return findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", document))))


KV_VALUES = {
    "name": "kv-plan",
    "location": "westeurope",
    "resource_group_name": "rg-ref",
    "tenant_id": "00000000-0000-0000-0000-0000000000aa",
    "sku_name": "standard",
    "purge_protection_enabled": True,
    "public_network_access_enabled": False,
    "network_acls": [{"default_action": "Deny", "bypass": "AzureServices"}],
}


def test_flags_and_blocks_known_only_after_apply_are_unknown_not_passed(tmp_path: Path) -> None:
    values = {**KV_VALUES, "purge_protection_enabled": None, "network_acls": []}
    unknown = {"purge_protection_enabled": True, "network_acls": True}
    found = run_plan(tmp_path, plan(change("azurerm_key_vault.kv", "azurerm_key_vault", values, unknown)))
    assert status(found, "MLW-KV-01") == "unknown"
    cluster = {
        "name": "aks-plan",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "identity": [{"type": "SystemAssigned"}],
        "default_node_pool": [{"name": "system", "vm_size": "Standard_D4s_v5"}],
        "microsoft_defender": [],
        "local_account_disabled": None,
    }
    computed = {"microsoft_defender": True, "local_account_disabled": True}
    found = run_plan(
        tmp_path, plan(change("azurerm_kubernetes_cluster.aks", "azurerm_kubernetes_cluster", cluster, computed))
    )
    assert status(found, "MLW-AKS-16") == "unknown"
    assert status(found, "MLW-AKS-03") == "unknown"


def test_hand_written_plans_without_mode_are_read_and_data_sources_are_not(tmp_path: Path) -> None:
    managed = change("azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES)
    del managed["mode"]
    data = change("data.azurerm_key_vault.shared", "azurerm_key_vault", {**KV_VALUES, "name": "kv-shared"})
    del data["mode"]
    found = run_plan(tmp_path, plan(managed, data))
    assert status(found, "MLW-KV-01", "kv-plan") == "pass"
    assert not [f for f in found if f["resource_name"] == "kv-shared"]


def test_provider_2_app_service_and_function_app_are_judged(tmp_path: Path) -> None:
    app = {
        "name": "app-legacy",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "https_only": False,
        "client_cert_enabled": True,
        "site_config": [{"min_tls_version": "1.0", "ftps_state": "FtpsOnly", "remote_debugging_enabled": False}],
        "app_settings": {"DB_PASSWORD": "Pl41nT3xt-s3cr3t-v4lu3"},
        "auth_settings": [{"enabled": True}],
    }
    function = {
        "name": "func-legacy",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "https_only": True,
        "storage_account_name": "stfunc",
        "storage_account_access_key": "c2VjcmV0LWtleS1ub3QtcmVhbA==",
        "site_config": [{"min_tls_version": "1.2"}],
    }
    slot = {"name": "staging", "app_service_name": "app-legacy", "resource_group_name": "rg-ref", "https_only": True}
    document = plan(
        change("azurerm_app_service.app", "azurerm_app_service", app),
        change("azurerm_function_app.func", "azurerm_function_app", function),
        change("azurerm_app_service_slot.staging", "azurerm_app_service_slot", slot),
    )
    result = scan("--terraform-plan", str(write(tmp_path / "plan.json", document)))
    found = findings(result)
    assert status(found, "MLW-APP-01", "app-legacy") == "fail"
    assert status(found, "MLW-APP-07", "app-legacy") == "pass"
    assert status(found, "MLW-CFG-01", "app-legacy") == "fail"
    assert status(found, "MLW-CFG-05", "app-legacy") == "pass"
    assert "DB_PASSWORD" in by(found, "MLW-CFG-06", "app-legacy")["message"]
    assert "AzureWebJobsStorage" in by(found, "MLW-CFG-06", "func-legacy")["message"]
    slot_finding = by(found, "MLW-APP-01", "staging")
    assert slot_finding["status"] == "pass" and "/sites/app-legacy/slots/staging" in slot_finding["resource_id"]
    assert "Pl41nT3xt" not in result.stdout and "c2VjcmV0" not in result.stdout


def test_resources_that_configure_another_resource_are_merged_into_it(tmp_path: Path) -> None:
    account = {
        "name": "stplan",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "account_kind": "StorageV2",
        "min_tls_version": "TLS1_2",
        "network_rules": [],
    }
    rules = {"default_action": "Deny", "bypass": ["AzureServices"]}
    cmk = {
        "key_name": "cmk",
        "key_vault_id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
    }
    cluster = {
        "name": "aks-plan",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "identity": [{"type": "SystemAssigned"}],
        "default_node_pool": [{"name": "system", "host_encryption_enabled": True}],
    }
    pool = {"name": "gpu", "host_encryption_enabled": True, "node_public_ip_enabled": True}
    after_apply = {"storage_account_id": True}
    document = plan(
        change("azurerm_storage_account.st", "azurerm_storage_account", account),
        change("azurerm_storage_account_network_rules.st", "azurerm_storage_account_network_rules", rules, after_apply),
        change(
            "azurerm_storage_account_customer_managed_key.st",
            "azurerm_storage_account_customer_managed_key",
            cmk,
            after_apply,
        ),
        change("azurerm_kubernetes_cluster.aks", "azurerm_kubernetes_cluster", cluster),
        change(
            "azurerm_kubernetes_cluster_node_pool.gpu",
            "azurerm_kubernetes_cluster_node_pool",
            pool,
            {"kubernetes_cluster_id": True},
        ),
        references={
            "azurerm_storage_account_network_rules.st": {"storage_account_id": "azurerm_storage_account.st"},
            "azurerm_storage_account_customer_managed_key.st": {"storage_account_id": "azurerm_storage_account.st"},
            "azurerm_kubernetes_cluster_node_pool.gpu": {"kubernetes_cluster_id": "azurerm_kubernetes_cluster.aks"},
        },
    )
    found = run_plan(tmp_path, document)
    assert status(found, "MLW-ST-05") == "pass"
    assert status(found, "MLW-ST-08") == "pass"
    public = by(found, "MLW-AKS-14")
    assert public["status"] == "fail" and "gpu" in public["message"]


def test_key_vault_secrets_in_a_plan_are_judged_without_their_values(tmp_path: Path) -> None:
    secret = {"name": "db-password", "value": "N0t-4-R34l-P4ssw0rd!", "content_type": "password"}
    dated = {**secret, "name": "api-key", "expiration_date": "2027-01-01T00:00:00Z"}
    refs = {"key_vault_id": "azurerm_key_vault.kv"}
    document = plan(
        change("azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES),
        change("azurerm_key_vault_secret.db", "azurerm_key_vault_secret", secret, {"key_vault_id": True}),
        change("azurerm_key_vault_secret.api", "azurerm_key_vault_secret", dated, {"key_vault_id": True}),
        references={"azurerm_key_vault_secret.db": refs, "azurerm_key_vault_secret.api": refs},
    )
    result = scan("--terraform-plan", str(write(tmp_path / "plan.json", document)))
    expiry = [f for f in findings(result) if f["check_id"] == "MLW-KV-09"]
    assert sorted((f["status"], f["message"]) for f in expiry) == [
        ("fail", "secret db-password has no expiration date"),
        ("pass", "secret api-key has an expiration date"),
    ]
    assert "N0t-4-R34l" not in result.stdout


@pytest.mark.parametrize("option", ["--terraform-plan", "--template"])
def test_utf16_files_written_by_windows_powershell_are_read(tmp_path: Path, option: str) -> None:
    document = (
        plan(change("azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES))
        if option == "--terraform-plan"
        else template(vault("kv-plan", enablePurgeProtection=True))
    )
    path = tmp_path / "input.json"
    path.write_bytes(json.dumps(document, indent=2).encode("utf-16"))
    found = findings(scan(option, str(path)))
    assert status(found, "MLW-KV-01", "kv-plan") == "pass"


def test_templates_with_comments_and_directories_with_other_json(tmp_path: Path) -> None:
    """ARM accepts `//` and `/* */` comments; a repository holds JSONC configs next to its templates."""
    body = json.dumps(template(vault(enablePurgeProtection=True)), indent=2)
    commented = body.replace('"resources": [', '// the vault of the ML platform\n  "resources": [ /* one */', 1)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.json").write_text(commented)
    (tmp_path / "infra" / "devcontainer.json").write_text('{\n  // editor settings\n  "name": "x",\n}\n')
    found = findings(scan("--template", str(tmp_path / "infra")))
    purge = by(found, "MLW-KV-01", "kv-ref")
    assert purge["status"] == "pass" and purge["source_line"] == commented.splitlines().index("    {") + 1
    (tmp_path / "infra" / "broken.json").write_text(body[:-20])  # a template cut short is still an error
    result = scan("--template", str(tmp_path / "infra"))
    assert result.exit_code == 2 and "broken.json" in result.stderr and "malformed ARM template" in result.stderr


def test_children_named_from_a_parent_name_without_a_value_stay_with_their_parent(tmp_path: Path) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "[parameters('siteName')]",
        "location": "westeurope",
        "kind": "app",
        "properties": {"httpsOnly": True},
    }
    web = {
        "type": "Microsoft.Web/sites/config",
        "apiVersion": "2023-12-01",
        "name": "[concat(parameters('siteName'), '/web')]",
        "properties": {"minTlsVersion": "1.0"},
    }
    settings = {
        "type": "Microsoft.Web/sites/config",
        "apiVersion": "2023-12-01",
        "name": "[format('{0}/{1}', parameters('siteName'), 'appsettings')]",
        "properties": {"DB_PASSWORD": "Pl41n-t3xt-in-a-t3mplate"},
    }
    result = scan(
        "--template",
        str(write(tmp_path / "main.json", template(site, web, settings, parameters={"siteName": {"type": "string"}}))),
    )
    found = findings(result)
    assert status(found, "MLW-CFG-01") == "fail"  # the declared TLS 1.0, not the default
    assert "DB_PASSWORD" in by(found, "MLW-CFG-06")["message"]
    assert "Pl41n-t3xt" not in result.stdout


def test_a_deposed_object_being_deleted_does_not_hide_its_replacement(tmp_path: Path) -> None:
    """create_before_destroy: the plan deletes the deposed old object under the same address."""
    new = change("azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES)
    old = {**change("azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES), "deposed": "0f3c9a1e"}
    old["change"] = {"actions": ["delete"], "before": KV_VALUES, "after": None}
    document = plan(new, old) | {"planned_values": {"root_module": {"resources": []}}}
    assert status(run_plan(tmp_path, document), "MLW-KV-01", "kv-plan") == "pass"


def test_property_names_from_expressions_and_members_chosen_by_unknown_keys(tmp_path: Path) -> None:
    cluster = {
        "type": "Microsoft.ContainerService/managedClusters",
        "apiVersion": "2024-02-01",
        "name": "aks-ref",
        "location": "[variables('regions')[parameters('location')]]",  # `location` has no value
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "dnsPrefix": "ref",
            "agentPoolProfiles": [{"name": "system", "mode": "System"}],
            "addonProfiles": {"[variables('policyAddon')]": {"enabled": True}},
        },
    }
    document = template(
        cluster,
        parameters={"location": {"type": "string"}},
        variables={"regions": {"westeurope": "northeurope"}, "policyAddon": "azurepolicy"},
    )
    found = run(tmp_path, document)
    assert status(found, "MLW-AKS-17") == "pass"


def test_avm_private_endpoint_module_loop_reaches_its_vault(tmp_path: Path) -> None:
    """Azure Verified Modules pass some module parameters as one expression that yields `{value: ...}`,
    and refer to loop instances as `reference('name[i]')` and `references('name')`."""
    pe_module = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "languageVersion": "2.0",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "name": {"type": "string"},
            "privateLinkServiceConnections": {"type": "array", "nullable": True},
            "subnetResourceId": {"type": "string"},
        },
        "resources": {
            "privateEndpoint": {
                "type": "Microsoft.Network/privateEndpoints",
                "apiVersion": "2023-11-01",
                "name": "[parameters('name')]",
                "location": "westeurope",
                "properties": {
                    "privateLinkServiceConnections": (
                        "[coalesce(parameters('privateLinkServiceConnections'), createArray())]"
                    ),
                    "subnet": {"id": "[parameters('subnetResourceId')]"},
                },
            }
        },
        "outputs": {"name": {"type": "string", "value": "[parameters('name')]"}},
    }
    connection = (
        "[if(not(equals(tryGet(parameters('endpoints')[copyIndex()], 'isManualConnection'), true())), "
        "createObject('value', createArray(createObject('name', format('pe-{0}', copyIndex()), 'properties', "
        "createObject('privateLinkServiceId', resourceId('Microsoft.KeyVault/vaults', 'kv-ref'), 'groupIds', "
        "createArray('vault'))))), createObject('value', null()))]"
    )
    loop = {
        "copy": {"name": "vault_privateEndpoints", "count": "[length(parameters('endpoints'))]"},
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "[format('vault-pe-{0}', copyIndex())]",
        "properties": {
            "expressionEvaluationOptions": {"scope": "inner"},
            "mode": "Incremental",
            "parameters": {
                "name": {"value": "[format('pe-kv-{0}', copyIndex())]"},
                "privateLinkServiceConnections": connection,
                "subnetResourceId": {"value": "[parameters('endpoints')[copyIndex()].subnetResourceId]"},
            },
            "template": pe_module,
        },
        "dependsOn": ["vault"],
    }
    names = (
        "[equals(length(map(references('vault_privateEndpoints'), "
        "lambda('pe', lambdaVariables('pe').outputs.name.value))), 2)]"
    )
    first = "[equals(reference('vault_privateEndpoints[0]').outputs.name.value, 'pe-kv-0')]"
    resources = {
        "vault": vault(enablePurgeProtection=first, enableRbacAuthorization=names),
        "vault_privateEndpoints": loop,
    }
    params = {
        "endpoints": {"type": "array", "defaultValue": [{"subnetResourceId": "snet-a"}, {"subnetResourceId": "snet-b"}]}
    }
    found = run(tmp_path, template(parameters=params, languageVersion="2.0") | {"resources": resources})
    assert status(found, "MLW-KV-06") == "pass"
    assert status(found, "MLW-KV-01") == "pass" and status(found, "MLW-KV-03") == "pass"


def test_user_functions_may_read_the_templates_variables(tmp_path: Path) -> None:
    functions = [
        {
            "namespace": "__bicep",
            "members": {
                "hardened": {"parameters": [], "output": {"type": "bool", "value": "[variables('hardening').purge]"}}
            },
        }
    ]
    document = template(
        vault(enablePurgeProtection="[__bicep.hardened()]"),
        variables={"hardening": {"purge": True}},
        functions=functions,
        languageVersion="2.0",
    )
    assert status(run(tmp_path, document), "MLW-KV-01") == "pass"


def test_terraform_show_json_of_a_state_is_read_like_a_plan(tmp_path: Path) -> None:
    """`terraform show -json` without a plan file prints the state: `values` instead of `planned_values`."""
    resource = {
        "address": "azurerm_key_vault.kv",
        "mode": "managed",
        "type": "azurerm_key_vault",
        "name": "kv",
        "values": {**KV_VALUES, "purge_protection_enabled": False},
        "sensitive_values": {},
    }
    document = {
        "format_version": "1.0",
        "terraform_version": "1.9.5",
        "values": {"root_module": {"resources": [resource]}},
    }
    assert status(run_plan(tmp_path, document), "MLW-KV-01", "kv-plan") == "fail"


def _cmk_workspace() -> dict[str, Any]:
    return {
        "type": WS,
        "apiVersion": "2024-04-01",
        "name": "mlw-cmk",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "encryption": {
                "status": "Enabled",
                "keyVaultProperties": {
                    "keyVaultArmId": "[resourceId('Microsoft.KeyVault/vaults', 'kv-ref')]",
                    "keyIdentifier": "https://kv-ref.vault.azure.net/keys/cmk",
                },
            }
        },
    }


def test_access_policies_added_by_a_child_resource_are_judged_on_the_vault(tmp_path: Path) -> None:
    purge = {
        "objectId": "11111111-2222-3333-4444-555555555555",
        "tenantId": "t",
        "permissions": {"keys": ["Get", "Purge"]},
    }
    add = {
        "type": "Microsoft.KeyVault/vaults/accessPolicies",
        "apiVersion": "2023-07-01",
        "name": "kv-ref/add",
        "properties": {"accessPolicies": [purge]},
    }
    found = run(tmp_path, template(vault(accessPolicies=[]), add, _cmk_workspace()))
    grant = by(found, "MLW-KV-12", "kv-ref")
    assert grant["status"] == "fail" and "11111111-2222-3333-4444-555555555555" in grant["message"]
    unknown = vault(accessPolicies="[parameters('policies')]")
    found = run(tmp_path, template(unknown, _cmk_workspace(), parameters={"policies": {"type": "array"}}))
    assert status(found, "MLW-KV-12", "kv-ref") == "unknown"


def test_access_policies_of_a_plan_as_their_own_resources_are_judged_on_the_vault(tmp_path: Path) -> None:
    policy = {
        "object_id": "99999999-2222-3333-4444-555555555555",
        "tenant_id": "t",
        "key_permissions": ["Get", "Purge"],
    }
    workspace = {
        "name": "mlw-plan",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "identity": [{"type": "SystemAssigned"}],
        "encryption": [{"key_vault_id": None, "key_id": "https://kv-plan.vault.azure.net/keys/cmk"}],
    }
    document = plan(
        change("azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES),
        change("azurerm_key_vault_access_policy.ml", "azurerm_key_vault_access_policy", policy, {"key_vault_id": True}),
        change("azurerm_machine_learning_workspace.ws", "azurerm_machine_learning_workspace", workspace),
        references={"azurerm_key_vault_access_policy.ml": {"key_vault_id": "azurerm_key_vault.kv"}},
    )
    grant = by(run_plan(tmp_path, document), "MLW-KV-12", "kv-plan")
    assert grant["status"] == "fail" and "99999999" in grant["message"]


def test_settings_known_only_at_deployment_are_unknown_not_free_of_secrets(tmp_path: Path) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-ref",
        "location": "westeurope",
        "kind": "app",
        "properties": {"httpsOnly": True, "siteConfig": {"appSettings": "[parameters('settings')]"}},
    }
    merged = {
        "type": "Microsoft.Web/sites/config",
        "apiVersion": "2023-12-01",
        "name": "app-two/appsettings",
        "properties": (
            "[union(list(resourceId('Microsoft.Web/sites/config', 'app-two', 'appsettings'), '2023-12-01')"
            ".properties, createObject('MODE', 'prod'))]"
        ),
    }
    other = {**site, "name": "app-two", "properties": {"httpsOnly": True}}
    deployment = {
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "apiVersion": "2024-04-01",
        "name": "mlw/ep/blue",
        "location": "westeurope",
        "properties": {"endpointComputeType": "Managed", "environmentVariables": "[parameters('env')]"},
    }
    params = {"settings": {"type": "array"}, "env": {"type": "object"}}
    found = run(tmp_path, template(site, other, merged, deployment, parameters=params))
    assert status(found, "MLW-CFG-06", "app-ref") == "unknown"
    assert status(found, "MLW-CFG-06", "app-two") == "unknown"
    assert status(found, "MLW-MLDEP-01") == "unknown"
    app = {"name": "app-plan", "location": "westeurope", "resource_group_name": "rg-ref", "app_settings": None}
    computed = change("azurerm_linux_web_app.app", "azurerm_linux_web_app", app, {"app_settings": True})
    assert status(run_plan(tmp_path, plan(computed)), "MLW-CFG-06", "app-plan") == "unknown"


def test_an_absent_property_whose_default_changed_with_the_api_version(tmp_path: Path) -> None:
    """Storage accounts created with an API version before 2019-04-01 accept HTTP unless told otherwise."""
    old = {**storage("stold"), "apiVersion": "[variables('storageApi')]"}
    found = run(tmp_path, template(old, storage("stnew"), variables={"storageApi": "2018-07-01"}))
    assert status(found, "MLW-ST-01", "stold") == "fail"
    assert status(found, "MLW-ST-01", "stnew") == "pass"


def test_a_vault_api_version_that_creates_new_vaults_with_rbac_leaves_the_model_to_deployment(tmp_path: Path) -> None:
    """From API version 2026-02-01 a vault created without enableRbacAuthorization uses Azure RBAC,
    while a redeployed vault keeps its model: a template cannot say which, so MLW-KV-03 is unknown,
    not the access-policy fail an older API version's absent property is."""
    new_api = {**vault("kv-new"), "apiVersion": "2026-02-01"}
    said = {**vault("kv-said", enableRbacAuthorization=False), "apiVersion": "2026-02-01"}
    found = run(tmp_path, template(vault("kv-old"), new_api, said))
    assert status(found, "MLW-KV-03", "kv-old") == "fail"
    assert status(found, "MLW-KV-03", "kv-said") == "fail"
    unknown = [f for f in found if f["check_id"] == "MLW-KV-03" and f["resource_name"] == "kv-new"]
    assert [f["status"] for f in unknown] == ["unknown"]
    assert "creates the vault" in unknown[0]["message"], unknown[0]["message"]


def test_references_inside_a_module_name_resources_of_the_same_module_instance(tmp_path: Path) -> None:
    """A module's configuration refers to `azurerm_key_vault.kv`, its plan address is `module.ml["a"]....`."""
    policy = {"object_id": "77777777-2222-3333-4444-555555555555", "tenant_id": "t", "key_permissions": ["Purge"]}
    workspace = {
        "name": "mlw-mod",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "identity": [{"type": "SystemAssigned"}],
        "encryption": [{"key_vault_id": None, "key_id": "https://kv-plan.vault.azure.net/keys/cmk"}],
    }
    inside = 'module.ml["a"].'
    changes = [
        change(f"{inside}azurerm_key_vault.kv", "azurerm_key_vault", KV_VALUES),
        change(
            f"{inside}azurerm_key_vault_access_policy.p",
            "azurerm_key_vault_access_policy",
            policy,
            {"key_vault_id": True},
        ),
        change(f"{inside}azurerm_machine_learning_workspace.ws", "azurerm_machine_learning_workspace", workspace),
    ]
    expressions = {"key_vault_id": {"references": ["azurerm_key_vault.kv.id", "azurerm_key_vault.kv"]}}
    module = {"resources": [{"address": "azurerm_key_vault_access_policy.p", "expressions": expressions}]}
    document = {
        "format_version": "1.2",
        "resource_changes": changes,
        "configuration": {"root_module": {"module_calls": {"ml": {"source": "./ml", "module": module}}}},
    }
    grant = by(run_plan(tmp_path, document), "MLW-KV-12", "kv-plan")
    assert grant["status"] == "fail" and "77777777" in grant["message"]


def test_an_aks_cluster_attached_to_a_workspace_by_a_plan_is_ml_infrastructure(tmp_path: Path) -> None:
    """Its KMS key's vault then holds a key that encrypts ML data, so the vault's purge grants matter."""
    cluster = {
        "name": "aks-ml",
        "location": "westeurope",
        "resource_group_name": "rg-ref",
        "identity": [{"type": "SystemAssigned"}],
        "default_node_pool": [{"name": "system"}],
        "key_management_service": [{"key_vault_key_id": "https://kv-plan.vault.azure.net/keys/etcd"}],
    }
    workspace = {"name": "mlw-aks", "location": "westeurope", "resource_group_name": "rg-ref"}
    attach = {"name": "aks-attach", "location": "westeurope", "cluster_purpose": "FastProd"}
    refs = {
        "machine_learning_workspace_id": "azurerm_machine_learning_workspace.ws",
        "kubernetes_cluster_id": "azurerm_kubernetes_cluster.aks",
    }
    vault_values = {
        **KV_VALUES,
        "access_policy": [{"object_id": "55555555-0000", "tenant_id": "t", "key_permissions": ["Purge"]}],
    }
    document = plan(
        change("azurerm_key_vault.kv", "azurerm_key_vault", vault_values),
        change("azurerm_kubernetes_cluster.aks", "azurerm_kubernetes_cluster", cluster),
        change("azurerm_machine_learning_workspace.ws", "azurerm_machine_learning_workspace", workspace),
        change(
            "azurerm_machine_learning_inference_cluster.attach",
            "azurerm_machine_learning_inference_cluster",
            attach,
            {"machine_learning_workspace_id": True, "kubernetes_cluster_id": True},
        ),
        references={"azurerm_machine_learning_inference_cluster.attach": refs},
    )
    assert status(run_plan(tmp_path, document), "MLW-KV-12", "kv-plan") == "fail"


def test_an_unknown_name_whose_expression_holds_a_slash_stays_one_name(tmp_path: Path) -> None:
    declared = vault("[last(split(parameters('vaultId'), '/'))]", enablePurgeProtection=True)
    purge = by(run(tmp_path, template(declared, parameters={"vaultId": {"type": "string"}})), "MLW-KV-01")
    assert purge["resource_name"].startswith("<unevaluated: last(split(") and purge["status"] == "pass"
    assert purge["resource_id"].endswith(f"/vaults/{purge['resource_name']}")


def test_a_site_config_known_only_at_deployment_is_unknown_not_the_defaults(tmp_path: Path) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-ref",
        "location": "westeurope",
        "kind": "app",
        "properties": {"httpsOnly": True, "siteConfig": "[parameters('siteConfig')]"},
    }
    whole = {**site, "name": "app-two", "properties": "[parameters('siteProperties')]"}
    params = {"siteConfig": {"type": "object"}, "siteProperties": {"type": "object"}}
    found = run(tmp_path, template(site, whole, parameters=params))
    for name in ("app-ref", "app-two"):
        assert status(found, "MLW-CFG-01", name) == "unknown"
        assert status(found, "MLW-CFG-02", name) == "unknown"
    assert status(found, "MLW-APP-01", "app-ref") == "pass"


def test_tags_and_identity_known_only_after_apply_do_not_refuse_the_plan(tmp_path: Path) -> None:
    """`tags = merge(var.tags, { created = timestamp() })` is known only after apply."""
    values = {**KV_VALUES, "tags": None}
    computed = change("azurerm_key_vault.kv", "azurerm_key_vault", values, {"tags": True})
    account = {"name": "stplan", "location": "westeurope", "resource_group_name": "rg-ref", "identity": None}
    unknown_identity = change("azurerm_storage_account.st", "azurerm_storage_account", account, {"identity": True})
    found = run_plan(tmp_path, plan(computed, unknown_identity))
    assert status(found, "MLW-KV-01", "kv-plan") == "pass"
    assert status(found, "MLW-ST-02", "stplan") == "pass"
