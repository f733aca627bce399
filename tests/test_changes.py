"""Attribution on the demo and as a pure function: the explaining change, never a decoy or a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from scanner.changes import attribute, from_row
from scanner.cli import cli
from scanner.models import Evidence, Finding, Severity, Status

TARGET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _finding(status: Status = Status.FAIL, path: str = "properties.allowSharedKeyAccess") -> Finding:
    return Finding(
        check_id="MLW-ST-07", resource_id=TARGET, resource_type="microsoft.storage/storageaccounts",
        resource_name="st", status=status, severity=Severity.MEDIUM, title="t", message="m",
        evidence=(Evidence(path=path, value=True),),
    )  # fmt: skip


def _change(days_ago: float, diffs: dict[str, object], kind: str = "Update", by: str = "u") -> object:
    stamp = (NOW - timedelta(days=days_ago)).isoformat()
    return from_row(
        {"properties": {"targetResourceId": TARGET.upper(), "changeType": kind,
                        "changeAttributes": {"timestamp": stamp, "changedBy": by, "clientType": "Azure CLI"},
                        "changes": {k: {"previousValue": v[0], "newValue": v[1]} for k, v in diffs.items()}}}
    )  # fmt: skip


def test_most_recent_explaining_change_wins_over_later_unrelated_ones() -> None:
    changes = [
        _change(5, {"properties.allowSharedKeyAccess": ("False", "True")}, by="first"),
        _change(3, {"properties.allowSharedKeyAccess": ("True", "True")}, by="explains"),
        _change(1, {"tags.owner": ("a", "b")}, by="decoy"),
        _change(20, {"properties.allowSharedKeyAccess": ("x", "y")}, by="outside-window"),
    ]
    (found,) = attribute([_finding()], [c for c in changes if c], now=NOW)  # type: ignore[misc]
    assert found.change is not None and found.change.changed_by == "explains"
    assert found.change.summary().startswith("changed by explains at 2026-10-29 00:00:00Z via Azure CLI")


def test_passing_findings_and_unrelated_changes_get_nothing() -> None:
    changes = [c for c in [_change(1, {"tags.owner": ("a", "b")})] if c]
    assert attribute([_finding(Status.PASS)], changes, now=NOW)[0].change is None  # type: ignore[arg-type]
    assert attribute([_finding()], changes, now=NOW)[0].change is None  # type: ignore[arg-type]


def test_secret_values_are_replaced_by_their_class_where_they_are_read() -> None:
    change = _change(
        1,
        {
            "properties.siteConfig.appSettings.DB_PASSWORD": ("hunter2-canary", "hunter3-canary"),
            "properties.connectionString": ("Server=x;Password=canary-pw;", "ok"),
            "properties.minimumTlsVersion": ("TLS1_2", "TLS1_0"),
        },
    )
    dumped = json.dumps(change.model_dump(mode="json"))  # type: ignore[attr-defined]
    assert "canary" not in dumped
    assert "TLS1_0" in dumped and "<classified: " in dumped


def test_demo_attributes_planted_changes_in_every_medium() -> None:
    report = json.loads(CliRunner().invoke(cli, ["scan", "--demo", "--format", "json", "--fail-on", "none"]).stdout)
    changed = {(f["check_id"], f["resource_name"]): f["change"] for f in report["findings"] if f.get("change")}
    workspace = changed[("MLW-MLWS-01", "mlw-lh-research")]
    assert workspace["changed_by"] == "dana.ito@larkspur-health.example"  # the later tag edit does not hide it
    assert workspace["previous"] == "Disabled" and workspace["new"] == "Enabled"
    assert changed[("MLW-ACR-01", "acrlhresearch")]["change_type"] == "Create"
    assert all(f["status"] == "fail" for f in report["findings"] if f.get("change"))


def test_history_diff_says_who_changed_each_new_failure(tmp_path: object) -> None:
    from pathlib import Path

    db = str(Path(str(tmp_path)) / "scans.db")
    runner = CliRunner()
    production = "3f6c1e2a-8b4d-4c7e-9a15-6d2e0b7c4a91"
    for extra in (["--subscription", production], []):
        result = runner.invoke(cli, ["scan", "--demo", "--fail-on", "none", "--history", db, *extra])
        assert result.exit_code == 0, result.stderr
    text = runner.invoke(cli, ["history", "diff", "--db", db]).stdout
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if "MLW-MLWS-01" in line and "mlw-lh-research" in line)
    assert "changed by dana.ito@larkspur-health.example" in lines[index + 1]
    assert "publicNetworkAccess Disabled -> Enabled" in lines[index + 1]
    as_json = json.loads(runner.invoke(cli, ["history", "diff", "--db", db, "--format", "json"]).stdout)
    attributed = [c for c in as_json["new_failing"] if c["change"]]
    assert attributed and all(c["change"]["changed_by"] for c in attributed)
