"""Waivers and baselines: accepted risk, stated and bounded.

A waiver names a check, a resource pattern (glob over the ARM id, case-insensitive), a
justification, an owner and an expiry date. An expired waiver stops waiving and says so. A
baseline is the set of finding fingerprints already accepted; `--fail-on` then counts only
findings that are new since the baseline.

    waivers:
      - check: MLW-ST-07
        resource: /subscriptions/*/resourceGroups/rg-research/*
        justification: Research datastores need shared keys until the SDK upgrade (JIRA-123).
        owner: data-platform@contoso.example
        expires: 2027-03-31
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from scanner import safe_yaml
from scanner.atomic import write_bytes
from scanner.errors import InputError
from scanner.models import Finding, ScanResult, Status, WaiverUse
from scanner.safe_yaml import LocatedDict, LocatedError

BASELINE_FORMAT = "mlwarden-baseline"
_WAIVER_KEYS = {"check", "resource", "justification", "owner", "expires"}


@dataclass(frozen=True, slots=True)
class Waiver:
    check_id: str
    resource: str
    justification: str
    owner: str
    expires: date
    line: int

    def matches(self, finding: Finding) -> bool:
        return finding.check_id.upper() == self.check_id.upper() and fnmatch.fnmatchcase(
            finding.resource_id.lower(), self.resource.lower()
        )


def _waiver(item: Any, where: str, check_ids: Collection[str]) -> Waiver:
    if not isinstance(item, LocatedDict):
        raise InputError(f"{where}: each waiver must be a mapping")
    line = item.line
    missing = sorted(_WAIVER_KEYS - set(item))
    extra = sorted(set(item) - _WAIVER_KEYS)
    if missing or extra:
        what = f"missing {', '.join(missing)}" if missing else f"unknown key(s) {', '.join(extra)}"
        raise InputError(f"{where} line {line}: waiver {what}")
    for key in ("check", "resource", "justification", "owner"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise InputError(f"{where} line {item.line_of(key)}: waiver '{key}' must be a non-empty string")
    if not safe_yaml.is_date(item["expires"]):
        timed = " (a date, not a date and time)" if isinstance(item["expires"], date) else ""
        raise InputError(f"{where} line {item.line_of('expires')}: waiver 'expires' must be a date (YYYY-MM-DD){timed}")
    if check_ids and item["check"].upper() not in {c.upper() for c in check_ids}:
        raise InputError(f"{where} line {item.line_of('check')}: waiver names unknown check {item['check']!r}")
    return Waiver(
        check_id=item["check"].strip(),
        resource=item["resource"].strip(),
        justification=item["justification"].strip(),
        owner=item["owner"].strip(),
        expires=item["expires"],
        line=line,
    )


def load_waivers(path: Path, check_ids: Collection[str] = ()) -> list[Waiver]:
    where = f"waivers {path}"
    try:
        document = safe_yaml.load_file(path)
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except LocatedError as exc:
        raise InputError(f"{where} line {exc.line}: {exc.message}") from None
    if not isinstance(document, dict) or not isinstance(document.get("waivers"), list):
        raise InputError(f"{where} line 1: expected a top-level 'waivers:' list")
    return [_waiver(item, where, check_ids) for item in document["waivers"]]


def load_baseline(path: Path) -> frozenset[str]:
    where = f"baseline {path}"
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != BASELINE_FORMAT
        or not isinstance(data.get("fingerprints"), list)
    ):
        raise InputError(f"{where}: not an mlwarden baseline (expected format {BASELINE_FORMAT!r} and 'fingerprints')")
    return frozenset(str(fp) for fp in data["fingerprints"])


def write_baseline(result: ScanResult, path: Path) -> int:
    """Accept every current failing finding: later scans fail only on new ones."""
    fingerprints = sorted({f.fingerprint for f in result.findings if f.status is Status.FAIL})
    body = {
        "format": BASELINE_FORMAT,
        "version": 1,
        "generated_at": result.generated_at.isoformat(),
        "fingerprints": fingerprints,
    }
    write_bytes(path, orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    return len(fingerprints)


def apply(
    findings: Iterable[Finding], waivers: Sequence[Waiver], baseline: frozenset[str], today: date
) -> tuple[list[Finding], tuple[WaiverUse, ...]]:
    """Mark waived and baselined findings; report every waiver with its use and expiry."""
    matched = [0] * len(waivers)
    out: list[Finding] = []
    for finding in findings:
        update: dict[str, Any] = {}
        if finding.fingerprint in baseline:
            update["baselined"] = True
        if finding.status is Status.FAIL:
            for index, waiver in enumerate(waivers):
                if waiver.matches(finding):
                    matched[index] += 1
                    if waiver.expires >= today:
                        update["waived_by"] = (
                            f"{waiver.owner} until {waiver.expires.isoformat()}: {waiver.justification}"
                        )
                        break
        out.append(finding.model_copy(update=update) if update else finding)
    uses = tuple(
        WaiverUse(
            check_id=w.check_id,
            resource=w.resource,
            owner=w.owner,
            justification=w.justification,
            expires=w.expires,
            expired=w.expires < today,
            matched=matched[i],
        )
        for i, w in enumerate(waivers)
    )
    return out, uses
