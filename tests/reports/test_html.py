"""The auditor's HTML report: escaped, self-contained, complete for both frameworks, small at scale."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest

from reports import html
from scanner.models import ScanResult
from tests.reports.conftest import HOSTILE_NAME, WORKSPACE


class _Collector(HTMLParser):
    """Tags, ids and in-page links of a document, to check structure rather than substrings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        for name in ("src", "srcset", "data"):
            if values.get(name):
                self.sources.append(str(values[name]))


def _parse(document: str) -> _Collector:
    collector = _Collector()
    collector.feed(document)
    return collector


@pytest.fixture
def page(result: ScanResult) -> str:
    return html.render(result).decode()


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("<section", start)
    return page[start : end if end != -1 else len(page)]


def test_untrusted_names_are_escaped_and_no_script_exists(page: str) -> None:
    assert HOSTILE_NAME not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = _parse(page)
    assert "script" not in parsed.tags
    assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"


def test_self_contained_with_no_external_assets(page: str) -> None:
    parsed = _parse(page)
    assert "link" not in parsed.tags
    assert parsed.sources == []
    assert all(link.startswith("#") for link in parsed.links)
    assert "default-src 'none'" in page


def test_every_in_page_link_has_a_target(page: str) -> None:
    parsed = _parse(page)
    missing = [link for link in parsed.links if link[1:] not in parsed.ids]
    assert missing == []


def test_gaps_come_first_and_are_labelled_not_assessed(page: str) -> None:
    assert page.index('id="gaps"') < page.index('id="scope"')
    gaps = page[page.index('id="gaps"') : page.index('id="scope"')]
    assert "403 AuthorizationFailed: no Reader role" in gaps
    assert "not assessed" in gaps


def test_scope_and_method_name_origin_subscriptions_and_sources(page: str, result: ScanResult) -> None:
    scope = _section(page, "scope")
    assert "azure" in scope
    assert all(sub in scope for sub in result.scope.subscriptions)
    assert "2026-11-24T09:12:05+00:00" in scope
    assert "key_metadata" in scope and "not collected" in scope


def test_both_framework_matrices_list_every_control(page: str, result: ScanResult) -> None:
    for framework in result.frameworks:
        matrix = _section(page, f"fw-{framework.id}")
        for control in framework.controls:
            assert f'<td class="mono">{control.control_id}</td>' in matrix
    assert "HIPAA Security Rule" in page and "GDPR" in page


def test_manual_controls_show_the_evidence_to_collect(page: str) -> None:
    gdpr = _section(page, "fw-gdpr")
    assert "The DPIA covering the triage model and its approval" in gdpr
    assert "The record of processing activities listing these ML systems" in gdpr
    hipaa = _section(page, "fw-hipaa-security-rule")
    assert "The current risk analysis document, its date and approver" in hipaa


def _row(matrix: str, control_id: str) -> str:
    start = matrix.index(f'<td class="mono">{control_id}</td>')
    return matrix[start : matrix.index("</tr>", start)]


def test_addressable_failure_needs_documented_justification_required_does_not(page: str) -> None:
    hipaa = _section(page, "fw-hipaa-security-rule")
    addressable = _row(hipaa, "164.312(a)(2)(iv)")
    assert "Addressable (A)" in addressable
    assert "needs documented justification" in addressable
    required = _row(hipaa, "164.312(d)")
    assert "Required (R)" in required
    assert "needs documented justification" not in required
    passing_addressable = _row(hipaa, "164.312(e)(2)(ii)")
    assert "needs documented justification" not in passing_addressable


def test_failing_controls_link_to_the_finding_detail(page: str, result: ScanResult) -> None:
    gdpr = _section(page, "fw-gdpr")
    row = _row(gdpr, "Art. 25(2)")
    fingerprint = next(f.fingerprint for f in result.findings if f.check_id == "MLW-WS-001")
    assert f'href="#f-{fingerprint}"' in row
    assert f'id="f-{fingerprint}"' in _section(page, "findings")


def test_deployment_posture_has_each_pillar_with_reasons(page: str, result: ScanResult) -> None:
    posture = _section(page, "deployments")
    for pillar in ("encryption", "private-network", "identity", "secrets"):
        assert f"<th>{pillar}</th>" in posture
    assert "not private: its workspace mlw-claims allows public network access" in posture
    assert "key metadata was not collected" in posture
    fingerprint = next(f.fingerprint for f in result.findings if f.check_id == "MLW-EP-001")
    assert f'href="#f-{fingerprint}"' in posture


def test_findings_show_evidence_and_remediation(page: str) -> None:
    findings = _section(page, "findings")
    assert "properties.publicNetworkAccess" in findings and ">Enabled<" in findings
    assert "(absent)" in findings
    assert "az ml workspace update" in findings
    assert "438c38d2-3772-465a-a9cc-7a6666a275ce" in findings
    assert WORKSPACE in findings
    assert "WAIVER-42" in findings
    assert "check raised KeyError" in findings


def test_passing_findings_are_counted_not_detailed(page: str) -> None:
    findings = _section(page, "findings")
    assert "purge protection is on" not in findings
    passing = _section(page, "passing")
    assert "MLW-KV-001" in passing


def test_waivers_name_owner_justification_and_expiry(page: str) -> None:
    waivers = _section(page, "waivers")
    assert "data-platform team" in waivers and "legacy batch job migrating in Q1" in waivers
    expired = _row(waivers, "MLW-WS-001")
    assert "2026-10-01" in expired and "expired: no longer applies" in expired
    assert "expired" not in _row(waivers, "MLW-ST-002")


def test_prints_with_page_breaks(page: str) -> None:
    assert "@media print" in page
    assert "break-before:page" in page
    assert page.count('class="page"') >= 4


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert html.render(result) == html.render(result.model_copy(update={"findings": result.findings[::-1]}))


def test_100k_findings_stay_small_because_passes_are_aggregated(large_result: ScanResult) -> None:
    started = time.perf_counter()
    document = html.render(large_result)
    elapsed = time.perf_counter() - started
    assert len(document) < 1_000_000, f"{len(document)} bytes"
    text = document.decode()
    assert "kv-000001<" not in text  # a passing vault
    assert "kv-001000" in text  # every 1000th vault fails and is detailed
    assert "99900" in _section(text, "passing")
    assert elapsed < 20


def test_a_check_failing_everywhere_is_detailed_up_to_a_cap(result: ScanResult) -> None:
    failing = next(f for f in result.findings if f.status.value == "fail")
    many = tuple(
        failing.model_copy(
            update={
                "resource_id": f"{failing.resource_id}-{index:04d}",
                "resource_name": f"{failing.resource_name}-{index:04d}",
                "fingerprint": f"{index:032x}",
            }
        )
        for index in range(html.DETAILS_PER_CHECK + 70)
    )
    text = html.render(result.model_copy(update={"findings": (*result.findings, *many)})).decode()
    shown = sum(1 for f in many if f"<strong>{f.resource_name}</strong>" in text)
    assert html.DETAILS_PER_CHECK - 1 <= shown <= html.DETAILS_PER_CHECK
    assert re.search(r"7[01] more finding\(s\) of this check are not detailed here", text)
