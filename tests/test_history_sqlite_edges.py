"""SQLite history under scheduled-job conditions: ten scans writing one file at once all land
(also when they race to create its directory), a lock held past every retry is exit 3 (never an
input error), scan ids are bounded, and what the estate wrote into ids cannot forge terminal
output."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner import history_sqlite, history_store
from scanner.cli import cli
from scanner.errors import InputError, StoreUnavailableError
from scanner.history import diff, record, scans
from scanner.models import Status
from scanner.outputs import Outputs
from tests.test_history import MONDAY, TUESDAY, WEBAPP, finding, scan_result

ROOT = Path(__file__).resolve().parents[1]


def _scan_processes(db: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """`mlwarden scan --demo --history DB` as separate processes; each prints its summary (stdout,
    unbuffered) just before it records the scan."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-c", "from scanner.cli import main; main()", "scan", "--demo", "--fail-on", "none"]
    return [
        subprocess.Popen([*command, "--history", str(db)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(count)
    ]


def _outcomes(processes: list[subprocess.Popen[bytes]]) -> list[tuple[int, str]]:
    errors = [p.communicate(timeout=240)[1].decode() for p in processes]
    return [(p.returncode, err) for p, err in zip(processes, errors, strict=True)]


def test_ten_concurrent_scans_into_a_new_file_all_land(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "history.db"

    outcomes = _outcomes(_scan_processes(db, 10))

    assert [code for code, _ in outcomes] == [0] * 10, outcomes
    assert all("database is locked" not in err for _, err in outcomes)
    assert sorted(s.id for s in scans(db)) == list(range(1, 11))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _prepare_histories(barrier: Any, dbs: list[Path], errors: Any) -> None:
    """A racer: check `--history DB` for each db as a scan does, every racer starting each db together."""
    for db in dbs:
        barrier.wait()
        outputs = Outputs(history=db)
        try:
            outputs.prepare()
        except InputError as exc:
            errors.put(str(exc))
        else:
            outputs.discard(keep_created=True)
    errors.put(None)


def test_scans_racing_to_create_the_history_directory_all_go_ahead(tmp_path: Path) -> None:
    """Racers all see the directory missing and all but one find it made when they create it:
    that is another scan at work, not an unwritable path (before, some racers met exit 2 in
    every run of this test)."""
    dbs = [tmp_path / str(i) / "team" / "history.db" for i in range(200)]
    context = multiprocessing.get_context("fork")
    racers = 4
    barrier, errors = context.Barrier(racers, timeout=60), context.Queue()
    processes = [context.Process(target=_prepare_histories, args=(barrier, dbs, errors)) for _ in range(racers)]
    for process in processes:
        process.start()
    reported: list[str] = []
    finished = 0
    try:
        while finished < racers:
            message = errors.get(timeout=120)
            finished += message is None
            reported += [message] if message is not None else []
    except queue.Empty:
        pytest.fail(f"racers stopped reporting; errors so far: {reported}")
    finally:
        for process in processes:
            process.join(timeout=60)

    assert reported == []
    assert [process.exitcode for process in processes] == [0] * racers
    assert all(db.parent.is_dir() and not db.exists() for db in dbs)


def test_scans_that_meet_a_held_write_lock_wait_for_it_and_land(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    record(MONDAY, db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    processes = _scan_processes(db, 10)
    for process in processes:  # each has printed its summary: it is at the history now
        assert process.stdout is not None and process.stdout.read(1)
    # Keep them waiting past SQLite's default 5 s busy wait (a pause to order events; no duration
    # is asserted), then let them in.
    time.sleep(6)
    holder.execute("ROLLBACK")
    holder.close()
    outcomes = _outcomes(processes)

    assert [code for code, _ in outcomes] == [0] * 10, outcomes
    assert sorted(s.id for s in scans(db)) == list(range(1, 12))


def test_a_lock_held_past_every_retry_is_exit_3_not_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "history.db"
    record(MONDAY, db)
    before = db.read_bytes()
    monkeypatch.setattr(history_sqlite, "BUSY_TIMEOUT_SECONDS", 0.01)
    monkeypatch.setattr(history_store, "_ATTEMPTS", 3)
    monkeypatch.setattr(history_store, "_FIRST_BACKOFF", 0.001)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError, match="still locked by other writers after 3 attempts"):
            record(TUESDAY, db)
        result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "--history", str(db)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert result.exit_code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "locked" in errors[0] and "Traceback" not in result.output
    assert db.read_bytes() == before


@pytest.mark.parametrize("ids", [["1", "9" * 30], ["9" * 30, "2"], ["0", "1"], ["-3", "1"], ["1", "1.5"]])
def test_scan_ids_out_of_range_are_usage_errors(tmp_path: Path, ids: list[str]) -> None:
    db = tmp_path / "history.db"
    record(MONDAY, db)
    record(TUESDAY, db)

    result = CliRunner().invoke(cli, ["history", "diff", "--db", str(db), "--", *ids])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "OverflowError" not in result.output
    (line,) = result.stderr.splitlines()
    assert "is not a scan id (a positive whole number; see `mlwarden history list`)" in line, line
    assert "9223372036854775807" not in line  # said in words, not as click's range


def test_huge_ids_through_the_api_are_unknown_scans_not_overflows(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    record(MONDAY, db)
    record(TUESDAY, db)

    with pytest.raises(Exception, match=r"no scan with id 9{30}") as info:
        diff(db, 1, int("9" * 30))
    assert type(info.value).__name__ == "InputError"


def test_history_diff_and_list_neutralise_control_and_bidi_characters(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    forged = "\x1b[2J\rmlwarden: error: forged\x07\u202eevil\u2066"
    record(MONDAY, db)
    tampered = scan_result(
        (
            *TUESDAY.findings,
            finding("MLW-APP-004", WEBAPP + forged, Status.FAIL, "plaintext", detail_key="KEY\x00" + forged),
        ),
        day=24,
    )
    record(tampered.model_copy(update={"scope": tampered.scope.model_copy(update={"description": forged})}), db)

    for args in (["diff"], ["list"]):
        result = CliRunner().invoke(cli, ["history", *args, "--db", str(db)])
        assert result.exit_code == 0, result.output
        for char in ("\x1b", "\r", "\x07", "\x00", "\u202e", "\u2066"):
            assert char not in result.output, (args, repr(char))
        assert not any(line.startswith("mlwarden: error: forged") for line in result.output.splitlines())
    assert "forged" in CliRunner().invoke(cli, ["history", "diff", "--db", str(db)]).stdout


def test_a_failed_first_scan_never_removes_the_file_another_scan_opened(tmp_path: Path) -> None:
    """The first scan into a new history creates the file, then fails and removes it again (no
    empty file left behind). A second scan that opened the file just before that removal met
    SQLite's refusal to write a removed file, "cannot use it (disk I/O error)": exit 2, as if the
    history were bad input. Now the removal happens under the write lock, and a writer whose file
    was removed (or replaced) under it tries again on the file the path names now."""
    db = tmp_path / "new.db"
    first = history_sqlite.SqliteStore(db)
    with pytest.raises(RuntimeError), first._writing():
        raise RuntimeError("the first scan fails before its record lands")
    assert db.exists() and db.stat().st_size == 0

    second = history_sqlite.SqliteStore(db)
    connect = second._connect
    windows: list[bool] = []

    @contextlib.contextmanager
    def opened_then_first_gives_up() -> Iterator[sqlite3.Connection]:
        with connect() as conn:
            if not windows:  # once: the first scan cleans up between our open and our lock
                first._abandoned()
                windows.append(db.exists())
            yield conn

    second._connect = opened_then_first_gives_up  # type: ignore[method-assign]
    assert second.record(MONDAY) == 1
    assert windows == [False]  # the file this writer had opened was removed in the window
    assert [s.id for s in scans(db)] == [1]  # and the scan is in the file at the path


def test_a_failed_first_scan_leaves_the_file_of_a_writer_at_work(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    first = history_sqlite.SqliteStore(db)
    with pytest.raises(RuntimeError), first._writing():
        raise RuntimeError("the first scan fails")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another scan holds the write lock, not yet written
    try:
        first._abandoned()
        assert db.exists()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    first._abandoned()
    assert not db.exists()


def test_a_scan_never_lands_in_a_removed_file_when_a_third_scan_recreated_the_path(tmp_path: Path) -> None:
    """Three scans: this one opens the new, empty file; the first one fails and removes it; a third
    creates the history anew at the same path and lands. This writer then noted the identity of the
    file the path named (the third's) and not of the file it had open, so the check under its lock
    passed and its scan went into the removed file: recorded, and lost. Now the file is noted before
    and after opening, and a writer whose path moved in between opens it again."""
    db = tmp_path / "new.db"
    first = history_sqlite.SqliteStore(db)
    with pytest.raises(RuntimeError), first._writing():
        raise RuntimeError("the first scan fails before its record lands")
    assert db.exists() and db.stat().st_size == 0

    second = history_sqlite.SqliteStore(db)
    connect = second._connect
    windows: list[int] = []

    @contextlib.contextmanager
    def opened_then_first_gives_up_and_third_lands() -> Iterator[sqlite3.Connection]:
        with connect() as conn:
            if not windows:  # once, between this writer's open and anything else it does
                first._abandoned()
                assert not db.exists()
                windows.append(history_sqlite.SqliteStore(db).record(TUESDAY))
            yield conn

    second._connect = opened_then_first_gives_up_and_third_lands  # type: ignore[method-assign]
    landed = second.record(MONDAY)
    assert windows == [1]
    assert landed == 2
    assert [(s.id, s.resource_count) for s in scans(db)] == [(1, TUESDAY.resource_count), (2, MONDAY.resource_count)]


def test_a_history_that_cannot_be_created_is_an_input_error_not_a_crash(tmp_path: Path) -> None:
    """The CLI checks the history's directory before the scan; one that changed since (here: a file
    where a directory should be) raised a bare OSError from the writer (exit 4)."""
    (tmp_path / "file").write_text("not a directory")
    store = history_sqlite.SqliteStore(tmp_path / "file" / "sub" / "h.db")
    with pytest.raises(InputError, match=r"cannot create it \(Not a directory\)"):
        store.record(MONDAY)
