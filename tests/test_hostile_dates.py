"""Dates where a date is expected, given as a date and time (with and without a zone) in the YAML
inputs: an attestation's `date` and `expires` were refused as `datetime.datetime(2026, 11, 1, 10,
0)`, Python's spelling, in the one error line; waivers already said '(a date, not a date and
time)'. Both are checked here for every spelling YAML reads as a timestamp."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

TIMESTAMPS = [
    ("2026-11-01T10:00:00", "2026-11-01 10:00:00"),
    ("2026-11-01 10:00:00", "2026-11-01 10:00:00"),
    ("2026-11-01t10:00:00.5", "2026-11-01 10:00:00.500000"),
    ("2026-11-01T10:00:00Z", "2026-11-01 10:00:00+00:00"),
    ("2026-11-01 10:00:00 +02:00", "2026-11-01 10:00:00+02:00"),
]


def _attestation(date: str, expires: str) -> str:
    return (
        "attestations:\n  - framework: gdpr\n    control: Art. 9\n    status: implemented\n    statement: We do.\n"
        "    evidence:\n    - uri: https://x.example/a\n    attested_by: A\n    role: DPO\n"
        f"    date: {date}\n    expires: {expires}\n"
    )


@pytest.mark.parametrize("key", ["date", "expires"])
@pytest.mark.parametrize(("written", "shown"), TIMESTAMPS)
def test_an_attestation_date_given_with_a_time(tmp_path: Path, key: str, written: str, shown: str) -> None:
    path = tmp_path / "att.yaml"
    path.write_text(
        _attestation(written if key == "date" else "2026-10-01", written if key == "expires" else "2027-11-28")
    )
    result = CliRunner().invoke(cli, ["scan", "--demo", "-q", "--fail-on", "none", "--attestations", str(path)])
    assert result.exit_code == 2
    line = 10 if key == "date" else 11
    assert result.stderr.splitlines() == [
        f"mlwarden: error: attestations {path} line {line}: {key!r} must be a date written YYYY-MM-DD "
        f"(got a date and time, {shown})"
    ]


@pytest.mark.parametrize(("written", "_shown"), TIMESTAMPS)
def test_a_waiver_expiry_given_with_a_time(tmp_path: Path, written: str, _shown: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "waivers:\n  - check: MLW-AKS-02\n    resource: '*'\n    justification: x\n    owner: o\n"
        f"    expires: {written}\n"
    )
    result = CliRunner().invoke(cli, ["scan", "--demo", "-q", "--fail-on", "none", "--waivers", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"mlwarden: error: waivers {path} line 6: waiver 'expires' must be a date (YYYY-MM-DD) "
        "(a date, not a date and time)"
    ]
