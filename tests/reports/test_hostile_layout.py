"""The HTML and PDF as an auditor reads them when the estate's names are hostile.

Names, messages and subscription names come from the estate: 200-character names without a
break, right-to-left text, a right-to-left override (U+202E), zero-width and control characters.
The PDF is laid out by WeasyPrint and every line of text is checked to stay inside its table
cell and the page; the HTML shows each hidden character as a marked `[U+XXXX]` and isolates
right-to-left text in `<bdi>`, in the rows the template writes and in those html.py writes.
"""

from __future__ import annotations

import html as std_html
import io
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from reports import html, pdf, visible
from reports.options import RenderOptions
from scanner.models import Gap, ScanResult, Status
from tests.reports.conftest import FINDINGS, POSTURE, SUB, arm_id, finding, scan_result

LONG_RG = "rg" + "researchmachinelearning" * 9
LONG_NAME = "mlw" + "imagingproofofconcept" * 10
LONG_MESSAGE = "setting SFTP_PASSWORD_" + "X" * 190 + " holds a password"
OVERRIDE = "kv-\u202eexe.txt\u202c-prod"
ZERO_WIDTH = "acr\u200blh\u200dresearch"
RTL = "ep-\u05d9\u05e8\u05d5\u05e7-\u0646\u0634\u0631"
HIDDEN = "\u202e\u202c\u200b\u200d\t\n"


def _hostile() -> ScanResult:
    long_id = arm_id("Microsoft.MachineLearningServices/workspaces", LONG_NAME, rg=LONG_RG)
    extra = (
        finding("MLW-WS-001", long_id, Status.FAIL, LONG_MESSAGE),
        finding("MLW-KV-001", arm_id("Microsoft.KeyVault/vaults", OVERRIDE), Status.FAIL, "purge protection is off"),
        finding("MLW-KV-001", arm_id("Microsoft.KeyVault/vaults", ZERO_WIDTH), Status.PASS, "purge protection is on"),
        finding(
            "MLW-EP-001",
            arm_id("Microsoft.MachineLearningServices/workspaces", "mlw-claims") + f"/onlineEndpoints/{RTL}",
            Status.FAIL,
            "authMode is Key",
        ),
        finding("MLW-KV-001", arm_id("Microsoft.KeyVault/vaults", "kv-a\tb\nc"), Status.FAIL, "purge is off"),
    )
    base = scan_result(FINDINGS + extra)
    deployment = f"{long_id}/onlineEndpoints/{RTL}"
    reason = f"its vault kv\tlh\nresearch{ZERO_WIDTH}: purge protection is off; its workspace {LONG_NAME} is public"
    pillars = tuple(v.model_copy(update={"reasons": (*v.reasons, reason)}) for v in POSTURE.pillars)
    posture = POSTURE.model_copy(
        update={"deployment_id": deployment + "/deployments/blue", "name": "blue", "pillars": pillars}
    )
    names = {SUB.lower(): "Research \u202eetalpmet\u202c " + "S" * 120}
    description = f"snapshot {LONG_NAME}.jsonl"
    scope = base.scope.model_copy(update={"subscription_names": names, "description": description})
    return base.model_copy(update={"postures": (POSTURE, posture), "scope": scope})


@pytest.fixture(scope="module")
def hostile() -> ScanResult:
    return _hostile()


def _overflows(result: ScanResult, options: RenderOptions) -> Iterator[str]:
    """Each piece of text WeasyPrint laid out past the right edge of its table cell or of the page,
    and each running header laid over another."""
    import weasyprint  # type: ignore[import-untyped]
    from weasyprint.formatting_structure import boxes  # type: ignore[import-untyped]

    document = weasyprint.HTML(string=pdf.render_html(result, options)).render()
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box
        for text, right, limit in _text_edges(page_box, page_box.content_box_x() + page_box.width):
            yield f"page {number}: {text[:60]!r} ends at {right:.0f} > {limit:.0f}"
        headers = [list(_text_boxes(box)) for box in page_box.children if isinstance(box, boxes.MarginBox)]
        for one, other in itertools.combinations(headers, 2):
            for a, b in itertools.product(one, other):
                across = a.position_x < b.position_x + b.width and b.position_x < a.position_x + a.width
                if across and a.position_y < b.position_y + b.height and b.position_y < a.position_y + a.height:
                    yield f"page {number}: running header {a.text[:40]!r} overlaps {b.text[:40]!r}"


def _text_boxes(box: Any) -> Iterator[Any]:
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.TextBox):
        yield box
    for child in getattr(box, "children", ()):
        yield from _text_boxes(child)


def _text_edges(box: Any, limit: float) -> Iterator[tuple[str, float, float]]:
    """(text, right edge, the edge it must keep within) of each text box past that edge, depth first:
    a cell's or a running header's own edge (past it, text runs over its neighbour), else the page's."""
    from weasyprint.formatting_structure import boxes  # type: ignore[import-untyped]

    if isinstance(box, (boxes.MarginBox, boxes.TableCellBox)):
        limit = box.border_box_x() + box.border_width()
    if isinstance(box, boxes.TextBox) and box.position_x + box.width > limit + 0.5:
        yield box.text, box.position_x + box.width, limit
    for child in getattr(box, "children", ()):
        yield from _text_edges(child, limit)


@pytest.mark.parametrize("detail", ["summary", "full"])
def test_no_text_leaves_its_cell_or_the_page(hostile: ScanResult, detail: str) -> None:
    if pdf.missing():
        pytest.skip(pdf.missing())
    overflowing = list(_overflows(hostile, RenderOptions(pdf_detail=detail)))  # type: ignore[arg-type]
    assert not overflowing, "\n".join(overflowing[:10])


def test_the_pdf_carries_the_long_names_whole(hostile: ScanResult) -> None:
    """Wrapped, not cut: the text of the full edition holds each long name once its line breaks are undone."""
    if pdf.missing():
        pytest.skip(pdf.missing())
    reader = PdfReader(io.BytesIO(pdf.render(hostile, RenderOptions(pdf_detail="full"))))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    for whole in (LONG_NAME, LONG_RG, LONG_MESSAGE.replace(" ", "")):
        assert whole in text


def _bare_text(page: str) -> str:
    """The page without its markup: what a reader sees, entities decoded."""
    return std_html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("media", ["screen", "print"])
def test_hidden_characters_are_shown_not_written(hostile: ScanResult, media: str) -> None:
    full = RenderOptions(pdf_detail="full")
    page = html.render(hostile).decode() if media == "screen" else pdf.render_html(hostile, full)
    body = page[page.index("<body") :]
    assert not set(HIDDEN) & set(_bare_text(body).replace("\n", "")), "a hidden character reached the page"
    for code in ("202E", "202C", "200B", "200D"):
        assert f'<wbr><span class="cc">[U+{code}]</span><wbr>' in body
    assert 'kv-a<wbr><span class="cc">[U+0009]</span><wbr>b<wbr><span class="cc">[U+000A]</span><wbr>c' in body
    title = page[page.index("<title>") : page.index("</title>")]
    assert "<span" not in title


@pytest.mark.parametrize("media", ["screen", "print"])
def test_right_to_left_names_are_isolated(hostile: ScanResult, media: str) -> None:
    """In the listing the template writes (screen) and the posture rows html.py writes (print)."""
    page = html.render(hostile).decode() if media == "screen" else pdf.render_html(hostile)
    body = page[page.index("<body") :]
    rtl = re.compile("[\u0590-\u08ff]+")
    for match in rtl.finditer(body):
        opened = body.rfind("<bdi>", 0, match.start())
        assert opened != -1 and body.find("</bdi>", opened) >= match.end(), body[match.start() - 80 : match.end() + 20]
    assert f"<bdi>{RTL}</bdi>" in body or f"/{RTL}</bdi>" in body


def test_compact_listing_marks_names_too(hostile: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page too large for evidence rows lists names in spans html.py writes; they are marked the same."""
    monkeypatch.setattr(html, "EVIDENCE_BUDGET", 0)
    page = html.render(hostile).decode()
    assert "too many for a row each" in page
    assert 'acr<wbr><span class="cc">[U+200B]</span><wbr>lh<wbr><span class="cc">[U+200D]</span><wbr>research' in page
    assert "\u202e" not in page


def test_plain_ascii_is_written_as_before() -> None:
    """The usual text takes the fast path: escaped exactly as autoescape escapes it, nothing added."""
    for text in ("mlw-claims", '<b>"x"</b> & y', ""):
        assert visible.shown_html(text) == text
        assert visible.marked(text) == str(html.escape(text))
    assert visible.plain("a\u200bb") == "a[U+200B]b"
    assert visible.marked("\ud800") == '<wbr><span class="cc">[U+D800]</span><wbr>'


def test_joining_at_once_writes_what_joining_each_name_writes() -> None:
    """`joined` escapes a plain list in one call; a name with markup characters, a hidden or a
    right-to-left character, or markup among the values takes the per-name path, with equal bytes."""
    markup = html.Markup("<i>safe</i>")
    cases: list[list[object]] = [
        [],
        ["a", "b&c", '<x y="1">', "it's"],
        ["plain", "kv\u200bresearch", "\u05e9\u05dc\u05d5\u05dd"],
        ["a", markup, "b<"],
        ["n\0ul", "tab\there", 3],
    ]
    for values in cases:
        for separator in (", ", " & ", ""):
            each = html.Markup(html.escape(separator)).join(
                value if isinstance(value, html.Markup) else html.Markup(visible.marked(str(value))) for value in values
            )
            assert visible.joined(values, separator) == each
            assert visible.joined(tuple(values), separator) == each
            assert visible.joined(iter(values), separator) == each


def _empty() -> ScanResult:
    base = scan_result((), resource_count=0)
    sources = tuple(source.model_copy(update={"gaps": (), "collected": True}) for source in base.sources)
    return base.model_copy(update={"sources": sources, "postures": (), "waivers": ()})


@pytest.mark.parametrize("media", ["screen", "print"])
def test_an_empty_scope_says_nothing_was_assessed(media: str) -> None:
    """Zero resources is not a clean bill of health: the summary says so and every empty list says why."""
    empty = _empty()
    page = html.render(empty).decode() if media == "screen" else pdf.render_html(empty)
    text = " ".join(_bare_text(page).split())
    assert "No resource was found in scope, so nothing was assessed" in text
    assert "No open critical or high failures: no resource was assessed." in text
    assert "No check produced a result: no resource was in scope." in text
    assert "every check could judge its resources" not in text


def test_only_unknown_results_are_not_called_free_of_failures() -> None:
    unknown = tuple(f.model_copy(update={"status": Status.UNKNOWN, "waived_by": None}) for f in FINDINGS)
    text = " ".join(_bare_text(html.render(scan_result(unknown)).decode()).split())
    assert "No open critical or high failures among the results that could be judged:" in text
    assert "result(s) are unknown and 1 part(s) of the scope could not be read (see Coverage gaps)." in text


def test_coverage_gaps_start_a_page_with_their_table() -> None:
    """A long gap list opened at the foot of the summary's last page, its heading left alone there."""
    if pdf.missing():
        pytest.skip(pdf.missing())
    base = scan_result()
    gaps = tuple(
        Gap(source="resources", scope=f"/subscriptions/{n:08d}-0000-0000-0000-000000000000", reason="403")
        for n in range(60)
    )
    sources = (base.sources[0].model_copy(update={"gaps": gaps}), *base.sources[1:])
    reader = PdfReader(io.BytesIO(pdf.render(base.model_copy(update={"sources": sources}))))
    pages = [page.extract_text() for page in reader.pages]
    start = next(text for text in pages if "Coverage gaps: 60" in text)
    assert "Sign-off" not in start
    assert "Scope not read" in start and "00000000-0000-0000" in start
