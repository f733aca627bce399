"""An evidence pack's manifest that names one file twice, or under a second spelling, and pack
files that are symbolic links. `verify` counted a file listed twice as two ("4 files match" for a
pack of three), and judged a pack file replaced by a link only by the bytes behind it, which can
change after the auditor's check. A manifest mlwarden writes never does either."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli


def _verify(pack: Path) -> Result:
    return CliRunner().invoke(cli, ["verify", str(pack)])


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pack")
    result = CliRunner().invoke(
        cli, ["scan", "--demo", "--fail-on", "none", "-q", "--evidence-pack", str(root / "pack")]
    )
    assert result.exit_code == 0, result.output
    return root / "pack"


@pytest.fixture
def pack(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "pack"
    shutil.copytree(made, copy)
    assert _verify(copy).exit_code == 0
    return copy


def _rewrite(pack: Path, change: object) -> None:
    manifest = pack / "manifest.json"
    document = json.loads(manifest.read_bytes())
    document["files"] = change(document["files"])  # type: ignore[operator]
    manifest.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("spelling", "said"),
    [
        ("{}", "twice"),
        ("./{}", "not in plain form"),
        ("{}/", "not in plain form"),
    ],
)
def test_a_file_listed_twice_is_a_manifest_that_cannot_be_read(pack: Path, spelling: str, said: str) -> None:
    _rewrite(pack, lambda files: [*files, {**files[0], "path": spelling.format(files[0]["path"])}])
    result = _verify(pack)
    assert result.exit_code == 2, result.output
    assert said in result.stderr and len(result.stderr.splitlines()) == 1
    assert "match" not in result.stdout


@pytest.mark.parametrize("linked", ["snapshot.jsonl.gz", "reports"])
def test_a_pack_file_reached_through_a_link_does_not_verify(pack: Path, tmp_path: Path, linked: str) -> None:
    """The file itself, or the directory holding it, moved out and linked back: the same bytes,
    so the digests alone would pass it."""
    elsewhere = tmp_path / "elsewhere"
    shutil.move(pack / linked, elsewhere)
    os.symlink(elsewhere, pack / linked)
    result = _verify(pack)
    assert result.exit_code == 1, result.output
    assert f"verify failed: {linked}" in result.stderr and ": a symbolic link, not a file" in result.stderr
    assert len(result.stderr.splitlines()) == 1
