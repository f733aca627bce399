"""ARM templates judged by the same checks as live Azure, with findings on the template's lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.iac.conftest import by, findings, scan, template, write

WS = "Microsoft.MachineLearningServices/workspaces"


def workspace(name: str = "mlw", **properties: object) -> dict[str, object]:
    return {"type": WS, "apiVersion": "2024-04-01", "name": name, "location": "westeurope", "properties": properties}


def test_parameters_variables_and_lines(tmp_path: Path) -> None:
    doc = template(
        workspace("[variables('wsName')]", publicNetworkAccess="[parameters('access')]"),
        parameters={"access": {"type": "string", "defaultValue": "Enabled"}, "env": {"type": "string"}},
        variables={"wsName": "[concat('mlw-', parameters('env'))]"},
    )
    path = write(tmp_path / "main.json", doc)
    params = write(
        tmp_path / "main.parameters.json",
        {"parameters": {"env": {"value": "prod"}, "access": {"value": "Disabled"}}},
    )
    found = findings(scan("--template", str(path), "--parameters", str(params)))
    public = by(found, "MLW-MLWS-01", "mlw-prod")
    assert public["status"] == "pass"
    line = json.dumps(doc, indent=2).splitlines().index("    {") + 1
    assert public["source_line"] == line
    assert public["source_file"].endswith("main.json") and "\\" not in public["source_file"]
    without = findings(scan("--template", str(path)))
    unnamed = by(without, "MLW-MLWS-01")  # `env` has no value: the name stays unevaluated, the default applies
    assert unnamed["status"] == "fail" and "unevaluated" in unnamed["resource_name"]


def test_copy_loops_share_the_loop_line_and_property_copies_expand(tmp_path: Path) -> None:
    storage = {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": "[format('st{0}', copyIndex())]",
        "location": "westeurope",
        "kind": "StorageV2",
        "copy": {"name": "accounts", "count": 3},
        "properties": {
            "minimumTlsVersion": "[if(equals(copyIndex(), 1), 'TLS1_0', 'TLS1_2')]",
            "networkAcls": {
                "defaultAction": "Deny",
                "copy": [
                    {
                        "name": "ipRules",
                        "count": 2,
                        "input": {"value": "[format('10.0.{0}.0/24', copyIndex('ipRules'))]"},
                    }
                ],
            },
        },
    }
    path = write(tmp_path / "t.json", template(storage))
    found = findings(scan("--template", str(path)))
    tls = {f["resource_name"]: f for f in found if f["check_id"] == "MLW-ST-02"}
    assert {n: f["status"] for n, f in tls.items()} == {"st0": "pass", "st1": "fail", "st2": "pass"}
    assert len({f["source_line"] for f in tls.values()}) == 1
    firewall = by(found, "MLW-ST-05", "st0")
    assert firewall["status"] == "pass"


def test_nested_child_resources_become_their_parents_config(tmp_path: Path) -> None:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-score",
        "location": "westeurope",
        "kind": "app,linux",
        "properties": {"httpsOnly": True, "siteConfig": {"minTlsVersion": "1.0"}},
        "resources": [
            {"type": "config", "apiVersion": "2023-12-01", "name": "web", "properties": {"minTlsVersion": "1.2"}},
            {
                "type": "basicPublishingCredentialsPolicies",
                "apiVersion": "2023-12-01",
                "name": "ftp",
                "properties": {"allow": False},
            },
            {
                "type": "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
                "apiVersion": "2023-12-01",
                "name": "app-score/scm",
                "properties": {"allow": False},
            },
        ],
    }
    found = findings(scan("--template", str(write(tmp_path / "t.json", template(site)))))
    assert by(found, "MLW-CFG-01")["status"] == "pass"  # the explicit config/web child wins over siteConfig
    assert by(found, "MLW-APP-05")["status"] == "pass"


def test_nested_deployments_inner_and_outer_scope(tmp_path: Path) -> None:
    inner = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "inner",
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"wsName": {"value": "[concat(parameters('prefix'), '-inner')]"}},
            "template": template(
                workspace("[parameters('wsName')]", publicNetworkAccess="Disabled"),
                parameters={"wsName": {"type": "string"}},
            ),
        },
    }
    outer = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "outer",
        "properties": {
            "mode": "Incremental",
            "template": template(workspace("[concat(parameters('prefix'), '-outer')]")),
        },
    }
    linked = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "linked",
        "properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.invalid/t.json"}},
    }
    doc = template(inner, outer, linked, parameters={"prefix": {"type": "string", "defaultValue": "lh"}})
    # the remote link is a coverage gap (tests/iac/test_linked_templates.py): judged with --allow-partial
    found = findings(scan("--template", str(write(tmp_path / "t.json", doc)), "--allow-partial"))
    assert by(found, "MLW-MLWS-01", "lh-inner")["status"] == "pass"
    assert by(found, "MLW-MLWS-01", "lh-outer")["status"] == "fail"


def test_condition_false_skips_and_symbolic_resources_are_read(tmp_path: Path) -> None:
    doc = template(
        {**workspace("skipped"), "condition": "[equals(parameters('deploy'), 'yes')]"},
        parameters={"deploy": {"type": "string", "defaultValue": "no"}},
    )
    doc["languageVersion"] = "2.0"
    doc["resources"] = {
        "ws": workspace("kept", publicNetworkAccess="Disabled"),
        "skip": doc["resources"][0],
        "existing": {**workspace("already-there"), "existing": True},
    }
    found = findings(scan("--template", str(write(tmp_path / "t.json", doc))))
    names = {f["resource_name"] for f in found if f["check_id"] == "MLW-MLWS-01"}
    assert names == {"kept"}


def test_unevaluable_values_make_only_the_checks_that_read_them_unknown(tmp_path: Path) -> None:
    storage = {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": "stx",
        "location": "westeurope",
        "kind": "StorageV2",
        "properties": {
            "publicNetworkAccess": "[reference(resourceId('Microsoft.Resources/deploymentScripts', 'p')).outputs.a]",
            "minimumTlsVersion": "TLS1_2",
        },
    }
    found = findings(scan("--template", str(write(tmp_path / "t.json", template(storage)))))
    public = by(found, "MLW-ST-04")
    assert public["status"] == "unknown"
    assert "reference(resourceId('Microsoft.Resources/deploymentScripts', 'p')).outputs.a" in public["message"]
    assert by(found, "MLW-ST-02")["status"] == "pass"


def test_checks_needing_live_only_data_are_not_applicable_and_scan_is_complete(tmp_path: Path) -> None:
    path = write(tmp_path / "t.json", template(workspace(publicNetworkAccess="Disabled")))
    result = scan("--template", str(path))
    found = findings(result)
    diagnostics = by(found, "MLW-MLWS-08")
    assert diagnostics["status"] == "not_applicable" and "live scan" in diagnostics["message"]
    assert not json.loads(result.stdout)["sources"][0]["gaps"]


def test_directory_scan_skips_non_templates_and_matches_parameters_by_name(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    write(
        tmp_path / "nested" / "a.json", template(workspace("[parameters('n')]"), parameters={"n": {"type": "string"}})
    )
    write(tmp_path / "b.json", template(workspace("b-ws")))
    write(tmp_path / "package.json", {"name": "not a template"})
    params = write(tmp_path / "a.parameters.json", {"parameters": {"n": {"value": "a-ws"}}})
    found = findings(scan("--template", str(tmp_path), "--parameters", str(params)))
    assert {f["resource_name"] for f in found if f["check_id"] == "MLW-MLWS-01"} == {"a-ws", "b-ws"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "malformed ARM template"),
        ('{"$schema": "https://example.org/other.json"}', "not an ARM deployment template"),
        (json.dumps(template({"type": WS, "name": "[concat('a']"})), "cannot evaluate"),
        (json.dumps(template({**workspace(), "copy": {"name": "c", "count": 100000}})), "copy count"),
        (json.dumps(template({"name": "no-type"})), "has no string `type` and `name`"),
    ],
)
def test_broken_templates_are_one_line_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = scan("--template", str(path))
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and expected in errors[0] and "bad.json" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_template_and_snapshot_are_mutually_exclusive(tmp_path: Path) -> None:
    path = write(tmp_path / "t.json", template(workspace()))
    result = scan("--template", str(path), "--demo")
    assert result.exit_code == 2 and "mutually exclusive" in result.stderr


def test_the_projects_own_deployment_templates_pass_their_own_gate() -> None:
    from click.testing import CliRunner

    from scanner.cli import cli

    deploy = Path(__file__).parents[2] / "deploy" / "azure"
    result = CliRunner().invoke(cli, ["scan", "--template", str(deploy), "--fail-on", "low", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["resource_count"] >= 5  # the job, its identity and the role assignments were all evaluated
    assert not [f for f in report["findings"] if f["status"] in ("fail", "error")]
