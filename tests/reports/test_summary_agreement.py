"""The auditor's promise: every number the executive summary and the scope section print is the one
the JSON report (the canonical record) gives, counted here from its findings by the rule the
report states. One real scan through the CLI, with a live waiver and a third of the findings
baselined, so that "open", "waived" and "baselined" all hold something."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reports.names import deployment_name
from scanner.cli import cli
from scanner.models import ScanResult

REPO = Path(__file__).resolve().parents[2]
SEVERITIES = ("critical", "high", "medium", "low", "info")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    root = tmp_path_factory.mktemp("agree-summary")
    full = root / "full.json"
    runner = CliRunner()
    wrote = runner.invoke(cli, ["scan", "--demo", "--write-baseline", str(full), "--fail-on", "none", "-q"])
    assert wrote.exit_code == 0, wrote.stderr
    baseline = json.loads(full.read_text())
    baseline["fingerprints"] = baseline["fingerprints"][::3]
    (root / "third.json").write_text(json.dumps(baseline))
    args = ["scan", "--demo", "--baseline", str(root / "third.json"), "--waivers", str(REPO / "examples/waivers.yaml")]
    done = runner.invoke(cli, [*args, "--out", str(root / "out"), "--format", "json,html", "--fail-on", "none", "-q"])
    assert done.exit_code == 0, done.stderr
    report = json.loads((root / "out" / "mlwarden-report.json").read_text())
    return report, (root / "out" / "mlwarden-report.html").read_text()


def _failing(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["status"] == "fail"]


def test_open_failures_by_severity_name_their_baselined_share(scanned: tuple[dict[str, Any], str]) -> None:
    """The summary said `critical 5` while the scope section's table said `Open 4, Baselined 1`: two
    meanings of "open" in one report. Both now count open = failing and not waived, baselined shown."""
    report, page = scanned
    failing = _failing(report)
    open_ = Counter(f["severity"] for f in failing if not f["waived_by"])
    baselined = Counter(f["severity"] for f in failing if not f["waived_by"] and f["baselined"])
    waived = Counter(f["severity"] for f in failing if f["waived_by"])
    assert sum(baselined.values()) and sum(waived.values())

    line = page.split("<h3>Open failures by severity</h3>", 1)[1].split("</p>", 1)[0]
    shown = re.findall(r'sev-(\w+)">\w+</span> (\d+)(?: <span class="muted">\((\d+) baselined\)</span>)?', line)
    assert [(sev, int(n), int(b or 0)) for sev, n, b in shown] == [
        (sev, open_[sev], baselined[sev]) for sev in SEVERITIES
    ]

    table = page.split("<h3>Failing findings by severity</h3>", 1)[1].split("</table>", 1)[0]
    assert '<th class="num">Open, not baselined</th><th class="num">Open, baselined</th>' in table
    rows = re.findall(
        r'sev-(\w+)">\w+</span></td><td class="num">(\d+)</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td>',
        table,
    )
    assert [(sev, int(a), int(b), int(c)) for sev, a, b, c in rows] == [
        (sev, open_[sev] - baselined[sev], baselined[sev], waived[sev]) for sev in SEVERITIES
    ]


def test_framework_counts_and_totals_are_those_of_the_json(scanned: tuple[dict[str, Any], str]) -> None:
    report, page = scanned
    executive = page.split('<table class="exec">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<td><a href="#fw-[^"]+">([^<]+)</a></td>\n((?:<td class="num">\d+</td>)+)', executive)
    assert len(rows) == len(report["frameworks"])
    for (_, cells), framework in zip(rows, report["frameworks"], strict=True):
        statuses = Counter(c["status"] for c in framework["controls"])
        counts = [int(n) for n in re.findall(r"\d+", cells)]
        assert counts == [statuses[s] for s in ("pass", "fail", "attested", "manual", "not_assessed")]
    facts = f"{report['resource_count']} resources, {len(report['checks'])} checks, {len(report['findings'])} results"
    assert facts in page


def test_top_risks_count_the_open_critical_and_high_failures_each_deployment_reaches(
    scanned: tuple[dict[str, Any], str],
) -> None:
    report, page = scanned
    result = ScanResult.model_validate(report)
    risky = {
        f["fingerprint"]: f["severity"]
        for f in _failing(report)
        if not f["waived_by"] and f["severity"] in ("critical", "high")
    }
    expected = {}
    for posture in result.postures:
        reached = {fp for pillar in posture.pillars for fp in pillar.failing} & set(risky)
        expected[deployment_name(posture)] = tuple(
            sum(1 for fp in reached if risky[fp] == sev) for sev in ("critical", "high")
        )
    table = page.split('<table class="risks">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<td><strong>([^<]+)</strong><br>.*?</td>\n<td class="num">(\d+)</td><td class="num">(\d+)</td>', table
    )
    assert rows
    for name, critical, high in rows:
        assert expected[html.unescape(name)] == (int(critical), int(high)), name
    baselined_risky = sum(1 for f in _failing(report) if f["baselined"] and f["fingerprint"] in risky)
    assert 0 < table.count('<span class="muted">(baselined)</span>') <= baselined_risky  # lists are capped
