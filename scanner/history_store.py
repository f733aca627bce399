"""One history store, two engines: the schema and every query live here once; SQLite and
PostgreSQL (history_sqlite, history_pg) add only how to connect, lock, version and classify
their errors.

Writers retry a transient failure (a lock held past the engine's own wait, a deadlock, a
serialization failure) with jittered exponential backoff; a busy store is never bad input.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, ClassVar, TypeVar

from scanner.errors import InputError, StoreUnavailableError
from scanner.models import Finding, ScanResult, Severity, Status
from scanner.textsafe import printable

APPLICATION_ID = 0x6D6C7764
"""'mlwd': marks an mlwarden history (SQLite's application_id; PostgreSQL's advisory lock key)."""

MAX_ID = 2**63 - 1
"""Scan ids are 64-bit in both engines; a larger number cannot name a scan."""

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the first schema. {serial}, {key}, {ref} and {rowid_clause} are the dialect's.
    (
        """CREATE TABLE scans (
            id {serial},
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
            scan_id {ref} NOT NULL REFERENCES scans(id),
            framework_id TEXT NOT NULL,
            version TEXT NOT NULL,
            pass INTEGER NOT NULL,
            fail INTEGER NOT NULL,
            manual INTEGER NOT NULL,
            not_assessed INTEGER NOT NULL,
            PRIMARY KEY (scan_id, framework_id)
        ){rowid_clause}""",
        """CREATE TABLE check_passes (
            scan_id {ref} NOT NULL REFERENCES scans(id),
            check_id TEXT NOT NULL,
            passes INTEGER NOT NULL,
            PRIMARY KEY (scan_id, check_id)
        ){rowid_clause}""",
        """CREATE TABLE subjects (
            id {key},
            fingerprint TEXT NOT NULL UNIQUE,
            check_id TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            detail_key TEXT
        )""",
        """CREATE TABLE findings (
            scan_id {ref} NOT NULL REFERENCES scans(id),
            subject_id {ref} NOT NULL REFERENCES subjects(id),
            status TEXT NOT NULL CHECK (status IN ('fail', 'error', 'unknown', 'not_applicable')),
            severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
            waived INTEGER NOT NULL,
            baselined INTEGER NOT NULL,
            PRIMARY KEY (scan_id, subject_id)
        ){rowid_clause}""",
    ),
    # 1 -> 2: who changed it. The attribution as JSON (values already reduced to a secret class where secret).
    ("ALTER TABLE findings ADD COLUMN change TEXT",),
)
"""Entry i upgrades a history from schema version i to i + 1; append a step, never edit one."""

SCHEMA_VERSION = len(_MIGRATIONS)

T = TypeVar("T")

_ATTEMPTS = 8
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0


class Tx:
    """One open transaction on either engine: `?` placeholders, rows as tuples."""

    def __init__(self, conn: Any, *, pyformat: bool) -> None:
        self._conn = conn
        self._pyformat = pyformat

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pyformat else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), params)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._conn.execute(self._sql(sql), params).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self._conn.execute(self._sql(sql), params).fetchone()
        return None if row is None else tuple(row)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self._conn.cursor().executemany(self._sql(sql), rows)


class Store(ABC):
    """A history at one target. Subclasses supply the engine; the SQL and its meaning are here."""

    dialect: ClassVar[dict[str, str]]
    """Substitutions for the migrations' {serial}, {key}, {ref} and {rowid_clause}."""

    def __init__(self, name: str, label: str) -> None:
        self.name = name
        """The history as a person named it: a path, or a URL (never holding a password), made printable."""
        self.label = label
        """How error messages name it ("db PATH" or the URL)."""

    # --- what an engine supplies ------------------------------------------------------------

    @abstractmethod
    def _writing(self) -> contextlib.AbstractContextManager[Tx]:
        """A write transaction that holds the store's writer lock; commits only if the block completes."""

    @abstractmethod
    def _reading(self) -> contextlib.AbstractContextManager[Tx | None]:
        """One consistent read; None when the store holds no history yet (left untouched)."""

    @abstractmethod
    def _version(self, tx: Tx, *, create: bool) -> int | None:
        """The schema version, None for a store with nothing in it; InputError if it is not ours."""

    @abstractmethod
    def _set_version(self, tx: Tx, version: int, *, fresh: bool) -> None: ...

    @abstractmethod
    def _transient(self, exc: BaseException) -> bool:
        """A failure that the same write may not meet again (lock, deadlock, serialization)."""

    @abstractmethod
    def _after_commit(self) -> None:
        """Engine housekeeping once a write has landed."""

    @abstractmethod
    def _abandoned(self) -> None:
        """Engine cleanup after a write that never landed."""

    # --- the history --------------------------------------------------------------------------

    def record(self, result: ScanResult) -> int:
        """Store one scan in a single transaction and return its id; on any failure the store is unchanged."""

        def write() -> int:
            with self._writing() as tx:
                self._migrate(tx)
                return _insert(tx, result)

        try:
            scan_id = self._retrying(write, "the scan was not recorded")
        except BaseException:
            self._abandoned()
            raise
        self._after_commit()
        return scan_id

    def check(self) -> None:
        """Fail now, before any report is written, if this history cannot take a scan."""
        self._read(lambda tx: None)

    def scans(self) -> list[ScanSummaryRow]:
        def read(tx: Tx | None) -> list[ScanSummaryRow]:
            ids = [] if tx is None else [row[0] for row in tx.all("SELECT id FROM scans ORDER BY id")]
            return [self._summary(tx, scan_id) for scan_id in ids if tx is not None]

        return self._read(read)

    def latest_two(self, newer: int | None = None) -> tuple[int, int]:
        """`newer` (default: the most recent scan) and the most recent scan of the same scope before
        it, older first. Scans sharing a history need not cover one scope (a nightly job per
        management group) nor land in the order they ran (a long scan commits after a short one
        that started later), so "before" is by generation time, then id (two scans generated at
        one instant keep the order they were recorded in), and the previous scan of the same scope
        is chosen over the previous scan of another. A scope not scanned before (a management
        group that gained a subscription overnight) is compared with the scan of the same origin
        and cloud most alike in subscriptions (shared over all), so another job's disjoint scope is never
        the baseline while a related one exists; failing that, with the previous scan of any scope."""

        def read(tx: Tx | None) -> list[tuple[Any, ...]]:
            if tx is None:
                return []
            return tx.all("SELECT id, generated_at, origin, scope, cloud, subscriptions FROM scans")

        timed = []
        for row in self._read(read):
            with corrupt_as_input(self.label, f"scan {stored_text(row[0])}, column generated_at"):
                when = datetime.fromisoformat(row[1])
                timed.append((when if when.tzinfo else when.replace(tzinfo=UTC), int(row[0]), row))
        ordered = [row for _, _, row in sorted(timed, key=lambda item: item[:2])]
        if newer is None:
            if len(ordered) < 2:
                raise InputError(f"history {self.label}: a diff needs two recorded scans, found {len(ordered)}")
            newer = int(ordered[-1][0])
        place = next((i for i, row in enumerate(ordered) if int(row[0]) == newer), None)
        if place is None:
            raise InputError(f"history {self.label}: no scan with id {newer} (see `mlwarden history list`)")
        if place == 0:
            raise InputError(f"history {self.label}: scan {newer} is the first recorded; nothing to compare it with")
        earlier, target = ordered[:place], ordered[place]
        same = [row for row in earlier if row[2:] == target[2:]]
        if same:
            return int(same[-1][0]), newer
        wanted = self._subscriptions(target)
        related = [row for row in earlier if (row[2], row[4]) == (target[2], target[4])]  # origin, cloud
        # Alike by Jaccard (shared over all): a tenant-wide scan that holds every subscription of a
        # management group is less alike than that group's own scan of one subscription fewer.
        alike = [(_alike(wanted, self._subscriptions(row)), at, row) for at, row in enumerate(related)]
        alike = [item for item in alike if item[0]]
        return int((max(alike, key=lambda item: item[:2])[2] if alike else earlier[-1])[0]), newer

    def _subscriptions(self, row: tuple[Any, ...]) -> set[str]:
        with corrupt_as_input(self.label, f"scan {stored_text(row[0])}, column subscriptions"):
            return {_text(sub).lower() for sub in _json_list(_text(row[5]))}

    def pair(self, older: int, newer: int) -> tuple[ScanSummaryRow, ScanSummaryRow, list[FindingRow], list[FindingRow]]:
        """Both scans' summaries and their non-passing findings, read in one transaction."""

        def read(tx: Tx | None) -> tuple[ScanSummaryRow, ScanSummaryRow, list[FindingRow], list[FindingRow]]:
            if tx is None:
                raise InputError(f"history {self.label}: no scan with id {older}")
            return (
                self._summary(tx, older),
                self._summary(tx, newer),
                _rows(tx, older, self.label),
                _rows(tx, newer, self.label),
            )

        return self._read(read)

    def _read(self, read: Callable[[Tx | None], T]) -> T:
        def attempt() -> T:
            with self._reading() as tx:
                return read(tx)

        return self._retrying(attempt, "nothing was read")

    def _retrying(self, operation: Callable[[], T], consequence: str) -> T:
        """Run `operation`, again after a jittered, growing pause while it meets a transient failure."""
        for attempt in range(_ATTEMPTS):
            try:
                return operation()
            except Exception as exc:
                if not self._transient(exc):
                    raise
            if attempt < _ATTEMPTS - 1:
                time.sleep(min(_MAX_BACKOFF, _FIRST_BACKOFF * 2**attempt) * random.uniform(0.5, 1.5))
        raise StoreUnavailableError(
            f"history {self.label}: still locked by other writers after {_ATTEMPTS} attempts; {consequence}"
        )

    # --- SQL shared by both engines ---------------------------------------------------------

    def _schema(self, tx: Tx, *, create: bool) -> int | None:
        """The stored schema version, None for an empty store; one that cannot be a version
        (negative, not a number, missing) is a damaged history, not a step to migrate from."""
        with corrupt_as_input(self.label, "its schema version"):
            version = self._version(tx, create=create)
            if version is not None and version < 0:
                raise ValueError(f"schema version {version}")
        return version

    def _migrate(self, tx: Tx) -> None:
        version = self._schema(tx, create=True)
        fresh = version is None
        start = version or 0
        if start > SCHEMA_VERSION:
            raise self._newer(start)
        for step in range(start, SCHEMA_VERSION):
            for statement in _MIGRATIONS[step]:
                tx.run(statement.format(**self.dialect))
            self._set_version(tx, step + 1, fresh=fresh and step == start)

    def _readable(self, tx: Tx) -> Tx | None:
        """The transaction if the store holds a history this mlwarden reads, None if it holds nothing."""
        version = self._schema(tx, create=False)
        if version is None:
            return None
        if version > SCHEMA_VERSION:
            raise self._newer(version)
        return tx

    def _newer(self, version: int) -> InputError:
        return InputError(
            f"history {self.label}: written by a newer mlwarden (history schema {version}; this one reads up to "
            f"{SCHEMA_VERSION})"
        )

    def _summary(self, tx: Tx, scan_id: int) -> ScanSummaryRow:
        row = (
            tx.one(
                "SELECT id, generated_at, recorded_at, origin, scope, cloud, subscriptions, tool_version,"
                " resource_count, status_counts, failing_by_severity, waived, baselined FROM scans WHERE id = ?",
                (scan_id,),
            )
            if 1 <= scan_id <= MAX_ID
            else None
        )
        if row is None:
            raise InputError(f"history {self.label}: no scan with id {scan_id} (see `mlwarden history list`)")
        frameworks = {}
        for fw_id, version, passed, failed, manual, absent in tx.all(
            "SELECT framework_id, version, pass, fail, manual, not_assessed FROM framework_counts"
            " WHERE scan_id = ? ORDER BY framework_id",
            (scan_id,),
        ):
            with corrupt_as_input(self.label, f"scan {scan_id}, framework {stored_text(fw_id, 40)}"):
                frameworks[_text(fw_id)] = {
                    "version": _text(version),
                    "pass": _count(passed),
                    "fail": _count(failed),
                    "manual": _count(manual),
                    "not_assessed": _count(absent),
                }
        return ScanSummaryRow(row, frameworks)


class ScanSummaryRow:
    """A scans row as stored, decoded by scanner.history into its public shape."""

    __slots__ = ("frameworks", "values")

    def __init__(self, values: tuple[Any, ...], frameworks: dict[str, dict[str, Any]]) -> None:
        self.values = values
        self.frameworks = frameworks

    def decoded(self, label: str) -> dict[str, Any]:
        """The row's public shape; a stored value that does not decode is a damaged history (exit 2)
        naming the scan and the column."""
        decoded: dict[str, Any] = {}
        for (column, decode), value in zip(_SCAN_COLUMNS, self.values, strict=True):
            with corrupt_as_input(label, f"scan {stored_text(self.values[0])}, column {column}"):
                decoded[column] = decode(value)
        decoded["frameworks"] = self.frameworks
        return decoded


def _text(value: Any) -> str:
    """A TEXT column as stored. SQLite keeps whatever type was written into any column, so a
    damaged history can hold a blob, a number or NULL there: that is corrupt, not a bug (a blob
    reached `json.dumps` as bytes, exit 4, and the text listing printed `b'\\xff'`)."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _count(value: Any) -> int:
    """An INTEGER column that counts something: a whole number, never 0.5, a blob or text."""
    if type(value) is not int or value < 0:
        raise ValueError("a count that is not a whole number")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


_SCAN_COLUMNS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("id", _count),
    ("generated_at", lambda text: datetime.fromisoformat(_text(text))),
    ("recorded_at", lambda text: datetime.fromisoformat(_text(text))),
    ("origin", _text),
    ("scope", _text),
    ("cloud", _text),
    ("subscriptions", lambda text: tuple(_text(s) for s in _json_list(_text(text)))),
    ("tool_version", _text),
    ("resource_count", _count),
    ("status_counts", lambda text: _counts(_text(text), [s.value for s in Status])),
    ("failing_by_severity", lambda text: _counts(_text(text), [s.value for s in Severity])),
    ("waived", _count),
    ("baselined", _count),
)
"""The `scans` columns `_summary` reads, in its order, each with its decoder: the public shape's keys."""


FindingRow = tuple[str, str, str, str | None, str, str, int, int, str | None]
"""fingerprint, check id, resource id, detail key, status, severity, waived, baselined."""


def _insert(tx: Tx, result: ScanResult) -> int:
    findings = result.findings
    row = tx.one(
        "INSERT INTO scans (generated_at, recorded_at, origin, scope, cloud, subscriptions, tool_version,"
        " resource_count, status_counts, failing_by_severity, waived, baselined)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
    assert row is not None
    scan_id = int(row[0])
    tx.many(
        "INSERT INTO framework_counts (scan_id, framework_id, version, pass, fail, manual, not_assessed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (scan_id, fw.id, fw.version, *(fw.counts()[k] for k in ("pass", "fail", "manual", "not_assessed")))
            for fw in result.frameworks
        ],
    )
    passes = Counter(f.check_id for f in findings if f.status is Status.PASS)
    tx.many(
        "INSERT INTO check_passes (scan_id, check_id, passes) VALUES (?, ?, ?)",
        [(scan_id, *item) for item in sorted(passes.items())],
    )
    # Sorted by fingerprint so concurrent writers take row locks in one order (no deadlock).
    others = sorted(
        (
            (f.fingerprint or Finding.make_fingerprint(f.check_id, f.resource_id, f.detail_key), f)
            for f in findings
            if f.status is not Status.PASS
        ),
        key=lambda item: item[0],
    )
    tx.many(
        "INSERT INTO subjects (fingerprint, check_id, resource_id, detail_key) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (fingerprint) DO NOTHING",
        [(fp, f.check_id, f.resource_id, f.detail_key) for fp, f in others],
    )
    # A fingerprint seen twice in one scan (a check bug) keeps its first status.
    tx.many(
        "INSERT INTO findings (scan_id, subject_id, status, severity, waived, baselined, change)"
        " SELECT ?, id, ?, ?, ?, ?, ? FROM subjects WHERE fingerprint = ? ON CONFLICT DO NOTHING",
        [
            (
                scan_id,
                f.status.value,
                f.severity.value,
                _flag(bool(f.waived_by)),
                _flag(f.baselined),
                f.change.model_dump_json() if f.change else None,
                fp,
            )
            for fp, f in others
        ],
    )
    return scan_id


def _flag(value: object) -> int:
    """Store a bool as 0/1 in both engines; anything else is a bug and must fail the record."""
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return int(value)


def _rows(tx: Tx, scan_id: int, label: str) -> list[FindingRow]:
    rows: list[FindingRow] = []
    for fp, check, resource, detail, status, severity, waived, based, change in tx.all(
        "SELECT s.fingerprint, s.check_id, s.resource_id, s.detail_key, f.status, f.severity, f.waived,"
        " f.baselined, f.change FROM findings f JOIN subjects s ON s.id = f.subject_id WHERE f.scan_id = ?",
        (scan_id,),
    ):
        with corrupt_as_input(label, finding_place(scan_id, fp, check)):
            rows.append(
                (
                    _text(fp),
                    _text(check),
                    _text(resource),
                    _optional_text(detail),
                    _text(status),
                    _text(severity),
                    _count(waived),
                    _count(based),
                    change,  # read leniently: one this build cannot read is dropped (history._change)
                )
            )
    return rows


def finding_place(scan_id: int, fingerprint: object, check_id: object) -> str:
    """`scan 2, finding 3f1c... (MLW-KV-01)`: which stored finding is damaged."""
    return f"scan {scan_id}, finding {stored_text(fingerprint, 64)} ({stored_text(check_id, 40)})"


def _alike(one: set[str], other: set[str]) -> Fraction:
    return Fraction(len(one & other), len(one | other) or 1)


def _counts(text: str, keys: list[str]) -> dict[str, int]:
    """A stored count map with every current key present, so older rows read with today's enums."""
    stored = json.loads(text)
    if not isinstance(stored, dict):
        raise TypeError(f"expected a JSON object of counts, got {type(stored).__name__}")
    counts = {key: stored.get(key, 0) for key in keys}
    if any(type(count) is not int or count < 0 for count in counts.values()):  # not 1e999, 1.5, true or "3"
        raise ValueError("a count that is not a whole number of findings")
    return counts


def _json_list(text: str) -> list[Any]:
    stored = json.loads(text)
    if not isinstance(stored, list):
        raise TypeError(f"expected a JSON list, got {type(stored).__name__}")
    return stored


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextlib.contextmanager
def corrupt_as_input(label: str, where: str = "") -> Iterator[None]:
    """Stored values that no longer decode are a damaged history: bad input, not a bug. `where`
    names the damaged record (`scan 2, column status_counts`), so it can be found and removed."""
    try:
        yield
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        place = f" in {where}" if where else ""
        raise InputError(f"history {label}: corrupt history{place} ({type(exc).__name__})") from None


def stored_text(value: object, limit: int = 80) -> str:
    """A stored key (a fingerprint, a check id) fit for an error line: printable and short."""
    text = printable(str(value))
    return text if len(text) <= limit else f"{text[:limit]}..."
