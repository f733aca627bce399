"""CSV: one row per finding, parseable, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import csv_report
from scanner.models import ScanResult
from tests.reports.conftest import FORMULA_NAME, PIPE_MESSAGE


def _rows(result: ScanResult) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_report.render(result).decode(), newline="")))


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"])
def test_formula_starts_are_quoted(value: str) -> None:
    assert csv_report.safe(value) == "'" + value
    assert csv_report.safe_row(["x", value, ""]) == ["x", "'" + value, ""]


@pytest.mark.parametrize("value", ["mlw-claims", "/subscriptions/x", "1.2", ""])
def test_ordinary_values_are_untouched(value: str) -> None:
    assert csv_report.safe(value) == value
    assert csv_report.safe_row([value]) == [value]


def test_one_row_per_finding_with_the_documented_columns(result: ScanResult) -> None:
    rows = _rows(result)
    assert len(rows) == len(result.findings)
    assert tuple(rows[0]) == csv_report.COLUMNS


def test_formula_resource_name_is_neutralised(result: ScanResult) -> None:
    names = {row["resource_name"] for row in _rows(result)}
    assert "'" + FORMULA_NAME in names
    assert FORMULA_NAME not in names


def test_multiline_values_and_evidence_survive_quoting(result: ScanResult) -> None:
    row = next(r for r in _rows(result) if r["detail_key"] == "DB_PASSWORD")
    assert row["message"] == PIPE_MESSAGE
    assert "appSettings.DB_PASSWORD = plaintext secret (value not kept)" in row["evidence"]
    waived = next(r for r in _rows(result) if r["check_id"] == "MLW-ST-002")
    assert waived["waived_by"].startswith("WAIVER-42")
    assert waived["evidence"] == "properties.allowSharedKeyAccess = (absent)"


def test_worst_first_and_byte_stable(result: ScanResult) -> None:
    rows = _rows(result)
    assert (rows[0]["status"], rows[0]["severity"]) == ("fail", "critical")
    assert rows[-1]["status"] == "not_applicable"
    assert csv_report.render(result) == csv_report.render(result.model_copy(update={"findings": result.findings[::-1]}))


def test_rows_carry_resource_group_location_and_deployments(result: ScanResult) -> None:
    rows = _rows(result)
    workspace = next(r for r in rows if r["check_id"] == "MLW-WS-003" and r["status"] == "fail")
    assert workspace["resource_group"] == "rg-ml-prod"
    assert workspace["deployments"] == "mlw-claims/ep-triage/blue"
    located = result.model_copy(
        update={"findings": tuple(f.model_copy(update={"location": "westeurope"}) for f in result.findings)}
    )
    assert {r["location"] for r in _rows(located)} == {"westeurope"}


_CELL = st.text(alphabet=st.sampled_from(list(",\"\r\n\x00 \t=+-@'a;é\u2028\x85")), max_size=8)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_CELL, min_size=1, max_size=6))
def test_each_record_is_what_the_standard_csv_writer_writes(cells: list[str]) -> None:
    """The fast record builder against `csv.writer` itself: quoting, doubled quotes, empty cells,
    a lone empty cell, line breaks and characters the standard writer leaves alone."""
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerow(cells)
    assert csv_report.line(cells) == expected.getvalue()


@settings(max_examples=3000, deadline=None)
@given(st.lists(_CELL, min_size=1, max_size=6))
def test_a_neutralised_record_is_the_standard_writer_on_the_neutralised_cells(cells: list[str]) -> None:
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerow(csv_report.safe_row(cells))
    assert csv_report.record(cells) == expected.getvalue()
