"""Framework catalog text that YAML reads as something else. A float was taken as text through
`coerce_numbers_to_str`, so `id: "164.310"` written without quotes became control 164.31 and
`version: 1.10` became 1.1, silently; a date, a boolean or null was refused in Python's spelling
(`got datetime.date(2026, 1, 1)`, `got None`). Each is now exit 2 naming file, line and field,
shown as YAML shows it, with a hint to quote it; a whole number (`version: 2022`) is still its text."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

CATALOG = """id: acme
name: ACME
version: "1"
controls:
  - id: A-1
    title: Keys rotate
    parent: A
    mappings:
      - checks: [MLW-KV-08]
        strength: direct
  - id: A
    title: Keys
    manual_evidence: The key policy.
"""
FIELDS = {
    "id": "id: acme",
    "name": "name: ACME",
    "version": 'version: "1"',
    "controls[0].id": "- id: A-1",
    "controls[0].title": "title: Keys rotate",
    "controls[0].parent": "parent: A",
}
LINES = {"id": 1, "name": 2, "version": 3, "controls[0].id": 5, "controls[0].title": 6, "controls[0].parent": 7}
VALUES = [
    ("1.10", "the number 1.1"),
    ("164.310", "the number 164.31"),
    (".inf", "the number inf"),
    ("1.0e+3", "the number 1000.0"),
    ("2026-01-01", "a date, 2026-01-01"),
    ("2026-01-01 10:00:00", "a date and time, 2026-01-01 10:00:00"),
    ("yes", "true"),
    ("off", "false"),
    ("null", "null"),
    ("~", "null"),
]


def _show(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["frameworks", "show", "acme", "--framework-file", str(path)])
    return result.exit_code, result.stderr


CASES = [
    pytest.param(field, written, shown, id=f"{written}-{field}")
    for field in sorted(FIELDS)
    for written, shown in VALUES
    if not (field.endswith("parent") and shown == "null")  # a parent is optional: null is no parent
]


@pytest.mark.parametrize(("field", "written", "shown"), CASES)
def test_text_yaml_reads_as_something_else_is_refused_in_yaml_words(
    tmp_path: Path, field: str, written: str, shown: str
) -> None:
    line = FIELDS[field]
    key = line.lstrip("- ").split(":")[0]
    prefix = "- " if line.startswith("- ") else ""
    text = CATALOG.replace(line, f"{prefix}{key}: {written}", 1)
    code, stderr = _show(tmp_path, text)
    assert code == 2, stderr
    (message,) = stderr.splitlines()
    assert message.startswith(f"mlwarden: error: {tmp_path / 'acme.yaml'}:{LINES[field]}: "), message
    assert f"(got {shown})" in message and "put it in quotes as written" in message, message
    assert "datetime." not in message and "None" not in message


def test_a_whole_number_is_still_its_text(tmp_path: Path) -> None:
    code, stderr = _show(tmp_path, CATALOG.replace('version: "1"', "version: 2022").replace("- id: A-1", "- id: 7"))
    assert code == 0, stderr
