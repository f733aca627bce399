"""The renderer registry and the boundary the design draws around reports."""

from __future__ import annotations

import ast
import gzip
import io
from pathlib import Path
from typing import Any

import pytest

import reports
from reports import EXTENSIONS, FILENAMES, RENDERERS, STREAMERS, Streamed
from reports.options import write
from scanner.models import ScanResult


def test_every_renderer_has_an_extension_and_a_file_name() -> None:
    formats = {"json", "html", "sarif", "junit", "markdown", "csv", "compliance-csv", "pdf"}
    assert set(RENDERERS) == set(EXTENSIONS) == set(FILENAMES) == formats
    assert EXTENSIONS["junit"] == ".xml" and EXTENSIONS["markdown"] == ".md"
    assert FILENAMES["pdf"] == "mlwarden-report.pdf" and FILENAMES["compliance-csv"] == "mlwarden-compliance.csv"


@pytest.mark.parametrize("name", sorted(set(RENDERERS) - {"pdf"}))  # the PDF has its own tests (slow to render)
def test_renderers_are_pure_and_deterministic(name: str, result: ScanResult) -> None:
    before = result.model_copy(deep=True)
    first = RENDERERS[name](result)
    assert isinstance(first, bytes) and first
    assert RENDERERS[name](result) == first
    assert result == before
    first.decode("utf-8")


def test_reports_import_only_the_models_from_the_engine() -> None:
    package = Path(reports.__file__).parent
    imported: set[str] = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    engine = {name for name in imported if name.split(".")[0] in {"scanner", "checks", "frameworks", "azure"}}
    # textsafe is a leaf helper (stdlib only) that neutralises estate text for people to read.
    assert "scanner.models" in engine and engine <= {"scanner.models", "scanner.textsafe"}


class _Recorder(io.RawIOBase):
    """A sink that remembers only how much each write carried."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sizes.append(len(data))
        return len(data)


@pytest.mark.parametrize("name", sorted(set(STREAMERS) - {"compliance-csv"}))  # its rows: test_compliance_csv
def test_big_formats_reach_the_handle_in_pieces(name: str, large_result: ScanResult) -> None:
    """100,000 findings: no single write holds more than a few MB, so no renderer builds the whole file."""
    sink = _Recorder()
    assert write(name, large_result, sink) == ()  # type: ignore[arg-type]
    assert max(sink.sizes) <= 2 << 20
    if name != "html":  # the compact HTML of this estate is about 1 MB: its size proves nothing
        assert sum(sink.sizes) > 4 * max(sink.sizes)


@pytest.mark.parametrize("name", sorted(STREAMERS))
def test_a_streamed_format_and_its_bytes_renderer_agree(name: str, result: ScanResult) -> None:
    out = io.BytesIO()
    write(name, result, out)
    assert isinstance(RENDERERS[name], Streamed) and out.getvalue() == RENDERERS[name](result)


def test_gz_formats_are_gzip_of_the_same_bytes_without_name_or_time(result: ScanResult) -> None:
    out = io.BytesIO()
    write("json.gz", result, out)
    packed = out.getvalue()
    assert gzip.decompress(packed) == RENDERERS["json"](result)
    assert packed[3] == 0 and packed[4:8] == bytes(4)  # FLG: no FNAME; MTIME 0
