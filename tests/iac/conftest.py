"""Helpers for IaC tests: write a template or plan, scan it through the CLI, read the JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from scanner.cli import cli

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def template(*resources: dict[str, Any], parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": parameters or {},
        "resources": list(resources),
        **extra,
    }


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def scan(*args: str) -> Result:
    return CliRunner().invoke(cli, ["scan", *args, "--fail-on", "none", "--format", "json"], catch_exceptions=False)


def findings(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout)["findings"])


def by(found: list[dict[str, Any]], check_id: str, name: str | None = None) -> dict[str, Any]:
    matches = [f for f in found if f["check_id"] == check_id and (name is None or f["resource_name"] == name)]
    assert len(matches) == 1, [(f["check_id"], f["resource_name"]) for f in matches]
    return matches[0]
