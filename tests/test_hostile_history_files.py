"""A history that cannot take a scan is left exactly as it was: no new database, and no SQLite side
file (`-wal`, `-shm`, `-journal`) that was not there before.

On a full disk (or past a file-size limit, `ulimit -f`) SQLite could not grow a WAL history's
shared-memory index to its 32 KiB. The open failed half way, and an empty `old.db-wal` and a partial
`old.db-shm` stayed beside the history after every failed scan, `history list` or `history diff`;
the error said only "cannot use it (disk I/O error)". Both failures are real here: a small tmpfs
(root, as in the project's CI container; skipped where it cannot be mounted) and a file-size limit
(any user). Side files that another process's open connection owns are never touched.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tmpfs import tmpfs

ROOT = Path(__file__).resolve().parents[1]
MAIN = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from scanner.cli import main; sys.argv[0] = 'mlwarden'; main()"
LIMIT = 16 * 1024
"""The file-size limit: below the 32 KiB a WAL index needs, and below any history."""


def _run(cwd: Path, *args: str, limited: bool = False) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # SIGXFSZ stays ignored: Python ignores it at start-up
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "MLWARDEN_HISTORY"},
        preexec_fn=limit if limited else None,
    )


def _scan(cwd: Path, db: str, *, limited: bool = False) -> subprocess.CompletedProcess[str]:
    return _run(cwd, "scan", "--demo", "-q", "--fail-on", "none", "--history", db, limited=limited)


def _listing(directory: Path) -> dict[str, bytes | int | None]:
    """Every file with its bytes (a filler by its size), and every directory."""
    return {str(p.relative_to(directory)): _content(p) for p in sorted(directory.rglob("*"))}


def _content(path: Path) -> bytes | int | None:
    if not path.is_file():
        return None
    return path.stat().st_size if path.name == "filler" else path.read_bytes()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        yield disk


def _fill(disk: Path) -> None:
    with (disk / "filler").open("wb", buffering=0) as filler:
        try:
            while filler.write(b"\0" * 4096):
                pass
        except OSError:
            pass  # full


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history of two scans (in WAL mode, as every history is after its first scan)."""
    directory = tmp_path_factory.mktemp("recorded")
    for _ in range(2):
        done = _scan(directory, "old.db")
        assert done.returncode == 0, done.stderr
    assert [p.name for p in directory.iterdir()] == ["old.db"]
    assert (directory / "old.db").read_bytes()[18:20] == b"\x02\x02"  # the header's WAL mode
    return directory / "old.db"


def _two_scans(directory: Path, recorded: Path) -> None:
    shutil.copyfile(recorded, directory / "old.db")


OPERATIONS: dict[str, list[str]] = {
    "scan": ["scan", "--demo", "-q", "--fail-on", "none", "--history", "old.db"],
    "first-scan": ["scan", "--demo", "-q", "--fail-on", "none", "--history", "new.db"],
    "first-scan-in-new-directory": ["scan", "--demo", "-q", "--fail-on", "none", "--history", "team/nightly/new.db"],
    "history-list": ["history", "list", "--db", "old.db"],
    "history-diff": ["history", "diff", "--db", "old.db"],
}


def _judge(directory: Path, before: dict[str, bytes | int | None], done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: history db "), done.stderr
    why = lines[0].split(": cannot use it ", 1)[1]  # what comes after the path, which may say anything
    assert "disk is full" in why or "file-size limit" in why, lines[0]
    assert "Traceback" not in done.stderr and not done.stdout
    assert _listing(directory) == before


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_full_disk_leaves_the_history_as_it_was(tiny_disk: Path, recorded: Path, operation: str) -> None:
    _two_scans(tiny_disk, recorded)
    _fill(tiny_disk)
    before = _listing(tiny_disk)
    _judge(tiny_disk, before, _run(tiny_disk, *OPERATIONS[operation]))


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_file_size_limit_leaves_the_history_as_it_was(tmp_path: Path, recorded: Path, operation: str) -> None:
    _two_scans(tmp_path, recorded)
    before = _listing(tmp_path)
    _judge(tmp_path, before, _run(tmp_path, *OPERATIONS[operation], limited=True))


@pytest.mark.parametrize("room", [8, 24, 40, 64])
def test_a_nearly_full_disk_leaves_the_history_as_it_was(tiny_disk: Path, recorded: Path, room: int) -> None:
    """Room for part of the index, for the index but not the record, or for a few pages of it."""
    _two_scans(tiny_disk, recorded)
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    (tiny_disk / "filler").write_bytes(b"\0" * (free - room * 1024))
    before = _listing(tiny_disk)
    _judge(tiny_disk, before, _scan(tiny_disk, "old.db"))


HOLDER = """
import sqlite3, sys
conn = sqlite3.connect("old.db", isolation_level=None)
print(conn.execute("SELECT count(*) FROM scans").fetchone()[0], flush=True)
sys.stdin.readline()
print(conn.execute("SELECT count(*) FROM scans").fetchone()[0], flush=True)
"""


def test_side_files_of_another_open_connection_are_left_alone(tmp_path: Path, recorded: Path) -> None:
    """Another process reads the history (its `-wal` and `-shm` are in use) while a scan fails:
    they are that connection's, and removing them would split the two connections' view."""
    _two_scans(tmp_path, recorded)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "2"
        assert (tmp_path / "old.db-wal").exists() and (tmp_path / "old.db-shm").exists()
        failed = _scan(tmp_path, "old.db", limited=True)
        assert failed.returncode == 2, failed.stderr
        assert (tmp_path / "old.db-wal").exists() and (tmp_path / "old.db-shm").exists()
        landed = _scan(tmp_path, "old.db")
        assert landed.returncode == 0, landed.stderr
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "3"  # it sees the scan that landed
    finally:
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]


def _newer(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()


def _foreign(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA application_id = 7")
    conn.close()


@pytest.mark.parametrize("damage", [_newer, _foreign], ids=["newer-schema", "another-application"])
def test_a_refused_history_is_left_as_it_was(tmp_path: Path, recorded: Path, damage: Callable[[Path], None]) -> None:
    _two_scans(tmp_path, recorded)
    damage(tmp_path / "old.db")
    before = _listing(tmp_path)
    done = _scan(tmp_path, "old.db")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("mlwarden: error: history db old.db: ")
    assert _listing(tmp_path) == before
