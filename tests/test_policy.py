"""Waivers and baselines: bounded accepted risk, and one clear line for a bad file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.models import Finding, Severity, Status
from scanner.policy import Waiver, apply, load_baseline, load_waivers

RID = "/subscriptions/s1/resourceGroups/rg-research/providers/Microsoft.Storage/storageAccounts/stresearch"


def _finding(check_id: str = "MLW-ST-07", resource_id: str = RID, status: Status = Status.FAIL) -> Finding:
    return Finding(
        check_id=check_id,
        resource_id=resource_id,
        resource_type="microsoft.storage/storageaccounts",
        resource_name="stresearch",
        status=status,
        severity=Severity.MEDIUM,
        title="t",
        message="m",
        fingerprint=Finding.make_fingerprint(check_id, resource_id),
    )


WAIVERS = """\
waivers:
  - check: MLW-ST-07
    resource: /subscriptions/*/resourceGroups/RG-RESEARCH/*
    justification: Research datastores need shared keys until the SDK upgrade.
    owner: data-platform@example.org
    expires: 2027-03-31
"""


def test_waiver_applies_until_it_expires(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS)
    waivers = load_waivers(path, {"MLW-ST-07"})
    findings, uses = apply([_finding(), _finding("MLW-ST-01")], waivers, frozenset(), date(2027, 1, 1))
    assert findings[0].waived_by and "data-platform@example.org" in findings[0].waived_by
    assert findings[1].waived_by is None
    assert uses[0].matched == 1 and not uses[0].expired
    expired, uses = apply([_finding()], waivers, frozenset(), date(2027, 4, 1))
    assert expired[0].waived_by is None
    assert uses[0].expired and uses[0].matched == 1


def test_baseline_marks_known_findings(tmp_path: Path) -> None:
    known = _finding()
    path = tmp_path / "baseline.json"
    path.write_text(f'{{"format": "mlwarden-baseline", "version": 1, "fingerprints": ["{known.fingerprint}"]}}')
    findings, _ = apply([known, _finding("MLW-ST-01")], [], load_baseline(path), datetime.now(UTC).date())
    assert [f.baselined for f in findings] == [True, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("waivers: [", "line 1: invalid YAML: expected the node content"),
        ("nope: 1\n", "line 1: expected a top-level 'waivers:' list"),
        (WAIVERS.replace("    owner: data-platform@example.org\n", ""), "line 2: waiver missing owner"),
        (WAIVERS.replace("2027-03-31", "next year"), "line 6: waiver 'expires' must be a date"),
        (WAIVERS.replace("MLW-ST-07", "MLW-NOPE-1"), "line 2: waiver names unknown check 'MLW-NOPE-1'"),
        (WAIVERS + "    colour: red\n", "unknown key(s) colour"),
        (WAIVERS + "    owner: twice\n", "duplicate key 'owner'"),
    ],
)
def test_bad_waiver_files_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_waivers(path, {"MLW-ST-07"})
    assert str(path) in str(info.value) and expected in str(info.value)


@pytest.mark.parametrize("text", ["{", '{"format": "other", "fingerprints": []}', "[]"])
def test_bad_baselines(tmp_path: Path, text: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(InputError, match="baseline"):
        load_baseline(path)


def test_waivers_are_tried_in_file_order_and_an_expired_one_does_not_stop_the_next() -> None:
    """Check ids match whatever their case; each matching waiver up to the first one in force counts the
    finding, and a finding both baselined and waived carries both marks."""
    old = Waiver("mlw-st-07", "*/rg-research/*", "old", "a@example.org", date(2020, 1, 1), 2)
    live = Waiver("MLW-ST-07", "/SUBSCRIPTIONS/*", "new", "b@example.org", date(2099, 1, 1), 8)
    later = Waiver("MLW-ST-07", "*", "never reached", "c@example.org", date(2099, 1, 1), 14)
    other = RID.replace("rg-research", "rg-prod")
    findings = [_finding(), _finding(resource_id=other), _finding(status=Status.PASS, resource_id=other + "2")]
    out, uses = apply(findings, [old, live, later], frozenset({findings[1].fingerprint}), date(2027, 1, 1))
    assert [f.waived_by for f in out] == [
        "b@example.org until 2099-01-01: new",
        "b@example.org until 2099-01-01: new",
        None,
    ]
    assert [f.baselined for f in out] == [False, True, False]
    assert out[2] is findings[2]
    assert [u.matched for u in uses] == [1, 2, 0]
    assert [u.notices for u in uses] == [("expired",), ("catch-all",), ("catch-all", "matches-nothing")]
