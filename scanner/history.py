"""Scan history in SQLite: what changed between scheduled scans, and a posture over time.

Only identifiers, statuses, severities and counts are stored, never evidence values or
messages (they can quote data). Passing findings are counted per check instead of stored row
by row, and what a finding is about (fingerprint, check, resource) is stored once for all
scans, so a large, mostly healthy estate adds little per scan.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.models import Finding, ScanResult, Severity, Status

APPLICATION_ID = 0x6D6C7764
"""'mlwd' in the SQLite header: tells an mlwarden history db from any other SQLite file."""

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the first schema.
    (
        """CREATE TABLE scans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            generated_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            origin TEXT NOT NULL,
            scope TEXT NOT NULL,
            cloud TEXT NOT NULL,
            subscriptions TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            resource_count INTEGER NOT NULL,
            status_counts TEXT NOT NULL,
            failing_by_severity TEXT NOT NULL,
            waived INTEGER NOT NULL,
            baselined INTEGER NOT NULL
        )""",
        """CREATE TABLE framework_counts (
            scan_id INTEGER NOT NULL REFERENCES scans(id),
            framework_id TEXT NOT NULL,
            version TEXT NOT NULL,
            pass INTEGER NOT NULL,
            fail INTEGER NOT NULL,
            manual INTEGER NOT NULL,
            not_assessed INTEGER NOT NULL,
            PRIMARY KEY (scan_id, framework_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE check_passes (
            scan_id INTEGER NOT NULL REFERENCES scans(id),
            check_id TEXT NOT NULL,
            passes INTEGER NOT NULL,
            PRIMARY KEY (scan_id, check_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE subjects (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            check_id TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            detail_key TEXT
        )""",
        """CREATE TABLE findings (
            scan_id INTEGER NOT NULL REFERENCES scans(id),
            subject_id INTEGER NOT NULL REFERENCES subjects(id),
            status TEXT NOT NULL CHECK (status IN ('fail', 'error', 'unknown', 'not_applicable')),
            severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
            waived INTEGER NOT NULL,
            baselined INTEGER NOT NULL,
            PRIMARY KEY (scan_id, subject_id)
        ) WITHOUT ROWID""",
    ),
)
"""Entry i upgrades a db from schema version i to i + 1; append a step, never edit one."""

SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """One recorded scan: where it looked and how the estate stood."""

    id: int
    generated_at: datetime
    recorded_at: datetime
    origin: str
    scope: str
    cloud: str
    subscriptions: tuple[str, ...]
    tool_version: str
    resource_count: int
    status_counts: Mapping[str, int]
    failing_by_severity: Mapping[str, int]
    """Unwaived failing findings per severity (baselined ones included), as ScanResult.severity_counts."""
    waived: int
    baselined: int
    frameworks: Mapping[str, Mapping[str, Any]]
    """Framework id -> version and control counts (pass, fail, manual, not_assessed)."""

    def same_scope(self, other: ScanSummary) -> bool:
        return (self.origin, self.scope, self.cloud, self.subscriptions) == (
            other.origin,
            other.scope,
            other.cloud,
            other.subscriptions,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "generated_at": self.generated_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "origin": self.origin,
            "scope": self.scope,
            "cloud": self.cloud,
            "subscriptions": list(self.subscriptions),
            "tool_version": self.tool_version,
            "resource_count": self.resource_count,
            "status_counts": dict(self.status_counts),
            "failing_by_severity": dict(self.failing_by_severity),
            "waived": self.waived,
            "baselined": self.baselined,
            "frameworks": {key: dict(value) for key, value in self.frameworks.items()},
        }


@dataclass(frozen=True, slots=True)
class FindingChange:
    """One finding across two scans. A status of None means passing, or not seen at all."""

    fingerprint: str
    check_id: str
    resource_id: str
    detail_key: str | None
    severity: Severity
    before: Status | None
    after: Status | None
    waived: bool
    baselined: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "check_id": self.check_id,
            "resource_id": self.resource_id,
            "detail_key": self.detail_key,
            "severity": self.severity.value,
            "before": self.before.value if self.before else None,
            "after": self.after.value if self.after else None,
            "waived": self.waived,
            "baselined": self.baselined,
        }


@dataclass(frozen=True, slots=True)
class HistoryDiff:
    """What changed from one scan to another; each finding lands in at most one list."""

    older: ScanSummary
    newer: ScanSummary
    new_failing: tuple[FindingChange, ...]
    """Failing now and not before (passing, absent, or another status such as unknown)."""
    fixed: tuple[FindingChange, ...]
    """Failing before; now passing or gone."""
    still_failing: tuple[FindingChange, ...]
    status_changes: tuple[FindingChange, ...]
    """Every other change, e.g. fail -> unknown (coverage lost, not fixed) or fail -> not_applicable."""

    def new_failing_at(self, level: Severity) -> tuple[FindingChange, ...]:
        """New failures at or above `level` that no waiver or baseline accepts (as `--fail-on` counts)."""
        return tuple(c for c in self.new_failing if c.severity.rank >= level.rank and not c.waived and not c.baselined)

    def to_json(self) -> dict[str, Any]:
        sections = {
            "new_failing": self.new_failing,
            "fixed": self.fixed,
            "still_failing": self.still_failing,
            "status_changes": self.status_changes,
        }
        return {
            "format": "mlwarden-history-diff",
            "version": 1,
            "older": self.older.to_json(),
            "newer": self.newer.to_json(),
            "same_scope": self.older.same_scope(self.newer),
            "counts": {name: len(items) for name, items in sections.items()},
            **{name: [c.to_json() for c in items] for name, items in sections.items()},
        }


def record(result: ScanResult, db: Path) -> int:
    """Store one scan in a single transaction and return its id; on any failure the db is unchanged."""
    created = not db.exists()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        with _open(db) as conn, _transaction(conn, "BEGIN IMMEDIATE"):
            _prepare(conn, db, create=True)
            scan_id = _insert(conn, result)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                if db.stat().st_size == 0:
                    db.unlink()
        raise
    return scan_id


def scans(db: Path) -> list[ScanSummary]:
    """Every recorded scan, oldest first."""
    with _reading(db) as conn:
        if conn is None:
            return []
        ids = [row[0] for row in conn.execute("SELECT id FROM scans ORDER BY id")]
        return [_summary(conn, db, scan_id) for scan_id in ids]


def latest_two(db: Path) -> tuple[int, int]:
    """The ids of the two most recent scans, older first."""
    with _reading(db) as conn:
        ids = [] if conn is None else [row[0] for row in conn.execute("SELECT id FROM scans ORDER BY id DESC LIMIT 2")]
    if len(ids) < 2:
        raise InputError(f"history db {db}: a diff needs two recorded scans, found {len(ids)}")
    return ids[1], ids[0]


def diff(db: Path, older: int, newer: int) -> HistoryDiff:
    """Compare two recorded scans finding by finding, by fingerprint."""
    with _reading(db) as conn:
        if conn is None:
            raise InputError(f"history db {db}: no scan with id {older}")
        before_summary, after_summary = _summary(conn, db, older), _summary(conn, db, newer)
        before, after = _rows(conn, older), _rows(conn, newer)
    sections: dict[str, list[FindingChange]] = {"new": [], "fixed": [], "still": [], "changed": []}
    for fingerprint in before.keys() | after.keys():
        was, now = before.get(fingerprint), after.get(fingerprint)
        latest = now or was
        assert latest is not None
        change = FindingChange(
            fingerprint=fingerprint,
            check_id=latest.check_id,
            resource_id=latest.resource_id,
            detail_key=latest.detail_key,
            severity=latest.severity,
            before=was.status if was else None,
            after=now.status if now else None,
            waived=latest.waived,
            baselined=latest.baselined,
        )
        failed_before, failed_now = change.before is Status.FAIL, change.after is Status.FAIL
        if failed_now:
            sections["still" if failed_before else "new"].append(change)
        elif failed_before and change.after is None:
            sections["fixed"].append(change)
        elif change.before is not change.after:
            sections["changed"].append(change)
    return HistoryDiff(
        older=before_summary,
        newer=after_summary,
        new_failing=_ordered(sections["new"]),
        fixed=_ordered(sections["fixed"]),
        still_failing=_ordered(sections["still"]),
        status_changes=_ordered(sections["changed"]),
    )


def _ordered(changes: list[FindingChange]) -> tuple[FindingChange, ...]:
    return tuple(
        sorted(changes, key=lambda c: (-c.severity.rank, c.check_id, c.resource_id.lower(), c.detail_key or ""))
    )


@dataclass(frozen=True, slots=True)
class _Row:
    check_id: str
    resource_id: str
    detail_key: str | None
    status: Status
    severity: Severity
    waived: bool
    baselined: bool


@contextlib.contextmanager
def _open(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode, so this module alone decides where transactions begin and end."""
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            conn.execute("PRAGMA application_id").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"history db {db}: not an mlwarden history database ({_first_line(exc)})") from None
        conn.execute("PRAGMA foreign_keys = ON")
        yield conn
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise  # misuse by mlwarden itself: a bug, not bad input
    except sqlite3.Error as exc:
        raise InputError(f"history db {db}: cannot use it ({_first_line(exc)})") from None
    finally:
        if conn is not None:
            conn.close()


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
    conn.execute("COMMIT")


@contextlib.contextmanager
def _reading(db: Path) -> Iterator[sqlite3.Connection | None]:
    """One consistent read; None when the file is an empty SQLite db (no scans yet, left untouched)."""
    if not db.is_file():
        raise InputError(f"history db {db}: no such file")
    with _open(db) as conn, _transaction(conn, "BEGIN"):
        try:
            yield conn if _prepare(conn, db, create=False) else None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"history db {db}: corrupt history ({type(exc).__name__})") from None


def _prepare(conn: sqlite3.Connection, db: Path, *, create: bool) -> bool:
    """Check the file is ours and migrate it to the current schema; False for an empty db left as is."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    fresh = app_id == 0 and version == 0 and tables == 0
    if fresh and not create:
        return False
    if not fresh and app_id != APPLICATION_ID:
        raise InputError(f"history db {db}: not an mlwarden history database (another application's SQLite file)")
    if version > SCHEMA_VERSION:
        raise InputError(
            f"history db {db}: written by a newer mlwarden (history schema {version}; this one reads up to "
            f"{SCHEMA_VERSION})"
        )
    if fresh:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {step + 1}")
    return True


def _insert(conn: sqlite3.Connection, result: ScanResult) -> int:
    findings = result.findings
    cursor = conn.execute(
        "INSERT INTO scans (generated_at, recorded_at, origin, scope, cloud, subscriptions, tool_version,"
        " resource_count, status_counts, failing_by_severity, waived, baselined)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            result.generated_at.isoformat(),
            datetime.now(UTC).isoformat(),
            result.scope.origin,
            result.scope.description,
            result.scope.cloud,
            json.dumps(list(result.scope.subscriptions)),
            result.tool_version,
            result.resource_count,
            json.dumps(result.status_counts()),
            json.dumps(result.severity_counts()),
            sum(1 for f in findings if f.status is Status.FAIL and f.waived_by),
            sum(1 for f in findings if f.status is Status.FAIL and f.baselined),
        ),
    )
    scan_id = cursor.lastrowid
    assert scan_id is not None
    conn.executemany(
        "INSERT INTO framework_counts VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (scan_id, fw.id, fw.version, *(fw.counts()[k] for k in ("pass", "fail", "manual", "not_assessed")))
            for fw in result.frameworks
        ],
    )
    passes = Counter(f.check_id for f in findings if f.status is Status.PASS)
    conn.executemany("INSERT INTO check_passes VALUES (?, ?, ?)", [(scan_id, *item) for item in passes.items()])
    others = [
        (f.fingerprint or Finding.make_fingerprint(f.check_id, f.resource_id, f.detail_key), f)
        for f in findings
        if f.status is not Status.PASS
    ]
    conn.executemany(
        "INSERT INTO subjects (fingerprint, check_id, resource_id, detail_key) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (fingerprint) DO NOTHING",
        [(fp, f.check_id, f.resource_id, f.detail_key) for fp, f in others],
    )
    # A fingerprint seen twice in one scan (a check bug) keeps its first status.
    conn.executemany(
        "INSERT OR IGNORE INTO findings SELECT ?, id, ?, ?, ?, ? FROM subjects WHERE fingerprint = ?",
        [(scan_id, f.status.value, f.severity.value, bool(f.waived_by), f.baselined, fp) for fp, f in others],
    )
    return scan_id


def _summary(conn: sqlite3.Connection, db: Path, scan_id: int) -> ScanSummary:
    row = conn.execute(
        "SELECT generated_at, recorded_at, origin, scope, cloud, subscriptions, tool_version, resource_count,"
        " status_counts, failing_by_severity, waived, baselined FROM scans WHERE id = ?",
        (scan_id,),
    ).fetchone()
    if row is None:
        raise InputError(f"history db {db}: no scan with id {scan_id} (see `mlwarden history list`)")
    frameworks = {
        fw_id: {"version": version, "pass": passed, "fail": failed, "manual": manual, "not_assessed": not_assessed}
        for fw_id, version, passed, failed, manual, not_assessed in conn.execute(
            "SELECT framework_id, version, pass, fail, manual, not_assessed FROM framework_counts"
            " WHERE scan_id = ? ORDER BY framework_id",
            (scan_id,),
        )
    }
    return ScanSummary(
        id=scan_id,
        generated_at=datetime.fromisoformat(row[0]),
        recorded_at=datetime.fromisoformat(row[1]),
        origin=row[2],
        scope=row[3],
        cloud=row[4],
        subscriptions=tuple(str(s) for s in json.loads(row[5])),
        tool_version=row[6],
        resource_count=int(row[7]),
        status_counts=_counts(row[8], [s.value for s in Status]),
        failing_by_severity=_counts(row[9], [s.value for s in Severity]),
        waived=int(row[10]),
        baselined=int(row[11]),
        frameworks=frameworks,
    )


def _counts(text: str, keys: list[str]) -> dict[str, int]:
    """A stored count map with every current key present, so older rows read with today's enums."""
    stored = json.loads(text)
    return {key: int(stored.get(key, 0)) for key in keys}


def _rows(conn: sqlite3.Connection, scan_id: int) -> dict[str, _Row]:
    query = (
        "SELECT s.fingerprint, s.check_id, s.resource_id, s.detail_key, f.status, f.severity, f.waived, f.baselined"
        " FROM findings f JOIN subjects s ON s.id = f.subject_id WHERE f.scan_id = ?"
    )
    return {
        fp: _Row(check_id, resource_id, detail_key, Status(status), Severity(severity), bool(waived), bool(baselined))
        for fp, check_id, resource_id, detail_key, status, severity, waived, baselined in conn.execute(
            query, (scan_id,)
        )
    }


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
