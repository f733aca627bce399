"""How a report is cut, as opposed to what the scan found.

Renderers stay pure functions of a ScanResult; the few choices a user makes about one format
(which SARIF results, which category) travel beside it in a frozen `RenderOptions`, so the saved
JSON result stays the whole truth and any report can be rebuilt from it with other options.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from typing import IO, Literal

from scanner.models import ScanResult

Paper = Literal["a4", "letter"]
PdfDetail = Literal["summary", "full"]

SARIF_INCLUDE_CHOICES = ("unknown", "waived", "baselined")
"""What `--sarif-include` may add to the failing findings: coverage gaps and check errors (as
notes), waived findings (as suppressed results), baselined findings (as unchanged results)."""


@dataclass(frozen=True)
class RenderOptions:
    sarif_include: frozenset[str] = frozenset()
    sarif_category: str | None = None
    """`runs[].automationDetails.id`, exactly as given: lets one repository hold a SARIF per scope."""
    paper: Paper = "a4"
    pdf_detail: PdfDetail = "summary"
    """`summary` leaves the per-resource evidence appendix out of the PDF; `full` keeps it."""
    allow_partial: bool = False
    """`--allow-partial`: check errors and coverage gaps do not fail the run, so JUnit and Markdown
    do not fail it either (without it they fail it, as exit 3 does)."""

    def __post_init__(self) -> None:
        unknown = set(self.sarif_include) - set(SARIF_INCLUDE_CHOICES)
        if unknown:
            raise ValueError(
                f"unknown SARIF include {sorted(unknown)} (choose from {', '.join(SARIF_INCLUDE_CHOICES)})"
            )


@dataclass(frozen=True)
class Rendered:
    data: bytes
    notices: tuple[str, ...] = ()
    """What the terminal must say about this report (e.g. results a limit left out)."""


GZIP_SUFFIX = ".gz"
GZIP_LEVEL = 1
"""Fastest: on the JSON report 12% larger than zlib's default level 6 (7x smaller than plain
rather than 8x) in a third of the time, which on a report of hundreds of MB is seconds."""


def base_format(fmt: str) -> str:
    """`json` for `json.gz`: the format a gzipped name is written in."""
    return fmt.removesuffix(GZIP_SUFFIX)


def write(fmt: str, result: ScanResult, handle: IO[bytes], options: RenderOptions | None = None) -> tuple[str, ...]:
    """Write one format with its options to a binary handle, gzipped when `fmt` ends in `.gz`
    (no name or time in the gzip header, so the bytes depend on the result alone). Returns what
    the terminal must say about the report (e.g. results a limit left out)."""
    from reports import RENDERERS, Streamed, junit, markdown, pdf, sarif

    if fmt.endswith(GZIP_SUFFIX):
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, compresslevel=GZIP_LEVEL, mtime=0) as packed:
            return write(base_format(fmt), result, packed, options)  # type: ignore[arg-type]
    if fmt == "pdf":
        data, notes = pdf.render_noted(result, options)
        handle.write(data)
        return notes
    if fmt == "sarif":
        log = sarif.build(result, options or RenderOptions())
        handle.write(log.data)
        notice = sarif.notice(log)
        return (notice,) if notice else ()
    allow_partial = options.allow_partial if options else False
    if fmt == "junit" and RENDERERS[fmt] == Streamed(junit.write):  # not a plugin's replacement
        junit.write(result, handle, allow_partial=allow_partial)
        return ()
    if fmt == "markdown" and RENDERERS[fmt] is markdown.render:
        handle.write(markdown.render(result, allow_partial=allow_partial))
        return ()
    renderer = RENDERERS[fmt]
    if isinstance(renderer, Streamed):
        renderer.writer(result, handle)
    else:  # a format registered (or replaced) with a bytes renderer only
        handle.write(renderer(result))
    return ()


def render(fmt: str, result: ScanResult, options: RenderOptions | None = None) -> Rendered:
    """Render one format with its options into memory; formats without options ignore them."""
    out = io.BytesIO()
    notices = write(fmt, result, out, options)
    return Rendered(out.getvalue(), notices)
