"""Numbers are written one way: ASCII digits, and where a fraction makes sense one decimal point.

Python's int() and float() also take `1_0`, full-width `１０`, Arabic-Indic or Devanagari digits,
mathematical bold digits, surrounding whitespace, a sign and (float) an exponent, so
`--check-timeout 1_0` and `--check-timeout １０` ran with 10 s while a reviewer read something
else, or nothing. Every numeric option and argument of every command (found by walking the
command tree, so a new one is covered as soon as it exists), every environment variable behind
one, and the numbers mlwarden reads from its own environment variables refuse such a value with
one error line naming the option (or variable) and the value, exit 2, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.cli_tree import commands

HOSTILE = {
    "underscore": "1_0",
    "full-width": "\uff11\uff10",
    "arabic-indic": "\u0663",
    "devanagari": "\u0967\u0966",
    "math-bold": "\U0001d7cf\U0001d7ce",
    "leading-space": " 10",
    "trailing-space": "10 ",
    "tab": "\t10",
    "newline": "10\n",
    "nul": "10\x00",
    "plus": "+10",
    "hex": "0x10",
    "exponent": "1e1",
    "exponent-upper": "1E1",
}
HOSTILE_FRACTIONS = {"fraction-underscore": "1_0.5", "arabic-fraction": "\u0661.\u0665", "comma": "1,5"}
WHOLE_ONLY = {"fraction": "10.0", "half": "1.5"}


def _kind(command: click.Command, param: click.Parameter) -> str | None:
    """'whole' or 'decimal' when the parameter takes a number (what `10` becomes, through its type
    and callback), else None. `10` and `1.5` are the two numbers every numeric option takes."""
    if isinstance(param, click.Option) and (param.is_flag or param.count):
        return None
    ctx = click.Context(command, info_name=command.name)
    try:
        ten = param.process_value(ctx, "10")
    except click.ClickException:
        return None
    if isinstance(ten, bool) or not isinstance(ten, int | float):
        return None
    try:
        half = param.process_value(ctx, "1.5")
    except click.ClickException:
        return "whole"
    return "decimal" if isinstance(half, float) else "whole"


NUMERIC = [
    (path, param, kind)
    for path, command in commands(cli)
    for param in command.params
    if (kind := _kind(command, param)) is not None
]


def _name(param: click.Parameter) -> str:
    return param.opts[-1] if isinstance(param, click.Option) else param.human_readable_name


def _cases() -> list[tuple[tuple[str, ...], click.Parameter, str, str]]:
    cases = []
    for path, param, kind in NUMERIC:
        values = {**HOSTILE, **(HOSTILE_FRACTIONS if kind == "decimal" else WHOLE_ONLY)}
        cases += [(path, param, label, value) for label, value in values.items()]
    return cases


CASES = _cases()


def _args(path: tuple[str, ...], param: click.Parameter, value: str) -> list[str]:
    """The value given to `param`; an argument after others follows a plain `1` for each of them."""
    if isinstance(param, click.Option):
        return [*path, param.opts[-1], value]
    command = _command(path)
    before = [p.name for p in command.params if isinstance(p, click.Argument)]
    return [*path, "--", *["1"] * before.index(param.name), value]


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def _refused(tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> str:
    here = tmp_path / "work"
    here.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        result = CliRunner().invoke(cli, args, env={"MLWARDEN_HISTORY": "history.db", **(env or {})})
    left = list(here.iterdir())
    assert result.exit_code == 2, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output and not result.stdout, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert left == [], left
    return lines[0]


def test_the_walk_finds_every_numeric_option_there_is() -> None:
    """The probe must not go blind: these are the numeric parameters there are today."""
    found = {(" ".join(path), _name(param), kind) for path, param, kind in NUMERIC}
    assert found >= {
        ("scan", "--check-timeout", "decimal"),
        ("scan", "--jobs", "whole"),
        ("scan", "--connect-timeout", "decimal"),
        ("scan", "--read-timeout", "decimal"),
        ("collect", "--connect-timeout", "decimal"),
        ("collect", "--read-timeout", "decimal"),
        ("verify", "--connect-timeout", "decimal"),
        ("verify", "--read-timeout", "decimal"),
        ("history diff", "OLDER", "whole"),
        ("history diff", "NEWER", "whole"),
    }, found


@pytest.mark.parametrize(
    ("path", "param", "label", "value"),
    CASES,
    ids=[f"{' '.join(c[0])} {_name(c[1])} {c[2]}" for c in CASES],
)
def test_a_number_not_written_plainly_is_refused(
    tmp_path: Path, path: tuple[str, ...], param: click.Parameter, label: str, value: str
) -> None:
    line = _refused(tmp_path, _args(path, param, value))
    assert _name(param) in line or _name(param).lower() in line.lower(), line
    assert repr(value) in line, line


@pytest.mark.parametrize(("path", "param", "kind"), NUMERIC, ids=[f"{' '.join(n[0])} {_name(n[1])}" for n in NUMERIC])
def test_plain_numbers_are_still_taken(path: tuple[str, ...], param: click.Parameter, kind: str) -> None:
    ctx = click.Context(_command(path), info_name=path[-1])
    assert param.process_value(ctx, "10") == 10
    assert param.process_value(ctx, "010") == 10
    if kind == "decimal":
        assert param.process_value(ctx, "1.5") == 1.5
        assert param.process_value(ctx, ".5") == 0.5
        assert param.process_value(ctx, "5.") == 5.0


ENV_OPTIONS = sorted(
    {
        (path, param.envvar, param.opts[-1])
        for path, param, _kind in NUMERIC
        if isinstance(param, click.Option) and isinstance(param.envvar, str)
    }
)
ENV_CASES = [
    (path, var, opt, label, HOSTILE[label]) for path, var, opt in ENV_OPTIONS for label in HOSTILE if label != "nul"
]
"""(A NUL cannot be in an environment variable.)"""
COMMAND_ARGS: dict[tuple[str, ...], list[str]] = {
    ("scan",): ["--demo", "--fail-on", "none"],
    ("collect",): ["--out", "e.jsonl"],
    ("verify",): ["pack"],
}


def test_every_option_read_from_the_environment_is_tried() -> None:
    assert {(" ".join(p), v) for p, v, _o in ENV_OPTIONS} >= {
        ("scan", "MLWARDEN_CONNECT_TIMEOUT"),
        ("verify", "MLWARDEN_READ_TIMEOUT"),
        ("collect", "MLWARDEN_READ_TIMEOUT"),
    }
    assert {p for p, _v, _o in ENV_OPTIONS} <= set(COMMAND_ARGS)


@pytest.mark.parametrize(
    ("path", "variable", "option", "label", "value"),
    ENV_CASES,
    ids=[f"{' '.join(c[0])} {c[1]} {c[3]}" for c in ENV_CASES],
)
def test_a_number_from_the_environment_is_held_to_the_same_rule(
    tmp_path: Path, path: tuple[str, ...], variable: str, option: str, label: str, value: str
) -> None:
    line = _refused(tmp_path, [*path, *COMMAND_ARGS[path]], env={variable: value})
    assert f"invalid value for {variable} (the environment variable behind {option})" in line, line


@pytest.mark.parametrize("variable", ["MLWARDEN_SNAPSHOT_MAX_LINE_BYTES", "MLWARDEN_SNAPSHOT_MAX_BYTES"])
@pytest.mark.parametrize(
    "label", ["full-width", "arabic-indic", "leading-space", "trailing-space", "plus", "underscore"]
)
def test_snapshot_limits_from_the_environment_are_plain_whole_numbers(
    tmp_path: Path, variable: str, label: str
) -> None:
    line = _refused(tmp_path, ["scan", "--demo", "--fail-on", "none"], env={variable: HOSTILE[label]})
    assert line.startswith(f"mlwarden: error: {variable}="), line


@pytest.mark.parametrize(
    "value", [HOSTILE["full-width"], HOSTILE["arabic-indic"] + "d", "7d\n", " 7d", "7 d", "+7d", "1_0h", "\uff17d", ""]
)
def test_changes_since_takes_ascii_digits_only(tmp_path: Path, value: str) -> None:
    """And an empty value (`--changes-since "$SINCE"`, the variable unset) is no duration either:
    it silently meant the 14-day default."""
    line = _refused(tmp_path, ["scan", "--demo", "--fail-on", "none", "--changes-since", value])
    assert "--changes-since" in line and "expected a duration such as 7d or 72h" in line, line


def test_a_huge_value_is_quoted_clipped(tmp_path: Path) -> None:
    line = _refused(tmp_path, ["scan", "--demo", "--check-timeout", "x" * 100_000])
    assert len(line) < 400 and "--check-timeout" in line, line


@pytest.mark.parametrize("value", ["0.0000000001", "1e-9", "0.05", "0.099"])
def test_a_check_timeout_too_short_to_keep_is_refused(tmp_path: Path, value: str) -> None:
    """`--check-timeout 0.0000000001` ran the whole demo with no timeout at all: the supervisor
    looks every few milliseconds, so a limit that short was silently not kept."""
    line = _refused(tmp_path, ["scan", "--demo", "--fail-on", "none", "--check-timeout", value])
    assert f"'{value}' is below 0.1, the shortest limit it can keep to (0: no limit)" in line, line
