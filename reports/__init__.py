"""Renderers: each a pure function of a ScanResult to bytes, or written as a stream.

`RENDERERS` maps a format name to its renderer and `FILENAMES` to the file the CLI writes
(`EXTENSIONS` keeps the suffix alone). `STREAMERS` write the formats that can be huge (JSON,
HTML, CSV, JUnit, compliance CSV) piece by piece to a binary handle; their `RENDERERS` entry is
the same writer into memory (`Streamed`), for tests and small results. `reports.options.write`
writes a format with the user's options (SARIF's, the PDF's paper and detail), gzipped when
its name ends in `.gz`; a renderer replaced in `RENDERERS` (or a format registered with bytes
only) is written as its bytes.
Renderers import only `scanner.models` (never the Azure SDK, checks or the estate), so a
report can be rebuilt from a saved JSON result alone. The terminal summary is separate
(`reports.terminal.summary`) because it returns text for a console, not a file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from reports import compliance_csv, csv_report, html, json_report, junit, markdown, pdf, sarif
from scanner.models import ScanResult

Renderer = Callable[[ScanResult], bytes]
Streamer = Callable[[ScanResult, IO[bytes]], None]


@dataclass(frozen=True)
class Streamed:
    """A streaming writer called as a bytes renderer; `reports.options.write` streams it instead."""

    writer: Streamer

    def __call__(self, result: ScanResult) -> bytes:
        out = io.BytesIO()
        self.writer(result, out)
        return out.getvalue()


STREAMERS: dict[str, Streamer] = {
    "json": json_report.write,
    "html": html.write,
    "junit": junit.write,
    "csv": csv_report.write,
    "compliance-csv": compliance_csv.write,
}
"""Formats written piece by piece: on a large estate they would not fit in memory as one bytes object."""

RENDERERS: dict[str, Renderer] = {
    "json": Streamed(json_report.write),
    "html": Streamed(html.write),
    "sarif": sarif.render,
    "junit": Streamed(junit.write),
    "markdown": markdown.render,
    "csv": Streamed(csv_report.write),
    "compliance-csv": Streamed(compliance_csv.write),
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


def unavailable(formats: list[str]) -> str | None:
    """Why one of `formats` cannot be rendered here (a missing optional dependency), or None."""
    return pdf.missing() if "pdf" in formats else None


__all__ = ["EXTENSIONS", "FILENAMES", "RENDERERS", "STREAMERS", "Renderer", "Streamed", "Streamer", "unavailable"]
