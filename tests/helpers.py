"""Test helpers: build an estate from realistic resource JSON and run one check on it."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest import MonkeyPatch

from scanner.estate import Estate
from scanner.inventory import ALL_SOURCES, AppSettingsFacts, Inventory, KeyMetadata, SnapshotHeader
from scanner.models import Finding, Gap, Resource, SourceCoverage, Status
from scanner.registry import load_checks
from scanner.runner import _finding, _verdicts

SUB = "00000000-0000-0000-0000-0000000000a1"
RG = "rg-test"


def rid(provider_type: str, name: str, sub: str = SUB, rg: str = RG) -> str:
    """An ARM id: rid("Microsoft.KeyVault/vaults", "kv1")."""
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"


def resource(type_: str, name: str, properties: Mapping[str, Any] | None = None, **extra: Any) -> Resource:
    """A Resource Graph row. `type_` in ARM casing, e.g. "Microsoft.Storage/storageAccounts"."""
    row: dict[str, Any] = {
        "id": extra.pop("id", None) or rid(type_, name),
        "name": name,
        "type": type_.lower(),
        "location": extra.pop("location", "westeurope"),
        "subscriptionId": extra.pop("subscriptionId", SUB),
        "resourceGroup": extra.pop("resourceGroup", RG),
        "properties": dict(properties) if properties is not None else {},
    }
    row.update(extra)
    return Resource.model_validate(row)


def estate(
    resources: Iterable[Resource],
    *,
    keys: Sequence[KeyMetadata] = (),
    app_settings: Sequence[AppSettingsFacts] = (),
    collected: Iterable[str] = ALL_SOURCES,
    gaps: Sequence[Gap] = (),
) -> Estate:
    """An estate whose header says `collected` sources were read (all, by default)."""
    collected = set(collected)
    sources = tuple(
        SourceCoverage(
            name=name,
            collected=name in collected,
            gaps=tuple(g for g in gaps if g.source == name),
        )
        for name in ALL_SOURCES
    )
    header = SnapshotHeader(tool_version="test", collected_at=datetime(2026, 11, 1, tzinfo=UTC), sources=sources)
    return Estate(Inventory(header=header, resources=list(resources), keys=list(keys), app_settings=list(app_settings)))


def run(check_id: str, target: Resource, est: Estate | None = None) -> list[Finding]:
    """Run one registered check on one resource, the way the runner does."""
    checks = load_checks(plugins=False)
    item = checks[check_id]
    est = est if est is not None else estate([target])
    return [_finding(item, target, est, v) for v in _verdicts(item, target, est)]


def status(check_id: str, target: Resource, est: Estate | None = None) -> Status:
    """The single status of one check on one resource (asserts exactly one verdict)."""
    findings = run(check_id, target, est)
    assert len(findings) == 1, findings
    return findings[0].status


def install_plugin(
    directory: Path, monkeypatch: MonkeyPatch, name: str, check_id: str, body: str, needs: tuple[str, ...] = ()
) -> Path:
    """A third-party distribution whose module registers one storage check (needing the sources
    `needs`) through the `mlwarden.checks` entry point; the registry is restored when the test ends."""
    from scanner import registry

    (directory / f"{name}.py").write_text(
        "from scanner.registry import check, failed\n"
        f"@check(id='{check_id}', title='Plugin rule', kinds=('storage',), severity='high', tags=('logging',),\n"
        f"       pillar='monitoring', rationale='r', remediation='f', needs={needs!r})\n"
        "def plugin_rule(resource, estate):\n"
        f"    {body}\n"
    )
    info = directory / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[mlwarden.checks]\n{name} = {name}\n")
    monkeypatch.syspath_prepend(str(directory))
    registry.load_checks(plugins=False)  # built-ins first, so the copy restored afterwards holds them
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return directory / f"{name}.py"


def refused_demo_scan(tmp_path: Path, monkeypatch: MonkeyPatch, args: list[str]) -> str:
    """stderr of `scan --demo` with `args`, run in `tmp_path` without a history, asserted to be
    exit 2 with one line."""
    from click.testing import CliRunner

    from scanner.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["scan", "--demo", "-q", "--fail-on", "none", *args],
        catch_exceptions=False,
        env={"MLWARDEN_HISTORY": None},
    )
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr
