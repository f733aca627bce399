"""The PDF, rendered by WeasyPrint from the demo the way an auditor would ask for it.

One real render (module-scoped, through the CLI) is checked page by page with pypdf: the page
budget, the running footer on every page after the cover, the table of contents with page
numbers, the paper size. Without WeasyPrint the CLI says what to install, in one line, exit 2.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from reports import pdf
from reports.options import RenderOptions
from scanner.cli import cli
from scanner.models import ScanResult

DEMO_SUMMARY_PAGE_BUDGET = 40
LETTER_WIDTH_PT = 612


@pytest.fixture(scope="module")
def demo_pdf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Result, Path]]:
    out = tmp_path_factory.mktemp("pdf")
    args = ["scan", "--demo", "--out", str(out), "--format", "pdf,compliance-csv", "--paper", "letter", "--quiet"]
    yield CliRunner().invoke(cli, args, catch_exceptions=False), out


@pytest.fixture(scope="module")
def pages(demo_pdf: tuple[Result, Path]) -> list[str]:
    reader = PdfReader(demo_pdf[1] / "mlwarden-report.pdf")
    return [page.extract_text() for page in reader.pages]


def test_cli_writes_the_pdf_and_the_compliance_csv(demo_pdf: tuple[Result, Path]) -> None:
    result, out = demo_pdf
    assert result.exit_code == 1, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mlwarden-compliance.csv", "mlwarden-report.pdf"]
    assert (out / "mlwarden-report.pdf").read_bytes().startswith(b"%PDF-")


def test_demo_summary_stays_within_the_page_budget(pages: list[str]) -> None:
    assert 5 < len(pages) <= DEMO_SUMMARY_PAGE_BUDGET


def test_every_page_after_the_cover_has_page_n_of_m_and_the_report_id(pages: list[str]) -> None:
    total = len(pages)
    assert "Page 1 of" not in pages[0]
    report_id = re.search(r"MLW-[0-9A-F]{12}", pages[0])
    assert report_id is not None
    for number, text in enumerate(pages[1:], start=2):
        assert f"Page {number} of {total}" in text, f"page {number}"
        assert report_id.group(0) in text, f"page {number}"


def test_table_of_contents_lists_sections_with_their_pages(pages: list[str]) -> None:
    toc = pages[1]
    assert "Contents" in toc
    entries = dict(re.findall(r"(Executive summary|Findings by check|Waivers)[ .]*?(\d+)\s*$", toc, re.MULTILINE))
    assert set(entries) == {"Executive summary", "Findings by check", "Waivers"}
    executive = int(entries["Executive summary"])
    assert "Executive summary" in pages[executive - 1] and "Sign-off" in "".join(pages[executive - 1 : executive + 3])
    assert int(entries["Waivers"]) == len(pages)


def test_running_header_names_the_section(pages: list[str]) -> None:
    hipaa = [text for text in pages if "164.310(a)(2)(ii)" in text or "164.312(a)(2)(iv)" in text]
    assert hipaa
    assert all("HIPAA Security Rule, 45 CFR" in text for text in hipaa)


def test_paper_size_follows_the_option(demo_pdf: tuple[Result, Path]) -> None:
    reader = PdfReader(demo_pdf[1] / "mlwarden-report.pdf")
    assert round(float(reader.pages[0].mediabox.width)) == LETTER_WIDTH_PT


def test_full_detail_appends_per_resource_evidence_summary_leaves_it_out(result: ScanResult) -> None:
    summary = pdf.render_html(result, RenderOptions(pdf_detail="summary"))
    full = pdf.render_html(result, RenderOptions(pdf_detail="full", paper="letter"))
    assert 'id="appendix"' in full and 'id="appendix"' not in summary
    assert '<span class="path">properties.<wbr>publicNetworkAccess</span> = Enabled' in full  # breaks after a dot
    assert "properties.publicNetworkAccess" not in summary
    assert "size: letter" in full and "size: A4" in summary
    assert "/<wbr>resourceGroups/<wbr>" in full  # ARM ids break at path separators only


def test_without_weasyprint_pdf_is_one_line_exit_2(tmp_path: Path) -> None:
    """A WeasyPrint whose Pango cannot load, as on a machine without the system libraries."""
    stub = tmp_path / "stub" / "weasyprint"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise OSError(\"cannot load library 'libpango-1.0-0'\")\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stub.parent), *sys.path])}
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scanner.cli import main; main()",
            "scan",
            "--demo",
            "--out",
            str(out),
            "--format",
            "json,pdf",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: --format pdf needs WeasyPrint")
    assert "mlwarden[pdf]" in lines[0]
    assert not out.exists()


def test_full_pdf_breaks_arm_ids_between_segments_only() -> None:
    """`/resourceGr` then `oups/...`, `providers/M` then `icrosoft...`: WeasyPrint broke each ARM id
    wherever the line was full. Each segment short enough for the cell now stays whole."""
    pytest.importorskip("weasyprint")
    import io

    from tests.reports.conftest import scan_result

    data = pdf.render(scan_result(), RenderOptions(pdf_detail="full"))
    lines = [line.strip() for page in PdfReader(io.BytesIO(data)).pages for line in page.extract_text().splitlines()]
    ids = [line for line in lines if line.startswith("/subscriptions/")]
    assert ids, lines
    for segment in ("resourceGroups/", "rg-ml-prod/", "providers/", "workspaces/"):
        assert any(segment in line for line in lines), (segment, lines)
    assert not any(line.endswith(("resourceGr", "provid", "workspa")) for line in lines)


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_sign_off_never_stands_alone_on_a_page(tmp_path: Path, paper: str) -> None:
    """A HIPAA-only summary filled page 4 to just short of the sign-off, which then stood alone on
    page 5: a signature page detached from what it signs for. It moves with the scope it signs."""
    args = ["scan", "--demo", "--framework", "hipaa-security-rule", "--format", "pdf", "--paper", paper]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path), "--fail-on", "none", "-q"])
    assert result.exit_code == 0, result.stderr
    texts = [page.extract_text() for page in PdfReader(tmp_path / "mlwarden-report.pdf").pages]
    signed = [text for text in texts if "Sign-off" in text and "Prepared by" in text]
    assert len(signed) == 1
    assert "Scope and collection" in signed[0] and "Collected at" in signed[0]


def test_full_pdf_breaks_a_guid_or_provider_after_a_hyphen_or_dot_not_inside() -> None:
    """A subscription GUID came out as `...-4c8` / `e-9a7f...` and `Microsoft.MachineLearningS` /
    `ervices`: a segment longer than the column broke wherever the line was full."""
    pytest.importorskip("weasyprint")
    import io

    from tests.reports.conftest import SUB, scan_result

    data = pdf.render(scan_result(), RenderOptions(pdf_detail="full"))
    lines = [line.strip() for page in PdfReader(io.BytesIO(data)).pages for line in page.extract_text().splitlines()]
    for piece in SUB.split("-"):
        assert any(piece in line for line in lines), piece
    assert any("MachineLearningServices/" in line for line in lines)
    broken = [line for line in lines if re.search(r"[0-9a-f]{4}-[0-9a-f]{1,3}$|Microsoft\.\w+[^/]$", line)]
    assert not broken, broken


RIGHT_MARGIN_PT = 12 / 25.4 * 72
WORD_BOX = re.compile(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>')


def _words_past_the_right_margin(path: Path) -> list[tuple[int, str]]:
    boxes = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    past = []
    for number, page in enumerate(boxes.split("<page ")[1:], start=1):
        width = re.match(r'width="([\d.]+)"', page)
        assert width is not None
        limit = float(width.group(1)) - RIGHT_MARGIN_PT + 1
        past += [(number, word) for x_max, word in WORD_BOX.findall(page) if float(x_max) > limit]
    return past


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_no_table_runs_past_the_right_margin(tmp_path: Path, paper: str) -> None:
    """The Waivers table's widths summed to 100% before cell padding: its last column, the count of
    findings each waiver matched, ran off the page and was cut (`Findings matche`, half a digit)."""
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    waivers = Path(__file__).resolve().parents[2] / "examples" / "waivers.yaml"
    args = ["scan", "--demo", "--waivers", str(waivers), "--format", "pdf", "--paper", paper, "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--fail-on", "none", "-q"])
    assert result.exit_code == 0, result.stderr
    pdf_path = tmp_path / "mlwarden-report.pdf"
    assert "Findings matched" in " ".join(PdfReader(pdf_path).pages[-1].extract_text().split())
    assert _words_past_the_right_margin(pdf_path) == []
