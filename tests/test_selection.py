"""Check selection from the command line: ids, globs, tags, a severity floor, and honest frameworks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli


def _scan(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["scan", "--demo", "--format", "json", "--fail-on", "none", *args])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_check_and_skip_check_select_by_id_glob_and_tag() -> None:
    only_kv = _scan("--check", "MLW-KV-*")
    assert {f["check_id"] for f in only_kv["findings"]} <= {c["id"] for c in only_kv["checks"]}
    assert all(f["check_id"].startswith("MLW-KV-") for f in only_kv["findings"])
    tagged = _scan("--check", "tag:private-network", "--skip-check", "MLW-ST-*")
    assert tagged["findings"]
    assert all("private-network" in f["tags"] and not f["check_id"].startswith("MLW-ST-") for f in tagged["findings"])


def test_min_severity_filters_findings_by_their_own_severity() -> None:
    report = _scan("--min-severity", "high")
    assert report["findings"] and all(f["severity"] in ("high", "critical") for f in report["findings"])


def test_controls_whose_checks_did_not_all_run_never_pass() -> None:
    full = _scan("--subscription", "3f6c1e2a-8b4d-4c7e-9a15-6d2e0b7c4a91")
    narrowed = _scan("--subscription", "3f6c1e2a-8b4d-4c7e-9a15-6d2e0b7c4a91", "--check", "MLW-KV-01")
    passing_before = {
        (fw["id"], c["control_id"]) for fw in full["frameworks"] for c in fw["controls"] if c["status"] == "pass"
    }
    assert passing_before
    for fw in narrowed["frameworks"]:
        for control in fw["controls"]:
            if control["status"] == "pass":
                assert set(control["check_ids"]) <= {"MLW-KV-01"}, control
            if (fw["id"], control["control_id"]) in passing_before and set(control["check_ids"]) - {"MLW-KV-01"}:
                assert control["status"] in ("not_assessed", "fail", "attested"), control


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--check", "NOPE-*"], "--check 'NOPE-*'"),
        (["--skip-check", "tag:nothing"], "--skip-check 'tag:nothing'"),
        (["--check", "MLW-KV-01", "--skip-check", "MLW-KV-01"], "no check"),
        (["--skip-check", ""], "--skip-check '' names no check"),
        (["--skip-check", " , "], "--skip-check ' , ' names no check"),
        (["--check", ""], "--check '' names no check"),
    ],
)
def test_selection_mistakes_are_one_line_exit_2(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["scan", "--demo", *args])
    assert result.exit_code == 2 and expected in result.stderr and "Traceback" not in result.stderr
