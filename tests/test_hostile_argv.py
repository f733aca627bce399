"""An option that takes a value, followed by another option: the value was forgotten. Click took
the next option as the value, so `--write-baseline -q` wrote a baseline named `-q` (and the scan
was not quiet), `--out --help` made a directory named `--help`, `--snapshot --demo` looked for a
file named `--demo`. Every such pair, for every value option of every command, is now one error
line naming the option, exit 2, with nothing written; `--opt=VALUE` still takes any value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from scanner.cli import cli
from tests.cli_tree import commands

REPO = Path(__file__).resolve().parents[1]
MAIN = f"import sys; sys.path.insert(0, {str(REPO)!r}); from scanner.cli import main; sys.argv[0] = 'mlwarden'; main()"


def _cases() -> list[tuple[tuple[str, ...], str, str]]:
    cases = []
    for path, command in commands(cli):
        flags = [p.opts[-1] for p in command.params if isinstance(p, click.Option) and p.is_flag]
        for param in command.params:
            if isinstance(param, click.Option) and not param.is_flag and not param.count:
                for following in ("--help", flags[0] if flags else "--help"):
                    cases.append((path, param.opts[-1], following))
    return sorted(set(cases))


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "MLWARDEN_HISTORY": ""},
    )


CASES = _cases()


def test_every_command_has_value_options_to_try() -> None:
    assert len({case[0] for case in CASES}) >= 8 and len(CASES) >= 60


@pytest.mark.parametrize(("path", "option", "following"), CASES, ids=[" ".join((*c[0], c[1], c[2])) for c in CASES])
def test_an_option_followed_by_another_option_has_no_value(
    tmp_path: Path, path: tuple[str, ...], option: str, following: str
) -> None:
    done = _run(tmp_path, *path, option, following)
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert lines == [
        f"mlwarden: error: {option} was given no value: the next argument, {following!r}, is one of the "
        f"command's options (for a value spelt so, write {option}={following})"
    ], done.stderr
    assert not done.stdout and not list(tmp_path.iterdir())


def test_a_value_spelt_like_an_option_is_taken_when_attached(tmp_path: Path) -> None:
    done = _run(tmp_path, "scan", "--demo", "--fail-on", "none", "-q", "--write-baseline=-q")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "-q").is_file()


def test_a_value_that_is_no_option_of_the_command_is_still_a_value(tmp_path: Path) -> None:
    done = _run(
        tmp_path, "scan", "--demo", "--fail-on", "none", "-q", "--sarif-category", "--nightly", "--format", "sarif"
    )
    assert done.returncode == 0, done.stderr
    assert '"id": "--nightly"' in done.stdout or '"id":"--nightly"' in done.stdout
