"""The same entry twice in a waivers file: the first waiver took every finding, the second was
announced as 'matches no failing finding: remove it or fix its pattern' (it did match), and whose
owner and expiry counted was the file's order. One check and pattern (compared as matching compares
them: check ids and patterns in any casing) given twice is now exit 2 naming both lines. Attestations
for one control twice were already refused; that stays tested here with them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

AKS = (
    "/subscriptions/*/resourceGroups/rg-research-aks/providers/Microsoft.ContainerService/managedClusters"
    "/aks-lh-batch-legacy"
)


def _waiver(check: str, resource: str, owner: str = "a@example.org", expires: str = "2027-01-01") -> str:
    return (
        f"  - check: {check}\n    resource: {resource}\n    justification: accepted\n"
        f"    owner: {owner}\n    expires: {expires}\n"
    )


def _scan(tmp_path: Path, *entries: str) -> tuple[int, str]:
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n" + "".join(entries))
    result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "-q", "--waivers", str(path)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("second", "shown"),
    [
        (_waiver("MLW-AKS-02", AKS), "MLW-AKS-02"),
        (_waiver("MLW-AKS-02", AKS, owner="b@example.org", expires="2099-12-31"), "MLW-AKS-02"),
        (_waiver("mlw-aks-02", AKS), "mlw-aks-02"),
        (_waiver("MLW-AKS-02", AKS.upper()), "MLW-AKS-02"),
    ],
    ids=["identical", "other-owner-and-expiry", "check-in-lower-case", "pattern-in-upper-case"],
)
def test_one_check_and_pattern_twice_is_refused_naming_both_lines(tmp_path: Path, second: str, shown: str) -> None:
    code, stderr = _scan(tmp_path, _waiver("MLW-AKS-02", AKS), _waiver("MLW-KV-08", "'*kv-nothing*'"), second)
    assert code == 2, stderr
    assert stderr.splitlines() == [
        f"mlwarden: error: waivers {tmp_path / 'waivers.yaml'} line 12: a second waiver for {shown} on the same "
        "resource pattern (first at line 2); keep one, with the owner and expiry that count"
    ]


@pytest.mark.parametrize(
    "second",
    [_waiver("MLW-AKS-01", AKS), _waiver("MLW-AKS-02", AKS.replace("aks-lh-batch-legacy", "aks-*"))],
    ids=["another-check", "another-pattern"],
)
def test_waivers_that_differ_in_check_or_pattern_both_load(tmp_path: Path, second: str) -> None:
    code, stderr = _scan(tmp_path, _waiver("MLW-AKS-02", AKS), second)
    assert code == 0 and "error" not in stderr, stderr


def test_attestations_for_one_control_twice_are_refused(tmp_path: Path) -> None:
    entry = (
        "  - framework: gdpr\n    control: Art. 9\n    status: implemented\n    statement: We do.\n"
        "    evidence:\n    - uri: https://x.example/a\n    attested_by: A\n    role: DPO\n"
        "    date: 2026-11-01\n    expires: 2027-11-28\n"
    )
    path = tmp_path / "att.yaml"
    path.write_text("attestations:\n" + entry + entry)
    result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "-q", "--attestations", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"mlwarden: error: attestations {path} line 12: second attestation for gdpr Art. 9 (first at line 2)"
    ]
