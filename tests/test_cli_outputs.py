"""A scan writes all its outputs or none: reports, baseline and history land together.

Failures are real ones wherever possible (a path below a regular file, /proc, a foreign or
too-new SQLite file, a file-size limit, a tiny tmpfs when mounting is allowed), because CI
runs as root and permission bits do not stop root.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import jsonschema
import pytest
from click.testing import CliRunner, Result

import reports
from reports import json_report
from scanner.cli import cli
from scanner.outputs import STAGING_PREFIX
from tests.tmpfs import tmpfs

REPO = Path(__file__).resolve().parents[1]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def run_cli(*args: str, preexec: object = None, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nfrom scanner.cli import main\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=preexec,  # type: ignore[arg-type]
    )


def snapshot_of(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())} if out.exists() else {}


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An --out directory holding the reports of an earlier, successful run."""
    out = tmp_path / "out"
    assert invoke("scan", "--demo", "--out", str(out), "--format", "json,sarif", "--fail-on", "none").exit_code == 0
    return out


def test_bad_write_baseline_path_leaves_no_report(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = tmp_path / "out"
    result = invoke("scan", "--demo", "--out", str(out), "--write-baseline", str(blocker / "baseline.json"))
    assert result.exit_code == 2
    line = error_line(result)
    assert "--write-baseline" in line and str(blocker / "baseline.json") in line
    assert not out.exists()


def test_write_baseline_onto_a_directory_is_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("scan", "--demo", "--out", str(out), "--write-baseline", str(tmp_path))
    assert result.exit_code == 2 and not out.exists()


@pytest.mark.parametrize("where", ["below-a-file", "proc"])
def test_unwritable_history_leaves_no_report(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    db = blocker / "scans.db" if where == "below-a-file" else Path("/proc/mlwarden-scans.db")
    out = tmp_path / "out"
    result = invoke("scan", "--demo", "--out", str(out), "--history", str(db))
    assert result.exit_code == 2
    assert f"--history {db}" in error_line(result)
    assert not out.exists()


def test_newer_history_is_refused_before_the_scan(tmp_path: Path, previous: Path) -> None:
    db = tmp_path / "scans.db"
    assert invoke("scan", "--demo", "--fail-on", "none", "--history", str(db)).exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    before = snapshot_of(previous)
    result = invoke("scan", "--demo", "--out", str(previous), "--format", "csv", "--history", str(db))
    assert result.exit_code == 2
    assert "newer mlwarden" in error_line(result)
    assert snapshot_of(previous) == before


def test_foreign_sqlite_history_is_refused_before_the_scan(tmp_path: Path, previous: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    before = snapshot_of(previous)
    result = invoke("scan", "--demo", "--out", str(previous), "--format", "json,sarif", "--history", str(db))
    assert result.exit_code == 2
    assert "not an mlwarden history database" in error_line(result)
    assert snapshot_of(previous) == before


def refusing_history(tmp_path: Path) -> Path:
    """A real mlwarden history that reads fine (the up-front check passes) but refuses the insert."""
    db = tmp_path / "scans.db"
    assert invoke("scan", "--demo", "--fail-on", "none", "--history", str(db)).exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON scans BEGIN SELECT RAISE(ABORT, 'quota exceeded'); END")
    return db


def test_history_failing_at_commit_rolls_the_reports_back(tmp_path: Path, previous: Path) -> None:
    db = refusing_history(tmp_path)
    baseline = tmp_path / "baseline.json"
    before = snapshot_of(previous)
    result = invoke(
        "scan",
        "--demo",
        "--out",
        str(previous),
        "--format",
        "json,sarif,csv",
        "--history",
        str(db),
        "--write-baseline",
        str(baseline),
    )
    assert result.exit_code == 2
    assert "quota exceeded" in error_line(result)
    assert snapshot_of(previous) == before  # old reports back, the new csv gone, no staging left
    assert not baseline.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)] == []


def test_renderer_failing_mid_way_keeps_the_previous_reports(previous: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(result: object) -> bytes:
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(reports.RENDERERS, "csv", broken)
    before = snapshot_of(previous)
    result = invoke("scan", "--demo", "--out", str(previous), "--format", "json,sarif,csv")
    assert result.exit_code == 4
    assert snapshot_of(previous) == before


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_full_disk_is_exit_2_naming_out_and_leaves_nothing(tmp_path: Path) -> None:
    """A file-size limit makes every write past 20 kB fail (EFBIG) as a full disk would (ENOSPC)."""
    out = tmp_path / "out"
    done = run_cli("scan", "--demo", "--out", str(out), "--format", "json,html", preexec=_limit_file_size)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and f"--out {out}" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_full_tmpfs_out_is_exit_2(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "16k") as mount:
        result = invoke("scan", "--demo", "--out", str(mount), "--format", "json,html")
        assert result.exit_code == 2
        line = error_line(result)
        assert f"--out {mount}" in line and "No space left on device" in line
        assert list(mount.iterdir()) == []


@pytest.mark.parametrize("out", ["/proc/1", "/proc/mlwarden-out", "/sys/kernel"])
def test_unwritable_out_is_exit_2_naming_it(out: str) -> None:
    if not Path(out).parent.exists():
        pytest.skip(f"{Path(out).parent} not mounted")
    result = invoke("scan", "--demo", "--out", out)
    assert result.exit_code == 2
    assert f"--out {out}" in error_line(result)


def test_out_below_a_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out in (blocker, blocker / "reports"):
        result = invoke("scan", "--demo", "--out", str(out))
        assert result.exit_code == 2
        assert str(blocker) in error_line(result)


def test_collect_out_below_a_file_fails_before_reading_azure(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = invoke("collect", "--out", str(blocker / "estate.jsonl.gz"), "--subscription", "none")
    assert result.exit_code == 2
    assert f"--out {blocker / 'estate.jsonl.gz'}" in error_line(result)


def test_interrupted_run_leaves_staging_that_the_next_run_removes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    killed = run_cli(
        "scan",
        "--demo",
        "--out",
        str(out),
        "--format",
        "json,csv",
        # The run's own process is killed, even when a forked child renders the csv.
        prelude="import os, reports\nrun = os.getpid()\nreports.RENDERERS['csv'] = lambda result: os.kill(run, 9)",
    )
    assert killed.returncode == -9
    stray = [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert stray and not (out / "mlwarden-report.json").exists()  # staged, never committed
    # A staging directory whose run is still alive (it holds the lock) must survive.
    alive = out / f"{STAGING_PREFIX}alive"
    alive.mkdir()
    fd = os.open(alive, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert invoke("scan", "--demo", "--out", str(out), "--fail-on", "none").exit_code == 0
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted([alive.name, "mlwarden-report.html", "mlwarden-report.json"])
    finally:
        os.close(fd)


def test_stray_baseline_staging_is_removed_and_baseline_written(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    stray = tmp_path / f"{STAGING_PREFIX}baseline.json.x1y2"
    stray.write_text("half")
    result = invoke("scan", "--demo", "--fail-on", "none", "--write-baseline", str(baseline))
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


def test_success_replaces_reports_and_names_them(previous: Path) -> None:
    result = invoke("scan", "--demo", "--out", str(previous), "--format", "sarif", "--fail-on", "none")
    assert result.exit_code == 0
    assert f"see {previous / 'mlwarden-report.sarif'}" in result.stdout
    assert f"wrote {previous / 'mlwarden-report.sarif'}" in result.stdout
    assert "HTML or JSON" not in result.stdout
    assert sorted(p.name for p in previous.iterdir()) == [
        "mlwarden-report.json",
        "mlwarden-report.sarif",
    ]


def test_summary_without_reports_says_how_to_get_them() -> None:
    result = invoke("scan", "--demo", "--fail-on", "none")
    assert "--out DIR" in result.stdout and "HTML or JSON" not in result.stdout
    assert "wrote " not in result.stdout


def test_evidence_pack_is_undone_with_the_reports(tmp_path: Path, previous: Path) -> None:
    db = refusing_history(tmp_path)
    pack = tmp_path / "pack"
    before = snapshot_of(previous)
    result = invoke("scan", "--demo", "--out", str(previous), "--evidence-pack", str(pack), "--history", str(db))
    assert result.exit_code == 2, result.stderr
    assert not pack.exists() and snapshot_of(previous) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "scans.db"]


def test_gzipped_reports_stream_into_out_and_the_pack_byte_for_byte(tmp_path: Path) -> None:
    out, pack = tmp_path / "out", tmp_path / "pack"
    args = ["--format", "json.gz,csv.gz,html", "--evidence-pack", str(pack), "--fail-on", "none"]
    result = invoke("scan", "--demo", "--out", str(out), *args)
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["mlwarden-report.csv.gz", "mlwarden-report.html", "mlwarden-report.json.gz"]
    raw = (out / "mlwarden-report.json.gz").read_bytes()
    assert raw[:4] == b"\x1f\x8b\x08\x00" and raw[4:8] == bytes(4)  # no file name, no time: bytes of the result alone
    schema = json.loads(json_report.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(gzip.decompress(raw)))
    assert gzip.decompress((out / "mlwarden-report.csv.gz").read_bytes()).startswith(b"severity,status,check_id")
    listed = {entry["path"]: entry for entry in json.loads((pack / "manifest.json").read_bytes())["files"]}
    for name in names:
        data = (out / name).read_bytes()
        assert (pack / "reports" / name).read_bytes() == data
        assert listed[f"reports/{name}"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert listed[f"reports/{name}"]["size"] == len(data)
    assert not (pack / "reports" / name).samefile(out / name)  # a copy: editing --out cannot alter the evidence
    assert invoke("verify", str(pack)).exit_code == 0


def test_gzip_of_a_pdf_is_a_usage_error() -> None:
    result = invoke("scan", "--demo", "--format", "pdf.gz", "--out", "unused")
    assert result.exit_code == 2
    assert "unknown format 'pdf.gz'" in error_line(result)


def test_streamed_report_failing_mid_way_leaves_nothing(
    tmp_path: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a report is already in staging when the writer breaks: it never reaches --out or the pack."""

    def half(result: object, handle: IO[bytes]) -> None:
        handle.write(b"severity,status\r\n" * 10_000)
        raise RuntimeError("writer bug")

    monkeypatch.setitem(reports.RENDERERS, "csv", reports.Streamed(half))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = snapshot_of(previous)
    pack = tmp_path / "pack"
    result = invoke("scan", "--demo", "--out", str(previous), "--format", "json,csv", "--evidence-pack", str(pack))
    assert result.exit_code == 4
    assert snapshot_of(previous) == before and not pack.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_one_format_streams_to_stdout_through_private_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = invoke("scan", "--demo", "--format", "json.gz", "--fail-on", "none")
    assert result.exit_code == 0
    assert json.loads(gzip.decompress(result.stdout_bytes))["findings"]
    assert list(tmp_path.iterdir()) == []  # the staged copy is gone


def test_finished_scan_exits_without_teardown_yet_runs_atexit_and_flushes(tmp_path: Path) -> None:
    """The command line leaves a finished scan's memory to the OS (`scanner.bulk.leave`): its exit
    code, every byte of stdout and the atexit handlers are still there; only freeing is skipped
    (an object's `__del__` never runs)."""
    marks = tmp_path / "marks"
    prelude = (
        "import atexit, pathlib\n"
        f"marks = pathlib.Path({str(marks)!r})\n"
        "atexit.register(lambda: marks.open('a').write('atexit\\n'))\n"
        "class Held:\n"
        "    def __del__(self): marks.open('a').write('freed\\n')\n"
        "held = Held()\n"
    )
    done = run_cli("scan", "--demo", "--format", "json", "--fail-on", "high", prelude=prelude)
    assert done.returncode == 1, done.stderr
    assert len(json.loads(done.stdout)["findings"]) > 100
    assert marks.read_text() == "atexit\n"
    out = tmp_path / "out"
    done = run_cli("scan", "--demo", "--out", str(out), "--fail-on", "none", prelude=prelude)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"wrote {out / 'mlwarden-report.json'}\nwrote {out / 'mlwarden-report.html'}\n")
    assert marks.read_text() == "atexit\natexit\n"


def test_a_failed_scan_exits_the_ordinary_way(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    prelude = (
        f"import pathlib\nclass Held:\n    def __del__(self): pathlib.Path({str(marks)!r}).write_text('freed')\n"
        "held = Held()\n"
    )
    done = run_cli("scan", "--snapshot", str(tmp_path / "missing.jsonl"), prelude=prelude)
    assert done.returncode == 2 and done.stderr.startswith("mlwarden: error: ")
    assert marks.read_text() == "freed"
