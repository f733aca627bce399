"""Hostile sources, through the command line in a process of its own.

Each class broke before its fix:
- a check plugin that prints (a debug `print` at its top or in its check) wrote into standard
  output, so `mlwarden scan --format sarif > results.sarif` was no longer JSON;
- an input that cannot be read: as root every file is readable, so this drops the capability that
  lets root read anything (as a CI runner's unprivileged user is). A directory below `--template`
  that could not be listed was skipped without a word, its templates unjudged and the scan green;
- a PostgreSQL history whose settings are wrong (no such database or role, `port=abc`,
  `connect_timeout=abc`) was exit 3, "try again later", or exit 4; a rerun cannot succeed: exit 2;
- `MLWARDEN_PROGRESS_INTERVAL=10s` silently fell back to the default, unlike every other setting.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pgserver

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scanner" / "data" / "demo-estate.jsonl"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
MAIN = f"import sys; sys.path.insert(0, {str(REPO)!r}); from scanner.cli import main; sys.argv[0] = 'mlwarden'; main()"
NO_READ_ANYTHING = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def mlwarden(
    *args: str | Path, env: dict[str, str] | None = None, prefix: list[str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The command line in a process of its own (120 s guards against a hang; nothing is timed)."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-c", MAIN, *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
        cwd=cwd,
    )


def one_error(done: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    lines = done.stderr.decode().splitlines()
    assert done.returncode == code, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), done.stderr
    assert b"Traceback" not in done.stderr
    return lines[0]


def chatty_plugin(directory: Path) -> Path:
    """A plugin distribution that prints when imported and in every call of its check."""
    (directory / "chatty_checks.py").write_text(
        "print('loading chatty checks')\n"
        "from scanner.registry import check, failed\n"
        "@check(id='CHATTY-01', title='Chatty rule', kinds=('storage',), severity='high', tags=('logging',),\n"
        "       pillar='monitoring', rationale='r', remediation='f')\n"
        "def chatty_rule(resource, estate):\n"
        "    print('judging', resource.id)\n"
        "    return failed('x')\n"
    )
    info = directory / "chatty_checks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chatty-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mlwarden.checks]\nchatty_checks = chatty_checks\n")
    return directory


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--demo", "--fail-on", "none", "--format", "json", "--jobs", "1"],
        ["scan", "--demo", "--fail-on", "none", "--format", "sarif", "--jobs", "2"],
        ["checks", "list", "--format", "json"],
    ],
    ids=["json", "sarif-two-processes", "checks-list"],
)
def test_what_a_plugin_prints_never_lands_in_standard_output(tmp_path: Path, args: list[str]) -> None:
    plugin = chatty_plugin(tmp_path)
    done = mlwarden(*args, env={"PYTHONPATH": os.pathsep.join([str(plugin), str(REPO)])})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is the one JSON document
    assert "CHATTY-01" in json.dumps(document)
    assert b"loading chatty checks" in done.stderr  # said, where a person reads it


def _template_dir(root: Path) -> Path:
    good = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": []}
    (root / "sub").mkdir(parents=True)
    (root / "a.json").write_text(json.dumps(good))
    (root / "sub" / "b.json").write_text(json.dumps(good))
    return root


UNREADABLE = {
    "snapshot": (["--snapshot"], "snapshot.jsonl"),
    "waivers": (["--demo", "--waivers"], "waivers.yaml"),
    "baseline": (["--demo", "--baseline"], "baseline.json"),
    "framework-file": (["--demo", "--framework-file"], "framework.yaml"),
    "attestations": (["--demo", "--attestations"], "attestations.yaml"),
    "terraform-plan": (["--terraform-plan"], "plan.json"),
    "template-file-in-a-directory": (["--template"], "templates/sub/b.json"),
    "template-subdirectory": (["--template"], "templates/sub"),
}


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux) to drop root's read-anything")
@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_input_that_cannot_be_read_is_one_error_naming_it(tmp_path: Path, case: str) -> None:
    option, name = UNREADABLE[case]
    shutil.copy(DEMO, tmp_path / "snapshot.jsonl")
    for other in ("waivers.yaml", "baseline.json", "framework.yaml", "attestations.yaml", "plan.json"):
        (tmp_path / other).write_text("{}")
    _template_dir(tmp_path / "templates")
    target = tmp_path / name
    target.chmod(0)
    given = tmp_path / "templates" if option == ["--template"] else target
    try:
        prefix = ["setpriv", *NO_READ_ANYTHING] if os.geteuid() == 0 else []
        done = mlwarden("scan", *option, given, "--fail-on", "none", "--out", tmp_path / "out", prefix=prefix)
    finally:
        target.chmod(0o700)
    line = one_error(done)
    assert "not readable" in line or "Permission denied" in line, line
    assert target.name in line, line
    assert not (tmp_path / "out").exists()


def test_a_progress_interval_that_is_no_number_of_seconds_is_refused_before_collecting(tmp_path: Path) -> None:
    credentials = {"AZURE_TOKEN_CREDENTIALS": "environmentcredential", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
    done = mlwarden(
        "collect",
        "--out",
        tmp_path / "estate.jsonl",
        "--subscription",
        "00000000-0000-0000-0000-000000000000",
        env={**credentials, "AZURE_CLIENT_SECRET": "not-used", "MLWARDEN_PROGRESS_INTERVAL": "10s"},
    )
    assert "MLWARDEN_PROGRESS_INTERVAL='10s'" in one_error(done)
    assert not (tmp_path / "estate.jsonl").exists()


@pytest.fixture(scope="module")
def server() -> Iterator[pgserver.Server]:
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg 3) is not installed")
    try:
        with pgserver.running() as running:
            running.sql("CREATE DATABASE hostile")
            yield running
    except LookupError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(
    ("database", "user", "query", "fragment"),
    [
        ("no_such_database", None, "", 'database "no_such_database" does not exist'),
        ("hostile", "no_such_role", "", 'role "no_such_role" does not exist'),
        ("hostile", None, "&port=abc", "port"),
        ("hostile", None, "&target_session_attrs=sometimes", "target_session_attrs"),
        ("hostile", None, "&connect_timeout=abc", "connect_timeout"),
    ],
)
def test_postgresql_settings_that_cannot_work_are_exit_2_not_a_retry(
    server: pgserver.Server, tmp_path: Path, database: str, user: str | None, query: str, fragment: str
) -> None:
    target = server.url(database, user) + query
    done = mlwarden("scan", "--demo", "--fail-on", "none", "--out", tmp_path / "out", "--history", target)
    assert fragment in one_error(done)
    assert not (tmp_path / "out").exists()


EXAMPLES = REPO / "examples" / "iac"


def _one_line(path: Path) -> bytes:
    return json.dumps(json.loads(path.read_text())).encode() + b"\n"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (lambda: DEMO.read_text().encode("utf-16"), "UTF-16 text"),
        (lambda: __import__("bz2").compress(DEMO.read_bytes()), "bzip2-compressed"),
        (lambda: __import__("lzma").compress(DEMO.read_bytes()), "xz-compressed"),
        (lambda: DEMO.read_bytes().replace(b"Larkspur", b"Lark\xffspur", 1), "not UTF-8 text"),
        (lambda: (EXAMPLES / "ml-platform.json").read_bytes(), "spread over several lines"),
        (lambda: _one_line(EXAMPLES / "ml-platform.json"), "scan it with --template"),
        (lambda: _one_line(EXAMPLES / "ml-platform.tfplan.json"), "scan it with --terraform-plan"),
        (lambda: DEMO.read_bytes().split(b"\n", 1)[0] + b"\nnull\n", "got null"),
    ],
    ids=["utf16", "bzip2", "xz", "latin1-byte", "pretty-json", "arm-template", "terraform-plan", "null-record"],
)
def test_a_file_that_is_no_snapshot_says_what_it_is(tmp_path: Path, content: Any, fragment: str) -> None:
    """orjson called every one of the first four "str is not valid UTF-8: surrogates not allowed"."""
    snapshot = tmp_path / "estate.jsonl"
    snapshot.write_bytes(content())
    line = one_error(mlwarden("scan", "--snapshot", snapshot, "--fail-on", "none"))
    assert fragment in line and "estate.jsonl line " in line, line


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
@pytest.mark.parametrize("command", ["list", "diff"])
def test_a_history_to_read_that_is_no_regular_file_is_named_so(tmp_path: Path, kind: str, command: str) -> None:
    """It said "no such file" of a directory, FIFO or device that is there."""
    target = tmp_path / "history.db"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif os.geteuid() == 0:
        os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        pytest.skip("creating a device node needs root")
    said = "is a directory" if kind == "directory" else "not a regular file"
    assert f"history.db: {said}" in one_error(mlwarden("history", command, "--db", target))
