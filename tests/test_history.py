"""The scan history store and `mlwarden history`: two scheduled scans of a small ML estate, diffed."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.cli_history import history
from scanner.errors import InputError
from scanner.history import APPLICATION_ID, SCHEMA_VERSION, FindingChange, diff, latest_two, record, scans
from scanner.models import (
    ControlResult,
    ControlStatus,
    Evidence,
    Finding,
    FrameworkResult,
    ScanResult,
    ScanScope,
    Severity,
    SourceCoverage,
    Status,
)

SUB = "3f2c9a6e-5b1d-4c8e-9a7f-0e1d2c3b4a51"
SUB_SHARED = "8d7e6f5a-4b3c-4d2e-8f1a-9b0c1d2e3f41"
SECRET = "Server=tcp:sql-claims.database.windows.net;Password=Sup3r-S3cret-Canary!"
JUSTIFICATION = "legacy batch job migrating in Q1 (ticket DP-4411)"


def arm_id(provider_type: str, name: str, rg: str = "rg-ml-prod", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"


WORKSPACE = arm_id("Microsoft.MachineLearningServices/workspaces", "mlw-claims")
ENDPOINT = f"{WORKSPACE}/onlineEndpoints/ep-triage"
VAULT = arm_id("Microsoft.KeyVault/vaults", "kv-claims")
SHARED_VAULT = arm_id("Microsoft.KeyVault/vaults", "kv-shared", rg="rg-shared", sub=SUB_SHARED)
STORAGE = arm_id("Microsoft.Storage/storageAccounts", "stclaimsml")
WEBAPP = arm_id("Microsoft.Web/sites", "app-claims-portal")
AKS = arm_id("Microsoft.ContainerService/managedClusters", "aks-inference")

SEVERITY = {
    "MLW-WS-001": Severity.HIGH,
    "MLW-WS-003": Severity.MEDIUM,
    "MLW-EP-001": Severity.HIGH,
    "MLW-ST-002": Severity.CRITICAL,
    "MLW-KV-001": Severity.MEDIUM,
    "MLW-KV-003": Severity.MEDIUM,
    "MLW-APP-001": Severity.LOW,
    "MLW-APP-004": Severity.HIGH,
    "MLW-AKS-002": Severity.CRITICAL,
}


def finding(check_id: str, resource_id: str, status: Status, message: str, **extra: Any) -> Finding:
    detail_key = extra.pop("detail_key", None)
    segments = resource_id.split("/providers/", 1)[1].split("/")
    return Finding(
        check_id=check_id,
        resource_id=resource_id,
        resource_type="/".join([segments[0], *segments[1::2]]).lower(),
        resource_name=resource_id.rsplit("/", 1)[-1],
        subscription_id=resource_id.split("/")[2],
        status=status,
        severity=SEVERITY[check_id],
        title=f"{check_id} title",
        message=message,
        detail_key=detail_key,
        fingerprint=Finding.make_fingerprint(check_id, resource_id, detail_key),
        **extra,
    )


def frameworks(hipaa_fail: int, gdpr_fail: int) -> tuple[FrameworkResult, ...]:
    def controls(fw: str, failing: int, passing: int, manual: int) -> tuple[ControlResult, ...]:
        counts: dict[ControlStatus, int] = {"fail": failing, "pass": passing, "manual": manual, "not_assessed": 1}
        statuses = [status for status, count in counts.items() for _ in range(count)]
        return tuple(
            ControlResult(framework_id=fw, control_id=f"c{i}", title=f"control {i}", status=s)
            for i, s in enumerate(statuses)
        )

    return (
        FrameworkResult(id="gdpr", name="GDPR", version="2016/679", controls=controls("gdpr", gdpr_fail, 3, 2)),
        FrameworkResult(
            id="hipaa-security-rule",
            name="HIPAA Security Rule",
            version="45 CFR 164 Subpart C",
            controls=controls("hipaa-security-rule", hipaa_fail, 4, 1),
        ),
    )


def scan_result(
    findings: tuple[Finding, ...],
    *,
    day: int,
    subscriptions: tuple[str, ...] = (SUB, SUB_SHARED),
    fw: tuple[FrameworkResult, ...] = (),
) -> ScanResult:
    return ScanResult(
        tool_version="0.1.0",
        generated_at=datetime(2026, 11, day, 6, 0, tzinfo=UTC),
        scope=ScanScope(
            origin="azure", description="tenant contoso-health, 2 subscriptions", subscriptions=subscriptions
        ),
        sources=(SourceCoverage(name="resources", collected=True, records=9),),
        resource_count=9,
        resource_counts_by_kind={"ml-workspace": 1, "key-vault": 2, "web-app": 1, "aks": 1},
        checks=(),
        findings=findings,
        frameworks=fw,
    )


MONDAY = scan_result(
    (
        finding(
            "MLW-WS-001",
            WORKSPACE,
            Status.FAIL,
            "publicNetworkAccess is Enabled",
            evidence=(Evidence(path="properties.publicNetworkAccess", value="Enabled"),),
        ),
        finding("MLW-WS-003", WORKSPACE, Status.FAIL, "encryption uses Microsoft-managed keys"),
        finding("MLW-EP-001", ENDPOINT, Status.FAIL, "authMode is Key"),
        finding(
            "MLW-ST-002",
            STORAGE,
            Status.FAIL,
            "allowSharedKeyAccess is not false",
            waived_by=f"data-platform team until 2027-01-31: {JUSTIFICATION}",
        ),
        finding("MLW-KV-001", SHARED_VAULT, Status.FAIL, "purge protection is off"),
        finding("MLW-KV-001", VAULT, Status.PASS, "purge protection is on"),
        finding(
            "MLW-KV-003", VAULT, Status.FAIL, "key cmk-workspace has no rotation policy", detail_key="cmk-workspace"
        ),
        finding("MLW-APP-004", WEBAPP, Status.UNKNOWN, "app settings were not collected", detail_key="DB_PASSWORD"),
        finding("MLW-APP-001", WEBAPP, Status.PASS, "minTlsVersion is 1.2"),
    ),
    day=23,
    fw=frameworks(hipaa_fail=3, gdpr_fail=2),
)

TUESDAY = scan_result(
    (
        finding("MLW-WS-001", WORKSPACE, Status.PASS, "publicNetworkAccess is Disabled"),
        finding("MLW-WS-003", WORKSPACE, Status.FAIL, "encryption uses Microsoft-managed keys"),
        finding("MLW-EP-001", ENDPOINT, Status.FAIL, "authMode is Key"),
        finding(
            "MLW-ST-002",
            STORAGE,
            Status.FAIL,
            "allowSharedKeyAccess is not false",
            waived_by=f"data-platform team until 2027-01-31: {JUSTIFICATION}",
        ),
        finding("MLW-KV-001", SHARED_VAULT, Status.UNKNOWN, "vault is in a subscription that could not be read"),
        finding("MLW-KV-001", VAULT, Status.PASS, "purge protection is on"),
        finding(
            "MLW-KV-003", VAULT, Status.PASS, "key cmk-workspace rotates automatically", detail_key="cmk-workspace"
        ),
        finding("MLW-KV-003", VAULT, Status.FAIL, "key cmk-storage has no rotation policy", detail_key="cmk-storage"),
        finding(
            "MLW-APP-004",
            WEBAPP,
            Status.FAIL,
            "DB_PASSWORD holds a plaintext secret",
            detail_key="DB_PASSWORD",
            evidence=(Evidence(path="appSettings.DB_PASSWORD", value=SECRET),),
        ),
        finding("MLW-APP-001", WEBAPP, Status.PASS, "minTlsVersion is 1.2"),
        finding("MLW-AKS-002", AKS, Status.FAIL, "local accounts are enabled"),
        finding(
            "MLW-ST-002",
            arm_id("Microsoft.Storage/storageAccounts", "stfeatures"),
            Status.FAIL,
            "allowSharedKeyAccess is not false",
            waived_by=f"data-platform team until 2027-01-31: {JUSTIFICATION}",
        ),
    ),
    day=24,
    fw=frameworks(hipaa_fail=2, gdpr_fail=2),
)


def subjects(changes: tuple[FindingChange, ...]) -> set[tuple[str, str, str | None, str | None, str | None]]:
    """(check, resource name, detail key, before, after) for each change: what a reader of the diff sees."""
    return {
        (
            c.check_id,
            c.resource_id.rsplit("/", 1)[-1],
            c.detail_key,
            c.before.value if c.before else None,
            c.after.value if c.after else None,
        )
        for c in changes
    }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history" / "mlwarden.db"
    assert record(MONDAY, path) == 1
    assert record(TUESDAY, path) == 2
    return path


def test_a_waiver_added_or_taken_away_between_scans_is_named(db: Path) -> None:
    """Failing both times, so no status moves, yet the open counts do: the diff names each one."""
    wednesday = scan_result(
        tuple(
            f.model_copy(
                update={"waived_by": "ml team until 2027-02-28: accepted" if f.check_id == "MLW-WS-003" else None}
            )
            if f.check_id in {"MLW-WS-003", "MLW-ST-002"} and f.resource_id in {WORKSPACE, STORAGE}
            else f
            for f in TUESDAY.findings
        ),
        day=25,
        fw=frameworks(hipaa_fail=2, gdpr_fail=2),
    )
    assert record(wednesday, db) == 3
    changes = diff(db, 2, 3)
    accepted = {(c.check_id, c.waived_before, c.waived) for c in changes.acceptance_changes}
    assert accepted == {("MLW-WS-003", False, True), ("MLW-ST-002", True, False)}
    assert not changes.new_failing and not changes.fixed and not changes.status_changes
    out = invoke("diff", "--db", str(db), "2", "3").stdout
    assert "waiver or baseline changed: 2" in out
    assert f"{WORKSPACE}  open -> waived" in out and f"{STORAGE}  waived -> open" in out
    document = json.loads(invoke("diff", "--db", str(db), "2", "3", "--format", "json").stdout)
    assert document["counts"]["acceptance_changes"] == 2
    assert {c["check_id"] for c in document["acceptance_changes"]} == {"MLW-WS-003", "MLW-ST-002"}
    assert diff(db, 1, 2).acceptance_changes == ()  # waived both times is no change


def invoke(*args: str) -> Result:
    return CliRunner().invoke(history, list(args), catch_exceptions=False)


def one_error_line(result: Result, *needles: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0]


# --- the store -------------------------------------------------------------------------------


def test_diff_of_two_scans_sorts_every_changed_finding_into_one_section(db: Path) -> None:
    changes = diff(db, 1, 2)

    assert subjects(changes.new_failing) == {
        ("MLW-AKS-002", "aks-inference", None, None, "fail"),
        ("MLW-ST-002", "stfeatures", None, None, "fail"),
        ("MLW-KV-003", "kv-claims", "cmk-storage", None, "fail"),
        ("MLW-APP-004", "app-claims-portal", "DB_PASSWORD", "unknown", "fail"),
    }
    assert subjects(changes.fixed) == {
        ("MLW-WS-001", "mlw-claims", None, "fail", None),
        ("MLW-KV-003", "kv-claims", "cmk-workspace", "fail", None),
    }
    assert subjects(changes.still_failing) == {
        ("MLW-WS-003", "mlw-claims", None, "fail", "fail"),
        ("MLW-EP-001", "ep-triage", None, "fail", "fail"),
        ("MLW-ST-002", "stclaimsml", None, "fail", "fail"),
    }
    # A vault that could no longer be read is a coverage loss, not a fix.
    assert subjects(changes.status_changes) == {("MLW-KV-001", "kv-shared", None, "fail", "unknown")}
    assert [c.severity for c in changes.new_failing] == sorted(
        (c.severity for c in changes.new_failing), key=lambda s: -s.rank
    )


def test_new_failures_that_gate_exclude_waived_ones(db: Path) -> None:
    changes = diff(db, 1, 2)

    assert subjects(changes.new_failing_at(Severity.CRITICAL)) == {("MLW-AKS-002", "aks-inference", None, None, "fail")}
    assert {c.check_id for c in changes.new_failing_at(Severity.MEDIUM)} == {"MLW-AKS-002", "MLW-APP-004", "MLW-KV-003"}
    assert next(c for c in changes.still_failing if c.check_id == "MLW-ST-002").waived


def test_scans_summarise_counts_frameworks_and_scope(db: Path) -> None:
    monday, tuesday = scans(db)

    assert (monday.id, tuesday.id) == (1, 2)
    assert monday.generated_at == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert (monday.origin, monday.scope, monday.cloud) == ("azure", "tenant contoso-health, 2 subscriptions", "public")
    assert monday.subscriptions == (SUB, SUB_SHARED)
    assert dict(monday.status_counts) == {"pass": 2, "fail": 6, "error": 0, "not_applicable": 0, "unknown": 1}
    # The waived critical does not count as failing; everything else does.
    assert dict(monday.failing_by_severity) == {"critical": 0, "high": 2, "medium": 3, "low": 0, "info": 0}
    assert dict(tuesday.failing_by_severity) == {"critical": 1, "high": 2, "medium": 2, "low": 0, "info": 0}
    assert (monday.waived, tuesday.waived) == (1, 2)
    assert dict(monday.frameworks["hipaa-security-rule"]) == {
        "version": "45 CFR 164 Subpart C",
        "pass": 4,
        "fail": 3,
        "manual": 1,
        "not_assessed": 1,
    }
    assert tuesday.frameworks["hipaa-security-rule"]["fail"] == 2
    assert latest_two(db) == (1, 2)


def test_the_db_keeps_no_evidence_values_messages_or_justifications(db: Path) -> None:
    stored = db.read_bytes()

    assert b"Sup3r-S3cret-Canary" not in stored
    assert b"plaintext secret" not in stored
    assert b"publicNetworkAccess" not in stored
    assert JUSTIFICATION.encode() not in stored
    assert WORKSPACE.encode() in stored  # ids are what it is for


def test_a_hundred_thousand_findings_store_compactly_and_passes_are_only_counted(tmp_path: Path) -> None:
    findings = tuple(
        finding(
            "MLW-KV-001",
            arm_id("Microsoft.KeyVault/vaults", f"kv-{index:06d}", rg=f"rg-team-{index % 40:02d}"),
            Status.FAIL if index % 100 == 0 else Status.PASS,
            "purge protection is off" if index % 100 == 0 else "purge protection is on",
        )
        for index in range(100_000)
    )
    large = scan_result(findings, day=24)
    path = tmp_path / "large.db"

    record(large, path)
    first_size = path.stat().st_size
    record(large.model_copy(update={"generated_at": datetime(2026, 11, 25, 6, 0, tzinfo=UTC)}), path)

    # 1,000 failing rows stored in full; 99,000 passes are a single count.
    assert first_size < 1_000_000
    # A repeat scan reuses what each finding is about and adds only its statuses.
    assert path.stat().st_size - first_size < 100_000
    summary = scans(path)[0]
    assert summary.status_counts["pass"] == 99_000
    assert summary.status_counts["fail"] == 1_000
    assert len(diff(path, 1, 2).still_failing) == 1_000


def unstorable(check_id: str, resource_id: str) -> Finding:
    """A malformed finding (a bug upstream): it fails the very last insert of a record."""
    good = finding(check_id, resource_id, Status.FAIL, "local accounts are enabled")
    return Finding.model_construct(**{**dict(good), "baselined": object()})


def test_a_failed_record_leaves_the_db_byte_for_byte_unchanged(db: Path) -> None:
    before = db.read_bytes()
    # The scan row, its counts and the finding subjects are written before this fails.
    bad = TUESDAY.model_copy(update={"findings": (*TUESDAY.findings, unstorable("MLW-AKS-002", AKS))})

    with pytest.raises(TypeError):
        record(bad, db)

    assert db.read_bytes() == before
    assert [s.id for s in scans(db)] == [1, 2]
    assert record(TUESDAY, db) == 3
    assert diff(db, 2, 3).new_failing == ()


def test_a_failed_first_record_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"

    with pytest.raises(TypeError):
        record(MONDAY.model_copy(update={"findings": (unstorable("MLW-AKS-002", AKS),)}), path)

    assert not path.exists()


def test_a_file_that_is_not_sqlite_is_an_input_error_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    path.write_text("id,check,status\n1,MLW-WS-001,fail\n")

    for action in (lambda: scans(path), lambda: record(MONDAY, path), lambda: diff(path, 1, 2)):
        with pytest.raises(InputError, match=r"^history db .*scans\.db: not an mlwarden history database") as info:
            action()
        assert "\n" not in str(info.value)
    assert path.read_text() == "id,check,status\n1,MLW-WS-001,fail\n"


def test_another_applications_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE scans (id INTEGER PRIMARY KEY, note TEXT)")

    with pytest.raises(InputError, match=r"app\.db: not an mlwarden history database"):
        record(MONDAY, path)
    with pytest.raises(InputError, match=r"app\.db: not an mlwarden history database"):
        scans(path)


def test_a_corrupted_history_db_is_an_input_error(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = 4096
    data[page : page * 3] = b"\xa5" * (page * 2)
    db.write_bytes(bytes(data))

    for action in (lambda: scans(db), lambda: diff(db, 1, 2), lambda: record(MONDAY, db)):
        with pytest.raises(InputError, match=r"^history db .*mlwarden\.db: "):
            action()


def test_a_db_from_a_newer_mlwarden_is_refused_not_rewritten(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")

    with pytest.raises(InputError, match=r"newer mlwarden.*schema 99"):
        record(MONDAY, db)
    with pytest.raises(InputError, match="newer mlwarden"):
        scans(db)


def test_unknown_scan_ids_and_too_few_scans_are_input_errors(db: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"mlwarden\.db: no scan with id 7"):
        diff(db, 1, 7)
    single = tmp_path / "single.db"
    record(MONDAY, single)
    with pytest.raises(InputError, match=r"single\.db: a diff needs two recorded scans, found 1"):
        latest_two(single)
    with pytest.raises(InputError, match=r"missing\.db: no such file"):
        scans(tmp_path / "missing.db")


def test_the_file_announces_itself_as_an_mlwarden_history_at_the_current_schema(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_an_empty_file_reads_as_no_history_and_records_as_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    assert scans(path) == []
    assert path.stat().st_size == 0
    assert record(MONDAY, path) == 1


# --- the CLI group ---------------------------------------------------------------------------


def test_list_shows_each_scan_with_failing_counts_and_controls(db: Path) -> None:
    result = invoke("list", "--db", str(db))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "GENERATED", "(UTC)", "ORIGIN"]
    monday = next(line for line in lines if line.lstrip().startswith("1 "))
    assert "2026-11-23 06:00" in monday and "tenant contoso-health" in monday
    assert "hipaa-security-rule: 3 failing, 4 passing, 1 manual, 1 not assessed controls" in result.stdout


def test_list_json_and_empty_history(db: Path, tmp_path: Path) -> None:
    document = json.loads(invoke("list", "--db", str(db), "--format", "json").stdout)
    assert (document["format"], document["version"]) == ("mlwarden-history", 1)
    assert [s["id"] for s in document["scans"]] == [1, 2]
    assert document["scans"][1]["failing_by_severity"]["critical"] == 1

    empty = tmp_path / "empty.db"
    empty.touch()
    assert "no scans recorded" in invoke("list", "--db", str(empty)).stdout


def test_diff_defaults_to_the_last_two_scans_and_names_what_changed(db: Path) -> None:
    result = invoke("diff", "--db", str(db))

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "scan 1 (2026-11-23 06:00 UTC" in out and "scan 2 (2026-11-24 06:00 UTC" in out
    assert "new failing: 4" in out and "fixed: 2" in out and "still failing: 3" in out
    assert f"critical MLW-AKS-002    {AKS}  pass/absent -> fail" in out
    assert f"{WEBAPP} [DB_PASSWORD]  unknown -> fail" in out
    assert "kv-shared  fail -> unknown" in out
    assert "hipaa-security-rule failing controls: 3 -> 2" in out
    assert "(waived)" in out
    assert SECRET not in out


def test_diff_json_schema_is_stable(db: Path) -> None:
    document = json.loads(invoke("diff", "--db", str(db), "1", "2", "--format", "json").stdout)

    sections = ["new_failing", "fixed", "still_failing", "status_changes", "acceptance_changes"]
    assert set(document) == {"format", "version", "older", "newer", "same_scope", "counts", *sections}
    assert (document["format"], document["version"], document["same_scope"]) == ("mlwarden-history-diff", 1, True)
    assert document["counts"] == {
        "new_failing": 4,
        "fixed": 2,
        "still_failing": 3,
        "status_changes": 1,
        "acceptance_changes": 0,
    }
    assert set(document["older"]) == {
        "id",
        "generated_at",
        "recorded_at",
        "origin",
        "scope",
        "cloud",
        "subscriptions",
        "tool_version",
        "resource_count",
        "status_counts",
        "failing_by_severity",
        "waived",
        "baselined",
        "frameworks",
    }
    assert document["newer"]["frameworks"]["gdpr"] == {
        "version": "2016/679",
        "pass": 3,
        "fail": 2,
        "manual": 2,
        "not_assessed": 1,
    }
    for name in sections:
        for entry in document[name]:
            assert set(entry) == {
                "fingerprint",
                "check_id",
                "resource_id",
                "detail_key",
                "severity",
                "before",
                "after",
                "waived",
                "baselined",
                "waived_before",
                "baselined_before",
                "change",
            }
    app = next(e for e in document["new_failing"] if e["check_id"] == "MLW-APP-004")
    assert app == {
        "fingerprint": Finding.make_fingerprint("MLW-APP-004", WEBAPP, "DB_PASSWORD"),
        "check_id": "MLW-APP-004",
        "resource_id": WEBAPP,
        "detail_key": "DB_PASSWORD",
        "severity": "high",
        "before": "unknown",
        "after": "fail",
        "waived": False,
        "baselined": False,
        "waived_before": False,
        "baselined_before": False,
        "change": None,
    }


def test_fail_on_new_exits_1_only_for_new_unwaived_failures_at_the_level(db: Path) -> None:
    assert invoke("diff", "--db", str(db), "--fail-on-new", "critical").exit_code == 1
    assert invoke("diff", "--db", str(db), "--fail-on-new", "high").exit_code == 1
    # Reversed, the only "new" failures are medium and high ones.
    assert invoke("diff", "--db", str(db), "2", "1", "--fail-on-new", "critical").exit_code == 0
    record(TUESDAY.model_copy(update={"generated_at": datetime(2026, 11, 25, 6, 0, tzinfo=UTC)}), db)
    unchanged = invoke("diff", "--db", str(db), "--fail-on-new", "info")
    assert unchanged.exit_code == 0
    assert "new failing: 0" in unchanged.stdout


def test_diff_warns_when_the_scans_cover_different_scopes(db: Path) -> None:
    record(scan_result(TUESDAY.findings, day=25, subscriptions=(SUB,)), db)

    result = invoke("diff", "--db", str(db))

    assert result.exit_code == 0
    assert "different scopes" in result.stderr
    assert json.loads(invoke("diff", "--db", str(db), "--format", "json").stdout)["same_scope"] is False


def test_cli_errors_are_one_line_naming_the_file_and_exit_2(db: Path, tmp_path: Path) -> None:
    unknown = invoke("diff", "--db", str(db), "1", "9")
    assert unknown.exit_code == 2
    one_error_line(unknown, str(db), "no scan with id 9")

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00not sqlite" * 64)
    for command in ("list", "diff"):
        result = invoke(command, "--db", str(junk))
        assert result.exit_code == 2
        one_error_line(result, str(junk), "not an mlwarden history database")


def test_diff_needs_two_scans_and_a_scan_before_the_one_given(tmp_path: Path, db: Path) -> None:
    single = tmp_path / "single.db"
    record(MONDAY, single)
    result = invoke("diff", "--db", str(single))
    assert result.exit_code == 2
    one_error_line(result, str(single), "needs two recorded scans")

    first = invoke("diff", "--db", str(db), "1")
    assert first.exit_code == 2
    one_error_line(first, "scan 1 is the first recorded")


def test_a_copy_of_the_db_diffs_the_same(db: Path, tmp_path: Path) -> None:
    """The history is one portable file an auditor can take away."""
    copy = tmp_path / "audit" / "copy.db"
    copy.parent.mkdir()
    shutil.copy(db, copy)

    assert diff(copy, 1, 2) == diff(db, 1, 2)


def test_default_diff_pairs_the_latest_scan_with_the_previous_of_its_scope_by_time(tmp_path: Path) -> None:
    """Two scheduled jobs share a history: one per subscription. A long scan lands after a shorter
    one that started later, and the other job's scan lands in between: 'the last two ids' would
    compare another scope's scan, or run backwards in time."""
    shared = tmp_path / "shared.db"
    both = (SUB, SUB_SHARED)
    assert record(scan_result(MONDAY.findings, day=2, subscriptions=both), shared) == 1
    assert record(scan_result(TUESDAY.findings, day=4, subscriptions=both), shared) == 2
    assert record(scan_result(MONDAY.findings, day=3, subscriptions=both), shared) == 3  # ran before 2, landed after
    assert record(scan_result(TUESDAY.findings, day=5, subscriptions=(SUB,)), shared) == 4  # the other job

    assert latest_two(shared) == (2, 4)  # scope (SUB,) was never scanned before: the previous scan of any scope
    assert latest_two(shared, 2) == (3, 2)  # by time, not id; and scan 4 (another scope) is skipped
    assert latest_two(shared, 3) == (1, 3)
    with pytest.raises(InputError, match="scan 1 is the first recorded"):
        latest_two(shared, 1)
    with pytest.raises(InputError, match="no scan with id 9"):
        latest_two(shared, 9)

    assert record(scan_result(MONDAY.findings, day=6, subscriptions=both), shared) == 5
    assert latest_two(shared) == (2, 5)  # the job's own previous night, past the other job's scan 4
    one = invoke("diff", "--db", str(shared), "2", "--format", "json")
    assert one.exit_code == 0, one.output
    document = json.loads(one.stdout)
    assert (document["older"]["id"], document["newer"]["id"], document["same_scope"]) == (3, 2, True)
    assert "different scopes" not in invoke("diff", "--db", str(shared)).stderr


def test_two_scans_generated_at_one_instant_diff_in_the_order_they_were_recorded(tmp_path: Path) -> None:
    """Two jobs of one scope whose scans carry the same generation time (a coarse clock, a rerun of
    one snapshot) are ordered by id, the order they landed in: the same pair every time."""
    shared = tmp_path / "same-instant.db"
    assert record(scan_result(MONDAY.findings, day=4), shared) == 1
    assert record(scan_result(TUESDAY.findings, day=4), shared) == 2
    assert record(scan_result(MONDAY.findings, day=4, subscriptions=(SUB_SHARED,)), shared) == 3  # same instant
    assert latest_two(shared, 2) == (1, 2)
    assert latest_two(shared) == (2, 3)  # the latest: id breaks the tie between 2 and 3
    assert latest_two(shared, 3) == (2, 3)
    document = json.loads(invoke("diff", "--db", str(shared), "--format", "json").stdout)
    assert (document["older"]["id"], document["newer"]["id"]) == (2, 3)


def test_a_scope_not_scanned_before_is_compared_with_the_most_alike_scope_not_another_jobs(tmp_path: Path) -> None:
    """A management group gained a subscription overnight: its scope is new. It used to be compared
    with whichever scan came last, another job's disjoint scope, so every finding read as new and
    every one of the other job's as fixed; now with the scan most alike in subscriptions."""
    third = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c19"
    other = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d47"
    shared = tmp_path / "grew.db"
    assert record(scan_result(MONDAY.findings, day=2, subscriptions=(SUB, SUB_SHARED)), shared) == 1
    assert record(scan_result(MONDAY.findings, day=2, subscriptions=(SUB, SUB_SHARED, third, other)), shared) == 2
    assert record(scan_result(MONDAY.findings, day=2, subscriptions=(other,)), shared) == 3  # another job
    assert record(scan_result(TUESDAY.findings, day=3, subscriptions=(SUB, SUB_SHARED, third)), shared) == 4

    assert latest_two(shared) == (2, 4)  # 3 of 4 alike, against 2 of 3 for scan 1 and none for scan 3
    assert record(scan_result(TUESDAY.findings, day=4, subscriptions=(third,)), shared) == 5
    assert latest_two(shared) == (4, 5)  # 1 of 3 alike beats 1 of 4 (scan 2)
    unrelated = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c65"
    assert record(scan_result(TUESDAY.findings, day=5, subscriptions=(unrelated,)), shared) == 6
    assert latest_two(shared) == (5, 6)  # nothing alike: the previous scan of any scope, with the warning
    assert "different scopes" in invoke("diff", "--db", str(shared)).stderr


@pytest.mark.parametrize("value", ["$(MLWARDEN_HISTORY)", " $( mlwarden.history ) "])
def test_an_undefined_azure_pipelines_variable_is_refused_not_made_a_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """The Azure DevOps recipe maps MLWARDEN_HISTORY from its variable group; left undefined, the
    step gets the text `$(MLWARDEN_HISTORY)`, which became a SQLite file of that name on the agent:
    recorded, and gone with the agent, every night, without a word."""
    monkeypatch.chdir(tmp_path)
    scan = CliRunner().invoke(cli, ["scan", "--demo", "--history", value, "--fail-on", "none", "-q"])
    assert scan.exit_code == 2
    one_error_line(scan, "is a pipeline variable that was never defined")
    listed = CliRunner().invoke(history, ["list"], env={"MLWARDEN_HISTORY": value})
    assert listed.exit_code == 2
    one_error_line(listed, "$(", "never defined")
    assert list(tmp_path.iterdir()) == []


def test_quiet_scans_record_without_a_word_and_say_so_otherwise(tmp_path: Path) -> None:
    """`-q` promises no `wrote` lines; a scheduled `scan -q --history` still said `recorded scan N`
    and `wrote baseline ...` on every run."""
    db, baseline = tmp_path / "q.db", tmp_path / "baseline.json"
    args = ["scan", "--demo", "--history", str(db), "--write-baseline", str(baseline), "--fail-on", "none"]
    quiet = CliRunner().invoke(cli, [*args, "-q"])
    assert quiet.exit_code == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr == ""
    assert [s.id for s in scans(db)] == [1] and baseline.is_file()
    told = CliRunner().invoke(cli, args)
    assert told.exit_code == 0, told.stderr
    assert f"recorded scan 2 in {db}" in told.stderr and f"wrote baseline {baseline}" in told.stderr


def test_a_diff_given_its_scans_in_reverse_says_it_runs_backwards(db: Path) -> None:
    """`history diff 2 1` listed Monday's failures fixed on Tuesday as "new failing" without a word."""
    reversed_ = invoke("diff", "--db", str(db), "2", "1")
    assert reversed_.exit_code == 0
    assert "scan 2 ran after scan 1: this diff runs backwards in time" in reversed_.stderr
    assert "backwards" not in invoke("diff", "--db", str(db), "1", "2").stderr
    assert "backwards" not in invoke("diff", "--db", str(db)).stderr


def test_fail_on_new_takes_the_levels_of_scan_fail_on(db: Path) -> None:
    """One CI variable sets `scan --fail-on` and `history diff --fail-on-new`: `none` was a usage
    error for the diff, `info` one for the scan."""
    from scanner.cli import FAIL_ON_CHOICES

    option = next(p for p in history.commands["diff"].params if p.name == "fail_on_new")
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == FAIL_ON_CHOICES
    assert invoke("diff", "--db", str(db), "--fail-on-new", "critical").exit_code == 1
    assert invoke("diff", "--db", str(db), "--fail-on-new", "none").exit_code == 0
