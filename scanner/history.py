"""Scan history: what changed between scheduled scans, and a posture over time.

Only identifiers, statuses, severities and counts are stored, never evidence values or
messages (they can quote data). Passing findings are counted per check instead of stored row
by row, and what a finding is about (fingerprint, check, resource) is stored once for all
scans, so a large, mostly healthy estate adds little per scan.

A history is a SQLite file (the embedded default) or a PostgreSQL database named by a
`postgresql://` URL (shared by scheduled jobs); both hold the same schema and answer the same
commands (scanner.history_store).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scanner import files
from scanner.errors import InputError
from scanner.history_store import (
    APPLICATION_ID,
    MAX_ID,
    SCHEMA_VERSION,
    FindingRow,
    Store,
    corrupt_as_input,
    finding_place,
)
from scanner.models import ChangeAttribution, Severity, Status
from scanner.textsafe import printable

__all__ = [
    "APPLICATION_ID",
    "MAX_ID",
    "SCHEMA_VERSION",
    "FindingChange",
    "HistoryDiff",
    "ScanSummary",
    "check",
    "diff",
    "is_url",
    "latest_two",
    "open_store",
    "record",
    "scans",
]

Target = str | Path
"""A SQLite path, or a postgresql:// URL."""


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
    change: ChangeAttribution | None = None
    """Who changed it, as recorded with the newer scan's finding."""
    waived_before: bool = False
    baselined_before: bool = False
    """As the older scan recorded it (False where it did not fail then)."""

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
            "waived_before": self.waived_before,
            "baselined_before": self.baselined_before,
            "change": self.change.model_dump(mode="json") if self.change else None,
        }

    @property
    def acceptance_changed(self) -> bool:
        """Failing in both scans, with a waiver or baseline added or taken away in between."""
        return (self.waived_before, self.baselined_before) != (self.waived, self.baselined)


@dataclass(frozen=True, slots=True)
class HistoryDiff:
    """What changed from one scan to another; each finding lands in at most one of the four lists
    (`acceptance_changes` picks out some of `still_failing`)."""

    older: ScanSummary
    newer: ScanSummary
    new_failing: tuple[FindingChange, ...]
    """Failing now and not before (passing, absent, or another status such as unknown)."""
    fixed: tuple[FindingChange, ...]
    """Failing before; now passing or gone."""
    still_failing: tuple[FindingChange, ...]
    status_changes: tuple[FindingChange, ...]
    """Every other change, e.g. fail -> unknown (coverage lost, not fixed) or fail -> not_applicable."""

    @property
    def acceptance_changes(self) -> tuple[FindingChange, ...]:
        """Those of `still_failing` whose waiver or baseline changed: risk accepted, or no longer, in between."""
        return tuple(c for c in self.still_failing if c.acceptance_changed)

    def new_failing_at(self, level: Severity) -> tuple[FindingChange, ...]:
        """New failures at or above `level` that no waiver or baseline accepts (as `--fail-on` counts)."""
        return tuple(c for c in self.new_failing if c.severity.rank >= level.rank and not c.waived and not c.baselined)

    def to_json(self) -> dict[str, Any]:
        sections = {
            "new_failing": self.new_failing,
            "fixed": self.fixed,
            "still_failing": self.still_failing,
            "status_changes": self.status_changes,
            "acceptance_changes": self.acceptance_changes,
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


def is_url(target: Target) -> bool:
    return isinstance(target, str) and target.lower().startswith(("postgresql://", "postgres://"))


_OTHER_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_UNEXPANDED = re.compile(r"^\s*\$\(\s*[A-Za-z_][\w.]*\s*\)\s*$")
"""`$(MLWARDEN_HISTORY)`: an Azure Pipelines macro whose variable is undefined reaches the step as
these very characters, which would otherwise name a SQLite file and record the scan there."""
_KEYWORD_DSN = re.compile(r"^\s*(host|hostaddr|port|dbname|user|password|passfile|sslmode|service)\s*=", re.IGNORECASE)


def open_store(target: Target) -> Store:
    """The store a `--history`/`--db` value names: a postgresql:// URL, else a SQLite file.

    Another URL scheme, or a libpq `key=value` connection string, is refused rather than taken
    as a file name (which would create a stray SQLite file, and name it, password and all)."""
    if isinstance(target, str) and not is_url(target):
        if not target.strip():
            raise InputError("history: an empty path (is MLWARDEN_HISTORY, or the variable meant to name it, unset?)")
        if (why := files.trailing_slash(target)) is not None:  # pathlib drops the slash: hist.db/ was hist.db
            raise InputError(f"history {printable(target)}: {why}")
        if target.strip() == "-":  # not stdout: it made a SQLite file named `-`
            raise InputError("history: '-' is not a history store (write ./- for a SQLite file named '-')")
        if match := _OTHER_URL.match(target):
            scheme = printable(match.group(0)[:-3][:20])
            raise InputError(
                f"history: {scheme}:// is not a history store (a SQLite file path or postgresql://user@host/db)"
            )
        if match := _UNEXPANDED.match(target):
            raise InputError(
                f"history: {printable(match.group(0)[:80])} is a pipeline variable that was never defined (Azure "
                "Pipelines passes an undefined $(NAME) on as text); define it, e.g. in the variable group, or drop "
                "--history / MLWARDEN_HISTORY"
            )
        if _KEYWORD_DSN.match(target):
            raise InputError(
                "history: a key=value connection string is not supported; write it as postgresql://user@host/db "
                "(the password from PGPASSWORD or a PGPASSFILE)"
            )
    if is_url(target):
        from scanner.history_pg import PostgresStore

        return PostgresStore(str(target))
    from scanner.history_sqlite import SqliteStore

    return SqliteStore(Path(target))


def describe(target: Target) -> str:
    """How messages name a history (never a password: URLs holding one are refused)."""
    return open_store(target).name


def record(result: Any, target: Target) -> int:
    """Store one scan in a single transaction and return its id; on any failure the store is unchanged."""
    return open_store(target).record(result)


def check(target: Target) -> None:
    """Refuse now (before reports are written) a history that could not take this scan."""
    store = open_store(target)
    if is_url(target) or Path(target).is_file():
        store.check()


def scans(target: Target) -> list[ScanSummary]:
    """Every recorded scan, oldest first."""
    store = open_store(target)
    return [ScanSummary(**row.decoded(store.label)) for row in store.scans()]


def latest_two(target: Target, newer: int | None = None) -> tuple[int, int]:
    """`newer` (default: the latest scan) and the previous scan of its scope, older first
    (`Store.latest_two` says why not simply the two highest ids)."""
    return open_store(target).latest_two(newer)


def diff(target: Target, older: int, newer: int) -> HistoryDiff:
    """Compare two recorded scans finding by finding, by fingerprint."""
    store = open_store(target)
    before_row, after_row, before_rows, after_rows = store.pair(older, newer)
    before = _by_fingerprint(before_rows, store.label, older)
    after = _by_fingerprint(after_rows, store.label, newer)
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
            change=now.change if now else None,
            waived_before=bool(was and was.status is Status.FAIL and was.waived),
            baselined_before=bool(was and was.status is Status.FAIL and was.baselined),
        )
        failed_before, failed_now = change.before is Status.FAIL, change.after is Status.FAIL
        if failed_now:
            sections["still" if failed_before else "new"].append(change)
        elif failed_before and change.after is None:
            sections["fixed"].append(change)
        elif change.before is not change.after:
            sections["changed"].append(change)
    return HistoryDiff(
        older=ScanSummary(**before_row.decoded(store.label)),
        newer=ScanSummary(**after_row.decoded(store.label)),
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
    change: ChangeAttribution | None


def _by_fingerprint(rows: list[FindingRow], label: str, scan_id: int) -> dict[str, _Row]:
    """The scan's stored findings by fingerprint; one that does not decode is named (exit 2)."""
    decoded: dict[str, _Row] = {}
    for fp, check_id, resource_id, detail_key, status, severity, waived, based, change in rows:
        with corrupt_as_input(label, finding_place(scan_id, fp, check_id)):
            decoded[fp] = _Row(
                check_id,
                resource_id,
                detail_key,
                Status(status),
                Severity(severity),
                bool(waived),
                bool(based),
                _change(change),
            )
    return decoded


def _change(text: str | None) -> ChangeAttribution | None:
    """A stored attribution; one this build cannot read is dropped, never a crash."""
    if not text:
        return None
    try:
        return ChangeAttribution.model_validate_json(text)
    except ValueError:
        return None
