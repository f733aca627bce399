"""Which checks a scan runs: `--check`/`--skip-check` patterns and a `--min-severity` floor.

A pattern is a check id, a glob over ids (`MLW-KV-*`), or `tag:NAME`. Checks left out are named
to the compliance evaluation, so a control whose checks did not all run can fail but never pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase

from scanner import kinds
from scanner.errors import InputError
from scanner.models import Finding, Severity
from scanner.registry import Check


def _matches(pattern: str, item: Check) -> bool:
    if pattern.lower().startswith("tag:"):
        return pattern[4:].strip().lower() in {t.lower() for t in item.meta.tags}
    return fnmatchcase(item.meta.id.upper(), pattern.strip().upper())


def _expand(patterns: Sequence[str], option: str, checks: Mapping[str, Check]) -> set[str]:
    chosen: set[str] = set()
    for value in patterns:
        given = [p for p in value.split(",") if p.strip()]
        if not given:  # `--skip-check ''` (a variable left unset) skipped nothing without a word
            raise InputError(f"{option} {value!r} names no check (an id, a glob such as 'MLW-ST-*', or tag:NAME)")
        for pattern in given:
            matched = {cid for cid, item in checks.items() if _matches(pattern, item)}
            if not matched:
                hint = "see `mlwarden checks list`"
                raise InputError(f"{option} {pattern.strip()!r} matches no registered check ({hint})")
            chosen |= matched
    return chosen


def select(
    checks: Mapping[str, Check], include: Sequence[str], exclude: Sequence[str], min_severity: str | None
) -> tuple[dict[str, Check], frozenset[str]]:
    """The checks to run, and the ids of those left out."""
    keep = _expand(include, "--check", checks) if include else set(checks)
    keep -= _expand(exclude, "--skip-check", checks)
    if min_severity:
        floor = Severity(min_severity).rank
        # A check whose findings carry their own severity (Defender assessments) stays; its findings are filtered.
        keep = {cid for cid in keep if checks[cid].meta.severity.rank >= floor or _own_severity(checks[cid])}
    if not keep:
        raise InputError("the check selection leaves no check to run")
    return {cid: checks[cid] for cid in sorted(keep)}, frozenset(set(checks) - keep)


def _own_severity(item: Check) -> bool:
    """Defender assessments carry the severity Defender gives each one."""
    return kinds.DEFENDER_ASSESSMENT in item.meta.kinds


def above(findings: Sequence[Finding], min_severity: str | None) -> list[Finding]:
    """`--min-severity`: findings below the floor (by their own severity) are left out of the scan."""
    if not min_severity:
        return list(findings)
    floor = Severity(min_severity).rank
    return [f for f in findings if f.severity.rank >= floor]
