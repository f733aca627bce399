"""How a report is cut, as opposed to what the scan found.

Renderers stay pure functions of a ScanResult; the few choices a user makes about one format
(which SARIF results, which category) travel beside it in a frozen `RenderOptions`, so the saved
JSON result stays the whole truth and any report can be rebuilt from it with other options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


def render(fmt: str, result: ScanResult, options: RenderOptions | None = None) -> Rendered:
    """Render one format with its options; formats without options ignore them."""
    from reports import RENDERERS, pdf, sarif

    if fmt == "pdf":
        return Rendered(pdf.render(result, options))
    if fmt == "sarif":
        log = sarif.build(result, options or RenderOptions())
        notice = sarif.notice(log)
        return Rendered(log.data, (notice,) if notice else ())
    return Rendered(RENDERERS[fmt](result))
