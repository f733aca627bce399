"""A CLI a newcomer reads without the source: help everywhere, exit codes listed, choices
checked by click, one-line errors, a quiet exit on a closed pipe, and a README that matches."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import reports
from scanner.cli import cli
from scanner.clickapp import EXIT_BROKEN_PIPE

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="mlwarden", catch_exceptions=False)


def commands(group: click.Group = cli, path: str = "mlwarden") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")


def test_bare_mlwarden_prints_help_and_exits_0() -> None:
    result = invoke()
    assert result.exit_code == 0
    assert "Usage: mlwarden" in result.stdout and "scan" in result.stdout


def test_help_lists_every_exit_code() -> None:
    text = invoke("--help").stdout
    for code in ("0", "1", "2", "3", "4", str(EXIT_BROKEN_PIPE)):
        assert re.search(rf"^\s+{code}\s+\S", text, re.MULTILINE), code


def test_version() -> None:
    from scanner import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"mlwarden {__version__}"


@pytest.mark.parametrize(("path", "command"), list(commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_has_help(path: str, command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help and param.help.strip(), f"{path} {param.opts[0]} has no help"
    assert command.help, f"{path} has no description"


def test_command_summaries_are_not_truncated() -> None:
    for path, command in [("mlwarden", cli), *commands()]:
        if not isinstance(command, click.Group):
            continue
        text = invoke(*path.split()[1:], "--help").stdout
        listed = text.split("Commands:", 1)[1]
        assert "..." not in listed, f"{path} --help truncates a summary:\n{listed}"


def test_format_choices_come_from_the_renderer_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(reports.RENDERERS, "fancy", lambda result: b"fancy\n")
    help_text = " ".join(invoke("scan", "--help").stdout.split())
    assert "[" + "|".join(reports.RENDERERS) + "]" in help_text
    accepted = invoke("scan", "--demo", "--format", "fancy", "--fail-on", "none")
    assert accepted.exit_code == 0 and accepted.stdout == "fancy\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scan", "--bogus"], "No such option"),
        (["scan", "--fail-on", "severe"], "'severe' is not one of"),
        (["scan", "--format", "json,docx"], "unknown format 'docx'"),
        (["scan", "--format", ","], "names no format"),
        (["checks", "show"], "Missing argument"),
        (["checks", "list", "--severity", "huge"], "'huge' is not one of"),
        (["nope"], "No such command"),
        (["history", "diff", "--db", "x.db", "1", "2", "3"], "unexpected extra argument"),
    ],
)
def test_click_usage_errors_are_one_line_exit_2(args: list[str], expected: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert expected in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["checks", "list"], ["scan", "--demo", "--format", "json"], ["--help"]])
def test_closed_stdout_exits_quietly(args: list[str]) -> None:
    """The reader is gone before the first write: no message, the documented code."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scanner.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(timeout=300)
    assert stderr == b""
    assert proc.returncode == EXIT_BROKEN_PIPE


# -- README ------------------------------------------------------------------------------------


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


# The CLI reference itself is checked option by option in tests/test_readme_truth.py.


def test_readme_waiver_example_is_the_shipped_file() -> None:
    shipped = (REPO / "examples" / "waivers.yaml").read_text(encoding="utf-8")
    assert f"```yaml\n{shipped}```" in _section("Quick tour")


LIVE_MARK = "# live:"


def _tour() -> list[str]:
    block = _section("Quick tour").split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_quick_tour_runs_top_to_bottom_on_a_fresh_copy(tmp_path: Path) -> None:
    """Every line but the live-Azure ones runs, in order, in a directory laid out like a clone."""
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    clone.mkdir()
    for top in sorted({name.split("/", 1)[0] for name in tracked}):
        if (REPO / top).exists():
            (clone / top).symlink_to(REPO / top)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mlwarden"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -c "from scanner.cli import main; main()" "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    ran = skipped = 0
    for line in _tour():
        command = line.split("  #", 1)[0].strip()
        if LIVE_MARK in line:
            # Recognised explicitly: these need an Azure sign-in, nothing else is skipped.
            assert command.startswith(("az login", "mlwarden collect")), line
            skipped += 1
            continue
        offline = ("--demo", "--snapshot", "--template", "--terraform-plan")
        assert any(o in command for o in offline) or not command.startswith("mlwarden scan"), line
        done = subprocess.run(
            ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        expected = {0} if "--fail-on none" in command or not command.startswith("mlwarden scan") else {0, 1}
        assert done.returncode in expected, f"{command}\n{done.stderr}"
        assert "error:" not in done.stderr and "Traceback" not in done.stderr, f"{command}\n{done.stderr}"
        assert "matches no failing finding" not in done.stderr, f"{command}: the waiver example matches nothing"
        ran += 1
    assert ran >= 10 and skipped == 2
    assert (clone / "out" / "mlwarden-report.sarif").exists() and (clone / "baseline.json").exists()
    assert (clone / "summary.md").read_text().strip()


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize(("path", "command"), list(commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_help_never_breaks_a_word_at_its_hyphen(path: str, command: click.Command, width: int) -> None:
    """textwrap breaks after any hyphen: `--fail-` then `on-new` on the next line, `MLW-` then `KV-01`,
    a newcomer copying the first half gets an option that does not exist."""
    result = CliRunner().invoke(cli, [*path.split()[1:], "--help"], prog_name="mlwarden", terminal_width=width)
    assert result.exit_code == 0, result.output
    broken = re.findall(r"\w-\n", result.stdout)
    assert not broken, result.stdout
    assert "\u2011" not in result.stdout  # the stand-in is never printed


def test_the_sign_key_url_pattern_is_printed_whole() -> None:
    text = invoke("scan", "--help").stdout
    assert "https://VAULT.vault.azure.net/keys/NAME" in text, text
