"""Attestations: loaded strictly (one line naming file and line), applied without overriding checks."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from frameworks.catalog import Framework, load_all
from reports import RENDERERS, json_report
from scanner.attestations import load, manual_controls, template
from scanner.cli import cli
from scanner.compliance import attest
from scanner.errors import InputError
from scanner.models import Attestation, ControlResult, ScanResult
from scanner.registry import TAGS, load_checks
from scanner.safe_yaml import MAX_BYTES

TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def catalog() -> dict[str, Framework]:
    return load_all(check_ids=set(load_checks()), tags=TAGS)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def entry(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "framework": "hipaa-security-rule",
        "control": "164.308(a)(2)",
        "status": "implemented",
        "statement": "Dana Reyes is the appointed security official.",
        "evidence": [{"uri": "https://intranet.example/appointment.pdf"}],
        "attested_by": "Dana Reyes",
        "role": "Security Officer",
        "date": date(2026, 11, 2),
        "expires": date(2027, 11, 2),
    }
    base.update(overrides)
    return base


def write(tmp_path: Path, *entries: dict[str, object], name: str = "attestations.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"attestations": list(entries)}, sort_keys=False))
    return path


def fill(text: str) -> str:
    """What an auditor does with the template: fill every blank."""
    text = text.replace("statement: ''", "statement: Reviewed and in place.")
    text = text.replace("- uri: ''", "- uri: https://evidence.example/doc")
    text = text.replace("attested_by: ''", "attested_by: Dana Reyes")
    return text.replace("role: ''", "role: Security Officer")


@pytest.mark.parametrize("framework_id", ["hipaa-security-rule", "gdpr", "nist-800-53-r5", "soc2-tsc"])
def test_template_round_trips_through_the_loader(
    framework_id: str, catalog: dict[str, Framework], tmp_path: Path
) -> None:
    framework = catalog[framework_id]
    text = template(framework, TODAY, "0.0.0")
    manual = [c.id for c in manual_controls(framework)]
    for control in manual_controls(framework):
        if control.manual_evidence:
            assert " ".join(control.manual_evidence.split()) in text
    path = tmp_path / "a.yaml"
    path.write_text(fill(text))
    loaded = load(path, catalog)
    assert [key for key in loaded] == [(framework_id, control_id) for control_id in manual]
    assert all(a.status == "not-implemented" and a.expires > a.date == TODAY for a in loaded.values())


def test_unfilled_template_refuses_to_load_naming_the_line(catalog: dict[str, Framework], tmp_path: Path) -> None:
    text = template(catalog["gdpr"], TODAY, "0.0.0")
    path = tmp_path / "a.yaml"
    path.write_text(text)
    line = text.splitlines().index("    statement: ''") + 1
    with pytest.raises(InputError, match=rf"a\.yaml line {line}: 'statement' must be a non-empty string"):
        load(path, catalog)


def test_template_command_prints_the_accepted_shape(tmp_path: Path) -> None:
    result = invoke("attestations", "template", "--framework", "hipaa-security-rule")
    assert result.exit_code == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    assert list(document) == ["attestations"]
    assert len(document["attestations"]) == 37
    first = document["attestations"][0]
    assert list(first) == [
        "framework",
        "control",
        "status",
        "statement",
        "evidence",
        "attested_by",
        "role",
        "date",
        "expires",
    ]
    assert isinstance(first["date"], date) and first["evidence"] == [{"uri": ""}]
    unknown = invoke("attestations", "template", "--framework", "hipaa")
    assert unknown.exit_code == 2 and "unknown framework 'hipaa'" in error_line(unknown)
    several = invoke("attestations", "template", "--framework", "gdpr,hipaa-security-rule")
    assert several.exit_code == 2 and "exactly one framework" in error_line(several)


@pytest.mark.parametrize(
    ("override", "message", "marker"),
    [
        ({"framework": "hipaa"}, "unknown framework 'hipaa' (did you mean 'hipaa-", "- framework"),
        ({"control": "164.308(a)(2)(x)"}, "has no control '164.308(a)(2)(x)'", "control:"),
        ({"status": "done"}, "status 'done' is not one of implemented, partially-implemented", "status:"),
        ({"date": "2026-11-02T10:00:00"}, "'date' must be a date written YYYY-MM-DD", "date:"),
        ({"expires": "next year"}, "'expires' must be a date", "expires:"),
        ({"expires": date(2026, 1, 1)}, "expires 2026-01-01 is before the attestation date 2026-11-02", "expires:"),
        ({"attested_by": " "}, "'attested_by' must be a non-empty string", "attested_by:"),
        ({"evidence": []}, "'evidence' must list at least one", "evidence:"),
        ({"evidence": "https://x.example"}, "'evidence' must be a list", "evidence:"),
        ({"evidence": [{"url": "https://x.example"}]}, "each evidence item must be {uri: ...} or {file:", "- url:"),
        ({"evidence": [{"uri": "appointment.pdf"}]}, "is not an absolute URI", "- uri:"),
        ({"evidence": [{"file": "a.pdf", "sha256": "abc"}]}, "sha256 of 'a.pdf' must be 64 hexadecimal", "sha256:"),
        ({"owner": "x"}, "unknown key 'owner'", "owner:"),
        ({"atested_by": "x"}, "unknown key 'atested_by' (did you mean 'attested_by'?)", "atested_by:"),
    ],
)
def test_malformed_entries_name_file_and_line(
    override: dict[str, object], message: str, marker: str, catalog: dict[str, Framework], tmp_path: Path
) -> None:
    path = write(tmp_path, entry(), entry(**{"control": "164.308(a)(1)(i)", **override}))
    text = path.read_text().splitlines()
    second = [i for i, line in enumerate(text) if line.startswith("- framework:")][1]
    expected_line = next(i for i in range(second, len(text)) if text[i].lstrip().startswith(marker)) + 1
    with pytest.raises(InputError) as caught:
        load(path, catalog)
    assert str(caught.value).startswith(f"attestations {path} line {expected_line}: "), (str(caught.value), text)
    assert message in str(caught.value)


def test_missing_key_duplicate_and_document_shape(catalog: dict[str, Framework], tmp_path: Path) -> None:
    incomplete = entry()
    del incomplete["role"]
    with pytest.raises(InputError, match=r"line 2: attestation is missing 'role'"):
        load(write(tmp_path, incomplete), catalog)
    with pytest.raises(InputError, match=r"line 12: second attestation for hipaa-security-rule 164.308\(a\)\(2\) "):
        load(write(tmp_path, entry(), entry()), catalog)
    (tmp_path / "list.yaml").write_text("- framework: gdpr\n")
    with pytest.raises(InputError, match=r"line 1: expected one top-level key 'attestations:'"):
        load(tmp_path / "list.yaml", catalog)
    (tmp_path / "bad.yaml").write_text("attestations:\n  - framework: gdpr\n   control: [\n")
    with pytest.raises(InputError, match=r"bad\.yaml line \d+: invalid YAML"):
        load(tmp_path / "bad.yaml", catalog)
    (tmp_path / "alias.yaml").write_text("attestations:\n  - &e {framework: gdpr}\n  - *e\n")
    with pytest.raises(InputError, match=r"alias\.yaml line 3: "):
        load(tmp_path / "alias.yaml", catalog)
    (tmp_path / "big.yaml").write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(InputError, match=r"larger than 4 MiB"):
        load(tmp_path / "big.yaml", catalog)
    with pytest.raises(InputError, match=r"cannot read"):
        load(tmp_path / "absent.yaml", catalog)


def test_evidence_files_next_to_the_attestations_are_checked(catalog: dict[str, Framework], tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    document = tmp_path / "evidence" / "appointment.pdf"
    document.write_bytes(b"%PDF-1.7 appointment letter")
    digest = hashlib.sha256(document.read_bytes()).hexdigest()
    items = [
        {"file": "evidence/appointment.pdf", "sha256": digest.upper()},
        {"file": "vault/elsewhere.pdf", "sha256": "0" * 64},
    ]
    loaded = load(write(tmp_path, entry(evidence=items)), catalog)
    evidence = loaded[("hipaa-security-rule", "164.308(a)(2)")].evidence
    assert [(e.file, e.sha256, e.verified) for e in evidence] == [
        ("evidence/appointment.pdf", digest, True),
        ("vault/elsewhere.pdf", "0" * 64, False),
    ]
    document.write_bytes(b"%PDF-1.7 appointment letter, edited after sign-off")
    with pytest.raises(InputError, match=r"line 8: evidence file 'evidence/appointment.pdf' does not match its sha256"):
        load(write(tmp_path, entry(evidence=items)), catalog)


def _attestation(**overrides: object) -> Attestation:
    data = entry(**overrides)
    return Attestation.model_validate(data)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("manual", "attested"), ("not_assessed", "attested"), ("fail", "fail"), ("pass", "pass")],
)
def test_attestation_never_overrides_automated_evidence(status: str, expected: str) -> None:
    control = ControlResult(framework_id="f", control_id="c", title="t", status=status, reason="automated")  # type: ignore[arg-type]
    attestation = _attestation()
    applied = attest(control, attestation, TODAY)
    assert applied.status == expected and applied.attestation == attestation
    assert applied.expired_attestation is None
    if expected == "attested":
        assert "Dana Reyes (Security Officer)" in applied.reason and "expires 2027-11-02" in applied.reason
    else:
        assert applied.reason == "automated"


def test_expired_attestation_returns_the_control_to_manual() -> None:
    control = ControlResult(framework_id="f", control_id="c", title="t", status="manual")
    attestation = _attestation(expires=date(2026, 11, 26))
    applied = attest(control, attestation, TODAY)
    assert applied.status == "manual" and applied.attestation is None
    assert applied.expired_attestation == attestation
    assert attest(control, _attestation(expires=TODAY), TODAY).status == "attested"  # valid through its last day


@pytest.fixture(scope="module")
def attested_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    tmp_path = tmp_path_factory.mktemp("attested")
    path = write(
        tmp_path,
        entry(),
        entry(control="164.312(a)(2)(iv)", statement="Keys are customer-managed everywhere (we believe)."),
        entry(control="164.308(a)(1)(ii)(C)", expires=date(2026, 1, 31), date=date(2025, 1, 31)),
        entry(framework="gdpr", control="Art. 30", status="partially-implemented"),
    )
    out = tmp_path / "out"
    formats = ",".join(sorted(RENDERERS))
    return invoke("scan", "--demo", "--attestations", str(path), "--out", str(out), "--format", formats), out


def test_scan_with_attestations_reports_them_in_json(attested_demo: tuple[Result, Path]) -> None:
    result, out = attested_demo
    assert result.exit_code == 1, result.stderr
    document = json.loads((out / "mlwarden-report.json").read_bytes())
    jsonschema.Draft202012Validator(json.loads(json_report.SCHEMA_PATH.read_text())).validate(document)
    controls = {(fw["id"], c["control_id"]): c for fw in document["frameworks"] for c in fw["controls"]}
    official = controls[("hipaa-security-rule", "164.308(a)(2)")]
    assert official["status"] == "attested"
    assert official["attestation"]["attested_by"] == "Dana Reyes"
    assert official["attestation"]["date"] == "2026-11-02" and official["attestation"]["expires"] == "2027-11-02"
    assert official["attestation"]["reference"] == "attestations.yaml:2"
    failing = controls[("hipaa-security-rule", "164.312(a)(2)(iv)")]
    assert failing["status"] == "fail" and failing["failing"]
    assert failing["attestation"]["statement"].startswith("Keys are customer-managed")
    expired = controls[("hipaa-security-rule", "164.308(a)(1)(ii)(C)")]
    assert expired["status"] == "manual" and expired["attestation"] is None
    assert expired["expired_attestation"]["expires"] == "2026-01-31"
    assert controls[("gdpr", "Art. 30")]["attestation"]["status"] == "partially-implemented"
    hipaa = next(fw for fw in document["frameworks"] if fw["id"] == "hipaa-security-rule")
    assert sum(c["status"] == "attested" for c in hipaa["controls"]) == 1
    assert re.search(r"HIPAA Security Rule: \d+ pass, \d+ fail, 1 attested, \d+ manual", result.stdout)
    assert ScanResult.model_validate_json((out / "mlwarden-report.json").read_bytes()).frameworks


def test_scan_announces_expired_attestations(attested_demo: tuple[Result, Path]) -> None:
    result, _ = attested_demo
    warnings = [line for line in result.stderr.splitlines() if "attestation" in line]
    assert warnings == [
        "mlwarden: warning: attestation for hipaa-security-rule 164.308(a)(1)(ii)(C) (attestations.yaml:22) "
        "expired 2026-01-31; the control is manual again"
    ]


def test_every_report_renders_attested_controls(attested_demo: tuple[Result, Path]) -> None:
    _, out = attested_demo
    assert len(list(out.iterdir())) == len(RENDERERS)
    assert all(path.stat().st_size > 0 for path in out.iterdir())


def test_scan_stops_on_a_bad_attestations_file(tmp_path: Path) -> None:
    path = write(tmp_path, entry(control="164.999"))
    out = tmp_path / "out"
    result = invoke("scan", "--demo", "--attestations", str(path), "--out", str(out))
    assert result.exit_code == 2
    assert error_line(result) == (
        f"mlwarden: error: attestations {path} line 3: framework 'hipaa-security-rule' has no control '164.999'"
    )
    assert not out.exists()
