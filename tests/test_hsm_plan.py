"""Terraform plans of a Managed HSM (`azurerm_key_vault_managed_hardware_security_module`) and its keys
(`..._key`) translated into the ARM shape, so a plan gets the verdicts a template or a live scan gets:
the HSM's own settings (MLW-KV-01/02/04/05/06/10) and its keys' lifecycle (MLW-KV-07/08/11), with the
storage account that encrypts with one of its keys (`managed_hsm_key_id`) found as its user.
Attribute names and defaults: the azurerm provider's documentation of both resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.iac.conftest import findings, scan, write
from tests.test_hsm_settings import NA, _assert_judged

HSM_TF = "azurerm_key_vault_managed_hardware_security_module"
KEY_TF = "azurerm_key_vault_managed_hardware_security_module_key"


def _change(address: str, after: dict[str, Any], unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    tf_type, name = address.rsplit(".", 1)
    return {
        "address": address,
        "mode": "managed",
        "type": tf_type,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/azurerm",
        "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown or {}},
    }


def _tf_hsm(name: str, **after: Any) -> dict[str, Any]:
    values = {
        "name": name,
        "resource_group_name": "rg-sec",
        "location": "westeurope",
        "sku_name": "Standard_B1",
        "tenant_id": "00000000-0000-0000-0000-00000000aaaa",
        "admin_object_ids": ["00000000-0000-0000-0000-00000000a001"],
        "soft_delete_retention_days": 90,
        "network_acls": [],
        "tags": None,
        **after,
    }
    unknown = {"id": True, "hsm_uri": True, "security_domain_encrypted_data": True}
    return _change(f"{HSM_TF}.{name.replace('-', '_')}", values, unknown)


def _tf_endpoint(hsm: str, *, manual: bool) -> dict[str, Any]:
    connection = {
        "name": f"to-{hsm}",
        "is_manual_connection": manual,
        "private_connection_resource_id": None,
        "subresource_names": ["managedhsm"],
        "request_message": "approve me" if manual else None,
    }
    values = {
        "name": f"pe-{hsm}",
        "resource_group_name": "rg-sec",
        "location": "westeurope",
        "subnet_id": "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-net/providers/"
        "Microsoft.Network/virtualNetworks/vnet-sec/subnets/pe",
        "private_service_connection": [connection],
    }
    unknown = {"id": True, "private_service_connection": [{"private_connection_resource_id": True}]}
    return _change(f"azurerm_private_endpoint.{hsm.replace('-', '_')}", values, unknown)


def _tf_diagnostic(hsm: str, *, audit: bool) -> dict[str, Any]:
    values = {
        "name": "to-law",
        "target_resource_id": None,
        "log_analytics_workspace_id": "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-sec/"
        "providers/Microsoft.OperationalInsights/workspaces/law-sec",
        "enabled_log": [{"category": None, "category_group": "audit"}] if audit else [],
        "metric": [{"category": "AllMetrics", "enabled": True}],
    }
    unknown = {"id": True, "target_resource_id": True}
    return _change(f"azurerm_monitor_diagnostic_setting.{hsm.replace('-', '_')}", values, unknown)


def _references(hsm: str) -> dict[str, Any]:
    target = f"{HSM_TF}.{hsm.replace('-', '_')}"
    refs = {"references": [f"{target}.id", target]}
    return {
        f"azurerm_private_endpoint.{hsm.replace('-', '_')}": {
            "private_service_connection": [{"private_connection_resource_id": refs}]
        },
        f"azurerm_monitor_diagnostic_setting.{hsm.replace('-', '_')}": {"target_resource_id": refs},
    }


def plan_document(*extra: dict[str, Any], references: dict[str, Any] | None = None) -> dict[str, Any]:
    changes = [
        _tf_hsm(
            "hsm-hardened",
            purge_protection_enabled=True,
            public_network_access_enabled=False,
            network_acls=[{"default_action": "Deny", "bypass": "None"}],
        ),
        _tf_hsm(
            "hsm-open",
            purge_protection_enabled=False,
            public_network_access_enabled=True,
            soft_delete_retention_days=7,
            network_acls=[{"default_action": "Allow", "bypass": "AzureServices"}],
        ),
        _tf_hsm("hsm-bare", soft_delete_retention_days=None),
        _tf_endpoint("hsm-hardened", manual=False),
        _tf_endpoint("hsm-open", manual=True),
        _tf_diagnostic("hsm-hardened", audit=True),
        _tf_diagnostic("hsm-open", audit=False),
        *extra,
    ]
    expressions = {**_references("hsm-hardened"), **_references("hsm-open"), **(references or {})}
    resources = [{"address": address, "expressions": e} for address, e in expressions.items()]
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": []}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": resources}},
    }


def test_plan_hsms_get_the_templates_verdicts(tmp_path: Path) -> None:
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan_document()))))
    # azurerm's defaults are stated: purge protection false, public network access true (its docs)
    said = {"MLW_KV_01": "purge protection is disabled", "MLW_KV_04": "public network access is Enabled"}
    _assert_judged(found, bare_logs=NA, **said)
    hsm = next(f for f in found if f["resource_name"] == "hsm-hardened" and f["check_id"] == "MLW-KV-01")
    assert hsm["source_address"] == f"{HSM_TF}.hsm_hardened"


def _tf_key(name: str, **after: Any) -> dict[str, Any]:
    values = {
        "name": name,
        "managed_hsm_id": None,
        "key_type": "RSA-HSM",
        "key_size": 3072,
        "key_opts": ["wrapKey", "unwrapKey"],
        "curve": None,
        "not_before_date": None,
        "expiration_date": None,
        "tags": None,
        **after,
    }
    return _change(f"{KEY_TF}.{name.replace('-', '_')}", values, {"id": True, "managed_hsm_id": True})


def _tf_storage(cmk: list[dict[str, Any]], unknown: dict[str, Any]) -> dict[str, Any]:
    values = {
        "name": "stmlhsm",
        "resource_group_name": "rg-sec",
        "location": "westeurope",
        "account_kind": "StorageV2",
        "customer_managed_key": cmk,
    }
    return _change("azurerm_storage_account.st", values, {"id": True, **unknown})


def test_plan_hsm_keys_are_judged_on_the_hsm_and_found_by_the_storage_that_uses_them(tmp_path: Path) -> None:
    hsm_ref = {"references": [f"{HSM_TF}.hsm_hardened.id", f"{HSM_TF}.hsm_hardened"]}
    key_ref = {"references": [f"{KEY_TF}.cmk_storage.id", f"{KEY_TF}.cmk_storage"]}
    # an HSM key's rotation policy is its own resource, naming the key by its URL
    rotation = _change(
        f"{KEY_TF}_rotation_policy.cmk_storage",
        {"managed_hsm_key_id": None, "expire_after": "P1Y", "time_after_creation": "P90D", "time_before_expiry": None},
        {"id": True, "managed_hsm_key_id": True},
    )
    storage = _tf_storage(
        [{"managed_hsm_key_id": None, "user_assigned_identity_id": "uai"}],
        {"customer_managed_key": [{"managed_hsm_key_id": True}]},
    )
    document = plan_document(
        _tf_key("cmk-storage", expiration_date="2030-01-01T00:00:00Z"),
        _tf_key("cmk-undated"),
        rotation,
        storage,
        references={
            f"{KEY_TF}_rotation_policy.cmk_storage": {"managed_hsm_key_id": key_ref},
            f"{KEY_TF}.cmk_storage": {"managed_hsm_id": hsm_ref},
            f"{KEY_TF}.cmk_undated": {"managed_hsm_id": hsm_ref},
            "azurerm_storage_account.st": {"customer_managed_key": [{"managed_hsm_key_id": key_ref}]},
        },
    )
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", document))))
    on_hsm = sorted(
        (f["check_id"], f["status"], f["message"])
        for f in found
        if f["resource_name"] == "hsm-hardened" and f["check_id"] in ("MLW-KV-07", "MLW-KV-08", "MLW-KV-11")
    )
    assert on_hsm == [
        ("MLW-KV-07", "fail", "key cmk-undated has no expiration date"),
        ("MLW-KV-07", "pass", "key cmk-storage has an expiration date"),
        ("MLW-KV-08", "fail", "key cmk-undated has no rotation policy"),
        ("MLW-KV-08", "pass", "key cmk-storage rotates automatically"),
        ("MLW-KV-11", "not_applicable", "key cmk-undated is not used as a customer-managed key"),
        ("MLW-KV-11", "pass", "CMK key cmk-storage is HSM-backed (RSA-HSM)"),
    ]
    storage_cmk = next(f for f in found if f["check_id"] == "MLW-ST-08" and f["resource_name"] == "stmlhsm")
    assert storage_cmk["status"] == "pass"


def test_a_separate_storage_cmk_resource_naming_an_hsm_key_is_found_as_its_user(tmp_path: Path) -> None:
    """The provider's other way to give a storage account its key: a resource of its own
    (`azurerm_storage_account_customer_managed_key`) with `managed_hsm_key_id`. Without it the
    account's encryption is Microsoft-managed (MLW-ST-08 fails) and the HSM key is used by nothing."""
    hsm_ref = {"references": [f"{HSM_TF}.hsm_hardened.id", f"{HSM_TF}.hsm_hardened"]}
    key_ref = {"references": [f"{KEY_TF}.cmk_storage.id", f"{KEY_TF}.cmk_storage"]}
    storage_ref = {"references": ["azurerm_storage_account.st.id", "azurerm_storage_account.st"]}
    storage = _tf_storage([], {})
    cmk = _change(
        "azurerm_storage_account_customer_managed_key.st",
        {"storage_account_id": None, "managed_hsm_key_id": None, "user_assigned_identity_id": None},
        {"id": True, "storage_account_id": True, "managed_hsm_key_id": True},
    )
    references = {
        f"{KEY_TF}.cmk_storage": {"managed_hsm_id": hsm_ref},
        "azurerm_storage_account_customer_managed_key.st": {
            "storage_account_id": storage_ref,
            "managed_hsm_key_id": key_ref,
        },
    }
    with_cmk = plan_document(_tf_key("cmk-storage"), storage, cmk, references=references)
    del references["azurerm_storage_account_customer_managed_key.st"]
    without = plan_document(_tf_key("cmk-storage"), storage, references=references)

    def verdicts(document: dict[str, Any], name: str) -> dict[str, str]:
        found = findings(scan("--terraform-plan", str(write(tmp_path / name, document))))
        return {
            f["check_id"]: f["status"]
            for f in found
            if (f["resource_name"], f["check_id"]) in (("stmlhsm", "MLW-ST-08"), ("hsm-hardened", "MLW-KV-11"))
        }

    assert verdicts(with_cmk, "with.json") == {"MLW-ST-08": "pass", "MLW-KV-11": "pass"}
    assert verdicts(without, "without.json") == {"MLW-ST-08": "fail", "MLW-KV-11": "not_applicable"}
