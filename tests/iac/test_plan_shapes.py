"""`terraform show -json` shapes (format 1.x): sensitive values never reach a report, every change
action is read as Terraform means it, for_each instances stay apart, and a document Terraform did
not write is one `mlwarden: error:` line naming the file, the line and the JSON path (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.iac.conftest import by, findings, scan, write

SECRET = "Wint3r-Is-Coming-7f3a"
STORAGE = {"resource_group_name": "rg-ml", "location": "westeurope", "min_tls_version": "TLS1_2"}


def _change(address: str, after: Any, actions: tuple[str, ...] = ("create",), **detail: Any) -> dict[str, Any]:
    tf_type = next(part for part in address.split(".") if part.startswith("azurerm_"))
    return {
        "address": address,
        "mode": "managed",
        "type": tf_type,
        "name": address.rsplit(".", 1)[-1].split("[")[0],
        "change": {"actions": list(actions), "before": None, "after": after, "after_unknown": {}, **detail},
    }


def _plan(*changes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": list(changes), **extra}


def test_sensitive_values_never_reach_a_report(tmp_path: Path) -> None:
    """`terraform show -json` writes sensitive values in clear; `after_sensitive` marks them."""
    account = {**STORAGE, "name": "stsens", "min_tls_version": SECRET, "tags": {"owner": SECRET}}
    vault = {
        "name": "kv-sens",
        "resource_group_name": "rg-ml",
        "location": "westeurope",
        "tenant_id": SECRET,
        "access_policy": [{"object_id": SECRET, "tenant_id": SECRET, "key_permissions": ["Purge"]}],
    }
    plan = _plan(
        _change(
            "azurerm_storage_account.st",
            account,
            after_sensitive={"min_tls_version": True, "tags": {"owner": True}, "primary_access_key": True},
        ),
        _change("azurerm_key_vault.kv", vault, after_sensitive={"tenant_id": True, "access_policy": [True]}),
    )
    path = write(tmp_path / "plan.json", plan)
    for output in ("json", "sarif", "markdown", "html", "junit"):
        result = CliRunner().invoke(
            cli, ["scan", "--terraform-plan", str(path), "--format", output, "--fail-on", "none"]
        )
        assert result.exit_code == 0, result.output
        assert SECRET not in result.stdout, output
    tls = by(findings(scan("--terraform-plan", str(path))), "MLW-ST-02")
    assert tls["status"] == "unknown"
    assert "azurerm_storage_account.st.min_tls_version (sensitive in the plan)" in tls["message"]


def test_sensitive_values_of_a_state_or_planned_values(tmp_path: Path) -> None:
    """`terraform show -json` of a state: `values` with each resource's `sensitive_values`."""
    resource = {
        "address": "azurerm_storage_account.st",
        "mode": "managed",
        "type": "azurerm_storage_account",
        "name": "st",
        "values": {**STORAGE, "name": "ststate", "min_tls_version": SECRET},
        "sensitive_values": {"min_tls_version": True},
    }
    state = {"format_version": "1.0", "values": {"root_module": {"child_modules": [{"resources": [resource]}]}}}
    result = scan("--terraform-plan", str(write(tmp_path / "state.json", state)))
    assert SECRET not in result.stdout
    assert by(findings(result), "MLW-ST-02")["status"] == "unknown"


def test_change_actions(tmp_path: Path) -> None:
    """Replaced (either order) is judged on `after`; deleted, forgotten (Terraform 1.7 `removed`) and a
    create-before-destroy's deposed object are not deployed by the plan; data sources are read, not
    deployed, in a module too (even when a hand-written plan leaves `mode` out)."""
    weak = {**STORAGE, "min_tls_version": "TLS1_0"}
    data = _change("module.ml.data.azurerm_storage_account.existing", {**weak, "name": "stdata"})
    del data["mode"]
    plan = _plan(
        _change("azurerm_storage_account.a", {**weak, "name": "streplaced"}, ("delete", "create")),
        _change("azurerm_storage_account.b", {**weak, "name": "stbefore"}, ("create", "delete")),
        {**_change("azurerm_storage_account.b", None, ("delete",)), "deposed": "00000001"},
        _change("azurerm_storage_account.c", None, ("delete",), before={**weak, "name": "stdeleted"}),
        _change("azurerm_storage_account.d", None, ("forget",), before={**weak, "name": "stforgotten"}),
        data,
    )
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan))))
    judged = sorted(f["resource_name"] for f in found if f["check_id"] == "MLW-ST-02")
    assert judged == ["stbefore", "streplaced"]
    assert all(f["status"] == "fail" for f in found if f["check_id"] == "MLW-ST-02")


def test_for_each_instances_whose_names_are_known_after_apply_stay_apart(tmp_path: Path) -> None:
    instances = [
        {
            **_change(f'azurerm_storage_account.st["{key}"]', {**STORAGE, "name": None}, after_unknown={"name": True}),
            "index": key,
        }
        for key in ("prod.eu", "test.eu", "a/b")
    ]
    found = findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", _plan(*instances)))))
    names = sorted(f["resource_name"] for f in found if f["check_id"] == "MLW-ST-02")
    assert names == ['st["a%2Fb"]', 'st["prod.eu"]', 'st["test.eu"]']


GOOD = _change("azurerm_storage_account.st", {**STORAGE, "name": "st"})


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"format_version": "2.0", "resource_changes": [GOOD]}, "format_version '2.0' is not 1.x"),
        ({"format_version": 1, "resource_changes": [GOOD]}, "format_version 1 is not 1.x"),
        ({"format_version": "1.2", "resource_changes": {"a": GOOD}}, "resource_changes: expected an array"),
        (_plan("azurerm_storage_account.st"), "resource_changes[0]: expected an object, found a string"),
        (_plan({**GOOD, "change": "create"}), "resource_changes[0].change: expected an object"),
        (_plan({**GOOD, "type": 7}), "resource_changes[0].type: expected a string, found a number"),
        (_plan({k: v for k, v in GOOD.items() if k != "address"}), "resource_changes[0].address: expected a string"),
        (_plan({**GOOD, "change": {"actions": "create", "after": {}}}), "change.actions: expected an array"),
        (_plan({**GOOD, "change": {"actions": ["create"], "after": [1]}}), "change.after: expected an object or null"),
        (
            _plan({**GOOD, "change": {"actions": ["create"], "after": {}, "after_unknown": "yes"}}),
            "change.after_unknown: expected an object or a boolean, found a string",
        ),
        (_plan(GOOD, GOOD), "resource_changes[1]: azurerm_storage_account.st is already resource_changes[0]"),
        (
            {"format_version": "1.2", "planned_values": {"root_module": []}},
            "planned_values.root_module: expected an object",
        ),
        (
            {"format_version": "1.2", "values": {"root_module": {"child_modules": [{"resources": "x"}]}}},
            "values.root_module.child_modules[0].resources: expected an array",
        ),
        (
            {
                "format_version": "1.2",
                "planned_values": {"root_module": {"resources": [{"address": "a.b", "type": []}]}},
            },
            "planned_values.root_module.resources[0].type: expected a string, found an array",
        ),
        (
            _plan({**GOOD, "change": {"actions": ["create"], "after": {}, "after_unknown": True}}),
            "change.after_unknown: expected an object, found true",
        ),
        (
            _plan(
                _change(
                    "azurerm_key_vault_key.k",
                    {"name": "k", "key_type": "RSA", "rotation_policy": [{"notify_before_expiry": 30}]},
                )
            ),
            "azurerm_key_vault_key.k: time_before_expiry: Input should be a valid string",
        ),
    ],
)
def test_a_plan_terraform_did_not_write_is_one_error_line(tmp_path: Path, document: Any, where: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document, indent=1))
    result = CliRunner().invoke(cli, ["scan", "--terraform-plan", str(path), "--format", "json"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("mlwarden: error: ") and "plan.json" in line and where in line, line
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_state_with_a_deposed_object_judges_the_current_one(tmp_path: Path) -> None:
    current = {
        "address": "azurerm_storage_account.st",
        "mode": "managed",
        "type": "azurerm_storage_account",
        "name": "st",
        "values": {**STORAGE, "name": "stnow"},
    }
    deposed = {
        **current,
        "deposed_key": "00000001",
        "values": {**STORAGE, "name": "stnow", "min_tls_version": "TLS1_0"},
    }
    state = {"format_version": "1.0", "values": {"root_module": {"resources": [current, deposed]}}}
    found = findings(scan("--terraform-plan", str(write(tmp_path / "state.json", state))))
    assert by(found, "MLW-ST-02")["status"] == "pass"


@pytest.mark.parametrize("value", [1.5, True, "x", {"a": SECRET}], ids=["number", "boolean", "string", "object"])
@pytest.mark.parametrize(
    ("address", "attribute"),
    [
        ("azurerm_key_vault.kv", "access_policy"),
        ("azurerm_storage_account.st", "network_rules"),
        ("azurerm_linux_web_app.app", "site_config"),
        ("azurerm_kubernetes_cluster.aks", "api_server_access_profile"),
    ],
)
def test_an_attribute_of_a_type_no_provider_writes_is_one_error_line(
    tmp_path: Path, address: str, attribute: str, value: Any
) -> None:
    """`access_policy: 1.5` was a TypeError deep in the translation (exit 4, "a bug")."""
    after = {**STORAGE, "name": "x", attribute: value}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan(_change(address, after)), indent=1))
    result = CliRunner().invoke(cli, ["scan", "--terraform-plan", str(path), "--format", "json"])
    refused = attribute == "access_policy" and not isinstance(value, str | dict)  # not iterable: no policies read
    assert result.exit_code == (2 if refused else 1), result.output  # else tolerated: the resource is judged
    assert SECRET not in result.output
    if refused:
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"mlwarden: error: {path}:") and address in line, line
