"""Hostile inputs, as an outside tester would write them: every one is one `mlwarden: error:` line
naming the file (and line or field), a documented exit code, no traceback, and an earlier report
and history left byte for byte as they were.

Each case here broke before its fix (exit 4 "internal error", a silent success, a stray file or
an echoed secret); tests/test_bounded_input.py, test_snapshot.py and test_history.py hold the
classes that already held.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.snapshot import DEMO_SNAPSHOT

DEMO = (Path(__file__).resolve().parents[1] / "scanner" / "data" / DEMO_SNAPSHOT).read_bytes().splitlines(keepends=True)
SECRET = "S3cretPw-canary"
CHANGE_LINE = next(i for i, line in enumerate(DEMO, 1) if b'"record":"change"' in line)


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reports and a history of one earlier, successful scan."""
    root = tmp_path_factory.mktemp("earlier")
    result = invoke("scan", "--demo", "--out", root / "out", "--format", "json,sarif", "--history", root / "h.db")
    assert result.exit_code == 1, result.output
    return root


@pytest.fixture
def workdir(tmp_path: Path, earlier: Path) -> Path:
    shutil.copytree(earlier, tmp_path, dirs_exist_ok=True)
    return tmp_path


def refused(workdir: Path, *args: str | Path, code: int = 2, env: dict[str, str] | None = None) -> str:
    """Run a scan that must fail: one error line, `code`, and the earlier outputs untouched."""
    before = tree(workdir)
    result = invoke(*args, env=env)
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert "Traceback" not in result.output and SECRET not in result.output
    assert tree(workdir) == before
    return lines[0]


def scan_args(workdir: Path, *args: str | Path) -> tuple[str | Path, ...]:
    return ("scan", *args, "--out", workdir / "out", "--format", "json,sarif", "--history", workdir / "h.db")


# -- snapshot times --------------------------------------------------------------------------------


def header(**changes: object) -> bytes:
    record = json.loads(DEMO[0])
    record.update(changes)
    return json.dumps(record).encode() + b"\n"


def with_change_time(value: str) -> bytes:
    lines = list(DEMO)
    index = CHANGE_LINE - 1
    record = json.loads(lines[index])
    record["data"]["time"] = value
    lines[index] = json.dumps(record).encode() + b"\n"
    return b"".join(lines)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            header(collected_at="2026-11-01T09:00:00") + b"".join(DEMO[1:]),
            "line 1: invalid header: collected_at: Input should have timezone info",
        ),
        (
            header(collected_at="0001-01-01T00:00:00Z") + b"".join(DEMO[1:]),
            "line 1: invalid header: collected_at: Value error, must be between 1970 and 9000",
        ),
        (
            header(collected_at="9999-12-31T23:59:59Z") + b"".join(DEMO[1:]),
            "line 1: invalid header: collected_at: Value error, must be between",
        ),
        (
            with_change_time("2026-10-30T00:00:00"),
            f"line {CHANGE_LINE}: invalid change record: time: Input should have timezone info",
        ),
        (
            with_change_time("0001-01-01T00:00:00Z"),
            f"line {CHANGE_LINE}: invalid change record: time: Value error, must be between",
        ),
        (header(schema_version=1.0) + b"".join(DEMO[1:]), "line 1: snapshot schema version 1.0 is not supported"),
        (header(schema_version=True) + b"".join(DEMO[1:]), "line 1: snapshot schema version True is not supported"),
    ],
    ids=[
        "naive-collected-at",
        "year-1",
        "year-9999",
        "naive-change-time",
        "change-year-1",
        "version-1.0",
        "version-true",
    ],
)
def test_snapshot_times_and_versions_that_cannot_be_compared_are_input_errors(
    workdir: Path, body: bytes, fragment: str
) -> None:
    """A naive or out-of-range time used to reach the change window's arithmetic: TypeError or
    OverflowError, exit 4. `1.0` and `true` equal 1 in Python and passed as the schema version."""
    snapshot = workdir / "estate.jsonl"
    snapshot.write_bytes(body)
    before = tree(workdir)
    message = refused(workdir, *scan_args(workdir, "--snapshot", snapshot))
    assert f"snapshot {snapshot} {fragment}" in message, message
    assert tree(workdir) == before


# -- history stores --------------------------------------------------------------------------------


def damaged(workdir: Path, sql: str) -> Path:
    """The earlier history with a second scan, then one stored value damaged by `sql`."""
    db = workdir / "h.db"
    assert invoke("scan", "--demo", "--history", db, "--fail-on", "none").exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.executescript("PRAGMA ignore_check_constraints = 1;" + sql)
    conn.close()
    return db


@pytest.mark.parametrize(
    ("sql", "column"),
    [
        ("UPDATE scans SET status_counts = 'not json' WHERE id = 2", "status_counts"),
        ("UPDATE scans SET status_counts = '[1, 2]' WHERE id = 2", "status_counts"),
        ("UPDATE scans SET generated_at = 5 WHERE id = 2", "generated_at"),
        ("UPDATE scans SET subscriptions = '{' WHERE id = 2", "subscriptions"),
        ("UPDATE scans SET resource_count = 'many' WHERE id = 2", "resource_count"),
    ],
    ids=["counts-not-json", "counts-a-list", "time-a-number", "subscriptions-not-json", "count-text"],
)
@pytest.mark.parametrize("command", [["list"], ["list", "--format", "json"], ["diff"]])
def test_a_damaged_history_row_is_a_corrupt_history_not_a_bug(
    workdir: Path, sql: str, column: str, command: list[str]
) -> None:
    """Values decoded after the read transaction were outside the corrupt-history guard: exit 4.
    The line names the scan and the column, so the damaged row can be found (and removed)."""
    db = damaged(workdir, sql)
    message = refused(workdir, "history", *command, "--db", db)
    assert message.startswith(f"mlwarden: error: history db {db}: corrupt history in scan 2, column {column} ("), (
        message
    )


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("mysql://scanner@db.example/mlwarden", "history: mysql:// is not a history store"),
        ("file:///tmp/history.db", "history: file:// is not a history store"),
        (
            f"host=db.example password={SECRET} dbname=mlwarden",
            "history: a key=value connection string is not supported",
        ),
        ("postgresql://scanner@db.example:99999999/mlwarden", "history URL: not a valid URL (Port out of range"),
        ("postgresql://scanner@db.example:abc/mlwarden", "history URL: not a valid URL (Port could not be cast"),
        ("postgresql://scanner@db.example/mlwarden?sslmode=bogus", "history URL: sslmode must be one of"),
    ],
    ids=["mysql", "file-url", "keyword-dsn-with-password", "port-out-of-range", "port-text", "sslmode"],
)
def test_history_targets_that_are_not_a_file_or_a_postgresql_url_are_refused(
    workdir: Path, target: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another scheme or a libpq key=value string used to become a SQLite file of that name in the
    working directory (`recorded scan 1 in host=... password=...`, echoing the password); a bad
    port or sslmode was exit 3 "cannot connect", as if the server were down."""
    monkeypatch.chdir(workdir)
    before = set(workdir.iterdir())
    message = refused(workdir, *scan_args(workdir, "--demo")[:-2], "--history", target)
    assert fragment in message, message
    assert set(workdir.iterdir()) == before
    assert fragment in refused(workdir, "history", "list", "--db", target)


@pytest.mark.parametrize(
    ("column", "value"), [("status", "'bogus'"), ("severity", "'dire'"), ("waived", "'yes'")], ids=str
)
def test_a_damaged_finding_is_a_corrupt_history_naming_the_scan_and_finding(
    workdir: Path, column: str, value: str
) -> None:
    """The line said only "corrupt history (ValueError)": one finding of thousands was damaged."""
    with sqlite3.connect(workdir / "h.db") as conn:
        subject, fingerprint, check_id = conn.execute(
            "SELECT s.id, s.fingerprint, s.check_id FROM findings f JOIN subjects s ON s.id = f.subject_id"
            " WHERE f.scan_id = 1 ORDER BY s.fingerprint DESC LIMIT 1"
        ).fetchone()
    conn.close()
    db = damaged(workdir, f"UPDATE findings SET {column} = {value} WHERE scan_id = 2 AND subject_id = {subject}")
    message = refused(workdir, "history", "diff", "--db", db)
    assert message == (
        f"mlwarden: error: history db {db}: corrupt history in scan 2, finding {fingerprint} ({check_id}) (ValueError)"
    )


# -- waivers and baselines -------------------------------------------------------------------------

WAIVER = "  - check: MLW-AKS-02\n    resource: '*'\n    justification: j\n    owner: o\n    expires: 2027-03-31\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("waivers:\n" + WAIVER + "wavers:\n" + WAIVER, "line 7: unknown top-level key 'wavers'"),
        ("version: 2\nwaivers:\n" + WAIVER, "line 1: unknown top-level key 'version'"),
        ("waivers:\n  - MLW-AKS-02\n", "line 1: waiver 1 of 'waivers:' must be a mapping"),
    ],
    ids=["misspelt-second-list", "unknown-key", "item-not-a-mapping"],
)
def test_waiver_files_with_unknown_top_level_keys_are_refused(workdir: Path, text: str, fragment: str) -> None:
    """A second, misspelt `wavers:` list was dropped unseen: its waivers never applied, and the
    auditor reading the file would think they did."""
    path = workdir / "waivers.yaml"
    path.write_text(text)
    message = refused(workdir, *scan_args(workdir, "--demo", "--waivers", path))
    assert f"waivers {path} {fragment}" in message, message


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"fingerprints": [{"a": 1}, 5]}, "fingerprints[0] must be a non-empty string, not dict"),
        ({"fingerprints": ["", "x"]}, "fingerprints[0] must be a non-empty string, not an empty string"),
        ({"version": 2, "fingerprints": []}, "baseline version 2 is not supported (this mlwarden reads 1)"),
        ({"version": "1", "fingerprints": []}, "baseline version '1' is not supported"),
        ({"fingerprints": [], "fingreprints": ["abc"]}, "unknown key(s) 'fingreprints'"),
    ],
    ids=["not-text", "empty", "newer-version", "version-text", "misspelt-key"],
)
def test_baselines_are_read_exactly(workdir: Path, body: dict[str, object], fragment: str) -> None:
    """Fingerprints were passed through str() (a dict became a fingerprint), and any version or
    extra key was accepted: a baseline that accepts other findings than meant moves the gate."""
    path = workdir / "baseline.json"
    path.write_text(json.dumps({"format": "mlwarden-baseline", "version": 1, **body}))
    message = refused(workdir, *scan_args(workdir, "--demo", "--baseline", path))
    assert f"baseline {path}: {fragment}" in message, message


def test_a_baseline_written_by_mlwarden_still_loads(workdir: Path) -> None:
    path = workdir / "baseline.json"
    assert invoke("scan", "--demo", "--write-baseline", path, "--fail-on", "none").exit_code == 0
    assert invoke("scan", "--demo", "--baseline", path).exit_code == 0


def capped(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a child limited to 768 MiB of address space: reading without bound fails as MemoryError."""
    cap = 768 << 20
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap)),
    )


def test_an_endless_baseline_is_refused_in_bounded_memory(workdir: Path) -> None:
    """`--baseline /dev/zero` read the whole file: MemoryError, exit 4 (or all the memory there is).
    Then it was read up to the 256 MiB limit; now a device is refused before a byte is read."""
    before = tree(workdir)
    proc = capped(*scan_args(workdir, "--demo", "--baseline", "/dev/zero"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "mlwarden: error: --baseline /dev/zero: not a regular file (a character device)\n"
    assert tree(workdir) == before


# -- evidence packs --------------------------------------------------------------------------------


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    result = invoke("scan", "--demo", "--fail-on", "none", "--evidence-pack", target)
    assert result.exit_code == 0, result.output
    return target


@pytest.mark.parametrize(
    "make",
    [lambda p: p.symlink_to("/dev/zero"), lambda p: os.mkfifo(p)],
    ids=["link-to-dev-zero", "fifo"],
)
def test_a_pack_whose_own_files_never_end_is_refused(pack: Path, make: Callable[[Path], None]) -> None:
    """A pack comes from someone else: a manifest linked to /dev/zero was read whole (MemoryError,
    exit 4), and a FIFO blocked `verify` forever; a signature file likewise."""
    manifest = pack / "manifest.json"
    manifest.unlink()
    make(manifest)
    proc = capped("verify", pack)
    assert (proc.returncode, proc.stderr) == (
        2,
        f"mlwarden: error: evidence pack {pack}: cannot read manifest.json: not a regular file\n",
    )


def test_a_signature_that_is_a_fifo_is_a_mismatch_not_a_hang(pack: Path) -> None:
    os.mkfifo(pack / "manifest.sig")
    (pack / "manifest.jwk").write_text('{"kty": "EC"}')
    proc = capped("verify", pack)
    assert proc.returncode == 1, proc.stderr
    assert "manifest.sig: cannot read it (not a regular file)" in proc.stderr


# -- option values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("--out", "Invalid value for '--out': an empty path"),
        ("--snapshot", "Invalid value for '--snapshot': an empty path"),
        ("--waivers", "Invalid value for '--waivers': an empty path"),
        ("--baseline", "Invalid value for '--baseline': an empty path"),
        ("--write-baseline", "Invalid value for '--write-baseline': an empty path"),
        ("--attestations", "Invalid value for '--attestations': an empty path"),
        ("--framework-file", "Invalid value for '--framework-file': an empty path"),
        ("--evidence-pack", "Invalid value for '--evidence-pack': an empty path"),
        ("--history", "history: an empty path"),
    ],
)
def test_an_empty_path_is_refused_not_taken_as_the_working_directory(
    workdir: Path, option: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out "$OUT_DIR"` with the variable unset wrote every report into the working directory
    (exit 1, as if all went well); the inputs read `.` and failed with "is a directory"."""
    monkeypatch.chdir(workdir)
    source = () if option == "--snapshot" else ("--demo",)
    message = refused(workdir, "scan", *source, option, "")
    assert fragment in message, message


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--check-timeout", "nan"], "Invalid value for '--check-timeout': 'nan' is not a finite number of seconds"),
        (["--changes-since", "forever"], "--changes-since 'forever': expected a duration such as 7d or 72h"),
        (["--changes-since", "9" * 40 + "d"], "expected a duration such as 7d or 72h"),
        (["--changes-since", "15d"], "--changes-since '15d': must be more than 0 and at most 14d"),
    ],
    ids=["timeout-nan", "since-word", "since-huge", "since-too-long"],
)
def test_option_values_that_cannot_mean_anything_are_refused_in_every_mode(
    workdir: Path, args: list[str], fragment: str
) -> None:
    """`nan` passed FloatRange(min=0) (it compares false with every bound); --changes-since was
    parsed only by a live scan, so a typo passed silently with --demo or --snapshot."""
    message = refused(workdir, *scan_args(workdir, "--demo", *args))
    assert fragment in message, message


# -- standard streams ------------------------------------------------------------------------------


def closed(fds: tuple[int, ...], *args: str | Path, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI started with these standard descriptors closed, as cron or a daemon may start it."""
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", *map(str, args)],
        stdin=stdin,
        stdout=subprocess.DEVNULL if 1 in fds else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: [os.close(fd) for fd in fds],  # type: ignore[func-returns-value]
    )


def test_a_closed_stdin_is_no_concern_of_a_scan_that_reads_a_file(tmp_path: Path) -> None:
    """Reading the demo or a snapshot closed its file unless it `is sys.stdin.buffer`, which is an
    AttributeError when stdin is None: exit 4 for every scan started with `<&-`."""
    snapshot = tmp_path / "estate.jsonl"
    snapshot.write_bytes(b"".join(DEMO))
    for source in (["--demo"], ["--snapshot", snapshot]):
        proc = closed((0,), "scan", *source, "--fail-on", "none", "--quiet")
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    proc = closed((0,), "scan", "--snapshot", "-")
    assert (proc.returncode, proc.stderr) == (2, "mlwarden: error: snapshot <stdin>: cannot open: stdin is closed\n")


def test_snapshot_from_a_terminal_is_refused_rather_than_waited_for() -> None:
    primary, secondary = os.openpty()
    try:
        proc = closed((), "scan", "--snapshot", "-", stdin=secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 2
    assert proc.stderr == (
        "mlwarden: error: snapshot <stdin>: cannot open: stdin is a terminal (pipe a snapshot in, or name the file)\n"
    )


def test_a_closed_stdout_keeps_reports_in_out_and_refuses_a_report_to_stdout(tmp_path: Path) -> None:
    """Every process that ends with os._exit flushed sys.stdout, None when started with `>&-`: the
    scan, each forked renderer (exit 4 with a traceback) and the single report to stdout."""
    out = tmp_path / "out"
    args = (
        "scan",
        "--demo",
        "--fail-on",
        "none",
        "--quiet",
        "--out",
        out,
        "--format",
        "json,html,csv,sarif",
        "--jobs",
        "2",
    )
    proc = closed((1,), *args)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"mlwarden-report.{ext}" for ext in ("csv", "html", "json", "sarif")
    ]
    proc = closed((1,), "scan", "--demo", "--fail-on", "none", "--format", "json")
    assert (proc.returncode, proc.stderr) == (
        2,
        "mlwarden: error: stdout is closed: nowhere to write the json report (use --out DIR)\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ("checks", "list"),
        ("checks", "show", "MLW-ST-01"),
        ("frameworks", "list"),
        ("--help",),
        ("scan", "--help"),
        ("--version",),
        ("history", "list", "--db", "HISTORY"),
    ],
)
def test_a_listing_sent_to_a_closed_stdout_is_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    """With `>&-`, sys.stdout is None and click prints nothing to it: every listing was lost with
    exit 0, though stdout that cannot take a listing is exit 2 like a full disk (README)."""
    history = tmp_path / "scans.db"
    assert closed((), "scan", "--demo", "--fail-on", "none", "-q", "--history", history).returncode == 0
    proc = closed((1,), *(str(history) if a == "HISTORY" else a for a in args))
    assert (proc.returncode, proc.stderr) == (
        2,
        "mlwarden: error: cannot write to stdout: it is closed (nothing was written there)\n",
    )


def test_a_scan_into_out_with_a_closed_stdout_leaves_its_summary_out(tmp_path: Path) -> None:
    """Its reports land in --out; the summary and `wrote` lines had nowhere to go, and are not said."""
    proc = closed((1,), "scan", "--demo", "--fail-on", "none", "--out", tmp_path / "out")
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mlwarden-report.html", "mlwarden-report.json"]


def test_a_history_named_like_sqlites_memory_database_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--history :memory:` said "recorded scan 1 in :memory:" and kept nothing: SQLite took the
    bare name as its in-memory database."""
    monkeypatch.chdir(tmp_path)
    result = invoke("scan", "--demo", "--fail-on", "none", "--quiet", "--history", ":memory:")
    assert result.exit_code == 0, result.output
    assert (tmp_path / ":memory:").is_file()
    listed = invoke("history", "list", "--db", ":memory:", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [scan["id"] for scan in json.loads(listed.stdout)["scans"]] == [1]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MLWARDEN_SNAPSHOT_MAX_BYTES", "2GiB"),
        ("MLWARDEN_SNAPSHOT_MAX_LINE_BYTES", "0"),
        ("MLWARDEN_SNAPSHOT_MAX_BYTES", "-5"),
    ],
)
def test_a_snapshot_limit_set_to_nonsense_is_refused_not_ignored(workdir: Path, name: str, value: str) -> None:
    """An unusable value fell back to the default silently: a user who "raised" the limit to
    `2GiB` got the 1 GiB default, and an error telling them to set the variable they had set."""
    message = refused(workdir, *scan_args(workdir, "--demo"), env={name: value})
    assert message == f"mlwarden: error: {name}={value!r}: expected a whole number of bytes above 0"


# -- outputs over inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--snapshot", "estate.jsonl", "--write-baseline", "estate.jsonl"],
            "--write-baseline estate.jsonl: is the --snapshot file this scan reads; writing there would destroy it",
        ),
        (
            ["--snapshot", "link.jsonl", "--write-baseline", "./estate.jsonl"],
            "--write-baseline estate.jsonl: is the --snapshot file this scan reads; writing there would destroy it",
        ),
        (
            ["--demo", "--waivers", "waivers.yaml", "--write-baseline", "waivers.yaml"],
            "--write-baseline waivers.yaml: is the --waivers file this scan reads; writing there would destroy it",
        ),
        (
            ["--snapshot", "estate.jsonl", "--history", "estate.jsonl"],
            "--history estate.jsonl: is the --snapshot file this scan reads; writing there would destroy it",
        ),
        (
            ["--demo", "--out", "out", "--write-baseline", "out/mlwarden-report.json"],
            "--write-baseline out/mlwarden-report.json: is also where --out writes",
        ),
        (
            ["--demo", "--history", "h.db", "--write-baseline", "h.db"],
            "--history h.db: is also where --write-baseline writes",
        ),
    ],
    ids=[
        "baseline-over-snapshot",
        "through-a-link",
        "baseline-over-waivers",
        "history-over-snapshot",
        "baseline-over-report",
        "baseline-over-history",
    ],
)
def test_no_output_lands_on_an_input_or_another_output(
    workdir: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--write-baseline estate.jsonl` replaced the snapshot the scan had just read (exit 0), and a
    baseline named like a report in --out silently took the report's place."""
    monkeypatch.chdir(workdir)
    (workdir / "estate.jsonl").write_bytes(b"".join(DEMO))
    (workdir / "link.jsonl").symlink_to("estate.jsonl")
    (workdir / "waivers.yaml").write_text("waivers:\n" + WAIVER)
    assert refused(workdir, "scan", *args) == f"mlwarden: error: {message}"


def test_a_baseline_may_still_be_refreshed_in_place(workdir: Path) -> None:
    path = workdir / "baseline.json"
    assert invoke("scan", "--demo", "--write-baseline", path, "--fail-on", "none").exit_code == 0
    result = invoke("scan", "--demo", "--baseline", path, "--write-baseline", path)
    assert result.exit_code == 0, result.output


# -- duplicate keys and headers --------------------------------------------------------------------


def test_a_header_given_twice_or_with_a_key_twice_is_refused(workdir: Path) -> None:
    """Two concatenated snapshots said "record 'header' has no 'data' object"; a header with
    `collected_at` twice took the last one silently (orjson keeps the last)."""
    snapshot = workdir / "estate.jsonl"
    snapshot.write_bytes(DEMO[0] + b"".join(DEMO))
    message = refused(workdir, *scan_args(workdir, "--snapshot", snapshot))
    assert (
        message
        == f"mlwarden: error: snapshot {snapshot} line 2: a second header (a snapshot has one, on its first line)"
    )
    twice = DEMO[0].replace(b'"schema_version":1', b'"schema_version":1,"collected_at":"2020-01-01T00:00:00Z"')
    snapshot.write_bytes(twice + b"".join(DEMO[1:]))
    message = refused(workdir, *scan_args(workdir, "--snapshot", snapshot))
    assert message == f"mlwarden: error: snapshot {snapshot} line 1: the header has the key 'collected_at' twice"


def test_a_baseline_with_a_key_twice_is_refused(workdir: Path) -> None:
    """A second `fingerprints` list silently replaced the first."""
    path = workdir / "baseline.json"
    path.write_text('{"format": "mlwarden-baseline", "version": 1, "fingerprints": ["a"], "fingerprints": []}')
    message = refused(workdir, *scan_args(workdir, "--demo", "--baseline", path))
    assert message == f"mlwarden: error: baseline {path}: the key 'fingerprints' appears twice in one object"


@pytest.mark.parametrize(
    ("option", "text"),
    [
        ("--framework-file", f"svc:$6$salt${SECRET}:19000:0:99999:7:::\n"),
        ("--waivers", f"waivers: []\nsvc:$6$salt${SECRET}:1: x\n"),
        ("--attestations", f"attestations:\n  - svc:$6$salt${SECRET}:1: x\n"),
    ],
    ids=["framework", "waivers", "attestations"],
)
def test_the_wrong_file_passed_by_mistake_is_not_repeated_in_the_error(workdir: Path, option: str, text: str) -> None:
    """`--framework-file /etc/shadow` answered "unknown key 'root:$6$...:19000:...'": the YAML
    reads each `user:hash:...` line as a key, and unknown keys were quoted whole."""
    path = workdir / "passed-by-mistake"
    path.write_text(text)
    message = refused(workdir, *scan_args(workdir, "--demo", option, path))
    assert "(not a plain name, so not repeated here)" in message and "$6$" not in message, message


def test_a_negative_schema_version_is_a_corrupt_history_not_a_migration(workdir: Path) -> None:
    """A user_version below 0 was taken as a step to migrate from: IndexError, exit 4."""
    db = workdir / "h.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = -5")
    conn.close()
    expected = f"mlwarden: error: history db {db}: corrupt history in its schema version (ValueError)"
    assert refused(workdir, *scan_args(workdir, "--demo")) == expected
    assert refused(workdir, "history", "list", "--db", db) == expected


def test_a_collection_time_given_as_a_number_is_refused(workdir: Path) -> None:
    """pydantic read `"collected_at": 5` as five seconds past 1970 and the scan went on."""
    snapshot = workdir / "estate.jsonl"
    snapshot.write_bytes(header(collected_at=5) + b"".join(DEMO[1:]))
    message = refused(workdir, *scan_args(workdir, "--snapshot", snapshot))
    assert message.endswith(
        "line 1: invalid header: collected_at: Value error, must be an ISO 8601 date and time, e.g. "
        "2026-11-01T09:00:00Z"
    )
