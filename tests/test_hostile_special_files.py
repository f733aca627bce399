"""Every file-taking option of every command (found by walking the command tree), given every kind
of special file: one error line naming the option, the path and what is wrong, exit 2, no
traceback, nothing of the file's content, nothing written, and the file itself left as it was.

What broke before `scanner.files`:
- `history list --db /proc/self/status` was an empty history, exit 0 (a file of /proc is 0 bytes
  long by stat, which SQLite takes for an empty database); `history diff` said "needs two recorded
  scans, found 0" and `scan --history` "cannot use it (unable to open database file)";
- a FIFO with no writer held `--waivers`, `--baseline`, `--framework-file`, `--attestations`,
  `--terraform-plan` and `--ca-bundle` in `open()` for ever;
- `/dev/zero` and `/dev/urandom` were read up to each reader's limit (256 MiB for a baseline)
  and refused for their content; `/dev/null` was an empty waivers or framework file;
- files of /proc and /sys were parsed, and refused by what was in them;
- `--write-baseline base.json/` replaced `base.json` (pathlib drops the slash), and an input path
  ending in `/` read the file; `--write-baseline` over a symbolic link loop replaced the link;
- a symbolic link loop as `--history` was "cannot use it (unable to open database file)".

The snapshot alone still takes a FIFO or pipe (it is read once, front to back; see
tests/test_bounded_input.py), and `--template` a directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.clickapp import Location
from tests.cli_tree import commands

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "iac" / "ml-platform.json"
MAIN = f"import sys; sys.path.insert(0, {str(REPO)!r}); from scanner.cli import main; sys.argv[0] = 'mlwarden'; main()"
LIVE = ["--subscription", "00000000-0000-0000-0000-000000000000", "--arm-endpoint", "https://127.0.0.1:9"]
ENV = {"MLWARDEN_HISTORY": "", "AZURE_TOKEN_CREDENTIALS": "environmentcredential"}

# -- every option that takes a path, and how to run it --------------------------------------------

READS: dict[tuple[str, str], list[str]] = {
    ("scan", "--snapshot"): ["scan", "--fail-on", "none", "--snapshot", "{f}"],
    ("scan", "--template"): ["scan", "--fail-on", "none", "--template", "{f}"],
    ("scan", "--parameters"): ["scan", "--fail-on", "none", "--template", str(TEMPLATE), "--parameters", "{f}"],
    ("scan", "--terraform-plan"): ["scan", "--fail-on", "none", "--terraform-plan", "{f}"],
    ("scan", "--framework-file"): ["scan", "--demo", "--fail-on", "none", "--framework-file", "{f}"],
    ("scan", "--waivers"): ["scan", "--demo", "--fail-on", "none", "--waivers", "{f}"],
    ("scan", "--baseline"): ["scan", "--demo", "--fail-on", "none", "--baseline", "{f}"],
    ("scan", "--attestations"): ["scan", "--demo", "--fail-on", "none", "--attestations", "{f}"],
    ("scan", "--ca-bundle"): ["scan", *LIVE, "--fail-on", "none", "--ca-bundle", "{f}"],
    ("scan", "--history"): ["scan", "--demo", "-q", "--fail-on", "none", "--history", "{f}"],
    ("collect", "--ca-bundle"): ["collect", *LIVE, "--out", "estate.jsonl", "--ca-bundle", "{f}"],
    ("checks show", "--framework-file"): ["checks", "show", "MLW-KV-01", "--framework-file", "{f}"],
    ("frameworks list", "--framework-file"): ["frameworks", "list", "--framework-file", "{f}"],
    ("frameworks show", "--framework-file"): ["frameworks", "show", "gdpr", "--framework-file", "{f}"],
    ("attestations template", "--framework-file"): [
        "attestations",
        "template",
        "--framework",
        "gdpr",
        "--framework-file",
        "{f}",
    ],
    ("history list", "--db"): ["history", "list", "--db", "{f}"],
    ("history diff", "--db"): ["history", "diff", "--db", "{f}"],
    ("verify", "--ca-bundle"): ["verify", "{pack}", "--key", "https://v.vault.azure.net/keys/k", "--ca-bundle", "{f}"],
    ("verify", "DIR"): ["verify", "{f}"],
}
WRITES: dict[tuple[str, str], list[str]] = {
    ("scan", "--write-baseline"): ["scan", "--demo", "-q", "--fail-on", "none", "--write-baseline", "{f}"],
    ("collect", "--out"): ["collect", *LIVE, "--out", "{f}"],
    ("scan", "--out"): ["scan", "--demo", "-q", "--fail-on", "none", "--out", "{f}"],
    ("scan", "--evidence-pack"): ["scan", "--demo", "-q", "--fail-on", "none", "--evidence-pack", "{f}"],
}
HISTORY = {"--db", "--history"}
"""Path-or-URL options, plain strings to click: found by name."""


def _path_options() -> set[tuple[str, str]]:
    found = set()
    for path, command in commands(cli):
        for param in command.params:
            if isinstance(param.type, Location) or (isinstance(param, click.Option) and param.opts[-1] in HISTORY):
                name = param.opts[-1] if isinstance(param, click.Option) else param.human_readable_name
                found.add((" ".join(path), name))
    return found


def test_every_path_option_is_in_the_matrix() -> None:
    """A file option added later fails here until it is given a row above (and so the tests below)."""
    assert _path_options() == set(READS) | set(WRITES)


# -- the kinds of file ----------------------------------------------------------------------------


def _first(*candidates: str) -> str | None:
    return next((c for c in candidates if os.path.isfile(c) and os.access(c, os.R_OK)), None)


SYSFS = _first("/sys/kernel/mm/transparent_hugepage/enabled", "/sys/devices/system/cpu/online", "/sys/kernel/osrelease")
SYSTEM: dict[str, str | None] = {
    "proc-status": "/proc/self/status",
    "proc-environ": "/proc/self/environ",
    "sysfs": SYSFS,
    "dev-zero": "/dev/zero",
    "dev-urandom": "/dev/urandom",
    "dev-null": "/dev/null",
}


def _regular(path: Path) -> str:
    path.write_text('{"a": 1}\n')
    return str(path)


def _directory(path: Path) -> str:
    path.mkdir()
    return str(path)


def _fifo(path: Path) -> str:
    os.mkfifo(path)  # no writer: opening it would block for ever
    return str(path)


def _loop(path: Path) -> str:
    path.symlink_to(path)
    return str(path)


def _trailing_slash(path: Path) -> str:
    return _regular(path) + "/"


MADE: dict[str, Callable[[Path], str]] = {
    "fifo": _fifo,
    "directory": _directory,
    "symlink-loop": _loop,
    "trailing-slash": _trailing_slash,
}
KINDS = [*SYSTEM, "socket", *MADE]

SAID = {
    "proc-status": "not a regular file (a proc file of the kernel",
    "proc-environ": "not a regular file (a proc file of the kernel",
    "sysfs": "not a regular file (a sysfs file of the kernel",
    "dev-zero": "not a regular file (a character device)",
    "dev-urandom": "not a regular file (a character device)",
    "dev-null": "not a regular file (a character device)",
    "fifo": "not a regular file (a FIFO or pipe",
    "socket": "not a regular file (a socket)",
    "directory": "is a directory",
    "symlink-loop": "a symbolic link loop (Too many levels of symbolic links)",
    "trailing-slash": "ends in '/', which names a directory",
    "unreadable": "cannot read it (Permission denied)",
}
"""What the line says of each kind, for every option that reads a file (and `scan --history`)."""
SAID_BY_OUTPUTS = {
    **SAID,
    "proc-status": "is a proc file of the kernel, not a file it may replace",
    "proc-environ": "is a proc file of the kernel, not a file it may replace",
    "sysfs": "is a sysfs file of the kernel, not a file it may replace",
    "dev-zero": "is a device, not a file it may replace",
    "dev-urandom": "is a device, not a file it may replace",
    "dev-null": "is a device, not a file it may replace",
    "fifo": "is a FIFO, not a file it may replace",
    "socket": "is a socket, not a file it may replace",
    "symlink-loop": "is a symbolic link loop, not a file it may replace",
}
"""What `--write-baseline` and `collect --out` say (`outputs.check_file_destination`)."""


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Make a file of a kind in `tmp_path/inputs`; the path as given on the command line."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    sockets: list[socket.socket] = []

    def make(kind: str) -> str:
        if kind in SYSTEM:
            path = SYSTEM[kind]
            if path is None:
                pytest.skip(f"no readable file of the kind {kind} on this machine")
            return path
        if kind == "socket":
            server = socket.socket(socket.AF_UNIX)
            server.bind(str(inputs / "sock"))
            sockets.append(server)
            return str(inputs / "sock")
        return MADE[kind](inputs / "hostile.json")

    yield make
    for server in sockets:
        server.close()


def _state(path: str) -> tuple[object, ...]:
    """What must not change: kind, device number, size, mtime and (a file in tmp) the bytes."""
    try:
        info = os.lstat(path.rstrip("/"))
    except OSError:
        return ("absent",)
    regular = stat.S_ISREG(info.st_mode) and not path.startswith(("/proc/", "/sys/"))
    content = Path(path.rstrip("/")).read_bytes() if regular else None
    mtime = info.st_mtime_ns if not path.startswith(("/proc/", "/sys/", "/dev/")) else None
    return stat.S_IFMT(info.st_mode), info.st_rdev, info.st_size if regular else None, mtime, content


def _environ_values() -> list[str]:
    """Values of this process's starting environment, as /proc/self/environ holds them."""
    values = []
    for item in Path("/proc/self/environ").read_bytes().split(b"\0"):
        value = item.partition(b"=")[2].decode("utf-8", "replace")
        if len(value) >= 12 and "/" not in value:  # paths appear in any error line; secrets look otherwise
            values.append(value)
    return values


def _pack(tmp_path: Path) -> str:
    pack = tmp_path / "pack"
    pack.mkdir()
    return str(pack)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: list[str], target: str) -> tuple[Path, object]:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = [target if a == "{f}" else _pack(tmp_path) if a == "{pack}" else a for a in template]
    return work, CliRunner().invoke(cli, args, env=ENV)


def _one_line(result: object, option: str, target: str) -> str:
    assert isinstance(result, click.testing.Result)
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.output and not result.stdout
    line = lines[0]
    named = option.lstrip("-") if option != "DIR" else "evidence pack"
    assert target in line or target.rstrip("/") in line, line
    assert named in line or option in line or "history" in line, line
    assert all(value not in line for value in _environ_values()), "the content of /proc/self/environ was shown"
    return line


READ_CASES = [
    (reader, kind)
    for reader in READS
    for kind in KINDS
    if not (reader == ("scan", "--snapshot") and kind == "fifo")  # read as a stream: test_bounded_input
    and not (reader == ("scan", "--template") and kind == "directory")  # a directory of templates
]


@pytest.mark.parametrize(("reader", "kind"), READ_CASES, ids=[f"{' '.join(r)} {k}" for r, k in READ_CASES])
def test_an_input_of_the_wrong_kind_is_refused_by_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: Callable[[str], str], reader: tuple[str, str], kind: str
) -> None:
    target = made(kind)
    before = _state(target)
    work, result = _run(tmp_path, monkeypatch, READS[reader], target)
    line = _one_line(result, reader[1], target)
    if reader != ("verify", "DIR"):  # a directory is wanted there: anything else is "not a directory"
        assert SAID[kind] in line, line
    assert _state(target) == before
    assert list(work.iterdir()) == []


WRITE_CASES = [
    (writer, kind)
    for writer in WRITES
    for kind in KINDS
    if not (writer in {("scan", "--out"), ("scan", "--evidence-pack")} and kind == "directory")
]


@pytest.mark.parametrize(("writer", "kind"), WRITE_CASES, ids=[f"{' '.join(w)} {k}" for w, k in WRITE_CASES])
def test_an_output_of_the_wrong_kind_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: Callable[[str], str], writer: tuple[str, str], kind: str
) -> None:
    target = made(kind)
    before = _state(target)
    listing = sorted(os.listdir(os.path.dirname(target.rstrip("/")))) if target.startswith(str(tmp_path)) else None
    work, result = _run(tmp_path, monkeypatch, WRITES[writer], target)
    line = _one_line(result, writer[1], target)
    if writer in {("scan", "--write-baseline"), ("collect", "--out")} and kind != "directory":
        assert SAID_BY_OUTPUTS[kind] in line, line
    assert _state(target) == before
    assert list(work.iterdir()) == []
    if listing is not None:  # nothing half-written beside it either (a staged report or baseline)
        assert sorted(os.listdir(os.path.dirname(target.rstrip("/")))) == listing


# -- files root cannot read -----------------------------------------------------------------------

UNREADABLE_PROBE = """
import json, sys
sys.path.insert(0, {repo!r})
from click.testing import CliRunner
from scanner.cli import cli
out = {{}}
for key, args in json.loads(sys.argv[1]).items():
    result = CliRunner().invoke(cli, args, env={env!r})
    out[key] = [result.exit_code, result.stderr, result.stdout]
print(json.dumps(out))
"""


def _without_override() -> list[str] | None:
    """A command prefix under which this process's user cannot read a chmod 000 file: none as a
    user, without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH as root; None where that cannot be done."""
    if os.geteuid() != 0:
        return []
    if capsh := shutil.which("capsh"):
        return [capsh, "--drop=cap_dac_override,cap_dac_read_search", "--"]
    return None


def test_an_input_that_cannot_be_read_is_named_so(tmp_path: Path) -> None:
    prefix = _without_override()
    if prefix is None:
        pytest.skip("running as root without capsh: no file here is unreadable")
    secret = tmp_path / "unreadable.yaml"
    secret.write_text("waivers: []\n")
    secret.chmod(0)
    before = _state(str(secret))
    pack = _pack(tmp_path)
    cases = {
        " ".join(reader): [str(secret) if a == "{f}" else pack if a == "{pack}" else a for a in args]
        for reader, args in READS.items()
        if reader != ("verify", "DIR")
    }
    script = UNREADABLE_PROBE.format(repo=str(REPO), env=ENV)
    command = [sys.executable, "-c", script, json.dumps(cases)]
    if prefix:  # capsh runs a shell command: hand it the argument vector through the environment
        command = [*prefix, "-c", 'exec "$0" "$@"', *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    if done.returncode != 0 and "capsh" in done.stderr:
        pytest.skip(f"capsh cannot drop capabilities here: {done.stderr[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    for key, (code, stderr, stdout) in json.loads(done.stdout).items():
        lines = stderr.splitlines()
        assert code == 2 and len(lines) == 1 and not stdout, (key, code, stderr)
        assert f"{secret}: cannot read it (Permission denied)" in lines[0], (key, lines[0])
    assert _state(str(secret)) == before


# -- history: a SQLite file or no database at all that is not mlwarden's ------------------------


def _sqlite(path: Path, *pragmas: str) -> None:
    with sqlite3.connect(path) as conn:
        for pragma in pragmas:
            conn.execute(pragma).fetchall()
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
    conn.close()


FOREIGN: dict[str, tuple[Callable[[Path], object], str]] = {
    "another-apps-sqlite": (lambda p: _sqlite(p), "another application's SQLite file"),
    "another-apps-sqlite-wal": (lambda p: _sqlite(p, "PRAGMA journal_mode = WAL"), "another application's SQLite"),
    "another-application-id": (lambda p: _sqlite(p, "PRAGMA application_id = 42"), "another application's SQLite"),
    "text": (lambda p: p.write_text("not a database\n" * 100), "file is not a database"),
    "zeros": (lambda p: p.write_bytes(b"\0" * 8192), "file is not a database"),
}
HISTORY_COMMANDS = {
    "scan": ["scan", "--demo", "-q", "--fail-on", "none", "--history", "{f}"],
    "history-list": ["history", "list", "--db", "{f}"],
    "history-diff": ["history", "diff", "--db", "{f}"],
}


@pytest.mark.parametrize("command", sorted(HISTORY_COMMANDS))
@pytest.mark.parametrize("foreign", sorted(FOREIGN))
def test_a_file_that_is_no_mlwarden_history_is_refused_and_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, foreign: str, command: str
) -> None:
    make, said = FOREIGN[foreign]
    db = tmp_path / "inputs" / "other.db"
    db.parent.mkdir()
    make(db)
    os.utime(db, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before, listing = _state(str(db)), sorted(os.listdir(db.parent))
    work, result = _run(tmp_path, monkeypatch, HISTORY_COMMANDS[command], str(db))
    line = _one_line(result, "--history", str(db))
    assert f"history db {db}: not an mlwarden history database ({said}" in line, line
    assert _state(str(db)) == before  # bytes and mtime: never truncated, migrated or touched
    assert sorted(os.listdir(db.parent)) == listing  # no -wal, -shm or -journal left beside it
    assert list(work.iterdir()) == []


def test_the_known_gap_history_list_of_a_proc_file_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The example this file began with, as a user runs it, with a secret in the environment."""
    canary = "mlwarden-canary-0f3c9a7e5b"
    for target in ("/proc/self/status", "/proc/self/environ"):
        done = subprocess.run(
            [sys.executable, "-c", MAIN, "history", "list", "--db", target],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MLWARDEN_HISTORY": "", "CANARY_TOKEN": canary},
        )
        assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
        assert done.stderr == (
            f"mlwarden: error: history db {target}: not a regular file (a proc file of the kernel, "
            "whose content is made up as it is read)\n"
        )
        assert not done.stdout and canary not in done.stderr


def test_a_directory_as_standard_input_stops_python_itself(tmp_path: Path) -> None:
    """`scan --snapshot - < somedir`: the interpreter refuses a directory as stdin while starting,
    before any of mlwarden's code runs (exit 1, 'Fatal Python error'); the README says so."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        done = subprocess.run(
            [sys.executable, "-c", MAIN, "scan", "--snapshot", "-"],
            stdin=fd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(fd)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Fatal Python error" in done.stderr and "is a directory" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("/dev/null", "stdin is a character device (such as /dev/null or /dev/zero), not a snapshot"),
        ("/dev/zero", "stdin is a character device (such as /dev/null or /dev/zero), not a snapshot"),
        (
            "/proc/self/environ",
            "stdin is a proc file of the kernel, whose content is made up as it is read, not a snapshot",
        ),
    ],
)
def test_standard_input_of_the_wrong_kind_is_refused_by_kind(tmp_path: Path, source: str, said: str) -> None:
    """`scan --snapshot - < /dev/zero` was read up to the size limit and refused for its size,
    `< /dev/null` was "an empty snapshot" and `< /proc/self/environ` was parsed (its first bytes
    quoted as bad JSON): standard input is now judged by kind, as a named file is."""
    with open(source, "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", MAIN, "scan", "--snapshot", "-", "--fail-on", "none", "--out", str(tmp_path / "r")],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **ENV},
        )
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0] == f"mlwarden: error: snapshot <stdin>: cannot open: {said}", lines[0]
    assert all(value not in done.stderr for value in _environ_values())
    assert not (tmp_path / "r").exists()


def test_a_snapshot_piped_or_redirected_from_a_file_is_still_read() -> None:
    snapshot = REPO / "scanner" / "data" / "demo-estate.jsonl"
    command = [sys.executable, "-c", MAIN, "scan", "--snapshot", "-", "--fail-on", "none", "--format", "json"]
    with snapshot.open("rb") as redirected:
        from_file = subprocess.run(command, stdin=redirected, capture_output=True, timeout=300, check=False)
    piped = subprocess.run(command, input=snapshot.read_bytes(), capture_output=True, timeout=300, check=False)
    assert from_file.returncode == piped.returncode == 0, (from_file.stderr, piped.stderr)
    findings = [len(json.loads(done.stdout)["findings"]) for done in (from_file, piped)]
    assert findings[0] == findings[1] > 100


# -- paths named inside files: attestation evidence, linked templates ------------------------------

INNER_KINDS = ["proc-environ", "dev-zero", "fifo", "directory", "symlink-loop"]


@pytest.mark.parametrize("kind", INNER_KINDS)
def test_an_evidence_file_of_the_wrong_kind_is_named_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: Callable[[str], str], kind: str
) -> None:
    """`/proc/self/environ` as an attestation's evidence file was hashed (and its digest quoted);
    a FIFO, device or directory was silently 'not verified'."""
    from tests.test_attestations import entry, write

    target = made(kind)
    before = _state(target)
    attestations = write(tmp_path, entry(evidence=[{"file": target, "sha256": "0" * 64}]))
    work, result = _run(tmp_path, monkeypatch, ["scan", "--demo", "-q", "--attestations", str(attestations)], "")
    line = _one_line(result, "--attestations", target)
    assert f"attestations.yaml line 7: evidence file {target!r}: {SAID[kind]}" in line, line
    assert _state(target) == before and list(work.iterdir()) == []


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "symlink-loop"])
def test_a_linked_template_of_the_wrong_kind_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A FIFO or directory a `relativePath` link names was 'no such file', and a link loop exit 4
    (Python 3.11's `Path.resolve` raises RuntimeError for one)."""
    root = tmp_path / "infra"
    root.mkdir()
    linked = root / "linked.json"
    if kind == "dev-zero":
        linked.symlink_to("/dev/zero")
    else:
        MADE[kind](linked)
    link = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "linked",
        "properties": {"mode": "Incremental", "templateLink": {"relativePath": "linked.json"}},
    }
    main = json.loads(TEMPLATE.read_text())
    main["resources"] = [link]
    (root / "main.json").write_text(json.dumps(main))
    work, result = _run(tmp_path, monkeypatch, ["scan", "--fail-on", "none", "--template", str(root / "main.json")], "")
    if kind == "dev-zero":  # the link is followed: /dev/zero is outside the templates' directory
        line = _one_line(result, "--template", str(root))
        assert "linked template 'linked.json' is outside" in line, line
    else:
        line = _one_line(result, "--template", str(linked))
        assert f"linked template 'linked.json' ({linked}): {SAID[kind]}" in line, line
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--fail-on", "none", "--template", "/proc/self"],
        ["scan", "--demo", "-q", "--fail-on", "none", "--out", "/proc/self"],
        ["scan", "--demo", "-q", "--fail-on", "none", "--evidence-pack", "/proc/self"],
        ["verify", "/proc/self"],
    ],
    ids=["template", "out", "evidence-pack", "verify"],
)
def test_a_directory_of_the_kernel_is_no_directory_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """`--template /proc/self` walked the process's own files (environ, mem) as templates."""
    work, result = _run(tmp_path, monkeypatch, args, "")
    line = _one_line(result, args[-2] if args[-2].startswith("--") else "DIR", "/proc/self")
    assert line.endswith(
        "/proc/self: not a directory of files (a proc directory of the kernel, whose files are made up as read)"
    )
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("kind", ["fifo", "socket", "dev-null", "symlink-loop", "dangling", "unreadable"])
def test_a_template_directory_holding_a_json_of_the_wrong_kind_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: Callable[[str], str], kind: str
) -> None:
    """`--template DIR` skipped a `*.json` below it that was no regular file (a FIFO, a socket, a
    link to a device or to nothing) without a word: its resources went unjudged while the scan
    passed. It is now refused by kind, naming the file, as the same file given alone is."""
    root = tmp_path / "infra"
    (root / "nested").mkdir(parents=True)
    shutil.copy(TEMPLATE, root / "main.json")
    odd = root / "nested" / "odd.json"
    if kind == "dev-null":
        odd.symlink_to("/dev/null")
    elif kind == "dangling":
        odd.symlink_to(root / "gone.json")
    elif kind == "socket":
        odd.symlink_to(made("socket"))
    elif kind == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads a file whatever its mode")
        odd.write_text("{}")
        odd.chmod(0)
    else:
        MADE[kind](odd)
    work, result = _run(tmp_path, monkeypatch, ["scan", "--fail-on", "none", "--template", str(root)], "")
    line = _one_line(result, "--template", str(odd))
    said = {"dev-null": SAID["dev-null"], "dangling": "a symbolic link to nothing"}.get(kind) or SAID[kind]
    assert f"--template {odd}: {said}" in line and line.endswith("; it would go unjudged"), line
    assert list(work.iterdir()) == []
