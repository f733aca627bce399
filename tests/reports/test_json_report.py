"""The JSON report is the canonical record: it must round-trip and match its published schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import orjson
import pytest
import yaml

from reports import json_report
from scanner.models import Evidence, ScanResult


def test_committed_schema_is_the_generated_one() -> None:
    committed = json.loads(json_report.SCHEMA_PATH.read_text())
    assert committed == json_report.schema(), "model changed: run `python -m reports.json_report --schema`"
    assert json_report.SCHEMA_PATH.read_bytes() == json_report.schema_bytes()


def test_dump_validates_against_the_published_schema(result: ScanResult) -> None:
    schema = json.loads(json_report.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(json_report.render(result)))


def test_schema_rejects_a_finding_with_an_invented_status(result: ScanResult) -> None:
    document = json.loads(json_report.render(result))
    document["findings"][0]["status"] = "mostly-fine"
    validator = jsonschema.Draft202012Validator(json.loads(json_report.SCHEMA_PATH.read_text()))
    assert any("mostly-fine" in error.message for error in validator.iter_errors(document))


def test_dump_round_trips_to_an_equal_result(result: ScanResult) -> None:
    assert ScanResult.model_validate_json(json_report.render(result)) == result


def test_keys_are_sorted_and_output_is_byte_stable(result: ScanResult) -> None:
    first = json_report.render(result)
    assert first == json_report.render(result.model_copy(deep=True))
    top_level = list(json.loads(first))
    assert top_level == sorted(top_level)
    assert first.endswith(b"\n")


def test_every_finding_is_kept_including_passes(result: ScanResult) -> None:
    document = json.loads(json_report.render(result))
    assert len(document["findings"]) == len(result.findings)
    assert {f["status"] for f in document["findings"]} == {"pass", "fail", "error", "unknown", "not_applicable"}


def test_schema_command_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "schema" / "scan-result.schema.json"
    assert json_report.main(["--schema", "--output", str(target)]) == 0
    assert target.read_bytes() == json_report.schema_bytes()
    assert json_report.main([]) == 2


def _demo_result() -> ScanResult:
    from frameworks.catalog import load_all
    from scanner.engine import scan
    from scanner.registry import TAGS, load_checks
    from scanner.snapshot import read_demo

    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    return scan(read_demo(), origin="demo", checks=checks, frameworks=frameworks)


def test_each_finding_is_its_model_dump_without_empty_optional_fields() -> None:
    """The hand-built dict of the fast path says exactly what pydantic would, on every demo finding."""
    result = _demo_result()
    document = json.loads(json_report.render(result))
    assert len(document["findings"]) == len(result.findings)
    for written, finding in zip(document["findings"], result.findings, strict=True):
        dumped = finding.model_dump(mode="json")
        assert written == {k: v for k, v in dumped.items() if v is not None or k not in json_report.OPTIONAL}
        assert "waived_by" in written and "baselined" in written  # what a consumer tests is always there
    assert ScanResult.model_validate(document) == result
    assert any("remediation" in f for f in document["findings"]) and any("change" in f for f in document["findings"])


def test_lean_lines_are_smaller_than_the_indented_dump(result: ScanResult) -> None:
    """One compact line per finding, without empty optional fields, yet nothing of the result lost."""
    lean = json_report.render(result)
    full = orjson.dumps(result.model_dump(mode="json"), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    assert len(lean) < len(full) * 0.7
    assert b'"source_line":null' not in lean and b'"change":null' not in lean
    lines = lean.split(b"\n")
    start = lines.index(b'"findings":[')
    assert lines[start + 1 + len(result.findings)] == b"],"
    assert [json.loads(line.rstrip(b",")) for line in lines[start + 1 : start + 1 + len(result.findings)]]


def test_values_orjson_cannot_write_fall_back_to_pydantic(result: ScanResult) -> None:
    """An integer beyond 64 bits (a template may hold one), a set and a datetime in evidence."""
    odd = Evidence(path="properties.x", value={"big": 2**70, "when": datetime(2026, 1, 2, tzinfo=UTC), "s": {"a"}})
    finding = result.findings[0].model_copy(update={"evidence": (odd,)})
    changed = result.model_copy(update={"findings": (finding, *result.findings[1:])})
    document = json.loads(json_report.render(changed))
    assert document["findings"][0]["evidence"] == [
        {"path": "properties.x", "value": {"big": 2**70, "when": "2026-01-02T00:00:00Z", "s": ["a"]}}
    ]


def test_writes_to_a_handle_in_pieces(result: ScanResult, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    with target.open("wb") as handle:
        json_report.write(result, handle)
    assert target.read_bytes() == json_report.render(result)


def test_batched_lines_are_each_element_alone(result: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """Elements dumped a batch at a time read exactly as each dumped on its own, whatever the text
    holds (newlines and commas included) and when one element of a batch needs the slow way."""
    monkeypatch.setattr(json_report, "_BATCH", 3)
    tricky = "a\n,b,\n,c\\n,\u2028"
    odd = Evidence(path="properties.x", value={"big": 2**70, tricky: [tricky]})
    findings = [f.model_copy(update={"message": tricky + f.message}) for f in result.findings]
    findings[4] = findings[4].model_copy(update={"evidence": (odd,)})
    changed = result.model_copy(update={"findings": tuple(findings)})
    lines = json_report.render(changed).split(b"\n")
    start = lines.index(b'"findings":[') + 1
    written = lines[start : start + len(findings)]
    assert written == [json_report._dumps(json_report.lean_finding(f)) + b"," for f in findings[:-1]] + [
        json_report._dumps(json_report.lean_finding(findings[-1]))
    ]
    assert lines[start + len(findings)] == b"],"
    assert ScanResult.model_validate_json(b"\n".join(lines)) == changed


@pytest.mark.parametrize(
    "batch",
    [
        [{"b": 1, "a": 2}, {"a": 3}, {"a": 'x\n,{"a":'}],  # one first key: the long pattern
        [{"a": 1}, {"b": 2}, {"a": 3}],  # first keys differ: the plain replace
        [{}, {}, {"a": 1}, {"a": 2}],  # empty elements: the first key is past another separator
        [{}, {"a": 1}, {}, {"a": 2}],
        ["k:v", "k:v", "k:w"],  # strings, not objects, with a colon
        [1, 2, 3],  # no colon near a separator
        [{"a": 1}],  # no separator
    ],
)
def test_batch_separators_lose_their_comma_whatever_the_elements(batch: list[object]) -> None:
    """`_dump_lines` reads as each element dumped alone, on the fast path and on every fallback."""
    assert bytes(json_report._dump_lines(batch)) == b",\n".join(json_report._dumps(item) for item in batch)


def test_controls_and_postures_are_each_their_model_dump(tmp_path: Path) -> None:
    """Controls and postures are written from their fields, not pydantic's dump: each line says
    what `model_dump(mode="json")` says, attestations (a live one, an expired one) included."""
    from frameworks.catalog import load_all
    from scanner.attestations import load
    from scanner.engine import scan
    from scanner.registry import TAGS, load_checks
    from scanner.snapshot import read_demo

    checks = load_checks(plugins=False)
    catalog = load_all(check_ids=set(checks), tags=TAGS)

    def entry() -> dict[str, object]:
        return {
            "statement": 'Dana "R" is the security official, \u00fcn\u00efc\u00f8de',
            "evidence": [{"uri": "https://intranet.example/appointment.pdf"}],
            "attested_by": "Dana Reyes",
            "role": "Security Officer",
        }

    path = tmp_path / "attestations.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "attestations": [
                    {"framework": "hipaa-security-rule", "control": "164.308(a)(2)", "status": "implemented"}
                    | entry()
                    | {"date": date(2026, 11, 2), "expires": date(2027, 11, 2)},
                    {"framework": "gdpr", "control": "Art. 30", "status": "partially-implemented"}
                    | entry()
                    | {"date": date(2025, 1, 2), "expires": date(2025, 6, 2)},
                ]
            }
        )
    )
    result = scan(
        read_demo(),
        origin="demo",
        checks=checks,
        frameworks=list(catalog.values()),
        attestations=load(path, catalog),
        now=datetime(2026, 11, 27, tzinfo=UTC),
    )
    document = json.loads(json_report.render(result))
    controls = [control for framework in result.frameworks for control in framework.controls]
    assert any(c.attestation for c in controls) and any(c.expired_attestation for c in controls)
    written = [control for framework in document["frameworks"] for control in framework["controls"]]
    assert written == [control.model_dump(mode="json") for control in controls]
    assert any(control["failing"] for control in written)
    assert document["postures"] == [posture.model_dump(mode="json") for posture in result.postures]
    assert any(p["dependencies"] for p in document["postures"])
    assert ScanResult.model_validate(document) == result
