"""The JSON report is the canonical record: it must round-trip and match its published schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from reports import json_report
from scanner.models import ScanResult


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
