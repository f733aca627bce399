"""`mlwarden verify` on a pack whose names the file system cannot take: a mismatch or an unreadable pack, never a bug.

A pack comes from elsewhere, so its manifest and its tree are hostile input. A manifest listing a
name with a component over 255 bytes, or a path over PATH_MAX, made the file system refuse the
name itself (ENAMETOOLONG) where verify only expected "there" or "not there": exit 4, "internal
error: OSError". So did an unlisted file nested in directories deeper than PATH_MAX (the walk over
the pack looked at it). Now a listed name no file can have is `missing from the pack` (exit 1, as
any listed file that is not there), and a pack tree that cannot be walked is exit 2, one line
naming the pack and the place, as a pack that cannot be read already was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pack = tmp_path_factory.mktemp("packs") / "pack"
    result = _invoke("scan", "--demo", "-q", "--fail-on", "none", "--evidence-pack", str(pack))
    assert result.exit_code == 0, result.stderr
    return pack


def _copy(written: Path, tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    for source in written.rglob("*"):
        target = pack / source.relative_to(written)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    assert _invoke("verify", str(pack)).exit_code == 0
    return pack


@pytest.mark.parametrize(
    "listed",
    [
        pytest.param("a" * 256, id="component-over-255-bytes"),
        pytest.param("reports/" + "b" * 300 + ".json", id="nested-component-over-255-bytes"),
        pytest.param("d/" * 2100 + "x", id="path-over-path-max"),
    ],
)
def test_a_listed_name_no_file_can_have_is_missing_from_the_pack(written: Path, tmp_path: Path, listed: str) -> None:
    pack = _copy(written, tmp_path)
    manifest = json.loads((pack / "manifest.json").read_text())
    manifest["files"].append({"path": listed, "sha256": "0" * 64, "size": 1})
    (pack / "manifest.json").write_text(json.dumps(manifest, indent=2))
    result = _invoke("verify", str(pack))
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("mlwarden: verify failed: "), result.stderr
    assert "missing from the pack" in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_an_unlisted_file_nested_past_path_max_is_an_unreadable_pack(written: Path, tmp_path: Path) -> None:
    pack = _copy(written, tmp_path)
    fd = os.open(pack, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(25):  # 25 x 201 bytes: past Linux's PATH_MAX of 4096, built relative to each level
            os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("extra.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    result = _invoke("verify", str(pack))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"mlwarden: error: evidence pack {pack}: cannot "), result.stderr
    assert "File name too long" in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
