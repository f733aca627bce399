"""The renderer registry and the boundary the design draws around reports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reports
from reports import EXTENSIONS, FILENAMES, RENDERERS
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
