"""The auditor's HTML report: escaped, self-contained, complete for both frameworks, small at scale."""

from __future__ import annotations

import random
import re
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


def test_scope_and_method_name_origin_and_sources(page: str) -> None:
    scope = _section(page, "scope")
    assert "azure" in scope
    assert "key_metadata" in scope and "not collected" in scope


def test_executive_summary_opens_the_report(page: str, result: ScanResult) -> None:
    executive = _section(page, "executive")
    assert page.index('id="executive"') < page.index('id="scope"') < page.index('id="fw-gdpr"')
    hipaa = executive[executive.index("HIPAA Security Rule") :]
    cells = re.findall(r'<td class="num">(\d+)</td>', hipaa[: hipaa.index("</tr>")])
    assert cells == ["1", "2", "0", "1", "1"]  # met, failing, attested, manual, not assessed
    assert '25%</strong> <span class="muted">(1 of 4)' in executive
    assert "Prepared by" in executive and "Reviewed by" in executive and "Signature" in executive
    assert all(sub in executive for sub in result.scope.subscriptions)
    assert "2026-11-24 09:12:05 UTC" in executive and "2026-11-24 09:30:00 UTC" in executive


def test_top_risks_group_critical_and_high_failures_by_deployment(page: str) -> None:
    executive = _section(page, "executive")
    risks = executive[executive.index("Top risks") :]
    assert "mlw-claims/ep-triage/blue" in risks
    row = risks[
        risks.index("mlw-claims/ep-triage/blue") : risks.index("</tr>", risks.index("mlw-claims/ep-triage/blue"))
    ]
    assert "mlw-claims/ep-triage</a>: authMode is Key" in row  # the endpoint it runs on, high
    assert "mlw-claims</a>: publicNetworkAccess is Enabled" in row  # its workspace, high
    assert "encryption uses Microsoft-managed keys" not in row  # medium: not a top risk
    outside = risks[risks.index("Outside any ML deployment") :]
    assert "keeps secrets" not in outside and "DB_PASSWORD" in outside


def test_times_are_to_the_second(page: str) -> None:
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", page)
    assert "+00:00" not in page


def test_every_framework_matrix_lists_every_control_under_one_label(page: str, result: ScanResult) -> None:
    for framework in result.frameworks:
        matrix = _section(page, f"fw-{framework.id}")
        for control in framework.controls:
            assert f'<td class="mono cid">{control.control_id}</td>' in matrix
    assert "HIPAA Security Rule, 45 CFR 164 Subpart C" in page and "GDPR, Regulation (EU) 2016/679" in page


def test_manual_controls_show_the_evidence_to_collect(page: str) -> None:
    gdpr = _section(page, "fw-gdpr")
    assert "The DPIA covering the triage model and its approval" in gdpr
    assert "The record of processing activities listing these ML systems" in gdpr
    hipaa = _section(page, "fw-hipaa-security-rule")
    assert "The current risk analysis document, its date and approver" in hipaa


def _row(matrix: str, control_id: str) -> str:
    start = matrix.index(f">{control_id}</td>")
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
    assert "R/A" not in _section(page, "fw-gdpr")  # GDPR has no required/addressable flags


def test_failing_controls_link_to_each_finding_with_its_message(page: str, result: ScanResult) -> None:
    gdpr = _section(page, "fw-gdpr")
    row = _row(gdpr, "Art. 25(2)")
    finding = next(f for f in result.findings if f.check_id == "MLW-WS-001" and f.status.value == "fail")
    anchor = html.anchor_of(finding)
    assert f'href="#{anchor}"' in row
    assert "publicNetworkAccess is Enabled" in row
    assert finding.title not in row
    assert f'id="{anchor}"' in _section(page, "findings")
    assert "mlw-research" in row  # the passing workspace is named too


def _many_failures(result: ScanResult, count: int) -> ScanResult:
    """`count` more failures of MLW-WS-003 on distinct workspaces, all behind HIPAA 164.312(a)(2)(iv)."""
    failing = next(f for f in result.findings if f.check_id == "MLW-WS-003" and f.status.value == "fail")
    many = tuple(
        failing.model_copy(
            update={
                "resource_id": f"{failing.resource_id}-{index:04d}",
                "resource_name": f"{failing.resource_name}-{index:04d}",
                "fingerprint": f"{index:032x}",
            }
        )
        for index in range(count)
    )
    hipaa = result.frameworks[0]
    control = hipaa.controls[0].model_copy(
        update={"failing": (*hipaa.controls[0].failing, *(f.fingerprint for f in many))}
    )
    framework = hipaa.model_copy(update={"controls": (control, *hipaa.controls[1:])})
    return result.model_copy(
        update={"findings": (*result.findings, *many), "frameworks": (framework, *result.frameworks[1:])}
    )


def test_every_failing_finding_is_reachable_from_its_control_without_truncation(result: ScanResult) -> None:
    text = html.render(_many_failures(result, 120)).decode()
    row = _row(_section(text, "fw-hipaa-security-rule"), "164.312(a)(2)(iv)")
    for index in (0, 57, 119):
        assert f'href="#f{f"{index:032x}"[:12]}"' in row
        assert f'id="f{f"{index:032x}"[:12]}"' in text
    assert "more failing" not in row and "…and" not in text
    assert "121 failing resource(s)" in row


def test_failures_sort_by_severity_then_deployment(result: ScanResult) -> None:
    text = html.render(result).decode()
    gdpr = _row(_section(text, "fw-gdpr"), "Art. 32(1)(a)")
    # the workspace (medium, used by a deployment) comes after the web app (low) only if severity ties; here
    # medium ranks above low, so the workspace is first
    assert gdpr.index("encryption uses Microsoft-managed keys") < gdpr.index("minTlsVersion is 1.0")


def test_deployment_posture_has_each_pillar_with_reasons_and_full_names(page: str, result: ScanResult) -> None:
    posture = _section(page, "deployments")
    for pillar in ("encryption", "private-network", "identity", "secrets"):
        assert f"<th>{pillar}</th>" in posture
    assert "mlw-claims/ep-triage/blue" in posture
    assert "not private: its workspace mlw-claims allows public network access" in posture
    assert "key metadata was not collected" in posture
    finding = next(f for f in result.findings if f.check_id == "MLW-EP-001")
    assert f'href="#{html.anchor_of(finding)}"' in posture


def test_findings_show_evidence_remediation_and_wrappable_ids(page: str) -> None:
    findings = _section(page, "findings")
    assert '<span class="path">properties.<wbr>publicNetworkAccess</span> = Enabled' in findings  # breaks at dots
    assert "(absent)" in findings
    assert "az ml workspace update" in findings
    assert "438c38d2-3772-465a-a9cc-7a6666a275ce" in findings
    assert WORKSPACE.replace("/", "/<wbr>") in findings
    assert "WAIVER-42" in findings
    assert "check raised KeyError" in findings
    assert "mlw-claims/ep-triage/blue" in findings  # the deployments a finding affects


def test_passing_resources_are_named_under_their_check(page: str) -> None:
    findings = _section(page, "findings")
    section = findings[findings.index('id="check-MLW-KV-001"') :]
    assert "1 passing resource(s)" in section and "kv-claims" in section


def _attested(result: ScanResult, status: str) -> ScanResult:
    from datetime import date

    from scanner.models import Attestation, AttestationEvidence

    attestation = Attestation(
        framework="gdpr",
        control="Art. 30",
        status=status,  # type: ignore[arg-type]
        statement="The RoPA lists every ML system.",
        evidence=(AttestationEvidence(uri="https://docs.example/ropa"),),
        attested_by="Dana Reyes",
        role="DPO",
        date=date(2026, 10, 1),
        expires=date(2027, 10, 1),
        reference="attestations.yaml:3",
    )
    gdpr = result.frameworks[1]
    attested = gdpr.controls[2].model_copy(update={"status": "attested", "attestation": attestation})
    framework = gdpr.model_copy(update={"controls": (*gdpr.controls[:2], attested, *gdpr.controls[3:])})
    return result.model_copy(update={"frameworks": (result.frameworks[0], framework)})


def _exec_cells(text: str, label: str) -> list[str]:
    executive = _section(text, "executive")
    row = executive[executive.index(label) :]
    return re.findall(r'<td class="num">(\d+)</td>', row[: row.index("</tr>")])


def test_attested_controls_show_the_attestation_and_count_as_met(result: ScanResult) -> None:
    text = html.render(_attested(result, "implemented")).decode()
    row = _row(_section(text, "fw-gdpr"), "Art. 30")
    assert "Dana Reyes" in row and "2027-10-01" in row and "https://docs.example/ropa" in row
    assert "attestations.yaml:3" in row and ">attested<" in row
    assert _exec_cells(text, "GDPR, Regulation") == ["0", "2", "1", "1", "0"]
    assert "25%" in _section(text, "executive")


def test_attested_not_applicable_leaves_scope_not_implemented_is_not_met(result: ScanResult) -> None:
    executive = _section(html.render(_attested(result, "not-applicable")).decode(), "executive")
    assert "(0 of 3)" in executive
    executive = _section(html.render(_attested(result, "not-implemented")).decode(), "executive")
    assert "(0 of 4)" in executive


def test_waivers_name_owner_justification_and_expiry(page: str) -> None:
    waivers = _section(page, "waivers")
    assert "data-platform team" in waivers and "legacy batch job migrating in Q1" in waivers
    expired = waivers[waivers.index(">MLW-WS-001<") :]
    expired = expired[: expired.index("</tr>")]
    assert "2026-10-01" in expired and "expired: no longer applies" in expired


def test_each_waiver_names_its_line_in_the_waivers_file(result: ScanResult) -> None:
    """An auditor asking where a waiver was granted had owner, reason and expiry, not the line."""
    waivers = tuple(use.model_copy(update={"line": 7 + 5 * n}) for n, use in enumerate(result.waivers))
    section = _section(html.render(result.model_copy(update={"waivers": waivers})).decode(), "waivers")
    for use in waivers:
        assert f"waivers file, line {use.line}" in section


def test_prints_with_page_breaks(page: str) -> None:
    assert "@media print" in page
    assert "break-before:page" in page
    assert page.count('class="page') >= 4


def test_same_input_same_bytes(result: ScanResult) -> None:
    assert html.render(result) == html.render(result.model_copy(update={"findings": result.findings[::-1]}))


def test_where_the_findings_lie_in_memory_changes_no_byte(result: ScanResult) -> None:
    """The pass over the findings reads them in the order they lie in memory, not the report's:
    the page must be the one their report order gives whatever order they were made in, ties
    included (two critical failures of one check and resource differ only by their detail, and
    the top risks list them in report order), with and without per-finding evidence."""
    failing = next(f for f in result.findings if f.status.value == "fail" and f.severity.value in ("critical", "high"))
    twins = tuple(
        failing.model_copy(update={"detail_key": f"key-{n}", "fingerprint": f"{n:031x}e", "message": "the same"})
        for n in (2, 1, 3)
    )
    for base in (result, _many_failures(result, html.EVIDENCE_BUDGET + 10)):
        given = base.model_copy(update={"findings": (*base.findings, *twins)})
        expected = html.render(given)
        assert b"key-1" in expected
        for seed in range(4):
            made = list(range(len(given.findings)))
            random.Random(seed).shuffle(made)
            copies = {index: given.findings[index].model_copy() for index in made}  # allocated in shuffled order
            moved = given.model_copy(update={"findings": tuple(copies[index] for index in range(len(made)))})
            assert html.render(moved) == expected


def test_100k_findings_stay_small_and_still_name_every_failure(large_result: ScanResult) -> None:
    text = html.render(large_result).decode()
    assert len(text.encode()) < 5_000_000, f"{len(text)} bytes"
    for index in range(0, 100_000, 1000):
        assert f">kv-{index:06d}<" in text  # every failing vault, with its anchor
    assert "kv-000001, " in text  # passing vaults are named too, in a collapsed list
    assert "99900 passing resource(s)" in text


def test_a_large_report_says_where_the_evidence_is(result: ScanResult) -> None:
    text = html.render(_many_failures(result, html.EVIDENCE_BUDGET + 10)).decode()
    assert "too many for a row each" in text
    assert "JSON and CSV reports" in text
    assert f">{result.findings[1].resource_name}-{html.EVIDENCE_BUDGET + 9:04d}<" in text


def test_a_large_report_escapes_the_rows_python_writes(result: ScanResult) -> None:
    """Past the evidence budget, the grouped finding names and the posture rows are written in
    Python, not by the template: hostile names must come out escaped there too."""
    evil = '<img src=x onerror="alert(1)">&'
    escaped = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;"
    big = _many_failures(result, html.EVIDENCE_BUDGET + 10)
    failing = next(f for f in big.findings if f.check_id == "MLW-WS-003" and f.status.value == "fail")
    hostile = failing.model_copy(
        update={"resource_id": f"{failing.resource_id}{evil}", "fingerprint": "e" * 32, "message": "a & b"}
    )
    posture = big.postures[0].model_copy(update={"kind": evil, "name": evil})
    text = html.render(big.model_copy(update={"findings": (*big.findings, hostile), "postures": (posture,)})).decode()
    assert "too many for a row each" in text  # the compact listing, not per-finding rows
    assert evil not in text
    assert f'<span id="feeeeeeeeeeee">{failing.resource_name}{escaped}</span>' in text
    assert "a &amp; b (1)" in text
    assert f'<span class="muted">{escaped} · ' in text  # the posture row's kind
    parsed = _parse(text)
    assert "img" not in parsed.tags
    assert "feeeeeeeeeeee" in parsed.ids


def test_a_long_list_of_subscriptions_is_counted_and_collapsed(result: ScanResult) -> None:
    """290 subscriptions filled a screen of the executive summary (four pages of the PDF): beyond
    `SUBSCRIPTIONS_LISTED` the row says how many and opens on click; the PDF lists them under Scope
    and method."""
    many = tuple(f"{n:08d}-0000-4000-8000-000000000000" for n in range(html.SUBSCRIPTIONS_LISTED + 1))
    scope = result.scope.model_copy(update={"subscriptions": many})
    wide = result.model_copy(update={"scope": scope})
    page = html.render(wide).decode()
    row = page[page.index("<th>Subscriptions</th>") :].split("</tr>", 1)[0]
    assert f"<summary>{len(many)} subscriptions (display name and id)</summary>" in row
    assert all(sub in row for sub in many)
    printed = html.render_view(wide, html.build_view(wide, media="print"))
    summary = printed[printed.index("<th>Subscriptions</th>") :].split("</tr>", 1)[0]
    assert f'{len(many)} subscriptions, each named in <a href="#scope-subscriptions">' in summary
    assert not any(sub in summary for sub in many)  # the PDF's summary stays a summary
    listed = printed[printed.index('<h3 id="scope-subscriptions">') :].split("</p>", 1)[0]
    assert all(sub in listed for sub in many)
    few = html.render(result).decode()
    assert "subscriptions (display name and id)" not in few


def test_every_hipaa_control_row_has_its_flag_or_says_it_is_a_standard() -> None:
    """The R/A column of the demo's HIPAA table: an implementation specification is Required or
    Addressable, a standard without specifications Required, and a standard with them says so
    instead of an empty cell (Appendix A flags its specifications, not the standard)."""
    from click.testing import CliRunner

    from scanner.cli import cli

    args = ["scan", "--demo", "--format", "html", "--framework", "hipaa-security-rule", "--fail-on", "none"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.stderr
    cells = r'<tr>\s*<td class="mono cid">(164\.[^<]+)</td>\s*<td>.*?</td>\s*<td>(.*?)</td>'
    rows = re.findall(cells, done.stdout, re.S)
    assert len(rows) == 59, len(rows)
    labels = {control: level.strip() for control, level in rows}
    assert labels["164.308(a)(1)(i)"] == html.STANDARD_LABEL
    assert labels["164.308(a)(1)(ii)(A)"] == "Required (R)"
    assert labels["164.312(a)(2)(iv)"] == "Addressable (A)"
    assert labels["164.308(a)(2)"] == "Required (R)"
    assert all(labels.values())
