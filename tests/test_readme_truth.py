"""The README's CLI reference, read the way a newcomer reads it, against the click commands.

Both directions: every option, argument, metavar, default and environment variable the README
shows must be the command's, and every one the command has must be shown. The exit code table,
`mlwarden --help`'s epilog and the codes the code uses must be the same set. So neither the
README nor the help can drift from the other, or from the code, without a red test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from scanner import clickapp, errors
from scanner.cli import cli
from scanner.clickapp import EXIT_CODES_HELP, FormatList

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


REFERENCE = section("CLI reference")


def commands(group: click.Group = cli, path: str = "mlwarden") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")
        else:
            yield f"{path} {name}", command


COMMANDS = dict(commands())


def options(command: click.Command) -> dict[str, click.Option]:
    """Every spelling of every option (`-q` and `--quiet`), `--help` aside."""
    return {
        opt: param
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt not in ("-h", "--help")
    }


@dataclass
class Shown:
    """What the README shows of one command: its options (with the metavar written after each,
    and the text around it, a table row or a paragraph) and its positional arguments."""

    options: dict[str, list[tuple[str | None, str]]] = field(default_factory=dict)
    arguments: list[list[str]] = field(default_factory=list)

    def add(self, option: str, metavar: str | None, context: str) -> None:
        self.options.setdefault(option, []).append((metavar, context))


def _context(text: str, position: int) -> str:
    """The table row, or else the paragraph, that holds `position`."""
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : line_end if line_end >= 0 else None]
    if line.startswith("|"):
        return line
    start = text.rfind("\n\n", 0, position) + 2
    end = text.find("\n\n", position)
    return text[start : end if end >= 0 else None]


def _table_after(marker: str) -> Iterator[tuple[str, str]]:
    """(first cell, whole row) of the table that follows `marker` in the CLI reference."""
    rest = REFERENCE[REFERENCE.index(marker) :]
    table = rest[rest.index("\n| ") + 1 :].split("\n\n", 1)[0]
    for row in table.splitlines()[2:]:
        first = re.split(r"(?<!\\)\|", row)[1]
        yield first, row


def _tokens(text: str) -> list[str]:
    return [token.strip("[]") for token in text.replace("\\|", "|").split() if token.strip("[]")]


def _read_span(tokens: list[str], command: click.Command, shown: Shown, context: str) -> None:
    """Options with their metavars, and positional arguments, from one shown command line."""
    known = options(command)
    arguments: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-"):
            param = known.get(token)
            takes_value = param is not None and not param.is_flag
            metavar = tokens[i + 1] if takes_value and i + 1 < len(tokens) else None
            shown.add(token, metavar, context)
            i += 2 if metavar is not None else 1
            continue
        arguments.append(token)
        i += 1
    if arguments:
        shown.arguments.append(arguments)


def readme_commands() -> dict[str, Shown]:
    """Everything the CLI reference shows, per command path."""
    shown = {path: Shown() for path in COMMANDS}
    for marker, paths in (
        ("`mlwarden scan [SOURCE] [OPTIONS]`", ["mlwarden scan"]),
        ("Live options", ["mlwarden scan", "mlwarden collect"]),
    ):
        for first, row in _table_after(marker):
            for span in re.findall(r"`([^`]+)`", first):
                tokens = _tokens(span)
                assert tokens[0].startswith("-"), f"{marker} table: {span!r} is not an option"
                for path in paths:
                    metavar = tokens[1] if len(tokens) > 1 else None
                    assert len(tokens) <= 2, f"{span!r}: one option and its metavar per code span"
                    shown[path].add(tokens[0], metavar, row)
    by_length = sorted(COMMANDS, key=len, reverse=True)
    for match in re.finditer(r"`(mlwarden [^`]+)`", REFERENCE):
        text = match.group(1).replace("\\|", "|")
        path = next((p for p in by_length if text == p or text.startswith(p + " ")), None)
        if path is None or path == "mlwarden scan":  # `mlwarden scan`'s options are in its table
            continue
        _read_span(_tokens(text[len(path) :]), COMMANDS[path], shown[path], _context(REFERENCE, match.start()))
    return shown


SHOWN = readme_commands()


def _choices(param: click.Option) -> list[str] | None:
    if isinstance(param.type, click.Choice):
        return [str(choice) for choice in param.type.choices]
    if isinstance(param.type, FormatList):
        return FormatList.choices()
    return None


def _default_text(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_is_shown_and_every_shown_option_exists(path: str) -> None:
    have, shown = set(options(COMMANDS[path])), set(SHOWN[path].options)
    assert not shown - have, f"README shows {sorted(shown - have)} for `{path}`, which has no such option"
    assert not have - shown, f"`{path}` has {sorted(have - shown)}, which the README's CLI reference does not show"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_metavars_defaults_and_environment_match(path: str) -> None:
    known = options(COMMANDS[path])
    for option, uses in SHOWN[path].options.items():
        param = known[option]
        for metavar, context in uses:
            where = f"README `{path}` {option}"
            if param.is_flag:
                assert metavar is None, f"{where}: a flag, shown with a value {metavar!r}"
                continue
            assert metavar is not None, f"{where}: shown without its value"
            choices = _choices(param)
            if choices is None:
                assert param.metavar, f"`{path} {option}` has no explicit metavar, so --help shows a type name"
                assert metavar == param.metavar, f"{where} {metavar}: --help says {param.metavar}"
            elif "|" in metavar:
                assert metavar.split("|") == choices, f"{where} {metavar}: the choices are {'|'.join(choices)}"
                if param.default is not None:  # the README's convention: the default is listed first
                    assert metavar.split("|")[0] == str(param.default), f"{where}: default {param.default!r} first"
            else:
                missing = [choice for choice in choices if f"`{choice}`" not in context]
                assert metavar.isupper() and not missing, f"{where} {metavar}: the text does not name {missing}"
            if param.show_default and param.default not in (None, False, ()) and "|" not in metavar:
                default = _default_text(param.default)
                assert re.search(
                    rf"default\W[^|]*?\b{re.escape(default)}\b|\b{re.escape(default)}`? \(default", context
                ), f"{where}: the README does not give its default {default!r}"
            for name in [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ()):
                assert name in context, f"{where}: the README does not say it also comes from {name}"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_arguments_match(path: str) -> None:
    expected = [param.human_readable_name for param in COMMANDS[path].params if isinstance(param, click.Argument)]
    shown = SHOWN[path].arguments
    if path in ("mlwarden scan", "mlwarden collect"):
        return
    assert shown or not expected, f"README's CLI reference never shows `{path}` with {expected}"
    for arguments in shown:
        assert arguments == expected, f"README shows `{path} {' '.join(arguments)}`; the command takes {expected}"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_value_has_a_readable_metavar(path: str) -> None:
    """`--help` shows FILE, ID or URL, not click's type names (TEXT, PATH, FLOAT RANGE)."""
    for param in COMMANDS[path].params:
        if isinstance(param, click.Option) and not param.is_flag and _choices(param) is None:
            assert param.metavar, f"`{path} {param.opts[0]}` has no metavar"


def _readme_command_lines() -> Iterator[str]:
    """Every `mlwarden ...` command the README shows anywhere: code blocks and inline code."""
    pieces: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.DOTALL):
        pieces += [line.split("  #", 1)[0] for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    pieces += [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", prose)]
    for piece in pieces:
        for part in re.split(r"&&|(?<!\|)\|(?!\|)|;", piece):
            if command := re.match(r"\s*(?:[A-Z_]+=\S+\s+)*(mlwarden\s.*)", part):
                yield command.group(1).strip()


def _wrong_options(lines: Iterator[str]) -> list[str]:
    """Each `mlwarden ...` line that names a command or an option that does not exist."""
    by_length = sorted(COMMANDS, key=len, reverse=True)
    groups = {f"mlwarden {name}" for name, command in cli.commands.items() if isinstance(command, click.Group)}
    wrong = []
    for line in lines:
        words = line.split()
        path = next((p for p in by_length if words[: len(p.split())] == p.split()), None)
        if path is None:
            head = " ".join(words[:2])
            if words[1:2] and re.match(r"[a-z]", words[1]) and head not in groups:
                wrong.append(f"{line}: no such command")
            continue
        known = {*options(COMMANDS[path]), "--help"}
        for word in words[len(path.split()) :]:
            option = word.strip("[]`").split("=", 1)[0]
            if option.startswith("--") and option not in known:
                wrong.append(f"{line}: `{path}` has no {option}")
    return wrong


def test_every_command_line_in_the_readme_uses_real_options() -> None:
    wrong = _wrong_options(_readme_command_lines())
    assert not wrong, "\n".join(wrong)


def test_every_example_in_the_help_uses_real_options() -> None:
    """The examples and pointers in `--help` texts (`mlwarden scan --demo ...`) are real commands."""
    texts = [cli.help or "", cli.epilog or ""]
    texts += [text for command in COMMANDS.values() for text in (command.help or "", command.epilog or "")]
    texts += [
        param.help or "" for command in COMMANDS.values() for param in command.params if isinstance(param, click.Option)
    ]
    lines = [
        found.split("  #", 1)[0].split("`", 1)[0].strip()
        for text in texts
        for found in re.findall(r"mlwarden [^\n`]+", " ".join(text.split("\n")) if "\b" not in text else text)
    ]
    wrong = _wrong_options(iter(line for line in lines if line))
    assert not wrong, "\n".join(wrong)


def test_every_option_the_reference_names_exists() -> None:
    """Prose too: an option named anywhere in the CLI reference is some command's."""
    every = {opt for command in COMMANDS.values() for opt in options(command)} | {"--version", "--help"}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", REFERENCE))
    assert named <= every, f"README's CLI reference names options no command has: {sorted(named - every)}"


def _codes(table_text: str) -> set[int]:
    return {int(code) for code in re.findall(r"^\|\s*(\d+)\s*\|", table_text, re.MULTILINE)}


def test_exit_codes_agree_between_readme_help_and_code() -> None:
    readme = _codes(section("Exit codes"))
    epilog = {int(code) for code in re.findall(r"^  (\d+)\s{2,}\S", EXIT_CODES_HELP, re.MULTILINE)}
    constants = {value for name, value in vars(clickapp).items() if name.startswith("EXIT_") and isinstance(value, int)}
    raised = {cls.exit_code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, Exception)}
    assert raised <= constants, f"errors.py raises exit codes {raised - constants} that scanner.clickapp does not name"
    assert readme == constants, f"README's exit codes {sorted(readme)}; the code's {sorted(constants)}"
    assert epilog == constants, f"`mlwarden --help` lists {sorted(epilog)}; the code's {sorted(constants)}"


def _env_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("scanner", "reports", "checks", "frameworks"):
        for file in (REPO / package).rglob("*.py"):
            found |= set(re.findall(r"[\"'](MLWARDEN_[A-Z_]+)[\"']", file.read_text(encoding="utf-8")))
    return found


def test_environment_variables_are_documented_and_real() -> None:
    in_code = _env_in_code()
    in_readme = set(re.findall(r"\bMLWARDEN_[A-Z_]+\b", README))
    assert not in_code - in_readme, f"the code reads {sorted(in_code - in_readme)}, which the README never names"
    elsewhere = "".join(
        file.read_text(encoding="utf-8")
        for file in [REPO / "action.yml", *(REPO / "deploy").rglob("*")]
        if file.is_file()
    )
    invented = {name for name in in_readme - in_code if name not in elsewhere}
    assert not invented, f"README names {sorted(invented)}, which neither the code nor the deploy recipes use"


# -- The "Adding a check", "Adding a framework" and attestation examples, followed literally ----------


def _block(title: str, language: str, after: str = "") -> str:
    text = section(title)
    text = text[text.index(after) :] if after else text
    return text.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_adding_a_check_works_as_written(tmp_path: Path) -> None:
    """The README's check module, registered by the README's entry point, in a fresh process."""
    import subprocess
    import sys
    import tomllib

    points = tomllib.loads(_block("Adding a check", "toml"))["project"]["entry-points"]["mlwarden.checks"]
    ((name, module),) = points.items()
    (tmp_path / f"{module}.py").write_text(_block("Adding a check", "python"), encoding="utf-8")
    info = tmp_path / "acme_checks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[mlwarden.checks]\n{name} = {module}\n", encoding="utf-8")
    check_id = re.search(r'id="([^"]+)"', _block("Adding a check", "python"))
    assert check_id is not None
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"}

    def mlwarden(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from scanner.cli import main; main()", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )

    shown = mlwarden("checks", "show", check_id.group(1))
    assert shown.returncode == 0 and "Storage account keeps blob versioning on" in shown.stdout, shown.stderr
    scanned = mlwarden("scan", "--demo", "--check", check_id.group(1), "--format", "csv", "--fail-on", "none")
    assert scanned.returncode == 0, scanned.stderr
    rows = [line for line in scanned.stdout.splitlines() if check_id.group(1) in line]
    assert rows and all(",fail," in row or ",pass," in row for row in rows), scanned.stdout[:2000]


def test_adding_a_framework_works_as_written(tmp_path: Path) -> None:
    from click.testing import CliRunner

    catalog = tmp_path / "my.yaml"
    catalog.write_text(_block("Adding a framework", "yaml"), encoding="utf-8")
    framework = re.search(r"^id: (\S+)", catalog.read_text(encoding="utf-8"), re.MULTILINE)
    assert framework is not None
    runner = CliRunner()
    shown = runner.invoke(cli, ["frameworks", "show", framework.group(1), "--framework-file", str(catalog)])
    assert shown.exit_code == 0, shown.output
    assert "manual: The signed report of the last penetration test." in shown.stdout
    assert "MLW-KV-08" in shown.stdout
    scanned = runner.invoke(cli, ["scan", "--demo", "--framework-file", str(catalog), "--fail-on", "none"])
    assert scanned.exit_code == 0 and "ACME internal cloud policy:" in scanned.stdout, scanned.output


def test_the_attestation_example_loads(tmp_path: Path) -> None:
    """Filled in as shown, with its evidence file next to it, it attests its control."""
    import json

    from click.testing import CliRunner

    example = _block("Auditor workflow", "yaml", after="**2. Attest the manual controls.**")
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "risk-analysis-2026.pdf").write_bytes(b"")  # the digest shown is an empty file's
    attestations = tmp_path / "attestations.yaml"
    attestations.write_text(example, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["scan", "--demo", "--attestations", str(attestations), "--format", "json", "--fail-on", "none"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    controls = [c for fw in report["frameworks"] if fw["id"] == "hipaa-security-rule" for c in fw["controls"]]
    (control,) = [c for c in controls if c["control_id"] == "164.308(a)(1)(ii)(A)"]
    assert control["attestation"]["attested_by"] == "Dana Reyes"


def test_the_action_inputs_table_is_action_yml() -> None:
    """README's table of the GitHub Action's inputs: the same names and defaults as action.yml."""
    import yaml

    inputs = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["inputs"]
    text = section("Run it in CI and on a schedule")
    table = text[text.index("| input | default | meaning |") :].split("\n\n", 1)[0]
    documented: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        cells = re.split(r"(?<!\\)\|", row)
        names, defaults = re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])
        for i, name in enumerate(names):
            documented[name] = defaults[i] if len(defaults) == len(names) else (defaults[0] if defaults else "")
    assert set(documented) == set(inputs), f"README's inputs {sorted(documented)}; action.yml's {sorted(inputs)}"
    for name, default in documented.items():
        assert str(inputs[name].get("default", "")) == default, f"input {name}: README {default!r}, action.yml"
