"""The CI adopter's promise, end to end: the exit code, SARIF, JUnit and Markdown give one verdict.

The CLI runs once per combination of `--fail-on` level and policy (nothing; a live and an expired
waiver with half of the rest baselined; the same plus a check that errors, which leaves the scan
incomplete; that again with --allow-partial). Each run's JSON report is the ground truth: the
findings that fail the gate are counted from it here, by the rule the README states, and every
other output must agree with that count and with the exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

REPO = Path(__file__).resolve().parents[2]
LEVELS = ("critical", "high", "medium", "low", "info", "none")
RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
LIVE = "/subscriptions/*/resourceGroups/*/providers/Microsoft.ContainerRegistry/registries/acrlhresearch"
WAIVERS = f"""waivers:
  - check: MLW-ACR-01
    resource: {LIVE}
    justification: Live waiver of a high finding, owned and dated.
    owner: platform@example.org
    expires: 2099-12-31
  - check: MLW-MLDEP-01
    resource: "*"
    justification: Live waiver of a critical finding (announced).
    owner: platform@example.org
    expires: 2099-12-31
  - check: MLW-ACR-02
    resource: {LIVE}
    justification: Expired waiver; it must stop waiving.
    owner: platform@example.org
    expires: 2020-01-01
"""
PLUGIN = """from scanner.registry import check, failed
@check(id='AGREE-01', title='Plugin rule that raises', kinds=('storage',), severity='critical',
       tags=('logging',), pillar='monitoring', rationale='r', remediation='f')
def broken(resource, estate):
    raise RuntimeError('plugin bug')
@check(id='AGREE-02', title='Plugin rule of information', kinds=('storage',), severity='info',
       tags=('logging',), pillar='monitoring', rationale='r', remediation='f')
def informational(resource, estate):
    return failed('noted for information')
"""
JUNIT_XSD = xmlschema.XMLSchema(REPO / "tests" / "reports" / "schemas" / "junit-10.xsd")
POLICIES = ("plain", "waived+baselined", "check-error", "check-error+allow-partial", "coverage-gap")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("agree")
    (root / "waivers.yaml").write_text(WAIVERS)
    plugins = root / "plugins"
    plugins.mkdir()
    (plugins / "agree_plugin.py").write_text(PLUGIN)
    info = plugins / "agree_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agree-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mlwarden.checks]\nagree_plugin = agree_plugin\n")
    full = root / "full.json"
    run(root, [], "--demo", "--write-baseline", str(full), "--fail-on", "none")
    fingerprints = json.loads(full.read_text())["fingerprints"]
    baseline = json.loads(full.read_text()) | {"fingerprints": fingerprints[::2]}
    (root / "baseline.json").write_text(json.dumps(baseline))
    # The demo as a snapshot whose Key Vault key metadata could not be read for one vault.
    lines = (REPO / "scanner" / "data" / "demo-estate.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    for source in header["sources"]:
        if source["name"] == "key_metadata":
            source["gaps"] = [{"source": "key_metadata", "scope": "kv-lh-research/keys", "reason": "403 Forbidden"}]
    (root / "gap.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    return {"root": root, "plugins": plugins}


def run(where: Path, path: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *path])}
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", "scan", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=where,
        env=env,
    )


def gating(finding: dict[str, Any], level: str) -> bool:
    """The README's gate: failing, at or above --fail-on, neither waived nor baselined."""
    return (
        level != "none"
        and finding["status"] == "fail"
        and not finding["waived_by"]
        and not finding["baselined"]
        and RANK[finding["severity"]] >= RANK[level]
    )


def case_name(finding: dict[str, Any]) -> str:
    detail = finding.get("detail_key")
    return f"{finding['check_id']} {finding['resource_id']}" + (f" [{detail}]" if detail else "")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("level", LEVELS)
def test_exit_code_sarif_junit_and_markdown_agree(setup: dict[str, Path], level: str, policy: str) -> None:
    root = setup["root"]
    out = root / f"out-{level}-{policy}"
    source = ["--snapshot", str(root / "gap.jsonl")] if policy == "coverage-gap" else ["--demo"]
    args = [*source, "--out", str(out), "--format", "json,sarif,junit,markdown", "--fail-on", level]
    path: list[str] = []
    if policy not in ("plain", "coverage-gap"):
        args += ["--waivers", str(root / "waivers.yaml"), "--baseline", str(root / "baseline.json")]
    if policy.startswith("check-error"):
        path = [str(setup["plugins"])]
    if policy.endswith("allow-partial"):
        args.append("--allow-partial")
    done = run(root, path, *args)
    assert "Traceback" not in done.stderr

    findings = json.loads((out / "mlwarden-report.json").read_text())["findings"]
    gate = [f for f in findings if gating(f, level)]
    errors = [f for f in findings if f["status"] == "error"]
    if policy not in ("plain", "coverage-gap"):  # the policy did what it says, so the comparison below means something
        assert any(f["waived_by"] for f in findings) and any(f["baselined"] for f in findings)
        assert any(f["check_id"] == "MLW-ACR-02" and f["status"] == "fail" and not f["waived_by"] for f in findings)
    assert bool(errors) == policy.startswith("check-error")
    sources = json.loads((out / "mlwarden-report.json").read_text())["sources"]
    gaps = [gap for source in sources for gap in source["gaps"]]
    assert bool(gaps) == (policy == "coverage-gap")
    incomplete = bool(errors or gaps) and not policy.endswith("allow-partial")
    expected_exit = 3 if incomplete else 1 if gate else 0
    assert done.returncode == expected_exit, (level, policy, len(gate), done.stderr)

    sarif = json.loads((out / "mlwarden-report.sarif").read_text())["runs"][0]
    assert sum(r["properties"]["failsGate"] for r in sarif["results"]) == len(gate)
    assert sarif["invocations"][0]["executionSuccessful"] is not bool(errors or gaps)
    reported = {r["partialFingerprints"]["mlwarden/v1"] for r in sarif["results"]}
    open_failures = {f["fingerprint"] for f in findings if f["status"] == "fail" and not f["waived_by"]}
    assert reported == open_failures - {f["fingerprint"] for f in findings if f["baselined"]}, (
        "SARIF holds every open failure, none waived or baselined"
    )
    baselined = sum(1 for f in findings if f["status"] == "fail" and f["baselined"] and not f["waived_by"])
    if "--baseline" in args:  # compared: every result held is new, the baselined ones counted as left out
        assert {r["baselineState"] for r in sarif["results"]} <= {"new"}
        left_out = next(
            n
            for n in sarif["invocations"][0]["toolExecutionNotifications"]
            if n["descriptor"]["id"] == "mlwarden/results-left-out"
        )
        assert left_out["properties"]["baselined"] == baselined > 0
    else:  # SARIF 3.27.24: no comparison, no state
        assert not [r for r in sarif["results"] if "baselineState" in r] and baselined == 0

    junit = ET.parse(out / "mlwarden-report.xml").getroot()
    JUNIT_XSD.validate(str(out / "mlwarden-report.xml"))  # the CI parsers' schema, error and coverage cases too
    failed = {c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None}
    errored = {c.get("name") for c in junit.iter("testcase") if c.find("error") is not None}
    assert failed == {case_name(f) for f in gate}
    assert junit.get("failures") == str(len(gate))
    gap_cases = {f"coverage {gap['source']} {gap['scope']}" for gap in gaps}
    assert errored == ({case_name(f) for f in errors} | gap_cases if incomplete else set())
    assert junit.get("errors") == str(len(errored))

    head = (out / "mlwarden-report.md").read_text().lstrip().splitlines()[0]
    if expected_exit == 0:
        assert "PASS" in head and "FAIL" not in head, head
    else:
        assert "FAIL" in head and "PASS" not in head, head
    if gate:
        assert f"{len(gate)} finding" in head, head
    if incomplete:
        assert "incomplete" in head, head
    counts = (out / "mlwarden-report.md").read_text().split(" waived · ", 1)[1].split(" · ", 1)[0].split("\n", 1)[0]
    assert counts.startswith(f"{baselined} baselined" if "--baseline" in args else "no baseline"), counts


@pytest.mark.parametrize(("level", "expected"), [("info", 1), ("low", 0)])
def test_fail_on_info_gates_informational_failures_as_history_diff_does(
    setup: dict[str, Path], level: str, expected: int
) -> None:
    """`history diff --fail-on-new info` was accepted while `scan --fail-on info` was a usage error,
    so a plugin's informational failures could be gated on overnight but never in CI."""
    root, out = setup["root"], setup["root"] / f"info-{level}"
    args = ["--demo", "--check", "AGREE-02", "--out", str(out), "--format", "json,junit,markdown", "--fail-on", level]
    done = run(root, [str(setup["plugins"])], *args)
    assert done.returncode == expected, done.stderr
    findings = json.loads((out / "mlwarden-report.json").read_text())["findings"]
    assert findings and {f["severity"] for f in findings} == {"info"}
    gate = [f for f in findings if gating(f, level)]
    assert len(gate) == (len(findings) if expected else 0)
    junit = ET.parse(out / "mlwarden-report.xml").getroot()
    assert junit.get("failures") == str(len(gate))
    head = (out / "mlwarden-report.md").read_text().lstrip().splitlines()[0]
    assert head.startswith(f"## mlwarden: {'FAIL' if expected else 'PASS'} at --fail-on {level}"), head
