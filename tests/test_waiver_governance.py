"""Waiver governance through the CLI: catch-alls, waived criticals and stale waivers are announced
on stderr (one line each, with owner and expiry) and recorded in the JSON report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli


def scan(*args: str) -> Result:
    return CliRunner().invoke(cli, ["scan", "--demo", "--format", "json", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo() -> list[dict[str, Any]]:
    return list(json.loads(scan("--fail-on", "none").stdout)["findings"])


@pytest.fixture(scope="module")
def critical_check(demo: list[dict[str, Any]]) -> str:
    """A check with critical failures on at least two resources of the demo."""
    counts = Counter(f["check_id"] for f in demo if f["status"] == "fail" and f["severity"] == "critical")
    check_id, count = counts.most_common(1)[0]
    assert count >= 2
    return check_id


def waivers(tmp_path: Path, *entries: tuple[str, str], owner: str = "sec@example.org") -> Path:
    path = tmp_path / "waivers.yaml"
    body = "".join(
        f"  - check: {check}\n    resource: '{pattern}'\n    justification: accepted\n"
        f"    owner: {owner}\n    expires: 2099-12-31\n"
        for check, pattern in entries
    )
    path.write_text("waivers:\n" + body)
    return path


def warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("mlwarden: warning: waiver")]


def test_a_star_waiver_on_criticals_is_announced_and_recorded(tmp_path: Path, critical_check: str) -> None:
    result = scan("--fail-on", "none", "--waivers", str(waivers(tmp_path, (critical_check, "*"))))
    assert result.exit_code == 0
    lines = warnings(result)
    assert len(lines) == 2, result.stderr
    assert all(f"{critical_check} on * (owner sec@example.org, expires 2099-12-31)" in line for line in lines)
    assert "matches every resource its check evaluated" in lines[0]
    document = json.loads(result.stdout)
    (use,) = document["waivers"]
    critical = [f for f in document["findings"] if f["check_id"] == critical_check and f["severity"] == "critical"]
    assert use["catch_all"] is True and use["waived_critical"] == sum(1 for f in critical if f["waived_by"]) >= 2
    assert use["notices"] == ["catch-all", "waives-critical"]
    assert f"waives {use['waived_critical']} critical finding(s)" in lines[1]


def test_a_wildcard_matching_every_evaluated_resource_is_a_catch_all(tmp_path: Path, critical_check: str) -> None:
    result = scan("--fail-on", "none", "--waivers", str(waivers(tmp_path, (critical_check, "/subscriptions/*"))))
    (use,) = json.loads(result.stdout)["waivers"]
    assert use["catch_all"] is True and "catch-all" in use["notices"]


def test_a_narrow_waiver_is_quiet_unless_it_waives_a_critical(
    tmp_path: Path, demo: list[dict[str, Any]], critical_check: str
) -> None:
    failing = next(f for f in demo if f["check_id"] == critical_check and f["status"] == "fail")
    passing = next(f for f in demo if f["status"] == "fail" and f["severity"] in ("medium", "low"))
    path = waivers(tmp_path, (critical_check, failing["resource_id"]), (passing["check_id"], passing["resource_id"]))
    result = scan("--fail-on", "none", "--waivers", str(path))
    uses = json.loads(result.stdout)["waivers"]
    assert [u["notices"] for u in uses] == [["waives-critical"], []]
    assert [u["catch_all"] for u in uses] == [False, False]
    (line,) = warnings(result)
    assert "waives 1 critical finding(s)" in line


def test_a_waiver_matching_nothing_is_announced(tmp_path: Path, critical_check: str) -> None:
    result = scan("--fail-on", "none", "--waivers", str(waivers(tmp_path, (critical_check, "/subscriptions/none/*"))))
    (line,) = warnings(result)
    assert "matches no failing finding" in line and "expires 2099-12-31" in line
    (use,) = json.loads(result.stdout)["waivers"]
    assert use["matched"] == 0 and use["notices"] == ["matches-nothing"] and use["line"] == 2


def test_announced_waiver_text_is_neutralised(tmp_path: Path, critical_check: str) -> None:
    owner = '"evil\\x1b[2J\\u202eowner\\rforged: yes"'
    result = scan("--fail-on", "none", "--waivers", str(waivers(tmp_path, (critical_check, "*"), owner=owner)))
    lines = warnings(result)
    assert lines and all("\x1b" not in line and "\u202e" not in line and "\r" not in line for line in lines)
    assert "owner evil?[2J?owner?forged: yes" in lines[0]


def test_the_html_report_shows_the_notices(tmp_path: Path, critical_check: str) -> None:
    path = waivers(tmp_path, (critical_check, "*"), (critical_check, "/subscriptions/none/*"))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["scan", "--demo", "--out", str(out), "--format", "html", "--fail-on", "none", "--waivers", str(path)]
    )
    assert result.exit_code == 0, result.stderr
    html = (out / "mlwarden-report.html").read_text()
    assert "catch-all: waives the whole check" in html and "matches nothing" in html
    assert "critical finding(s)" in html
