"""Renderers: each a pure function of a ScanResult to bytes.

`RENDERERS` maps a format name to its renderer and `EXTENSIONS` to the file suffix the CLI
writes. Renderers import only `scanner.models` (never the Azure SDK, checks or the estate),
so a report can be rebuilt from a saved JSON result alone. The terminal summary is separate
(`reports.terminal.summary`) because it returns text for a console, not a file.
"""

from __future__ import annotations

from collections.abc import Callable

from reports import csv_report, html, json_report, junit, markdown, sarif
from scanner.models import ScanResult

Renderer = Callable[[ScanResult], bytes]

RENDERERS: dict[str, Renderer] = {
    "json": json_report.render,
    "html": html.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "csv": csv_report.render,
}

EXTENSIONS: dict[str, str] = {
    "json": ".json",
    "html": ".html",
    "sarif": ".sarif",
    "junit": ".xml",
    "markdown": ".md",
    "csv": ".csv",
}

__all__ = ["EXTENSIONS", "RENDERERS", "Renderer"]
