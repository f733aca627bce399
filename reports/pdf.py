"""The PDF: the HTML report's templates in print layout, rendered by WeasyPrint.

WeasyPrint (and the Pango it needs) is an optional extra, `mlwarden[pdf]`, so it is imported
only when a PDF is asked for. The print layout adds a cover, a table of contents with page
numbers, a running header (section and scope) and a `Page N of M` footer with the report id;
`summary` detail leaves the per-resource evidence appendix out, which keeps a large estate's
PDF short (the JSON and CSV reports list every resource).
"""

from __future__ import annotations

import importlib.util

from reports import html, visible
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
    options = options or RenderOptions()
    view = html.build_view(result, media="print", detail=options.pdf_detail)
    return bounded(html.render_view(result, view, paper=_PAPER[options.paper]))


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
    problem = missing()
    if problem is not None:
        raise PdfUnavailable(problem)
    import weasyprint

    document = weasyprint.HTML(string=render_html(result, options)).render()
    metadata = document.metadata
    metadata.title = f"mlwarden report: {visible.plain(result.scope.description)}"
    metadata.created = metadata.modified = result.generated_at.isoformat(timespec="seconds")
    data = document.write_pdf()
    assert data is not None
    return bytes(data)
