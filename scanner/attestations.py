"""Attestations: what a person vouches for about controls no check can judge.

    attestations:
      - framework: hipaa-security-rule
        control: "164.308(a)(1)(ii)(A)"
        status: implemented          # implemented | partially-implemented | not-implemented | not-applicable
        statement: The 2026 risk analysis covers every system that holds ePHI.
        evidence:
          - uri: https://sharepoint.example/security/risk-analysis-2026.pdf
          - file: evidence/risk-analysis-2026.pdf   # relative to this file
            sha256: 9f2c...
        attested_by: Dana Reyes
        role: Security Officer
        date: 2026-11-02
        expires: 2027-11-02

Every problem is one `InputError` naming the file and line, because the file is hand-written by
auditors and owners who never read our source. A listed evidence file that can be found next to
the attestations file must match its SHA-256, so an attestation cannot silently point at a
document that changed after sign-off.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, get_args
from urllib.parse import urlsplit

import yaml

from frameworks.catalog import Framework
from scanner import files, safe_yaml
from scanner.errors import InputError
from scanner.models import Attestation, AttestationEvidence, AttestationStatus
from scanner.safe_yaml import LocatedDict, LocatedError

STATUSES: tuple[str, ...] = get_args(AttestationStatus)
KEYS = ("framework", "control", "status", "statement", "evidence", "attested_by", "role", "date", "expires")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
Key = tuple[str, str]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _suggest(word: str, choices: Collection[str]) -> str:
    """A hint for a typo or a shortened id (`hipaa` for `hipaa-security-rule`)."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1) or [c for c in options if c.startswith(word)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Reader:
    def __init__(self, path: Path, catalog: Mapping[str, Framework]) -> None:
        self.path = path
        self.catalog = catalog
        self.controls = {fw_id: {c.id for c in fw.controls} for fw_id, fw in catalog.items()}

    def fail(self, line: int, message: str) -> NoReturn:
        raise InputError(f"attestations {self.path} line {line}: {_one_line(message)}")

    def text(self, entry: LocatedDict, key: str) -> str:
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(entry.line_of(key), f"{key!r} must be a non-empty string")
        return value.strip()

    def day(self, entry: LocatedDict, key: str) -> date:
        value = entry[key]
        if not isinstance(value, date) or not safe_yaml.is_date(value):  # a timestamp with a time is not a date
            got = f"a date and time, {value.isoformat(sep=' ')}" if isinstance(value, datetime) else repr(value)
            self.fail(entry.line_of(key), f"{key!r} must be a date written YYYY-MM-DD (got {got})")
        return value

    def entry(self, item: Any, line: int) -> Attestation:
        if not isinstance(item, LocatedDict):
            self.fail(line, "each attestation must be a mapping with keys " + ", ".join(KEYS))
        for key in item:
            if key not in KEYS:
                self.fail(item.line_of(key), f"unknown key {safe_yaml.key_name(key)}{_suggest(key, KEYS)}")
        missing = [key for key in KEYS if key not in item]
        if missing:
            self.fail(item.line, "attestation is missing " + ", ".join(repr(k) for k in missing))
        framework, control = self.text(item, "framework"), self.text(item, "control")
        if framework not in self.catalog:
            hint = _suggest(framework, self.catalog)
            self.fail(item.line_of("framework"), f"unknown framework {framework!r}{hint}")
        if control not in self.controls[framework]:
            hint = _suggest(control, self.controls[framework])
            self.fail(item.line_of("control"), f"framework {framework!r} has no control {control!r}{hint}")
        status = self.text(item, "status")
        if status not in STATUSES:
            self.fail(item.line_of("status"), f"status {status!r} is not one of {', '.join(STATUSES)}")
        statement = self.text(item, "statement")
        evidence = self.evidence(item, status)
        attested_by, role = self.text(item, "attested_by"), self.text(item, "role")
        signed, expires = self.day(item, "date"), self.day(item, "expires")
        if expires < signed:
            self.fail(item.line_of("expires"), f"expires {expires} is before the attestation date {signed}")
        return Attestation(
            framework=framework,
            control=control,
            status=status,  # type: ignore[arg-type]
            statement=statement,
            evidence=evidence,
            attested_by=attested_by,
            role=role,
            date=signed,
            expires=expires,
            reference=f"{self.path.name}:{item.line}",
        )

    def evidence(self, entry: LocatedDict, status: str) -> tuple[AttestationEvidence, ...]:
        items = entry["evidence"]
        line = entry.line_of("evidence")
        if items is None:
            items = []
        if not isinstance(items, list):
            self.fail(line, "'evidence' must be a list of {uri: ...} or {file: ..., sha256: ...}")
        if not items and status != "not-applicable":
            self.fail(line, "'evidence' must list at least one {uri: ...} or {file: ..., sha256: ...}")
        return tuple(self.evidence_item(item, line) for item in items)

    def evidence_item(self, item: Any, line: int) -> AttestationEvidence:
        if not isinstance(item, LocatedDict) or set(item) not in ({"uri"}, {"file", "sha256"}):
            where = item.line if isinstance(item, LocatedDict) else line
            self.fail(where, "each evidence item must be {uri: ...} or {file: ..., sha256: ...}")
        if "uri" in item:
            uri = self.text(item, "uri")
            parts = urlsplit(uri)
            if not parts.scheme or not (parts.netloc or parts.path):
                self.fail(item.line_of("uri"), f"evidence uri {uri!r} is not an absolute URI (https://...)")
            return AttestationEvidence(uri=uri)
        name = self.text(item, "file")
        digest = item["sha256"]
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest.strip()):
            self.fail(item.line_of("sha256"), f"sha256 of {name!r} must be 64 hexadecimal characters (quote it)")
        digest = digest.strip().lower()
        target = Path(name) if Path(name).is_absolute() else self.path.parent / name
        if (why := files.problem(target)) is not None:  # /proc/self/environ was hashed, a FIFO silently not
            self.fail(item.line_of("file"), f"evidence file {name!r}: {why}")
        if not target.is_file():
            return AttestationEvidence(file=name, sha256=digest)
        actual = _sha256(target, lambda exc: self.fail(item.line_of("file"), f"evidence file {name!r}: {exc}"))
        if actual != digest:
            self.fail(item.line_of("sha256"), f"evidence file {name!r} does not match its sha256 (it is {actual})")
        return AttestationEvidence(file=name, sha256=digest, verified=True)


def _sha256(path: Path, on_error: Any) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        on_error(exc.strerror or exc)
    return digest.hexdigest()


def _parse(path: Path) -> Any:
    """The bounded project loader: size, UTF-8, aliases and depth are refused before anything is built."""
    where = f"attestations {path}"
    try:
        return safe_yaml.load_file(path)
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except LocatedError as exc:
        raise InputError(f"{where} line {exc.line}: {exc.message}") from None


def load(path: Path, catalog: Mapping[str, Framework]) -> dict[Key, Attestation]:
    """Every attestation in the file keyed by (framework id, control id); `catalog` is every known framework."""
    reader = _Reader(path, catalog)
    document = _parse(path)
    if not isinstance(document, LocatedDict) or set(document) != {"attestations"}:
        reader.fail(1, "expected one top-level key 'attestations:' holding a list")
    items = document["attestations"]
    if not isinstance(items, list):
        reader.fail(document.line_of("attestations"), "'attestations' must be a list of entries")
    out: dict[Key, Attestation] = {}
    lines: dict[Key, int] = {}
    for item in items:
        line = item.line if isinstance(item, LocatedDict) else document.line_of("attestations")
        attestation = reader.entry(item, line)
        key = (attestation.framework, attestation.control)
        if key in out:
            reader.fail(line, f"second attestation for {key[0]} {key[1]} (first at line {lines[key]})")
        out[key], lines[key] = attestation, line
    return out


def manual_controls(framework: Framework) -> list[Any]:
    """Controls nothing automated maps to: the ones only an attestation can close."""
    return [control for control in framework.controls if not control.mappings]


def template(framework: Framework, today: date, tool_version: str) -> str:
    """A file in the accepted shape, one entry per manual control; blank fields refuse to load until filled."""
    expires = today + timedelta(days=365)
    lines = [
        f"# Attestations for {_one_line(framework.name)} ({framework.id}, {_one_line(framework.version)}),",
        f"# generated by mlwarden {tool_version} on {today.isoformat()}.",
        "# Fill in each control you can vouch for and delete the entries you cannot; blank fields refuse to load.",
        "# status: " + " | ".join(STATUSES),
        "# evidence: a list of {uri: https://...} or {file: path relative to this file, sha256: <hex digest>};",
        "#   a file found next to this one must match its sha256 when the scan runs.",
        "# Dates are YYYY-MM-DD; an attestation past its expiry date no longer counts.",
        "attestations:",
    ]
    controls = manual_controls(framework)
    if not controls:
        lines[-1] = "attestations: []"
    for control in controls:
        entry = {
            "framework": framework.id,
            "control": control.id,
            "status": "not-implemented",
            "statement": "",
            "evidence": [{"uri": ""}],
            "attested_by": "",
            "role": "",
            "date": today,
            "expires": expires,
        }
        body = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=1000)
        level = f" [{control.level}]" if control.level else ""
        lines.append(f"  # {_one_line(control.id)} {_one_line(control.title)}{level}")
        if control.manual_evidence:
            lines.append(f"  # Evidence requested: {_one_line(control.manual_evidence)}")
        lines.extend("  " + row for row in body.rstrip("\n").split("\n"))
    return "\n".join(lines) + "\n"
