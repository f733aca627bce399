"""Renderers: each a pure function of a ScanResult to bytes.

`RENDERERS` maps a format name to its renderer and `FILENAMES` to the file the CLI writes
(`EXTENSIONS` keeps the suffix alone). `reports.options.render` renders a format with the
user's options (SARIF's, the PDF's paper and detail); `STREAMERS` write the formats that can be
huge (the compliance CSV) row by row to a file handle.
Renderers import only `scanner.models` (never the Azure SDK, checks or the estate), so a
report can be rebuilt from a saved JSON result alone. The terminal summary is separate
(`reports.terminal.summary`) because it returns text for a console, not a file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from reports import compliance_csv, csv_report, html, json_report, junit, markdown, pdf, sarif
from scanner.models import ScanResult

Renderer = Callable[[ScanResult], bytes]
Streamer = Callable[[ScanResult, IO[bytes]], None]

RENDERERS: dict[str, Renderer] = {
    "json": json_report.render,
    "html": html.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "csv": csv_report.render,
    "compliance-csv": compliance_csv.render,
    "pdf": pdf.render,
}

EXTENSIONS: dict[str, str] = {
    "json": ".json",
    "html": ".html",
    "sarif": ".sarif",
    "junit": ".xml",
    "markdown": ".md",
    "csv": ".csv",
    "compliance-csv": ".csv",
    "pdf": ".pdf",
}

REPORT_BASENAME = "mlwarden-report"
FILENAMES: dict[str, str] = {fmt: f"{REPORT_BASENAME}{suffix}" for fmt, suffix in EXTENSIONS.items()} | {
    "compliance-csv": "mlwarden-compliance.csv",
}

STREAMERS: dict[str, Streamer] = {"compliance-csv": compliance_csv.write}
"""Formats written row by row: on a large estate they would not fit in memory as one bytes object."""


def unavailable(formats: list[str]) -> str | None:
    """Why one of `formats` cannot be rendered here (a missing optional dependency), or None."""
    return pdf.missing() if "pdf" in formats else None


__all__ = ["EXTENSIONS", "FILENAMES", "RENDERERS", "STREAMERS", "Renderer", "Streamer", "unavailable"]
