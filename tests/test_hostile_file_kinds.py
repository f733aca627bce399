"""Every option that reads a file, given every kind of file it should not be: one error line naming
the file, exit 2, no traceback, nothing on stdout and nothing written. And every option that takes a
value, given 100,000 characters: an error line stays readable (its long runs are clipped).

Found here: `--history postgresql://a..b/db` (or a host label over 63 characters) was exit 4, "a bug",
from the host name lookup's IDNA encoding; an error quoting a 100,000-character value was a
100,000-character line.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scanner.cli import cli

TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "resources": [],
}


def _write(content: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(content)
        return path

    return make


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _dangling(path: Path) -> Path:
    path.symlink_to(path.with_name("nowhere"))
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


def _gzip_bomb(path: Path) -> Path:
    with gzip.open(path, "wb") as out:
        for _ in range(40):
            out.write(b"\0" * (1 << 20))
    return path


KINDS: dict[str, Callable[[Path], Path]] = {
    "directory": _directory,
    "dangling-symlink": _dangling,
    "symlink-loop": _loop,
    "empty": _write(b""),
    "bom-only": _write(b"\xef\xbb\xbf"),
    "bom-then-garbage": _write(b"\xef\xbb\xbf\x00\x01garbage"),
    "nul-bytes": _write(b"\0" * 64),
    "not-utf8": _write(b"\x80\xfa garbage \xc3\n"),
    "utf16": _write('{"a": 1}'.encode("utf-16")),
    "control-characters": _write(b"\x1b[31m\x07\x08 {}\r\n"),
    "huge-line": _write(b"a" * (17 << 20)),
    "deep-json": _write(b"[" * 100_000 + b"]" * 100_000),
    "deep-yaml": _write(b"a: " + b"[" * 50_000 + b"]" * 50_000 + b"\n"),
    "alias-bomb": _write(b'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n'),
    "json-null": _write(b"null"),
    "json-infinity": _write(b"1e999"),
    "gzip-bomb": _gzip_bomb,
}


@pytest.fixture
def socket_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    yield path
    server.close()


READERS: dict[str, list[str]] = {
    "--snapshot": ["scan", "--fail-on", "none", "--snapshot", "{f}"],
    "--template": ["scan", "--fail-on", "none", "--template", "{f}"],
    "--parameters": ["scan", "--fail-on", "none", "--template", "template.json", "--parameters", "{f}"],
    "--terraform-plan": ["scan", "--fail-on", "none", "--terraform-plan", "{f}"],
    "--framework-file": ["scan", "--demo", "--fail-on", "none", "--framework-file", "{f}"],
    "--waivers": ["scan", "--demo", "--fail-on", "none", "--waivers", "{f}"],
    "--baseline": ["scan", "--demo", "--fail-on", "none", "--baseline", "{f}"],
    "--attestations": ["scan", "--demo", "--fail-on", "none", "--attestations", "{f}"],
    "frameworks list --framework-file": ["frameworks", "list", "--framework-file", "{f}"],
    "checks show --framework-file": ["checks", "show", "MLW-KV-01", "--framework-file", "{f}"],
    "attestations template --framework-file": [
        "attestations",
        "template",
        "--framework",
        "hipaa-security-rule",
        "--framework-file",
        "{f}",
    ],
    "history list --db": ["history", "list", "--db", "{f}"],
    "verify DIR": ["verify", "{f}"],
}
TEXT_FILE_ONLY = {"history list --db"}
"""A SQLite file is no text: the text kinds are "not a database" alike; the path kinds apply."""
PATH_KINDS = {"directory", "dangling-symlink", "symlink-loop", "socket", "fifo"}
VERIFY_KINDS = PATH_KINDS | {"empty"}
"""`verify` takes a directory: every other kind is simply "not a directory"."""


def _cases() -> list[tuple[str, str]]:
    cases = []
    for reader in READERS:
        for kind in [*KINDS, "socket", "fifo"]:
            if reader == "verify DIR" and kind not in VERIFY_KINDS:
                continue
            if reader in TEXT_FILE_ONLY and kind not in PATH_KINDS | {"nul-bytes", "huge-line"}:
                continue
            if reader == "verify DIR" and kind == "directory":
                continue  # an empty directory is a pack without a manifest: judged in test_evidence_pack
            cases.append((reader, kind))
    return cases


def _feed_fifo(path: Path, stop: threading.Event) -> None:
    """Write garbage into the FIFO once a reader opens it; give up when told (a reader that refused
    the FIFO never opens it)."""
    while not stop.wait(0.01):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            continue
        try:
            os.write(fd, b"\x00garbage [[[ {{{\n")
        except OSError:
            pass
        finally:
            os.close(fd)
        return


@pytest.mark.parametrize(("reader", "kind"), _cases(), ids=[f"{r} {k}" for r, k in _cases()])
def test_a_file_of_the_wrong_kind_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, socket_file: Path, reader: str, kind: str
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "template.json").write_text(json.dumps(TEMPLATE))
    stop = threading.Event()
    if kind == "socket":
        target = socket_file
    elif kind == "fifo":
        target = inputs / "fifo"
        os.mkfifo(target)
        threading.Thread(target=_feed_fifo, args=(target, stop), daemon=True).start()
    else:
        target = KINDS[kind](inputs / "hostile")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(inputs)
    args = [str(target) if a == "{f}" else a for a in READERS[reader]]
    args = [str(inputs / a) if a == "template.json" else a for a in args]
    before = sorted(p.name for p in inputs.iterdir())
    monkeypatch.chdir(work)
    try:
        result = CliRunner().invoke(cli, args, env={"MLWARDEN_HISTORY": ""})
    finally:
        stop.set()
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.output and not result.stdout
    assert target.name in lines[0] or str(target) in lines[0], lines[0]
    assert list(work.iterdir()) == [] and sorted(p.name for p in inputs.iterdir()) == before


# -- every value option, given 100,000 characters ---------------------------------------------------


def _value_options() -> list[tuple[tuple[str, ...], str]]:
    found = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                walk(command, (*path, name))
                continue
            for param in command.params:
                if isinstance(param, click.Option) and not param.is_flag and not param.count:
                    found.append(((*path, name), param.opts[-1]))

    walk(cli, ())
    return found


BASE = {
    ("scan",): ["--demo", "--fail-on", "none", "-q", "--format", "json"],
    ("checks", "show"): ["MLW-KV-01"],
    ("history", "diff"): ["--db", "history.db"],
    ("history", "list"): ["--db", "history.db"],
    ("verify",): ["pack"],
    ("attestations", "template"): ["--framework", "gdpr"],
}
LIVE = {("collect",)}
"""Reads Azure: a long value that passes its own checks would start a sign-in."""
VALUE_OPTIONS = [case for case in _value_options() if case[0] not in LIVE]


@pytest.mark.parametrize(("path", "option"), VALUE_OPTIONS, ids=[f"{' '.join(p)} {o}" for p, o in VALUE_OPTIONS])
def test_a_huge_value_never_makes_a_huge_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...], option: str
) -> None:
    monkeypatch.chdir(tmp_path)
    value = "x" * 100_000
    if option in {"--baseline", "--out", "--write-baseline", "--evidence-pack", "--history", "--db"}:
        value = f"postgresql://{value}/db" if option in {"--history", "--db"} else f"{value[:200]}/{value[:200]}"
    args = [*path, *BASE.get(path, []), f"{option}={value}"]
    if option == "--db":
        args = [*path, f"--db={value}"]
    result = CliRunner().invoke(cli, args, env={"MLWARDEN_HISTORY": ""})
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr[-500:])
    assert "Traceback" not in result.output
    assert all(len(line) < 1000 for line in result.stderr.splitlines()), result.stderr[:2000]


@pytest.mark.parametrize(
    "host", ["a..b", "x" * 64, "." * 3, "xn--" + "a" * 70], ids=["empty-label", "long-label", "dots", "long-punycode"]
)
@pytest.mark.parametrize("command", ["scan", "history"])
def test_a_postgres_host_that_cannot_exist_is_an_input_error(tmp_path: Path, command: str, host: str) -> None:
    url = f"postgresql://scanner@{host}/mlwarden"
    args = ["scan", "--demo", "--fail-on", "none", "--history", url] if command == "scan" else ["history", "list"]
    result = CliRunner().invoke(cli, args, env={"MLWARDEN_HISTORY": url})
    assert result.exit_code == 2, (result.exit_code, result.output)
    (line,) = result.stderr.splitlines()
    assert "the host name is not a valid DNS name" in line, line


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\0" * 4096, "binary data (NUL bytes), not text"),
        (b'{"schema_version": 1, "x": "\0"}\n', "binary data (NUL bytes), not text"),
        ('{"a": 1}\n'.encode("utf-16-le"), "UTF-16 text"),
        ('{"a": 1}\n'.encode("utf-16"), "UTF-16 text"),
    ],
    ids=["zero-filled", "nul-inside", "utf16-le", "utf16-bom"],
)
def test_a_snapshot_of_nul_bytes_is_not_called_utf16(tmp_path: Path, content: bytes, said: str) -> None:
    """A zero-filled file (preallocated, or a download cut short) was "UTF-16 text: convert it"."""
    (tmp_path / "estate.jsonl").write_bytes(content)
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(tmp_path / "estate.jsonl")])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert f"estate.jsonl line 1: {said}" in line, line


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "the framework must be a mapping of keys to values, not nothing (an empty document or value)"),
        ("just text\n", "the framework must be a mapping of keys to values, not a string"),
        ("- a\n- b\n", "the framework must be a mapping of keys to values, not a list"),
        (
            'id: x\nname: y\nversion: "1"\ncontrols:\n  - 5\n',
            "controls[0] must be a mapping of keys to values, not a number",
        ),
    ],
    ids=["empty", "string", "list", "number-control"],
)
def test_a_framework_file_of_the_wrong_shape_says_so_in_words(tmp_path: Path, content: str, said: str) -> None:
    """Said in Python's words before: "not NoneType" for an empty file, "not str", "not int"."""
    (tmp_path / "fw.yaml").write_text(content)
    result = CliRunner().invoke(cli, ["frameworks", "list", "--framework-file", str(tmp_path / "fw.yaml")])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.endswith(f"fw.yaml:{1 if 'controls' not in said else 4}: {said}"), line
