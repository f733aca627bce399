"""Every input path that is a symbolic link loop (`a -> b -> a`): one error line giving the
system's reason, exit 2. `--template` and `--parameters` said 'no such file' of a path that is
there (a loop, or a link through a directory that cannot be searched), sending the user to look
for a typo; the other inputs already gave the reason, and stay tested with them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "iac" / "ml-platform.json"

OPTIONS = {
    "snapshot": ["--snapshot"],
    "template": ["--template"],
    "parameters": ["--template", str(TEMPLATE), "--parameters"],
    "terraform-plan": ["--terraform-plan"],
    "waivers": ["--demo", "--waivers"],
    "baseline": ["--demo", "--baseline"],
    "framework-file": ["--demo", "--framework-file"],
    "attestations": ["--demo", "--attestations"],
}


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_symbolic_link_loop_is_named_as_one(tmp_path: Path, option: str) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["scan", *OPTIONS[option], str(tmp_path / "a"), "--out", str(out), "--fail-on", "none"]
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert os.strerror(40) in lines[0] and str(tmp_path / "a") in lines[0], lines[0]  # ELOOP
    assert not out.exists()


@pytest.mark.parametrize("option", ["template", "parameters"])
def test_a_path_that_is_no_file_or_directory_says_so(tmp_path: Path, option: str) -> None:
    result = CliRunner().invoke(cli, ["scan", *OPTIONS[option], "/dev/null", "--fail-on", "none"])
    assert result.exit_code == 2
    assert result.stderr.rstrip().endswith(f"--{option} /dev/null: not a regular file (a character device)"), (
        result.stderr
    )
