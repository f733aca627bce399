"""Run the real CLI over resource records shaped as public references show them.

Each case is our own small record reproducing a shape seen in a public reference (an Azure REST API
spec example, a PSRule for Azure test resource, a Checkov test case, an Azure Policy condition),
scanned as a snapshot (what `mlwarden collect` writes) or as an ARM template resource.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scanner.cli import cli
from scanner.inventory import ALL_SOURCES, Inventory, SnapshotHeader
from scanner.models import Resource, SourceCoverage
from scanner.snapshot import write_snapshot

SUB = "00000000-0000-0000-0000-0000000000f1"
RG = "rg-ref"


def arm_id(provider_type: str, name: str) -> str:
    """The ARM id of `name` (slashes in `name` for a child: "ws/computes/c1" under its parent type)."""
    parts = name.split("/")
    types = provider_type.split("/")
    path = "/".join(f"{t}/{n}" for t, n in zip([types[0] + "/" + types[1], *types[2:]], parts, strict=True))
    return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/{path}"


def record(provider_type: str, name: str, properties: dict[str, Any] | None = None, **envelope: Any) -> dict[str, Any]:
    """An ARM GET body (as the REST spec examples show it) for `name` of `provider_type`."""
    return {
        "id": arm_id(provider_type, name),
        "name": name.rsplit("/", 1)[-1],
        "type": provider_type,
        "location": "westeurope",
        "properties": properties if properties is not None else {},
        **envelope,
    }


def _row(body: dict[str, Any]) -> Resource:
    """A Resource Graph row from an ARM body: ARG lower-cases `type` and adds the scope fields."""
    row = {**body, "type": body["type"].lower(), "subscriptionId": SUB, "resourceGroup": RG}
    return Resource.model_validate(row)


def _scan(args: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    result = CliRunner().invoke(cli, ["scan", *args, "--fail-on", "none", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for finding in json.loads(result.stdout)["findings"]:
        found.setdefault((finding["check_id"], finding["resource_name"]), []).append(finding)
    return found


def scan_snapshot(tmp_path: Path, *bodies: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Findings by (check id, resource name) for a snapshot holding `bodies`, every source collected."""
    sources = tuple(SourceCoverage(name=name, collected=True) for name in ALL_SOURCES)
    header = SnapshotHeader(tool_version="ref", collected_at=datetime(2026, 11, 1, tzinfo=UTC), sources=sources)
    path = tmp_path / "reference.jsonl"
    write_snapshot(Inventory(header=header, resources=[_row(b) for b in bodies]), path)
    return _scan(["--snapshot", str(path)])


def scan_template(tmp_path: Path, *resources: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Findings by (check id, resource name) for an ARM template declaring `resources`."""
    document = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": list(resources),
    }
    path = tmp_path / "main.json"
    path.write_text(json.dumps(document))
    return _scan(["--template", str(path)])


def as_template(body: dict[str, Any], api_version: str) -> dict[str, Any]:
    """The template resource declaring what `body` shows (read-only envelope fields dropped)."""
    declared = {k: v for k, v in body.items() if k != "id"}
    target, _, own = body["id"].rpartition("/providers/")
    if "/providers/" in target:  # an extension resource (a diagnostic setting): declared with `scope`
        namespace, *pairs = target.split("/providers/", 1)[1].split("/")
        types, names = "/".join([namespace, *pairs[0::2]]), "', '".join(pairs[1::2])
        declared["scope"] = f"[resourceId('{types}', '{names}')]"
    segments = own.split("/")[1:]  # type/name pairs after the namespace
    return {**declared, "name": "/".join(segments[1::2]), "apiVersion": api_version}


def status(found: dict[tuple[str, str], list[dict[str, Any]]], check_id: str, name: str) -> str:
    """The one status of `check_id` on resource `name`."""
    findings = found.get((check_id, name), [])
    assert len(findings) == 1, (check_id, name, findings)
    return str(findings[0]["status"])
