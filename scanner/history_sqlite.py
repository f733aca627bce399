"""The embedded history: one SQLite file, safe for concurrent scans on one machine.

Writers take SQLite's write lock up front (BEGIN IMMEDIATE) and wait for it (busy timeout);
the store retries what outlasts that wait. After the first scan lands the file switches to WAL,
so readers never block writers. SQLite on a network share (SMB, NFS) is not safe under
concurrent writers whatever the settings: share a history through PostgreSQL instead.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from scanner.errors import InputError
from scanner.files import refuse
from scanner.history_store import APPLICATION_ID, Store, Tx, corrupt_as_input, first_line
from scanner.textsafe import printable

BUSY_TIMEOUT_SECONDS = 15.0
"""How long one attempt waits for another writer's lock before the store's backoff takes over."""

_TRANSIENT_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_CORRUPT, _NOTADB = sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB
"""What makes a file "not an mlwarden history": other SQLite errors (a full disk, I/O) are about the disk."""


class SqliteStore(Store):
    dialect: ClassVar[dict[str, str]] = {
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "key": "INTEGER PRIMARY KEY",
        "ref": "INTEGER",
        "rowid_clause": " WITHOUT ROWID",
    }

    def __init__(self, path: Path) -> None:
        super().__init__(printable(path), f"db {printable(path)}")
        self.path = path
        self._created = False

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Autocommit mode, so this module alone decides where transactions begin and end. A
        connection that fails leaves no side file that was not there before (`_no_stray_side_files`)."""
        with _no_stray_side_files(self.path), self._connection() as conn:
            yield conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = None
        try:
            # Absolute: SQLite takes a bare `:memory:` as a database that vanishes on close, so
            # `--history :memory:` would say "recorded" and keep nothing.
            where = os.path.abspath(self.path)
            conn = sqlite3.connect(where, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
            try:
                conn.execute("PRAGMA application_id").fetchone()
            except sqlite3.DatabaseError as exc:
                if self._transient(exc):
                    raise
                if getattr(exc, "sqlite_errorcode", _NOTADB) & 0xFF not in (_CORRUPT, _NOTADB):
                    raise  # a full disk, an I/O error: "cannot use it" below, not a foreign file
                raise InputError(
                    f"history {self.label}: not an mlwarden history database ({first_line(exc)})"
                ) from None
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # misuse by mlwarden itself: a bug, not bad input
        except sqlite3.Error as exc:
            if self._transient(exc):
                raise
            raise InputError(f"history {self.label}: cannot use it ({_why(exc, self.path)})") from None
        finally:
            if conn is not None:
                conn.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Tx]:
        refuse(f"history {self.label}", self.path)  # checked before the scan, but it may have changed since
        if not self.path.exists():
            self._created = True
            try:  # made here, so its identity is known before opening
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                pass  # another scan made it first
            except OSError as exc:  # checked before the scan, but the directory may have changed since
                raise InputError(f"history {self.label}: cannot create it ({exc.strerror or exc})") from None
        before = _identity(self.path)
        with self._connect() as conn:
            # The file this connection holds is the one the path named both before and after the
            # open (that file stays open, so no other file can take its inode in between); a path
            # removed and made anew by two other scans meanwhile is opened again.
            opened = _identity(self.path)
            if opened is None or opened != before:
                raise _Replaced
            try:
                with _transaction(conn, "BEGIN IMMEDIATE"):
                    if opened is None or _identity(self.path) != opened:
                        raise _Replaced
                    yield Tx(conn, pyformat=False)
            except sqlite3.Error:
                # A first scan that failed removed the empty file this connection opened
                # (`_abandoned`, under the write lock): SQLite refuses to write to it ("disk I/O
                # error"), and this is no bad input but a retry on the file the path names now.
                if opened is None or _identity(self.path) != opened:
                    raise _Replaced from None
                raise

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Tx | None]:
        # A directory, FIFO or device named by mistake exists, but holds no history; SQLite took a
        # file of /proc (0 bytes long by stat) for an empty one, and says only "unable to open
        # database file" of one it may not read.
        refuse(f"history {self.label}", self.path)
        if not self.path.is_file():
            raise InputError(f"history {self.label}: no such file")
        with self._connect() as conn, _transaction(conn, "BEGIN"), corrupt_as_input(self.label):
            yield self._readable(Tx(conn, pyformat=False))

    def _version(self, tx: Tx, *, create: bool) -> int | None:
        app_id = _scalar(tx, "PRAGMA application_id")
        version = _scalar(tx, "PRAGMA user_version")
        tables = _scalar(tx, "SELECT count(*) FROM sqlite_master")
        if app_id == 0 and version == 0 and tables == 0:
            return None
        if app_id != APPLICATION_ID:
            raise InputError(
                f"history {self.label}: not an mlwarden history database (another application's SQLite file)"
            )
        return version

    def _set_version(self, tx: Tx, version: int, *, fresh: bool) -> None:
        if fresh:
            tx.run(f"PRAGMA application_id = {APPLICATION_ID}")
        tx.run(f"PRAGMA user_version = {int(version)}")

    def _transient(self, exc: BaseException) -> bool:
        if isinstance(exc, _Replaced):
            return True
        code = getattr(exc, "sqlite_errorcode", None)
        return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in _TRANSIENT_CODES

    def _after_commit(self) -> None:
        """WAL from the first landed scan on: readers stop blocking writers. Best effort: a writer
        that holds the file just now leaves it for the next scan to switch."""
        with (
            contextlib.suppress(sqlite3.Error),
            _no_stray_side_files(self.path),
            contextlib.closing(sqlite3.connect(os.path.abspath(self.path), timeout=0.5)) as conn,
        ):
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")

    def _abandoned(self) -> None:
        """A first scan that never landed leaves no empty file behind, unless another writer is at
        work on it. The file is removed only under its write lock, and a writer that opened it
        before checks, once it holds that lock, that the path still names the file it opened
        (`_writing`), so a scan never lands in a removed file."""
        if not self._created:
            return
        wal = self.path.with_name(self.path.name + "-wal")  # the -journal is this lock's own
        if not self.path.exists():
            return
        with (
            contextlib.suppress(OSError, sqlite3.Error),
            contextlib.closing(sqlite3.connect(os.path.abspath(self.path), isolation_level=None, timeout=0)) as conn,
        ):
            try:
                conn.execute("BEGIN IMMEDIATE")  # another writer holds it: the file is in use, leave it
            except sqlite3.OperationalError as exc:
                # A full disk refuses even the lock on an empty file, and so every writer's first
                # write: nothing can land in it now (a writer that opened it sees it replaced).
                if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF != sqlite3.SQLITE_FULL:
                    raise
                if self.path.stat().st_size == 0 and not wal.exists():
                    self.path.unlink()
                return
            if self.path.stat().st_size == 0 and not wal.exists():
                self.path.unlink()
            conn.execute("ROLLBACK")


_SIDE_FILES = ("-wal", "-shm", "-journal")
"""What SQLite keeps beside a database while it is open: the write-ahead log, its shared-memory
index and the rollback journal."""


def _side_file(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


@contextlib.contextmanager
def _no_stray_side_files(path: Path) -> Iterator[None]:
    """A failed connection leaves the side files as it found them. SQLite removes `-wal` and
    `-shm` when the last connection closes, but not after an open that failed half way: on a full
    disk (or past a file-size limit) the `-shm` cannot grow to its 32 KiB, and an empty `-wal` and a
    partial `-shm` stayed beside a history that was otherwise unchanged."""
    before = {suffix for suffix in _SIDE_FILES if os.path.lexists(_side_file(path, suffix))}
    try:
        yield
    except BaseException:
        _tidy(path, before)
        raise


def _tidy(path: Path, before: set[str]) -> None:
    """Remove side files that appeared since `before`, unless another connection (in any process)
    has the database open. A connection in exclusive locking mode takes SQLite's exclusive lock
    without the shared-memory index (so it needs no disk space), and fails at once while any other
    connection holds the database; holding that lock, the stray `-shm` is no one's, and closing it
    lets SQLite itself decide about the `-wal`: checkpointed and removed, or kept when it holds
    what could not be written back."""
    stray = [suffix for suffix in _SIDE_FILES if suffix not in before and os.path.lexists(_side_file(path, suffix))]
    if not stray or not path.is_file():
        return
    where = f"{Path(os.path.abspath(path)).as_uri()}?mode=rw"  # never creates a database that is gone
    with (
        contextlib.suppress(sqlite3.Error, OSError),
        contextlib.closing(sqlite3.connect(where, uri=True, isolation_level=None, timeout=0)) as conn,
    ):
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN IMMEDIATE")  # busy while any other connection has the database open
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
        if "-shm" in stray:
            _side_file(path, "-shm").unlink(missing_ok=True)


def _why(exc: sqlite3.Error, path: Path) -> str:
    """SQLite's reason, said so that a person knows what to fix: "disk I/O error" alone was what a
    full disk gave when it stopped the shared-memory index from growing, and what a file-size limit
    gave when it stopped a write."""
    code = getattr(exc, "sqlite_errorcode", None) or 0
    if code & 0xFF != sqlite3.SQLITE_IOERR:
        return first_line(exc)
    causes = " and ".join(_space_limits(path))
    if code == sqlite3.SQLITE_IOERR_SHMSIZE:
        shm = printable(_side_file(path, "-shm").name)
        causes = causes or "the disk is full or a file-size limit was reached"
        return f"no room to grow its shared-memory file {shm}: {causes}"
    name = getattr(exc, "sqlite_errorname", None)
    said = f"{first_line(exc)}, {name}" if name else first_line(exc)
    return f"{said}: {causes}" if causes else said


def _space_limits(path: Path) -> list[str]:
    """What stops a write here now: a full file system, a file-size limit (`ulimit -f`)."""
    found = []
    with contextlib.suppress(OSError):
        if os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0:
            found.append("the disk is full")
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        found.append(f"a file-size limit of {soft} bytes is set (ulimit -f)")
    return found


class _Replaced(Exception):
    """The path no longer names the file a writer opened: try again on the file it names now."""


def _identity(path: Path) -> tuple[int, int] | None:
    """Device and inode of the file at `path`, None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _scalar(tx: Tx, sql: str) -> int:
    row = tx.one(sql)
    assert row is not None
    return int(row[0])


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    """Commit only if the block completes; otherwise leave the db exactly as it was."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
