"""Hostile text, as an outside tester would write it: JSON keys given twice, numbers and escapes
that are not RFC 8259 JSON, bytes that are not UTF-8 on the command line, devices where a file
is expected, corrupt counts in a history and symlinks in `--out`.

Each case broke before its fix: a silent success with the value a reviewer did not see, exit 4
("internal error"), an out-of-memory kill, or a refused scan with a wrong reason. Every refusal is
one `mlwarden: error:` line naming the file (and line), exit 2, and leaves earlier outputs alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import test_hostile_inputs as base
from tests.test_hostile_inputs import DEMO, invoke, refused, scan_args
from tests.tmpfs import tmpfs

earlier, workdir = base.earlier, base.workdir  # the same fixtures: an earlier scan's reports and history

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "iac"
TEMPLATE = (EXAMPLES / "ml-platform.json").read_text()
PLAN = (EXAMPLES / "ml-platform.tfplan.json").read_text()
DISABLED = b'"publicNetworkAccess":"Disabled"'
DUP_LINE = next(i for i, line in enumerate(DEMO) if DISABLED in line)


def _snapshot(root: Path, line_index: int, line: bytes, name: str = "estate.jsonl") -> Path:
    path = root / name
    path.write_bytes(b"".join(DEMO[:line_index]) + line + b"".join(DEMO[line_index + 1 :]))
    return path


# -- a key given twice -----------------------------------------------------------------------------


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_a_resource_property_given_twice_is_refused_not_read_as_the_last(workdir: Path, crlf: bool) -> None:
    """`"publicNetworkAccess":"Disabled",...,"publicNetworkAccess":"Enabled"` scanned as Enabled
    without a word, while a reviewer reading the file saw Disabled."""
    twice = DEMO[DUP_LINE].replace(DISABLED, DISABLED + b',"publicNetworkAccess":"Enabled"', 1)
    path = _snapshot(workdir, DUP_LINE, twice.replace(b"\n", b"\r\n") if crlf else twice)
    message = refused(workdir, *scan_args(workdir, "--snapshot", path))
    assert message == (
        f"mlwarden: error: snapshot {path} line {DUP_LINE + 1}: the key 'publicNetworkAccess' appears twice "
        "in one object (JSON keeps only the last: refused as ambiguous)"
    )


def test_a_record_key_given_twice_is_refused_and_other_writers_still_read(workdir: Path) -> None:
    """The same for a record's own keys, and for a line another tool wrote with spaces and
    `\\u` escapes (which takes the slower, exact path)."""
    record = json.loads(DEMO[DUP_LINE])
    spaced = json.dumps(record, ensure_ascii=True, indent=1).replace("\n", " ").encode()
    assert spaced.rstrip() != DEMO[DUP_LINE].rstrip()
    path = _snapshot(workdir, DUP_LINE, spaced + b"\n", "spaced.jsonl")
    assert invoke("scan", "--snapshot", path, "--fail-on", "none").exit_code == 0
    twice = spaced[:-1] + b', "record": "resource"}\n'
    path = _snapshot(workdir, DUP_LINE, twice)
    message = refused(workdir, *scan_args(workdir, "--snapshot", path))
    assert message.endswith(
        f"line {DUP_LINE + 1}: the key 'record' appears twice in one object "
        "(JSON keeps only the last: refused as ambiguous)"
    )


@pytest.mark.parametrize("twice", [False, True], ids=["once", "twice"])
def test_a_record_nested_a_thousand_levels_deep_is_still_checked(workdir: Path, twice: bool) -> None:
    """orjson reads 1,024 levels but writes only 254, and the standard library stops near 1,000:
    the check for a key given twice was TypeError (exit 4) on such a record, and could have been
    skipped, hiding the second key."""
    deep = b'"zz":' + b"[" * 1000 + b"]" * 1000 + b","
    extra = b',"publicNetworkAccess":"Enabled"' if twice else b""
    line = DEMO[DUP_LINE].replace(DISABLED, deep + DISABLED + extra, 1)
    path = _snapshot(workdir, DUP_LINE, line)
    if not twice:
        assert invoke("scan", "--snapshot", path, "--fail-on", "none").exit_code == 0
        return
    message = refused(workdir, *scan_args(workdir, "--snapshot", path))
    assert message.endswith(
        f"line {DUP_LINE + 1}: the key 'publicNetworkAccess' appears twice in one object "
        "(JSON keeps only the last: refused as ambiguous)"
    )


@pytest.mark.parametrize(
    ("option", "text", "needle", "twice"),
    [
        ("--template", TEMPLATE, '"publicNetworkAccess": "Disabled"', '"publicNetworkAccess": "Enabled"'),
        ("--terraform-plan", PLAN, '"format_version": "1.2"', '"format_version": "9.9"'),
    ],
    ids=["template", "plan"],
)
def test_a_template_or_plan_property_given_twice_is_refused(
    workdir: Path, option: str, text: str, needle: str, twice: str
) -> None:
    """ARM refuses a template with a property twice; mlwarden took the last one and passed it."""
    assert needle in text, needle
    path = workdir / "iac.json"
    path.write_text(text.replace(needle, f"{needle}, {twice}", 1))
    line = text[: text.index(needle)].count("\n") + 1
    message = refused(workdir, *scan_args(workdir, option, path))
    key = needle.split('"')[1]
    assert message.startswith(f"mlwarden: error: {path}:") and f"names the key {key!r} twice in one object" in message
    assert int(message.split(":")[3]) <= line


# -- numbers and escapes JSON does not have --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("NaN", "unexpected character"),
        ("-Infinity", "no digit after sign"),
        ("1e999", "number is infinity"),
        ("9" * 5000, "number is infinity"),  # Python's json raised ValueError (int digits): exit 4
        ('"\\ud800"', "no low surrogate"),  # a lone surrogate crashed every report writer: exit 4
    ],
    ids=["nan", "infinity", "1e999", "5000-digits", "lone-surrogate"],
)
@pytest.mark.parametrize("option", ["--template", "--terraform-plan"])
def test_templates_and_plans_are_strict_json(workdir: Path, option: str, value: str, reason: str) -> None:
    text = TEMPLATE if option == "--template" else PLAN
    at = text.index('"resources"') if option == "--template" else text.index('"planned_values"')
    path = workdir / "iac.json"
    path.write_text(text[:at] + f'"x": {value},\n' + text[at:])
    message = refused(workdir, *scan_args(workdir, option, path))
    line = text[:at].count("\n") + 1
    assert message.startswith(f"mlwarden: error: {path}:{line}: malformed ") and reason in message, message


def test_a_plan_that_is_a_device_is_refused_in_bounded_memory(workdir: Path) -> None:
    """`--terraform-plan /dev/zero` read without end (its size is 0) until the kernel killed it;
    then up to the 64 MiB limit; now a device is refused before a byte is read."""
    message = refused(workdir, *scan_args(workdir, "--terraform-plan", "/dev/zero"))
    assert message == "mlwarden: error: --terraform-plan /dev/zero: not a regular file (a character device)"


@pytest.mark.parametrize("field", ["justification", "owner"])
def test_a_lone_surrogate_escape_in_yaml_is_refused(workdir: Path, field: str) -> None:
    """YAML's `"\\ud800"` made a string no report can encode: exit 4 after the whole scan."""
    values = {"justification": "accepted", "owner": "a@example.org", field: '"bad \\udfff"'}
    path = workdir / "waivers.yaml"
    path.write_text(
        "waivers:\n  - check: MLW-AKS-02\n    resource: /subscriptions/*\n"
        f"    justification: {values['justification']}\n    owner: {values['owner']}\n    expires: 2099-01-01\n"
    )
    line = 4 if field == "justification" else 5
    message = refused(workdir, *scan_args(workdir, "--demo", "--waivers", path))
    assert (
        message == f"mlwarden: error: waivers {path} line {line}: a lone surrogate escape (\\ud800-\\udfff) is not text"
    )


# -- the command line ------------------------------------------------------------------------------


def _main(cwd: Path, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", *args],
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        [b"--snapshot", b"estate-\xff.jsonl"],  # a file that exists: its name reached the JSON report
        [b"--demo", b"--sarif-category", b"ci-\xff"],
        [b"--demo", b"--subscription", b"3f6c1e2a-8b4d-4c7e-9a15-6d2e0b7c4a91", b"--subscription", b"\xff"],
    ],
    ids=["snapshot-name", "sarif-category", "subscription"],
)
def test_command_line_bytes_that_are_not_utf8_are_refused_before_the_scan(tmp_path: Path, args: list[bytes]) -> None:
    (tmp_path / "estate-\udcff.jsonl").write_bytes(b"".join(DEMO))
    done = _main(tmp_path, b"scan", *args, b"--out", b"out", b"--format", b"json,sarif")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().splitlines()
    number = 2 + next(i for i, a in enumerate(args) if b"\xff" in a)
    assert len(lines) == 1 and lines[0].startswith(f"mlwarden: error: argument {number} ("), lines
    assert "\\xff" in lines[0] and ") is not valid UTF-8: mlwarden writes UTF-8 reports" in lines[0]
    assert not (tmp_path / "out").exists()


# -- a damaged history -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("status_counts", '{"fail": 1e999}'), ("status_counts", '{"fail": 1.5}'), ("resource_count", "1e999")],
    ids=["count-infinite", "count-fraction", "resource-count-infinite"],
)
def test_a_count_that_is_not_a_whole_number_is_a_corrupt_history(workdir: Path, column: str, value: str) -> None:
    """`1e999` in a stored count was OverflowError: exit 4; `1.5` was read as 1."""
    db = workdir / "h.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            f"UPDATE scans SET {column} = ?",
            (float("inf") if value == "1e999" and column == "resource_count" else value,),
        )
    conn.close()
    message = refused(workdir, "history", "list", "--db", db)
    assert message.startswith(f"mlwarden: error: history db {db}: corrupt history in scan 1, column {column} ("), (
        message
    )


# -- symlinks in --out -----------------------------------------------------------------------------


def test_a_report_name_that_is_a_symlink_is_replaced_never_written_through(tmp_path: Path) -> None:
    """A relative symlink as `mlwarden-report.json` made the commit fail after the whole scan with
    "No such file or directory" (its backup was locked by following it from another directory)."""
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (out / "mlwarden-report.json").symlink_to("../victim")
    (out / "mlwarden-report.html").symlink_to("nowhere")
    result = invoke("scan", "--demo", "--out", out, "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "untouched"
    for name in ("mlwarden-report.json", "mlwarden-report.html"):
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 1000
    assert sorted(p.name for p in out.iterdir()) == ["mlwarden-report.html", "mlwarden-report.json"]


# -- SIGTERM ---------------------------------------------------------------------------------------


def test_sigterm_mid_scan_leaves_earlier_reports_and_no_staging(tmp_path: Path) -> None:
    """SIGTERM (`docker stop`, a cancelled CI job) ended the process on the spot: its staging
    directory stayed in `--out` until a next run swept it. It now stops the run as Ctrl-C does."""
    fifo = tmp_path / "estate.jsonl"
    os.mkfifo(fifo)  # the scan waits on it, after its outputs are reserved: a moment that is always there
    out = tmp_path / "out"
    out.mkdir()
    (out / "mlwarden-report.json").write_text("earlier")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from scanner.cli import main; main()",
            "scan",
            "--snapshot",
            str(fifo),
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    try:
        for _ in range(1200):  # the staging directory appears once the run has reserved its outputs
            if any(out.glob(".mlwarden-staging-*")) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert any(out.glob(".mlwarden-staging-*")), "the run never reserved its outputs"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert err.decode() == "mlwarden: error: terminated\n"
    assert sorted(p.name for p in out.iterdir()) == ["mlwarden-report.json"]
    assert (out / "mlwarden-report.json").read_text() == "earlier"


def test_a_history_on_a_full_disk_is_not_called_a_foreign_file(tmp_path: Path) -> None:
    """A full disk said "not an mlwarden history database (disk I/O error)": the user was sent to
    look for a corrupt file while the disk was full. Only a file SQLite cannot read as a database
    is foreign; the rest says what SQLite said."""
    with tmpfs(tmp_path / "tiny", "300k") as mount:
        db = mount / "h.db"
        assert invoke("scan", "--demo", "--history", db, "--fail-on", "none").exit_code == 0
        with (mount / "fill").open("wb") as fill, contextlib.suppress(OSError):
            fill.write(b"\0" * (400 << 10))
        elsewhere = tmp_path / "elsewhere"  # SQLite may leave its -wal and -shm beside the file
        elsewhere.mkdir()
        message = refused(elsewhere, "history", "list", "--db", db)
        expected = "no room to grow its shared-memory file h.db-shm: the disk is full"
        assert message == f"mlwarden: error: history db {db}: cannot use it ({expected})", message
    foreign = tmp_path / "foreign.db"
    foreign.write_text("not sqlite at all, but long enough for SQLite to read its header: " * 3)
    message = refused(tmp_path, "history", "list", "--db", foreign)
    assert (
        message == f"mlwarden: error: history db {foreign}: not an mlwarden history database (file is not a database)"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://scanner@db.invalid/h?sslpassword=S3cretPw-canary", "a password in the URL is refused"),
        ("postgresql://scanner@db.invalid/h?SSLPassword=S3cretPw-canary", "a password in the URL is refused"),
        ("postgresql://%ff@db.invalid/h", "a %-escape in it does not decode to UTF-8 text"),
    ],
    ids=["sslpassword", "sslpassword-cased", "bad-escape"],
)
def test_a_history_url_never_echoes_a_key_password_and_never_crashes(workdir: Path, url: str, expected: str) -> None:
    """`sslpassword=` (the client key's password) was echoed whole in "cannot connect" (exit 3);
    a `%ff` escape was UnicodeDecodeError, exit 4."""
    for args in (("history", "list", "--db", url), (*scan_args(workdir, "--demo")[:-2], "--history", url)):
        message = refused(workdir, *args)
        assert message == f"mlwarden: error: history URL: {expected}" or message.startswith(
            f"mlwarden: error: history URL: {expected} ("
        ), message


def test_a_pack_manifest_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    """A second `sha256` in a file's entry was the one `verify` checked, while a reader of the
    manifest saw the first: a pack could say two things and pass."""
    pack = tmp_path / "pack"
    assert invoke("scan", "--demo", "--evidence-pack", pack, "--fail-on", "none").exit_code == 0
    manifest = pack / "manifest.json"
    entry = json.loads(manifest.read_bytes())["files"][0]
    text = manifest.read_text()
    real = f'"sha256": "{entry["sha256"]}"'
    assert real in text
    manifest.write_text(text.replace(real, f'"sha256": "{"0" * 64}",\n      {real}', 1))
    message = refused(tmp_path, "verify", pack)
    assert message == f"mlwarden: error: evidence pack {pack}: manifest.json has the key 'sha256' twice in one object"


@pytest.mark.parametrize("option", ["--out", "--evidence-pack"])
def test_a_dash_for_a_directory_is_refused_not_made_into_a_directory(tmp_path: Path, option: str) -> None:
    """`--out -` (meaning stdout) silently wrote the reports into a new directory named `-`."""
    done = _main(tmp_path, "scan", "--demo", option, "-", "--fail-on", "none")
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"mlwarden: error: mlwarden scan: Invalid value for '{option}': '-' names no directory: stdout cannot "
        "hold reports (write ./- for a directory named '-') (see 'mlwarden scan --help')\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", ["--write-baseline", "--baseline", "--waivers", "--history"])
def test_a_dash_for_a_file_that_is_not_stdin_is_refused(tmp_path: Path, option: str) -> None:
    """`--write-baseline -` and `--history -` wrote a file named `-` (a later `--waivers -` read it)."""
    done = _main(tmp_path, "scan", "--demo", option, "-", "--fail-on", "none")
    assert done.returncode == 2
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "'-'" in lines[0] and "./- for a" in lines[0], lines
    assert list(tmp_path.iterdir()) == []
