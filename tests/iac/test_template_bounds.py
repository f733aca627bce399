"""Hostile templates: what would exhaust the machine (copy loops of nested deployments of copy
loops, `padLeft(x, 2000000000)`, a string doubled sixty times, an array of itself turned into text,
expressions nested thousands deep) is one `mlwarden: error:` line naming the file (exit 2), found
before it costs more than a bounded number of steps; Bicep extension objects are not ARM resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.iac import arm_expr
from tests.iac.conftest import by, findings, scan, template, write


def _storage(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": name,
        "location": "westeurope",
        "kind": "StorageV2",
        "properties": properties,
    }


def _chain(first: Any, step: str, length: int) -> dict[str, Any]:
    """Variables v0..vN, each `step` applied to the one before (`concat(variables('v0'), variables('v0'))`)."""
    chain: dict[str, Any] = {"v0": first}
    for i in range(1, length):
        previous = f"variables('v{i - 1}')"
        chain[f"v{i}"] = "[" + step.format(previous) + "]"
    return chain


def _deployments(count: int, inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "[concat('d', copyIndex())]",
        "copy": {"name": "outer", "count": count},
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": {"scope": "inner"},
            "template": template(inner),
        },
    }


BOMBS = [
    (template(_storage("[padLeft('a', 2000000000)]")), "is not 0..4194304"),
    (template(_storage("[string(length(range(0, 2000000000)))]")), "is not 0..10000"),
    (
        template(_storage("[string(length(variables('v59')))]"), variables=_chain("abcdefgh", "concat({0}, {0})", 60)),
        "result too large",
    ),
    (
        template(
            _storage("[string(length(string(variables('v79'))))]"), variables=_chain(["a"], "createArray({0}, {0})", 80)
        ),
        "value too large to turn into a string",
    ),
    (template(_storage("[string(variables('v79'))]"), variables=_chain(3, "mul({0}, {0})", 80)), "integer overflow"),
    (template(_storage("[" + "concat(" * 3000 + "'a'" + ")" * 3000 + "]")), "nested too deeply to evaluate"),
]


@pytest.mark.parametrize(("document", "message"), BOMBS)
def test_a_template_that_would_exhaust_the_machine_is_refused(tmp_path: Path, document: Any, message: str) -> None:
    path = write(tmp_path / "bomb.json", document)
    result = CliRunner().invoke(cli, ["scan", "--template", str(path), "--format", "json"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"mlwarden: error: {path}") and message in line, line


def test_copy_loops_of_nested_deployments_spend_one_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """800 deployments of 800 of 800 storage accounts is 512 million resources: the budget, shared by
    every nested scope, stops it (a smaller budget here, so the test stays quick)."""
    monkeypatch.setattr(arm_expr, "MAX_STEPS", 50_000)
    leaf = {
        **_storage("[concat('st', uniqueString(deployment().name), copyIndex())]"),
        "copy": {"name": "c", "count": 800},
    }
    bomb = template(_deployments(800, _deployments(800, leaf)))
    result = CliRunner().invoke(
        cli, ["scan", "--template", str(write(tmp_path / "bomb.json", bomb)), "--format", "json"]
    )
    assert result.exit_code == 2, result.output
    assert "not a template ARM would deploy: evaluating it takes more than 50,000 steps" in result.stderr
    # the same budget leaves an ordinary template alone
    found = findings(
        scan("--template", str(write(tmp_path / "fine.json", template(_deployments(1, _storage("stfine"))))))
    )
    assert [f["status"] for f in found if f["check_id"] == "MLW-ST-02"] == ["fail"]


def test_bicep_extension_objects_are_not_arm_resources(tmp_path: Path) -> None:
    """languageVersion 2.0 with a Microsoft Graph extension: a group has no ARM `name`, and is not audited."""
    document = {
        **template(),
        "languageVersion": "2.0",
        "imports": {"microsoftGraph": {"provider": "MicrosoftGraph", "version": "1.0.0"}},
        "resources": {
            "group": {
                "import": "microsoftGraph",
                "type": "Microsoft.Graph/groups@v1.0",
                "properties": {"uniqueName": "ml"},
            },
            "app": {"extension": "microsoftGraph", "type": "Microsoft.Graph/applications@v1.0", "uniqueName": "ml-app"},
            "store": _storage("stgraph", minimumTlsVersion="TLS1_0"),
        },
    }
    found = findings(scan("--template", str(write(tmp_path / "main.json", document))))
    assert by(found, "MLW-ST-02")["status"] == "fail"
    assert not [f for f in found if "graph" in f["resource_type"].lower() or f["resource_name"].startswith("ml")]
