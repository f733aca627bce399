"""IaC findings in every report: SARIF on the template's lines, and no secret value anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from scanner.cli import cli
from tests.iac.conftest import template, write

SARIF_SCHEMA = Path(__file__).parents[1] / "reports" / "schemas" / "sarif-schema-2.1.0.json"
EXAMPLES = Path(__file__).parents[2] / "examples" / "iac"
CANARIES = (
    "Canary-Param-Default-5b7f",
    "Canary-Param-File-8c2d",
    "Canary-Literal-Setting-1e9a",
    "canaryAccountKey0123456789abcdefABCDEF==",
    "Canary-Env-Var-77aa",
    "Canary-Vault-Secret-3f3f",
    "Canary-Tf-Setting-4242",
)
FORMATS = "json,html,sarif,junit,markdown,csv"


def _leaky_template(tmp_path: Path) -> tuple[Path, Path]:
    site = {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-leaky",
        "location": "westeurope",
        "kind": "app",
        "properties": {
            "httpsOnly": True,
            "siteConfig": {
                "appSettings": [
                    {"name": "DB_PASSWORD", "value": "[parameters('dbPassword')]"},
                    {"name": "API_PASSWORD", "value": "[parameters('apiPassword')]"},
                    {"name": "SERVICE_TOKEN", "value": "Canary-Literal-Setting-1e9a"},
                    {
                        "name": "STORAGE",
                        "value": "DefaultEndpointsProtocol=https;AccountName=x;"
                        "AccountKey=canaryAccountKey0123456789abcdefABCDEF==",
                    },
                ],
            },
        },
    }
    deployment = {
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "apiVersion": "2024-04-01",
        "name": "mlw/ep/blue",
        "location": "westeurope",
        "properties": {"environmentVariables": {"DB_PASSWORD": "Canary-Env-Var-77aa", "MODEL": "m"}},
    }
    vault_secret = {
        "type": "Microsoft.KeyVault/vaults/secrets",
        "apiVersion": "2023-07-01",
        "name": "kv/db",
        "properties": {"value": "Canary-Vault-Secret-3f3f"},
    }
    params = {
        "dbPassword": {"type": "secureString", "defaultValue": "Canary-Param-Default-5b7f"},
        "apiPassword": {"type": "securestring"},
    }
    path = write(tmp_path / "leaky.json", template(site, deployment, vault_secret, parameters=params))
    values = write(
        tmp_path / "leaky.parameters.json", {"parameters": {"apiPassword": {"value": "Canary-Param-File-8c2d"}}}
    )
    return path, values


def test_no_secret_value_reaches_any_report_or_stream(tmp_path: Path) -> None:
    path, values = _leaky_template(tmp_path)
    plan = json.loads((EXAMPLES / "ml-platform.tfplan.json").read_text())
    plan["resource_changes"][-1]["change"]["after"]["app_settings"]["EXTRA_SECRET"] = "Canary-Tf-Setting-4242"
    plan_path = write(tmp_path / "plan.json", plan)
    runner = CliRunner()
    for args, out in (
        (["--template", str(path), "--parameters", str(values)], tmp_path / "t-out"),
        (["--terraform-plan", str(plan_path)], tmp_path / "p-out"),
    ):
        result = runner.invoke(cli, ["scan", *args, "--out", str(out), "--format", FORMATS, "--fail-on", "none"])
        assert result.exit_code == 0, result.stderr
        written = b"".join(p.read_bytes() for p in out.iterdir())
        assert written, "no report was written"
        for canary in CANARIES:
            assert canary.encode() not in written, canary
            assert canary not in result.stdout + result.stderr, canary
    report = json.loads((tmp_path / "t-out" / "mlwarden-report.json").read_text())
    secrets = {f["resource_name"]: f for f in report["findings"] if f["check_id"] == "MLW-CFG-06"}
    assert secrets["app-leaky"]["status"] == "fail"
    for name in ("DB_PASSWORD", "API_PASSWORD", "SERVICE_TOKEN", "STORAGE"):
        assert name in secrets["app-leaky"]["message"]
    deployment = next(f for f in report["findings"] if f["check_id"] == "MLW-MLDEP-01")
    assert deployment["status"] == "fail" and "DB_PASSWORD" in deployment["message"]


def test_sarif_points_at_the_template_line_and_is_valid(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["scan", "--template", str(EXAMPLES / "ml-platform.json"), "--format", "sarif", "--fail-on", "none"]
    )
    assert result.exit_code == 0, result.stderr
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    results = sarif["runs"][0]["results"]
    assert results
    lines = (EXAMPLES / "ml-platform.json").read_text().splitlines()
    for item in results:
        physical = item["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "examples/iac/ml-platform.json"
        assert lines[physical["region"]["startLine"] - 1].strip() == "{"


def test_example_template_scans_with_its_parameters() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            "--template",
            str(EXAMPLES / "ml-platform.json"),
            "--parameters",
            str(EXAMPLES / "ml-platform.parameters.json"),
            "--fail-on",
            "high",
        ],
    )
    assert result.exit_code == 1, result.stderr  # the example plants a plaintext secret: the gate fails
    assert "Traceback" not in result.stderr
