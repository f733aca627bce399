"""`--parameters` given a file that cannot be the template's parameters: one error line naming it,
exit 2. The template itself said 'no ARM deployment template found', another template 'parameter
has no `value`', and in a directory scan a parameters file named after no template was silently
unused, so the templates were judged on their defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.iac.conftest import template, write

WS = "Microsoft.MachineLearningServices/workspaces"


def _tree(root: Path) -> Path:
    body = template(
        {"type": WS, "apiVersion": "2024-04-01", "name": "[parameters('n')]", "location": "westeurope"},
        parameters={"n": {"type": "string", "defaultValue": "ws"}},
    )
    write(root / "main.json", body)
    write(root / "other.json", body)
    write(root / "main.parameters.json", {"parameters": {"n": {"value": "ws-main"}}})
    write(root / "prod.parameters.json", {"parameters": {"n": {"value": "ws-prod"}}})
    return root


def _refused(*args: str | Path) -> str:
    result = CliRunner().invoke(cli, ["scan", *map(str, args), "--fail-on", "none", "--format", "json"])
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: --parameters "), result.stderr
    assert not result.stdout
    return lines[0]


@pytest.mark.parametrize("spelling", ["same", "dotted", "absolute", "link"])
def test_the_template_itself_as_its_parameters(tmp_path: Path, spelling: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    monkeypatch.chdir(root)
    os.symlink("main.json", "alias.json")
    given = {
        "same": "main.json",
        "dotted": "../" + root.name + "/main.json",
        "absolute": str(root / "main.json"),
        "link": "alias.json",
    }[spelling]
    assert "is the --template file itself" in _refused("--template", "main.json", "--parameters", given)


@pytest.mark.parametrize(
    ("target", "given"),
    [("file", "other.json"), ("directory", "main.json"), ("directory", "other.json")],
)  # the --template file itself given as parameters: the test above
def test_a_deployment_template_given_as_parameters(tmp_path: Path, target: str, given: str) -> None:
    root = _tree(tmp_path)
    where = root / "main.json" if target == "file" else root
    message = _refused("--template", where, "--parameters", root / given)
    assert "an ARM deployment template, not a parameters file" in message, message


def test_a_parameters_file_named_after_no_template_of_the_directory(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    message = _refused("--template", root, "--parameters", root / "prod.parameters.json")
    assert "no template named prod.json" in message and "silently unused" in message, message


@pytest.mark.parametrize(
    ("given", "why"), [("/dev/null", "not a regular file (a character device)"), (".", "is a directory, not a file")]
)
def test_a_parameters_path_that_is_no_regular_file(tmp_path: Path, given: str, why: str) -> None:
    root = _tree(tmp_path)
    assert f"--parameters {given}: {why}" in _refused("--template", root / "main.json", "--parameters", given)


def test_matching_parameters_still_apply(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            "--template",
            str(root),
            "--parameters",
            str(root / "main.parameters.json"),
            "--fail-on",
            "none",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"ws-main"' in result.stdout and '"ws"' in result.stdout
