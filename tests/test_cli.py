"""The CLI end to end on the bundled demo: reports, exit codes and every input-error path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

import reports
from scanner.cli import cli
from scanner.models import Gap
from scanner.snapshot import read_demo, write_snapshot
from tests.helpers import install_plugin

SCHEMA = Path(reports.__file__).parent / "schema" / "scan-result.schema.json"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    """The error output must be exactly one line, with no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Result, Path]]:
    out = tmp_path_factory.mktemp("demo")
    yield invoke("scan", "--demo", "--out", str(out), "--format", "json,html,sarif,junit,markdown,csv"), out


def test_demo_scan_writes_every_report_and_exits_1_on_high_findings(demo_reports: tuple[Result, Path]) -> None:
    result, out = demo_reports
    assert result.exit_code == 1, result.output + result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"mlwarden-report{ext}" for ext in (".json", ".html", ".sarif", ".xml", ".md", ".csv"))
    document = json.loads((out / "mlwarden-report.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["scope"]["origin"] == "demo"
    assert {fw["id"] for fw in document["frameworks"]} >= {"gdpr", "hipaa-security-rule"}
    html = (out / "mlwarden-report.html").read_text()
    assert "164.312(a)(2)(iv)" in html and "Art. 32" in html
    assert "manual" in html.lower()


def test_fail_on_none_exits_0_and_summary_is_printed() -> None:
    result = invoke("scan", "--demo", "--fail-on", "none")
    assert result.exit_code == 0
    assert "critical" in result.output.lower()


def test_single_format_goes_to_stdout() -> None:
    result = invoke("scan", "--demo", "--format", "sarif", "--fail-on", "none")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scan", "--demo", "--format", "docx"], "unknown format 'docx'"),
        (["scan", "--demo", "--framework", "sox"], "unknown framework 'sox'"),
        (["scan", "--demo", "--format", "json,html"], "several formats need --out DIR"),
        (["scan", "--demo", "--snapshot", "x.jsonl"], "mutually exclusive"),
        (["checks", "show", "MLW-NOPE-99"], "unknown check 'MLW-NOPE-99'"),
        (["frameworks", "show", "nope"], "unknown framework 'nope'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], expected: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert expected in one_error_line(result)


def test_bad_fail_on_is_a_click_usage_error() -> None:
    result = invoke("scan", "--demo", "--fail-on", "severe")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_malformed_snapshot_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    write_snapshot(read_demo(), good)
    lines = good.read_text().splitlines()
    lines[3] = lines[3][: len(lines[3]) // 2]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = invoke("scan", "--snapshot", str(bad), "--out", str(out))
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(bad) in line and "line 4" in line
    assert not out.exists()


def test_snapshot_scan_equals_demo_scan(tmp_path: Path) -> None:
    snap = tmp_path / "demo.jsonl.gz"
    write_snapshot(read_demo(), snap)
    from_snapshot = invoke("scan", "--snapshot", str(snap), "--format", "json", "--fail-on", "none")
    from_demo = invoke("scan", "--demo", "--format", "json", "--fail-on", "none")

    def essence(text: str) -> tuple[object, object]:
        doc = json.loads(text)
        return (
            sorted((f["fingerprint"], f["status"]) for f in doc["findings"]),
            [[(c["control_id"], c["status"]) for c in fw["controls"]] for fw in doc["frameworks"]],
        )

    assert essence(from_snapshot.stdout) == essence(from_demo.stdout)


def test_malformed_framework_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("id: mine\nname: Mine\nversion: '1'\ncontrols:\n  - id: C1\n    title: [unclosed\n")
    result = invoke("scan", "--demo", "--framework-file", str(bad))
    assert result.exit_code == 2
    assert str(bad) in one_error_line(result)


def test_user_framework_file_is_evaluated(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "id: acme\nname: ACME policy\nversion: '1'\ncontrols:\n"
        "  - id: ACME-1\n    title: Encrypt in transit\n    mappings:\n"
        "      - tags: [encryption-in-transit]\n        strength: direct\n"
        "  - id: ACME-2\n    title: Pen test\n    manual_evidence: The last report.\n"
    )
    result = invoke(
        "scan", "--demo", "--framework-file", str(mine), "--framework", "acme", "--format", "json", "--fail-on", "none"
    )
    assert result.exit_code == 0, result.stderr
    (framework,) = json.loads(result.stdout)["frameworks"]
    assert [(c["control_id"], c["status"]) for c in framework["controls"]] == [("ACME-1", "fail"), ("ACME-2", "manual")]


def test_coverage_gap_exits_3_unless_partial_allowed(tmp_path: Path) -> None:
    inventory = read_demo()
    header = inventory.header
    sources = list(header.sources)
    sources[0] = sources[0].model_copy(
        update={"gaps": (Gap(source=sources[0].name, scope="/subscriptions/denied", reason="403 Forbidden"),)}
    )
    inventory.header = header.model_copy(update={"sources": tuple(sources)})
    gap_snapshot = tmp_path / "gap.jsonl"
    write_snapshot(inventory, gap_snapshot)
    incomplete = invoke("scan", "--snapshot", str(gap_snapshot), "--fail-on", "none")
    assert incomplete.exit_code == 3
    assert "scan incomplete" in incomplete.stderr and "/subscriptions/denied" in incomplete.stderr
    allowed = invoke("scan", "--snapshot", str(gap_snapshot), "--fail-on", "none", "--allow-partial")
    assert allowed.exit_code == 0


def test_failed_render_leaves_no_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(result: object) -> bytes:
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(reports.RENDERERS, "csv", broken)
    out = tmp_path / "out"
    result = invoke("scan", "--demo", "--out", str(out), "--format", "json,csv")
    assert result.exit_code == 4
    assert "internal error: RuntimeError" in one_error_line(result)
    assert not out.exists() or list(out.iterdir()) == []


def test_baseline_then_only_new_findings_fail(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    first = invoke("scan", "--demo", "--fail-on", "low", "--write-baseline", str(baseline))
    assert first.exit_code == 1 and baseline.exists()
    second = invoke("scan", "--demo", "--fail-on", "low", "--baseline", str(baseline))
    assert second.exit_code == 0


def test_expired_waiver_is_announced(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - check: MLW-ST-07\n    resource: '*'\n    justification: legacy datastores\n"
        "    owner: platform@example.org\n    expires: 2020-01-01\n"
    )
    result = invoke("scan", "--demo", "--fail-on", "none", "--waivers", str(waivers))
    assert result.exit_code == 0
    assert "expired 2020-01-01" in result.stderr


def test_checks_list_covers_four_deployment_kinds_and_four_pillars() -> None:
    result = invoke("checks", "list", "--format", "json")
    metas = json.loads(result.stdout)
    kinds = {kind for meta in metas for kind in meta["kinds"]}
    pillars = {meta["pillar"] for meta in metas}
    assert {"aks", "webapp", "functionapp", "ml-online-deployment", "ml-online-endpoint", "ml-workspace"} <= kinds
    assert {"encryption", "private-network", "identity", "secrets"} <= pillars
    for kind in ("aks", "webapp", "functionapp"):
        assert {m["pillar"] for m in metas if kind in m["kinds"]} >= {
            "encryption",
            "private-network",
            "identity",
            "secrets",
        }
    ml = {
        m["pillar"] for m in metas if set(m["kinds"]) & {"ml-workspace", "ml-online-endpoint", "ml-online-deployment"}
    }
    assert ml >= {"encryption", "private-network", "identity", "secrets"}


def test_frameworks_list_and_show() -> None:
    listing = invoke("frameworks", "list")
    assert "hipaa-security-rule" in listing.stdout and "gdpr" in listing.stdout
    shown = invoke("frameworks", "show", "hipaa-security-rule")
    assert "164.312(b)" in shown.stdout and "[required]" in shown.stdout and "[addressable]" in shown.stdout


@pytest.mark.skipif(shutil.which("mlwarden") is None, reason="console script not installed")
def test_console_script_runs_the_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        ["mlwarden", "scan", "--demo", "--out", str(tmp_path), "--fail-on", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mlwarden-report.html").exists() and (tmp_path / "mlwarden-report.json").exists()


def test_module_entry_has_no_traceback_on_bad_input(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", "scan", "--snapshot", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot open" in done.stderr


def test_history_records_scans_and_diffs(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    for _ in range(2):
        assert invoke("scan", "--demo", "--fail-on", "none", "--history", str(db)).exit_code == 0
    listed = invoke("history", "list", "--db", str(db), "--format", "json")
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)["scans"]) == 2
    diff = invoke("history", "diff", "--db", str(db), "--fail-on-new", "low")
    assert diff.exit_code == 0, diff.output


def test_reports_get_normal_file_modes(demo_reports: tuple[Result, Path]) -> None:
    _, out = demo_reports
    assert all((p.stat().st_mode & 0o777) == 0o644 for p in out.iterdir())


def test_a_raising_plugin_check_becomes_error_findings_and_the_scan_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, "flaky_checks", "FLAKY-01", "raise KeyError('CANARY-plugin-value')")
    try:
        result = invoke("scan", "--demo", "--format", "json", "--fail-on", "none")
    finally:
        sys.modules.pop("flaky_checks", None)
    assert result.exit_code == 3  # a check that could not judge leaves the scan incomplete, never green
    assert "1 check error" not in result.stderr and "check error(s): FLAKY-01" in result.stderr
    document = json.loads(result.stdout)
    errors = [f for f in document["findings"] if f["check_id"] == "FLAKY-01"]
    assert errors and all(f["status"] == "error" and "KeyError" in f["message"] for f in errors)
    assert len(errors) == document["resource_counts_by_kind"]["storage"]
    assert "CANARY-plugin-value" not in result.stdout + result.stderr
    assert any(f["status"] == "fail" for f in document["findings"])  # the other checks still ran
