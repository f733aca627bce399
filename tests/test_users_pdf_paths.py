"""Evidence paths in the full PDF break where a reader expects (after `/`, `.` and `-`, before `[`), and
the text an auditor copies or searches is the exact path: one real render of the demo through the
CLI, its text extracted with pdftotext, every evidence path and ARM-id value of the appendix
checked against the JSON report. `properties.encryption.statu` / `s = disabled` and
`Microsoft_Azure_Security/GenericRecommendationDetail` / `sBlade` were what WeasyPrint made of them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli

SENSIBLE_BEFORE = "/.-"
"""A line may end just after one of these inside a path (a hyphen in a name, `policy-` / `to-law`,
breaks by Unicode's own rules, as in ARM ids)..."""
SENSIBLE_AFTER = "["
"""...or just before this."""
LINE = 24
"""Characters of a path a line of the evidence column holds (about: 7.5pt mono in 24% of A4)."""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    pytest.importorskip("weasyprint")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = tmp_path_factory.mktemp("paths")
    args = ["scan", "--demo", "--format", "pdf,json", "--pdf-detail", "full", "--out", str(out), "--fail-on", "none"]
    done = CliRunner().invoke(cli, [*args, "-q"])
    assert done.exit_code == 0, done.stderr
    text = subprocess.run(
        ["pdftotext", "-raw", str(out / "mlwarden-report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text, json.loads((out / "mlwarden-report.json").read_text())


def _appendix_lines(text: str) -> list[str]:
    body = text.split("Appendix: evidence per resource\nBy check id.", 1)[1]
    return [line for line in body.splitlines() if line.strip()]


def _occurrences(lines: list[str], path: str) -> list[list[int]]:
    """Each place `path` starts (at a line's start, or further on where pdftotext's raw order put
    another cell's text of the same baseline first) and runs on, as the offsets inside it where a
    line ended."""
    found = []
    for start, line in enumerate(lines):
        for column in (i for i, char in enumerate(line) if char == path[0]):
            head = line[column:]
            if not (head.startswith(path) or path.startswith(head)):
                continue
            joined, breaks, index = head, [], start + 1
            while len(joined) < len(path) and index < len(lines):
                if path[len(joined)] == " ":  # a line ending at a space: the space is the break
                    joined += " "
                else:
                    breaks.append(len(joined))
                joined += lines[index]
                index += 1
            if joined.startswith(path):
                found.append(breaks)
    return found


def _sensible(path: str, at: int) -> bool:
    """A break after `/`, `.` or `-`, or before `[`; inside a piece too long for a line, after a hyphen or
    underscore or between camelCase words; anywhere only inside a word longer than a line."""
    if path[at - 1] in SENSIBLE_BEFORE or path[at] in SENSIBLE_AFTER:
        return True
    piece_start = max(path.rfind(c, 0, at) for c in "/.[") + 1
    piece_end = min((i for i in (path.find(c, at) for c in "/.[") if i != -1), default=len(path))
    if piece_end - piece_start <= LINE:
        return False
    if path[at - 1] in "-_" or (path[at - 1].isalnum() and path[at].isupper() and not path[at - 1].isupper()):
        return True
    words = re.split(r"(?<=[-_])|(?<=[a-z0-9])(?=[A-Z])", path[piece_start:piece_end])
    return max(map(len, words)) > LINE


def _listed(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings the appendix lists with their evidence: failing, erroring and unassessed."""
    return [f for f in report["findings"] if f["status"] in ("fail", "error", "unknown")]


def test_every_evidence_path_is_whole_in_the_text_and_breaks_only_at_sensible_points(
    rendered: tuple[str, dict[str, Any]],
) -> None:
    text, report = rendered
    lines = _appendix_lines(text)
    paths = {e["path"] for f in _listed(report) for e in f.get("evidence", []) if len(e["path"]) > LINE}
    assert len(paths) > 50  # the demo's appendix holds many such paths: the check below means something
    broken = []
    for path in sorted(paths):
        found = _occurrences(lines, path)
        assert found, f"{path!r} is not in the PDF's text as it is"
        broken += [path[:at] + " | " + path[at:] for breaks in found for at in breaks if not _sensible(path, at)]
    assert not broken, broken[:10]


def test_ids_and_links_in_evidence_values_break_at_slashes_and_dots(rendered: tuple[str, dict[str, Any]]) -> None:
    text, report = rendered
    lines = _appendix_lines(text)
    values = {
        e["value"]
        for f in _listed(report)
        for e in f.get("evidence", [])
        if isinstance(e["value"], str) and e["value"].startswith(("https://", "/subscriptions/"))
    }
    assert values
    broken = []
    for value in sorted(values):
        found = _occurrences([line.split(" = ", 1)[-1] for line in lines], value)
        assert found, f"{value!r} is not in the PDF's text as it is"
        broken += [value[:at] + " | " + value[at:] for breaks in found for at in breaks if not _sensible(value, at)]
    assert not broken, broken[:10]
