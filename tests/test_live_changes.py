"""Who changed it, live: the scanner reads `resourcechanges` from the fake through the real SDK."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scanner.changes import from_row
from scanner.cli import cli
from scanner.engine import failing_resources, scan
from scanner.inventory import RESOURCE_CHANGES, Inventory
from scanner.policy import Waiver
from scanner.registry import load_checks
from tests.azure_fake import AzureFake
from tests.azure_fake.estate import change_row
from tests.azure_fake.harness import env
from tests.azure_fake.sample import sample_inventory
from tests.helpers import install_plugin

CANARY_OLD = "Canary-Old-Value-5a6b7c"
CANARY_NEW = "Canary-New-Value-8d9e0f"


def _stamp(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _raw(
    target: str, kind: str, days_ago: float, by: str, client: str, diffs: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": f"{target}/providers/Microsoft.Resources/changes/{by}-{days_ago}",
        "type": "microsoft.resources/changes",
        "subscriptionId": target.split("/")[2],
        "properties": {
            "targetResourceId": target,
            "changeType": kind,
            "changeAttributes": {
                "timestamp": _stamp(days_ago),
                "changedBy": by,
                "changedByType": "User",
                "clientType": client,
                "operation": "Microsoft.Resources/write",
                "correlationId": f"corr-{by}",
            },
            "changes": diffs or {},
        },
    }


def _plan(inventory: Inventory) -> dict[str, Any]:
    """A failing finding to explain, plus a decoy, a secret-setting change and a resource created in the window."""
    from scanner.estate import Estate
    from scanner.runner import run_checks

    found = [f for f in run_checks(Estate(inventory), load_checks(plugins=False)) if f.status.value == "fail"]
    explained = next(
        f
        for f in found
        if f.evidence and f.evidence[0].path.startswith("properties.") and " " not in f.evidence[0].path
    )
    created = next(f for f in found if f.resource_id != explained.resource_id)
    path = explained.evidence[0].path
    return {
        "explained": explained,
        "created": created,
        "rows": [
            _raw(explained.resource_id, "Update", 3, "dana@example.org", "Azure Portal",
                 {path: {"previousValue": "Before", "newValue": "After", "propertyChangeType": "Update"}}),
            _raw(explained.resource_id, "Update", 1, "tagger", "Azure Policy",
                 {"tags.owner": {"previousValue": "a", "newValue": "b", "propertyChangeType": "Update"}}),
            _raw(explained.resource_id, "Update", 2, "leaky@example.org", "Azure CLI",
                 {"properties.siteConfig.appSettings.DB_PASSWORD": {"previousValue": CANARY_OLD, "newValue": CANARY_NEW,
                                                                      "propertyChangeType": "Update"},
                  "properties.note": {"previousValue": f"Password={CANARY_OLD}", "newValue": "x",
                                      "propertyChangeType": "Update"}}),
            _raw(created.resource_id, "Create", 5, "pipeline", "ARM Template"),
            _raw(created.resource_id, "Update", 30, "too-old", "Azure Portal"),
        ],
    }  # fmt: skip


@pytest.fixture
def planted() -> Iterator[tuple[AzureFake, dict[str, Any]]]:
    inventory = sample_inventory()
    plan = _plan(inventory)
    with AzureFake(inventory) as fake:
        fake.estate.tables["resourcechanges"] = plan["rows"]
        yield fake, plan


def _scan(fake: AzureFake, tmp_path: Path, *extra: str) -> Result:
    args = [
        "scan", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
        "--no-keyvault", "--fail-on", "none", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, env=env(fake, tmp_path))


def test_failures_are_attributed_to_the_change_that_explains_them(
    planted: tuple[AzureFake, dict[str, Any]], tmp_path: Path
) -> None:
    fake, plan = planted
    out = tmp_path / "out"
    result = _scan(fake, tmp_path, "--out", str(out), "--format", "json,markdown,csv,sarif,html")
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "mlwarden-report.json").read_text())
    explained = plan["explained"]
    finding = next(f for f in report["findings"] if f["fingerprint"] == explained.fingerprint)
    change = finding["change"]
    assert change["changed_by"] == "dana@example.org"  # not hidden by the later tag edit
    assert change["client_type"] == "Azure Portal" and change["change_type"] == "Update"
    assert change["property"] == explained.evidence[0].path and change["new"] == "After"
    assert datetime.fromisoformat(change["time"]).tzinfo is not None
    created = [
        f for f in report["findings"] if f["resource_id"] == plan["created"].resource_id and f["status"] == "fail"
    ]
    assert created and all(f["change"]["change_type"] == "Create" for f in created)
    assert all(f.get("change") is None for f in report["findings"] if f["status"] != "fail")
    assert fake.counts["graph:resourcechanges"] == 1  # one paged query for all failing resources
    written = b"".join(p.read_bytes() for p in out.iterdir())
    assert CANARY_OLD.encode() not in written and CANARY_NEW.encode() not in written
    assert CANARY_OLD not in result.output and CANARY_NEW not in result.output
    for name in ("mlwarden-report.md", "mlwarden-report.html", "mlwarden-report.csv"):
        assert "dana@example.org" in (out / name).read_text(), name
    assert "changed_by,changed_at,change_client" in (out / "mlwarden-report.csv").read_text().splitlines()[0]


def test_a_refused_table_is_an_advisory_gap_that_never_changes_the_exit_code(
    planted: tuple[AzureFake, dict[str, Any]], tmp_path: Path
) -> None:
    fake, _ = planted
    baseline = _scan(fake, tmp_path, "--format", "json")
    for status in (403, 400):
        fake.faults.changes_refused = status
        result = _scan(fake, tmp_path, "--format", "json")
        assert result.exit_code == baseline.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        coverage = next(s for s in report["sources"] if s["name"] == "resource_changes")
        assert coverage["gaps"] and coverage["gaps"][0]["source"] == "resource_changes"
        assert all(f.get("change") is None for f in report["findings"])
        assert "scan incomplete" not in result.stderr


def test_collect_writes_changes_into_the_snapshot_and_a_rescan_attributes_the_same(
    planted: tuple[AzureFake, dict[str, Any]], tmp_path: Path
) -> None:
    fake, plan = planted
    snapshot = tmp_path / "estate.jsonl"
    args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
            "--no-keyvault", "--out", str(snapshot)]  # fmt: skip
    assert CliRunner().invoke(cli, args, env=env(fake, tmp_path)).exit_code == 0
    text = snapshot.read_text()
    assert '"record":"change"' in text and CANARY_OLD not in text and CANARY_NEW not in text
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--format", "json", "--fail-on", "none"])
    report = json.loads(result.stdout)
    finding = next(f for f in report["findings"] if f["fingerprint"] == plan["explained"].fingerprint)
    assert finding["change"]["changed_by"] == "dana@example.org"


@pytest.mark.parametrize("value", ["15d", "0h", "soon", "-1d"])
def test_changes_since_is_validated_before_anything_is_read(value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["scan", "--changes-since", value, "--arm-endpoint", "https://127.0.0.1:9"])
    assert result.exit_code == 2 and "--changes-since" in result.stderr


def test_fake_rows_round_trip_through_the_parser() -> None:
    inventory = sample_inventory()
    ids = failing_resources(inventory, load_checks(plugins=False))
    assert ids
    row = _raw(ids[0], "Update", 1, "x", "Azure CLI", {"properties.a": {"previousValue": 1, "newValue": 2}})
    parsed = from_row(row)
    assert parsed is not None and from_row(change_row(parsed)) == parsed


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """Two plugin storage checks that note each call in a file: COUNTED-01, and SEEN-01, which needs
    `resource_changes` and says what coverage of it the estate shows."""
    counted, seen = tmp_path / "counted-calls", tmp_path / "seen-calls"
    install_plugin(
        tmp_path, monkeypatch, "counted_checks", "COUNTED-01",
        f"open({str(counted)!r}, 'a').write(resource.id + chr(10)); return failed('counted')",
    )  # fmt: skip
    install_plugin(
        tmp_path, monkeypatch, "seen_checks", "SEEN-01",
        f"open({str(seen)!r}, 'a').write(resource.id + chr(10)); c = estate.coverage.get('resource_changes'); "
        "return failed('resource_changes collected=%s records=%s gaps=%s' % (c.collected, c.records, len(c.gaps)))",
        needs=(RESOURCE_CHANGES,),
    )  # fmt: skip
    yield counted, seen
    for name in ("counted_checks", "seen_checks"):
        sys.modules.pop(name, None)


def _storage_ids(report: dict[str, Any]) -> list[str]:
    return sorted(
        {f["resource_id"] for f in report["findings"] if f["resource_type"] == "microsoft.storage/storageaccounts"}
    )


def test_a_live_scan_reports_what_collect_then_a_snapshot_scan_reports(
    planted: tuple[AzureFake, dict[str, Any]], plugins: tuple[Path, Path], tmp_path: Path
) -> None:
    """The old way round, checks run to name the failing resources, then changes read, then a scan of
    the result, is what `collect` + `scan --snapshot` still do: a live scan, which runs its checks
    once, reports the same findings (order, verdicts, attributions) and sources."""
    fake, plan = planted
    pack = tmp_path / "pack"
    live = _scan(fake, tmp_path, "--format", "json", "--evidence-pack", str(pack))
    assert live.exit_code == 0, live.stderr
    snapshot = tmp_path / "estate.jsonl"
    args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
            "--no-keyvault", "--out", str(snapshot)]  # fmt: skip
    assert CliRunner().invoke(cli, args, env=env(fake, tmp_path)).exit_code == 0
    rescan = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--format", "json", "--fail-on", "none"])
    assert rescan.exit_code == 0, rescan.stderr
    now, then = json.loads(live.stdout), json.loads(rescan.stdout)
    assert now["findings"] == then["findings"]
    packed = CliRunner().invoke(cli, ["scan", "--snapshot", str(pack / "snapshot.jsonl.gz"), "--format", "json"])
    assert json.loads(packed.stdout)["findings"] == now["findings"]  # the pack's snapshot holds the changes too
    assert now["sources"] == then["sources"] and now["postures"] == then["postures"]
    assert now["frameworks"] == then["frameworks"]
    attributed = {f["fingerprint"]: f["change"]["changed_by"] for f in now["findings"] if f.get("change")}
    assert attributed[plan["explained"].fingerprint] == "dana@example.org"
    seen = [f for f in now["findings"] if f["check_id"] == "SEEN-01"]
    assert [f["status"] for f in seen] == ["fail"] * len(_storage_ids(now))


def test_a_live_scan_runs_each_check_once_per_resource(
    planted: tuple[AzureFake, dict[str, Any]], plugins: tuple[Path, Path], tmp_path: Path
) -> None:
    fake, _ = planted
    result = _scan(fake, tmp_path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    storage = _storage_ids(json.loads(result.stdout))
    counted, seen = plugins
    assert storage and sorted(counted.read_text().splitlines()) == storage
    # Needing changes, it is not called before they are read (`unknown` then), and once after.
    assert sorted(seen.read_text().splitlines()) == storage
    assert fake.counts["graph:resourcechanges"] == 1


def test_a_check_needing_resource_changes_is_judged_on_the_coverage_read_after_the_checks(
    planted: tuple[AzureFake, dict[str, Any]], plugins: tuple[Path, Path], tmp_path: Path
) -> None:
    fake, _ = planted
    _, calls = plugins
    result = _scan(fake, tmp_path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    coverage = next(s for s in report["sources"] if s["name"] == RESOURCE_CHANGES)
    assert coverage["records"] == len(planted[1]["rows"]) - 1 and not coverage["gaps"]  # the 30-day-old one is out
    seen = {f["resource_id"]: f for f in report["findings"] if f["check_id"] == "SEEN-01"}
    assert sorted(seen) == _storage_ids(report)
    said = f"resource_changes collected=True records={coverage['records']} gaps=0"
    assert all(f["status"] == "fail" and f["message"] == said for f in seen.values())
    # Refused: a gap of that source covering the resources, so the check cannot judge and is not called.
    called = calls.read_text()
    fake.faults.changes_refused = 403
    result = _scan(fake, tmp_path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    refused = [f for f in json.loads(result.stdout)["findings"] if f["check_id"] == "SEEN-01"]
    assert len(refused) == len(seen) and calls.read_text() == called
    assert all(f["status"] == "unknown" and f["message"] == "coverage gap: HTTP 403 Forbidden" for f in refused)


def test_the_resources_asked_about_are_those_with_a_failing_finding_before_filters_waivers_or_baseline() -> None:
    inventory = sample_inventory()
    checks = load_checks(plugins=False)
    expected = failing_resources(inventory, checks)
    asked: list[list[str]] = []

    def after_checks(failing: list[str]) -> Inventory:
        asked.append(failing)
        return inventory

    everything = [Waiver(check_id, "*", "accepted", "owner", date(2099, 1, 1), 1) for check_id in checks]
    accepted = frozenset(f.fingerprint for f in scan(inventory, origin="azure", checks=checks, frameworks=[]).findings)
    result = scan(
        inventory, origin="azure", checks=checks, frameworks=[], waivers=everything, baseline=accepted,
        min_severity="critical", after_checks=after_checks,
    )  # fmt: skip
    assert asked == [expected] and len(expected) > 1
    assert {f.resource_id for f in result.findings if f.status.value == "fail"} < set(expected)


def test_changes_a_query_did_not_ask_for_are_left_out(
    planted: tuple[AzureFake, dict[str, Any]], tmp_path: Path
) -> None:
    """A service that ignores the query's `where` sends every change: the 30-day-old one, and changes to
    resources that do not fail, were counted and could explain a failure they predate."""
    fake, plan = planted
    fake.estate.tables["resourcechanges"].append(
        _raw(plan["explained"].resource_id + "-elsewhere", "Update", 1, "other", "Azure Portal")
    )
    fake.wire.graph_unfiltered = True
    result = _scan(fake, tmp_path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    coverage = next(s for s in report["sources"] if s["name"] == RESOURCE_CHANGES)
    assert coverage["records"] == len(plan["rows"]) - 2 and not coverage["gaps"]  # the old one and the other are out
    assert not [f for f in report["findings"] if (f.get("change") or {}).get("changed_by") in ("too-old", "other")]
