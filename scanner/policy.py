"""Waivers and baselines: accepted risk, stated and bounded.

A waiver names a check, a resource pattern (glob over the ARM id, case-insensitive), a
justification, an owner and an expiry date. An expired waiver stops waiving and says so. A
baseline is the set of finding fingerprints already accepted; `--fail-on` then counts only
findings that are new since the baseline.

Waivers are governed, not just applied: a catch-all (a pattern like `*`, or one matching every
resource its check evaluated), a waiver that waives a critical finding, one that matches no
failing finding, and an expired one are each announced on stderr and recorded on `WaiverUse`
(`notices`), so every report can show them.

    waivers:
      - check: MLW-ST-07
        resource: /subscriptions/*/resourceGroups/rg-research/*
        justification: Research datastores need shared keys until the SDK upgrade (JIRA-123).
        owner: data-platform@contoso.example
        expires: 2027-03-31
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from scanner import safe_yaml
from scanner.atomic import write_bytes
from scanner.bulk import collector_paused
from scanner.errors import InputError
from scanner.json_keys import duplicate_key
from scanner.models import Finding, ScanResult, Severity, Status, WaiverNotice, WaiverUse
from scanner.safe_yaml import LocatedDict, LocatedError
from scanner.textsafe import printable

BASELINE_FORMAT = "mlwarden-baseline"
BASELINE_VERSION = 1
MAX_BASELINE_BYTES = 256 << 20
"""About 3 million fingerprints: far beyond any estate's failing findings."""
_BASELINE_KEYS = {"format", "version", "generated_at", "fingerprints"}
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
        return finding.check_id.upper() == self.check_id.upper() and self.matches_id(finding.resource_id)

    def matches_id(self, resource_id: str) -> bool:
        return fnmatch.fnmatchcase(resource_id.lower(), self.resource.lower())


def _waiver(item: Any, where: str, check_ids: Collection[str], list_line: int, number: int) -> Waiver:
    if not isinstance(item, LocatedDict):
        raise InputError(f"{where} line {list_line}: waiver {number} of 'waivers:' must be a mapping")
    line = item.line
    missing = sorted(_WAIVER_KEYS - set(item))
    extra = sorted(set(item) - _WAIVER_KEYS)
    if missing or extra:
        what = (
            f"missing {', '.join(missing)}"
            if missing
            else f"unknown key(s) {', '.join(safe_yaml.key_name(key, quote=False) for key in extra)}"
        )
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
    if not isinstance(document, LocatedDict) or not isinstance(document.get("waivers"), list):
        raise InputError(f"{where} line 1: expected a top-level 'waivers:' list")
    for key in document:
        if key != "waivers":  # a misspelt second `waivers:` would otherwise be dropped unseen
            line = document.line_of(key)
            raise InputError(
                f"{where} line {line}: unknown top-level key {safe_yaml.key_name(key)} "
                "(the file holds one 'waivers:' list)"
            )
    line = document.line_of("waivers")
    waivers = [_waiver(item, where, check_ids, line, index) for index, item in enumerate(document["waivers"], 1)]
    first: dict[tuple[str, str], Waiver] = {}
    for waiver in waivers:
        # Two waivers for one check and pattern: the first took every finding, and the second was
        # announced as matching nothing; whose owner and expiry count was the file's order.
        same = (waiver.check_id.upper(), waiver.resource.lower())
        if (earlier := first.setdefault(same, waiver)) is not waiver:
            raise InputError(
                f"{where} line {waiver.line}: a second waiver for {waiver.check_id} on the same resource pattern "
                f"(first at line {earlier.line}); keep one, with the owner and expiry that count"
            )
    return waivers


def load_baseline(path: Path) -> frozenset[str]:
    """The accepted fingerprints. The file is read bounded (`--baseline /dev/zero` must not
    fill memory) and exactly: an unknown key, a newer version or a fingerprint that is not text
    is refused, because a baseline silently accepting less (or more) than meant moves the gate."""
    where = f"baseline {path}"
    try:
        with path.open("rb") as handle:
            body = handle.read(MAX_BASELINE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if len(body) > MAX_BASELINE_BYTES:
        raise InputError(f"{where}: larger than {MAX_BASELINE_BYTES >> 20} MiB")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != BASELINE_FORMAT
        or not isinstance(data.get("fingerprints"), list)
    ):
        raise InputError(f"{where}: not an mlwarden baseline (expected format {BASELINE_FORMAT!r} and 'fingerprints')")
    if (twice := duplicate_key(body)) is not None:
        raise InputError(f"{where}: the key {twice!r} appears twice in one object")
    if extra := sorted(set(data) - _BASELINE_KEYS):
        known = ", ".join(sorted(_BASELINE_KEYS))
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, extra))} (a baseline holds {known})")
    version = data.get("version", BASELINE_VERSION)
    if type(version) is not int or version != BASELINE_VERSION:
        raise InputError(
            f"{where}: baseline version {version!r} is not supported (this mlwarden reads {BASELINE_VERSION})"
        )
    fingerprints = data["fingerprints"]
    for index, fingerprint in enumerate(fingerprints):
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            raise InputError(f"{where}: fingerprints[{index}] must be a non-empty string, not {_kind(fingerprint)}")
    return frozenset(fingerprints)


def _kind(value: object) -> str:
    return "an empty string" if value == "" else f"{type(value).__name__}"


def render_baseline(result: ScanResult) -> tuple[bytes, int]:
    """The baseline file accepting every current failing finding, and how many it accepts."""
    fingerprints = sorted({f.fingerprint for f in result.findings if f.status is Status.FAIL})
    body = {
        "format": BASELINE_FORMAT,
        "version": BASELINE_VERSION,
        "generated_at": result.generated_at.isoformat(),
        "fingerprints": fingerprints,
    }
    return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n", len(fingerprints)


def write_baseline(result: ScanResult, path: Path) -> int:
    """Accept every current failing finding: later scans fail only on new ones."""
    data, count = render_baseline(result)
    write_bytes(path, data)
    return count


def _universal(pattern: str) -> bool:
    """`*`, `/*`, `**/*`...: a pattern that matches any ARM id whatever the estate."""
    return bool(pattern) and not pattern.strip("*/")


def _catch_all(waiver: Waiver, evaluated: Sequence[str]) -> bool:
    """The pattern is universal, or it has a wildcard and matches every resource (at least two)
    that its check evaluated in this scan: it waives the check, not an exception to it."""
    if _universal(waiver.resource):
        return True
    if not any(c in waiver.resource for c in "*?[") or len(evaluated) < 2:
        return False
    return all(waiver.matches_id(resource_id) for resource_id in evaluated)


def _pattern(waiver: Waiver) -> Callable[[str], object]:
    """The waiver's glob compiled once, exactly as `fnmatch.fnmatchcase` compiles it."""
    return re.compile(fnmatch.translate(waiver.resource.lower())).match


@collector_paused()  # builds many small acyclic objects beside every finding: no collector walks
def apply(
    findings: Iterable[Finding], waivers: Sequence[Waiver], baseline: frozenset[str], today: date
) -> tuple[list[Finding], tuple[WaiverUse, ...]]:
    """Mark waived and baselined findings; report every waiver with its use, expiry and the
    governance notices a reviewer must see (catch-all, waives a critical, matches nothing).
    Only findings of a waived check are looked at twice: the rest cost one baseline lookup."""
    matched = [0] * len(waivers)
    critical = [0] * len(waivers)
    by_check: dict[str, list[tuple[int, Waiver, Callable[[str], object]]]] = defaultdict(list)
    for index, waiver in enumerate(waivers):
        by_check[waiver.check_id.upper()].append((index, waiver, _pattern(waiver)))
    items = findings if isinstance(findings, list) else list(findings)
    updates: dict[int, dict[str, Any]] = {}
    if baseline:
        for index in [i for i, finding in enumerate(items) if finding.fingerprint in baseline]:
            updates[index] = {"baselined": True}
    evaluated: dict[str, dict[str, str]] = defaultdict(dict)
    if by_check:
        spelled = {check_id: check_id.upper() for check_id in {finding.check_id for finding in items}}
        waived = {check_id for check_id, key in spelled.items() if key in by_check}
        lowered: dict[str, str] = {}  # findings of one resource share its id string: lower-case it once
        for index in [i for i, finding in enumerate(items) if finding.check_id in waived]:
            finding = items[index]
            check_key, resource_id = spelled[finding.check_id], finding.resource_id
            resource_key = lowered.get(resource_id)
            if resource_key is None:
                resource_key = lowered[resource_id] = resource_id.lower()
            evaluated[check_key].setdefault(resource_key, resource_id)
            if finding.status != Status.FAIL:
                continue
            for number, waiver, match in by_check[check_key]:
                if match(resource_key) is not None:
                    matched[number] += 1
                    if waiver.expires >= today:
                        critical[number] += finding.severity == Severity.CRITICAL
                        updates.setdefault(index, {})["waived_by"] = (
                            f"{waiver.owner} until {waiver.expires.isoformat()}: {waiver.justification}"
                        )
                        break
    out = list(items)
    for index, update in updates.items():
        out[index] = out[index].model_copy(update=update)
    uses = []
    for i, w in enumerate(waivers):
        catch_all = _catch_all(w, list(evaluated.get(w.check_id.upper(), {}).values()))
        expired = w.expires < today
        notices: list[WaiverNotice] = []
        for notice, applies in (
            ("catch-all", catch_all),
            ("waives-critical", critical[i] > 0),
            ("matches-nothing", matched[i] == 0),
            ("expired", expired),
        ):
            if applies:
                notices.append(notice)  # type: ignore[arg-type]
        uses.append(
            WaiverUse(
                check_id=w.check_id,
                resource=w.resource,
                owner=w.owner,
                justification=w.justification,
                expires=w.expires,
                expired=expired,
                matched=matched[i],
                line=w.line,
                catch_all=catch_all,
                waived_critical=critical[i],
                notices=tuple(notices),
            )
        )
    return out, tuple(uses)


def announcements(uses: Iterable[WaiverUse]) -> list[str]:
    """One warning line per notice, naming the waiver, its owner and its expiry (estate and
    file text made printable: a waiver file is as untrusted as the estate)."""
    lines: list[str] = []
    for use in uses:
        who = printable(f"waiver for {use.check_id} on {use.resource} (owner {use.owner}, expires {use.expires})")
        said = {
            "catch-all": f"{who} matches every resource its check evaluated: it waives the check, not an exception",
            "waives-critical": f"{who} waives {use.waived_critical} critical finding(s)",
            "matches-nothing": f"{who} matches no failing finding: remove it or fix its pattern",
            "expired": f"{who} expired {use.expires} and no longer applies ({use.matched} finding(s))",
        }
        lines.extend(f"mlwarden: warning: {said[notice]}" for notice in use.notices)
    return lines
