"""The summary PDF of a large estate counts its deployments instead of listing them: a row per
deployment made the posture 123 of the 166 pages of a 20,000-resource estate's summary PDF. Through
the CLI on a generated estate (252 deployments): the section stays within a few pages, every
count in it is the JSON report's, the worst deployments are listed, and it says where the full
list is (which the HTML still holds, a row per deployment). The demo's 14 are still listed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli

REPO = Path(__file__).resolve().parents[1]
GENERATED = 2_500
"""Resources: 252 deployments in 26 subscriptions, enough for every table of the digest."""
POSTURE_PAGES = 4
"""The digest of 252 deployments takes four pages (the worst deployments' rows most of them)."""
PILLARS = ("encryption", "private-network", "identity", "secrets")


def _scan(out: Path, *source: str) -> tuple[list[str], dict[str, Any], str]:
    args = ["scan", *source, "--format", "pdf,json,html", "--out", str(out), "--fail-on", "none", "-q"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.stderr
    text = subprocess.run(
        ["pdftotext", "-layout", str(out / "mlwarden-report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.split("\f")
    return pages, json.loads((out / "mlwarden-report.json").read_text()), (out / "mlwarden-report.html").read_text()


def _tools() -> None:
    pytest.importorskip("weasyprint")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any], str]:
    _tools()
    root = tmp_path_factory.mktemp("posture-digest")
    snapshot = root / "estate.jsonl.gz"
    subprocess.run([sys.executable, "-m", "benchmarks.estate_gen", str(GENERATED), str(snapshot)], cwd=REPO, check=True)
    return _scan(root / "out", "--snapshot", str(snapshot))


def _section(pages: list[str]) -> tuple[str, int]:
    """The posture section's text and its page count, from the table of contents."""
    toc = re.search(r"Deployment posture \.+ (\d+)\n\s*.*? \.+ (\d+)", pages[1])
    assert toc, pages[1]
    first, following = int(toc.group(1)), int(toc.group(2))
    text = "\f".join(pages[first - 1 : following])
    text = text[text.index("Deployment posture\n") :]
    return text, following - first  # each section starts a page


def _failing(posture: dict[str, Any], pillar: str) -> bool:
    return any(v["pillar"] == pillar and v["status"] == "fail" for v in posture["pillars"])


def test_a_large_estate_s_posture_is_counted_in_a_few_pages(large: tuple[list[str], dict[str, Any], str]) -> None:
    pages, report, _ = large
    postures = report["postures"]
    assert len(postures) > 200
    text, spans = _section(pages)
    assert spans <= POSTURE_PAGES, spans
    assert f"{len(postures)} ML deployments" in text
    expected = [len(postures), sum(1 for p in postures if any(v["status"] == "fail" for v in p["pillars"]))]
    expected += [sum(1 for p in postures if _failing(p, pillar)) for pillar in PILLARS]
    totals = re.findall(r"All deployments" + r"\s+(\d+)" * len(expected), text)
    assert [list(map(int, row)) for row in totals] == [expected, expected]  # by kind and by subscription
    verdicts = re.findall(r"^\s*(?:(?:fail|pass|unknown|not judged)\s+){4}(\d+)\s", text, re.MULTILINE)
    assert sum(map(int, verdicts)) == len(postures)


def test_the_worst_are_listed_and_the_section_says_where_every_deployment_is(
    large: tuple[list[str], dict[str, Any], str],
) -> None:
    pages, report, page = large
    text, _ = _section(pages)
    worst = text.split("Worst deployments", 1)[1]
    flawed = [p for p in report["postures"] if any(v["status"] in ("fail", "unknown") for v in p["pillars"])]
    kinds = "|".join(sorted({re.escape(p["kind"]) for p in report["postures"]}))
    assert len(re.findall(rf"^\s*(?:{kinds}) · ", worst, re.MULTILINE)) == min(25, len(flawed))
    flat = " ".join(text.split())
    assert "HTML report" in flat and "--pdf-detail full" in flat and "postures[]" in flat
    deployments = page.split('<section id="deployments"', 1)[1].split("</section>", 1)[0]
    assert deployments.count("<tr>") == len(report["postures"]) + 1  # the HTML lists every one


def test_the_demo_still_lists_every_deployment(tmp_path: Path) -> None:
    _tools()
    pages, report, _ = _scan(tmp_path, "--demo")
    text, _ = _section(pages)
    assert "Deployments by verdict" not in text
    kinds = "|".join(sorted({re.escape(p["kind"]) for p in report["postures"]}))
    assert len(re.findall(rf"^\s*\S.*?\s(?:{kinds}) · ", text, re.MULTILINE)) == len(report["postures"]) == 14
