"""The PDF: the HTML report's templates in print layout, rendered by WeasyPrint.

WeasyPrint (and the Pango it needs) is an optional extra, `mlwarden[pdf]`, so it is imported
only when a PDF is asked for. The print layout adds a cover, a table of contents with page
numbers, a running header (section and scope) and a `Page N of M` footer with the report id;
`summary` detail leaves the per-resource evidence appendix out, which keeps a large estate's
PDF short (the JSON and CSV reports list every resource).
"""

from __future__ import annotations

import importlib.util
import re

from reports import fonts, html, visible
from reports.options import RenderOptions
from scanner.models import ScanResult

INSTALL_HINT = "--format pdf needs WeasyPrint: pip install 'mlwarden[pdf]' (and Pango: apt install libpango-1.0-0)"
_PAPER = {"a4": "A4", "letter": "letter"}


TEXT_LIMIT, CHIP_LIMIT = visible.TEXT_LIMIT, visible.CHIP_LIMIT
"""The HTML's bounds (`reports.visible`), applied once more to the whole print page."""


class PdfUnavailable(RuntimeError):
    """WeasyPrint or its system libraries are missing."""


def missing() -> str | None:
    """Why a PDF cannot be rendered here, or None when it can."""
    if importlib.util.find_spec("weasyprint") is None:
        return INSTALL_HINT
    try:
        import weasyprint  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, OSError):
        return INSTALL_HINT
    return None


def render_html(result: ScanResult, options: RenderOptions | None = None) -> str:
    """The print-layout HTML the PDF is made from (also handy to inspect print CSS in a browser)."""
    return _print_page(result, options)[0]


def _print_page(result: ScanResult, options: RenderOptions | None) -> tuple[str, frozenset[str]]:
    """The print HTML, and the characters in it that no font here can draw (shown as marks)."""
    options = options or RenderOptions()
    view = html.build_view(result, media="print", detail=options.pdf_detail)
    page, fontless = marked_fontless(html.render_view(result, view, paper=_PAPER[options.paper]))
    return bounded(page), fontless


_TEXT = re.compile(r">([^<]+)<")
_COVER_END = '<p class="muted running-scope">'
NO_FONT_NOTE = (
    "{count} character(s) in this report have no font on the machine that rendered this PDF; each "
    "is shown as [U+XXXX]. The HTML and JSON reports hold the text as it is; to print it, install "
    "fonts for it where mlwarden runs (Debian: fonts-noto-cjk; the container image has them)."
)


def marked_fontless(page: str) -> tuple[str, frozenset[str]]:
    """The page with each character of its text that no installed font covers written as a
    `[U+XXXX]` mark (as `reports.visible` writes a hidden one) and a note on the cover saying so,
    and those characters. A page every character of which has a font is returned unchanged."""
    head, body_tag, body = page.partition("<body")
    fontless = fonts.without_font(char for char in set(body) if ord(char) > 0x7E)
    if not fontless:
        return page, fontless
    marks = {ord(char): f'<wbr><span class="cc">[U+{ord(char):04X}]</span><wbr>' for char in fontless}
    body = _TEXT.sub(lambda text: f">{text.group(1).translate(marks)}<", body)
    note = f'<p class="gap-line">{NO_FONT_NOTE.format(count=len(fontless))}</p>\n'
    body = body.replace(_COVER_END, note + _COVER_END, 1)
    return head + body_tag + body, fontless


def bounded(page: str) -> str:
    """The print HTML with each very long unbroken word of estate text (a 200,000-character name)
    cut to `TEXT_LIMIT` characters, and each long row of hidden-character chips to `CHIP_LIMIT`,
    followed by how much was left out. WeasyPrint breaks such a word inside its cell at a cost that
    grows much faster than its length (tens of seconds per mention); long text with spaces (the
    scope's list of subscriptions) lays out in linear time and is kept. A report that holds nothing
    that long is returned unchanged."""
    head, body_tag, body = page.partition("<body")
    if not body_tag:
        return page
    return head + body_tag + visible.bounded_html(body)


def render(result: ScanResult, options: RenderOptions | None = None) -> bytes:
    return render_noted(result, options)[0]


def render_noted(result: ScanResult, options: RenderOptions | None = None) -> tuple[bytes, tuple[str, ...]]:
    """The PDF, and what the terminal must say about it (characters shown as marks for want of a font)."""
    problem = missing()
    if problem is not None:
        raise PdfUnavailable(problem)
    import weasyprint

    page, fontless = _print_page(result, options)
    document = weasyprint.HTML(string=page).render()
    metadata = document.metadata
    metadata.title = f"mlwarden report: {visible.plain(result.scope.description)}"
    metadata.created = metadata.modified = result.generated_at.isoformat(timespec="seconds")
    data = document.write_pdf()
    assert data is not None
    notes: tuple[str, ...] = ()
    if fontless:
        codes = ", ".join(f"U+{ord(char):04X}" for char in sorted(fontless)[:5])
        more = f" and {len(fontless) - 5} more" if len(fontless) > 5 else ""
        notes = (
            f"PDF: {len(fontless)} character(s) ({codes}{more}) have no font here and are shown as [U+XXXX]; "
            "install fonts for them (Debian: fonts-noto-cjk) to print them",
        )
    return bytes(data), notes
