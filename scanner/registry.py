"""Check registration: a check is one decorated function of (resource, estate) -> verdict.

Built-in checks live in the `checks` package; third-party packages add theirs through the
`mlwarden.checks` entry-point group (the entry point names a module to import, whose
decorated functions register themselves, or a callable returning `Check` objects).
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import TYPE_CHECKING, Any

from scanner import sigint, stdout
from scanner.errors import InputError
from scanner.kinds import ALL_KINDS
from scanner.models import CheckMeta, Evidence, Remediation, Resource, Severity, Status
from scanner.textsafe import printable

if TYPE_CHECKING:
    from scanner.estate import Estate

PILLARS = ("encryption", "private-network", "identity", "secrets", "monitoring")

TAGS = frozenset(
    {
        "encryption-at-rest",
        "encryption-in-transit",
        "private-network",
        "managed-identity",
        "local-auth",
        "secrets-in-vault",
        "key-lifecycle",
        "logging",
        "threat-protection",
        "data-residency",
        "access-control",
        "backup-recovery",
        "vulnerability-management",
        "incident-response",
    }
)


@dataclass(frozen=True, slots=True, init=False)
class Verdict:
    """What a check concluded about one resource (or one item on it)."""

    status: Status
    message: str
    evidence: tuple[Evidence, ...] = ()
    severity: Severity | None = None
    """Overrides the check's severity (Defender assessments carry their own)."""
    subject_id: str | None = None
    """The resource the verdict is about, when not the one the check ran on."""
    detail_key: str | None = None
    """Distinguishes several verdicts of one check on one resource."""

    def __init__(
        self,
        status: Status,
        message: str,
        evidence: tuple[Evidence, ...] = (),
        severity: Severity | None = None,
        subject_id: str | None = None,
        detail_key: str | None = None,
    ) -> None:
        """The generated `__init__` of a frozen dataclass, through the slots' own descriptors: its
        `object.__setattr__` per field costs twice as much, and checks make one verdict per finding."""
        _status(self, status)
        _message(self, message)
        _evidence(self, evidence)
        _severity(self, severity)
        _subject_id(self, subject_id)
        _detail_key(self, detail_key)


_status, _message, _evidence, _severity, _subject_id, _detail_key = (
    getattr(Verdict, name).__set__ for name in ("status", "message", "evidence", "severity", "subject_id", "detail_key")
)


def passed(message: str, *evidence: Evidence, **extra: Any) -> Verdict:
    """A passing verdict. These four helpers make nearly every verdict of a scan: `evidence` is a
    tuple already, and a call without keywords passes none on."""
    return Verdict(Status.PASS, message, evidence, **extra) if extra else Verdict(Status.PASS, message, evidence)


def failed(message: str, *evidence: Evidence, **extra: Any) -> Verdict:
    return Verdict(Status.FAIL, message, evidence, **extra) if extra else Verdict(Status.FAIL, message, evidence)


def unknown(message: str, *evidence: Evidence, **extra: Any) -> Verdict:
    """A coverage gap: the data the check needs was not collected or could not be read."""
    return Verdict(Status.UNKNOWN, message, evidence, **extra) if extra else Verdict(Status.UNKNOWN, message, evidence)


def not_applicable(message: str, *evidence: Evidence, **extra: Any) -> Verdict:
    return (
        Verdict(Status.NOT_APPLICABLE, message, evidence, **extra)
        if extra
        else Verdict(Status.NOT_APPLICABLE, message, evidence)
    )


CheckResult = Verdict | Iterable[Verdict]
CheckFunc = Callable[[Resource, "Estate"], CheckResult]


@dataclass(frozen=True, slots=True)
class Check:
    meta: CheckMeta
    func: CheckFunc
    plugin: str | None = None
    """The entry point that brought a third-party check in; None for built-ins."""


_REGISTRY: dict[str, Check] = {}


def check(
    *,
    id: str,
    title: str,
    kinds: Sequence[str],
    severity: str,
    tags: Sequence[str],
    pillar: str,
    rationale: str,
    remediation: str,
    az_cli: str | None = None,
    azure_policy: Sequence[str] = (),
    references: Sequence[str] = (),
    needs: Sequence[str] = (),
) -> Callable[[CheckFunc], CheckFunc]:
    """Register the decorated function as a check. Metadata is validated at import time."""

    def register(func: CheckFunc) -> CheckFunc:
        meta = CheckMeta(
            id=id,
            title=title,
            kinds=tuple(kinds),
            severity=Severity(severity),
            tags=tuple(tags),
            pillar=pillar,
            rationale=rationale,
            remediation=Remediation(text=remediation, az_cli=az_cli, azure_policy=tuple(azure_policy)),
            references=tuple(references),
            needs=tuple(needs),
        )
        add(Check(meta, func))
        return func

    return register


def add(item: Check) -> None:
    meta = item.meta
    problems = []
    if meta.id in _REGISTRY and _REGISTRY[meta.id].func is not item.func:
        problems.append("duplicate id")
    if unknown_kinds := set(meta.kinds) - set(ALL_KINDS):
        problems.append(f"unknown kinds {sorted(unknown_kinds)}")
    if unknown_tags := set(meta.tags) - TAGS:
        problems.append(f"unknown tags {sorted(unknown_tags)}")
    if meta.pillar not in PILLARS:
        problems.append(f"unknown pillar {meta.pillar!r}")
    if problems:
        raise InputError(f"check {meta.id}: " + "; ".join(problems))
    _REGISTRY[meta.id] = item


def _import_package(package_name: str) -> None:
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package_name}.{module.name}")


def load_checks(*, plugins: bool = True) -> dict[str, Check]:
    """All registered checks: the built-in `checks` package plus entry-point plugins."""
    _import_package("checks")
    if plugins:
        for entry in metadata.entry_points(group="mlwarden.checks"):
            if entry.value != "checks":
                _load_plugin(entry)
    return dict(_REGISTRY)


def _load_plugin(entry: metadata.EntryPoint) -> None:
    """Import one plugin and mark its checks as plugins. A plugin that fails in any way (even
    with SystemExit) is named in one line; its exception text is not shown (it could quote data)."""
    before = dict(_REGISTRY)
    label = printable(f"check plugin {entry.name!r} ({entry.value})")
    try:
        with sigint.watch() as interrupted, stdout.to_stderr():
            loaded = entry.load()
            items = list(loaded()) if callable(loaded) else []
            for item in items:
                if not isinstance(item, Check):
                    raise InputError(f"returned {type(item).__name__}, not a Check")
                add(item)
    except InputError as exc:
        raise InputError(f"{label} is invalid: {printable(exc)}") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and interrupted():
            raise
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        raise InputError(f"{label} failed to load: {printable(type(exc).__name__)}{printable(where)}") from None
    for check_id, item in _REGISTRY.items():
        if before.get(check_id) is not item:
            _REGISTRY[check_id] = replace(item, plugin=entry.name)
