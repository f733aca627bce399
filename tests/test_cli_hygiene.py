"""Estate text reaches the terminal and stderr only through scanner.textsafe.printable: a
resource name cannot recolour the terminal, reorder text or forge a second log line."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.models import Gap
from scanner.snapshot import read_demo, write_snapshot

HOSTILE = "\x1b[2J\x07evil\u202eeman\u2066\r\nmlwarden: error: forged\x00\x9b"
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def hostile_snapshot(tmp_path: Path) -> Path:
    inventory = read_demo()
    inventory.resources = [
        r.model_copy(update={"name": f"{r.name}{HOSTILE}"}) if "storageAccounts/" in r.id else r
        for r in inventory.resources
    ]
    header = inventory.header
    sources = list(header.sources)
    sources[0] = sources[0].model_copy(
        update={"gaps": (Gap(source=sources[0].name, scope=f"/subscriptions/x{HOSTILE}", reason=HOSTILE),)}
    )
    inventory.header = header.model_copy(update={"sources": tuple(sources)})
    path = tmp_path / "hostile.jsonl"
    write_snapshot(inventory, path)
    return path


def test_summary_warnings_and_report_names_are_neutralised(tmp_path: Path) -> None:
    snapshot = hostile_snapshot(tmp_path)
    result = invoke(
        "scan", "--snapshot", str(snapshot), "--fail-on", "none", "--allow-partial", "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 0, result.stderr
    assert "evil" in result.stdout  # the hostile resource is listed...
    assert "scan incomplete" in result.stderr and "evil" not in result.stderr.split("scan incomplete", 1)[0]
    for stream in (result.stdout, result.stderr):
        assert not UNSAFE.search(stream), repr(stream)  # ...but harmlessly
        assert not any(line.startswith("mlwarden: error: forged") for line in stream.splitlines())


def test_error_lines_are_neutralised(tmp_path: Path) -> None:
    result = invoke("scan", "--snapshot", str(tmp_path / f"missing{HOSTILE.replace(chr(0), '')}.jsonl"))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and not UNSAFE.search(result.stderr)
