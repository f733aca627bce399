"""The data that flows through a scan: resources in, findings and control results out.

Every model is immutable (frozen) so that each stage of the pipeline is a plain function
of the previous stage's output.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cached_property, partial
from typing import Any, Literal, NamedTuple, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanner.frozen import deep_freeze

SCAN_RESULT_SCHEMA_VERSION = "1.0"
ADVISORY_SOURCES = frozenset({"resource_changes"})
"""Sources whose gaps never make a scan incomplete: they add context (who changed it), not verdicts."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used for --fail-on and sorting."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"


class Resource(BaseModel):
    """One Resource Graph row. `properties` stays raw JSON; read it through `scanner.props`."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    id: str
    name: str = ""
    type: str
    kind: str | None = None
    location: str | None = None
    subscription_id: str | None = Field(default=None, alias="subscriptionId")
    resource_group: str | None = Field(default=None, alias="resourceGroup")
    tags: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    sku: dict[str, Any] | None = None
    properties: Any = None
    source_file: str | None = None
    """Where an IaC resource was declared (a template or plan, relative, forward slashes); None when live."""
    source_line: int | None = None
    """The line where the resource's object starts in `source_file`."""
    source_address: str | None = None
    """The resource's address in its file: a Terraform address, or the template path `resources[2]`."""
    deploy_condition: str | None = None
    """A template resource's `condition` known only at deployment: judged, its findings say so."""

    @field_validator("id", "type")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("tags", "identity", "sku", "properties")
    @classmethod
    def _read_only(cls, value: Any) -> Any:
        """Frozen once here, so no check (or plugin) can change what later checks read. Rows read in
        bulk from a snapshot skip validation (`scanner.resource_rows`) and are frozen by
        `Estate.freeze` before any plugin check runs."""
        return deep_freeze(value)

    # Computed once per resource (the index and every check ask for them); bulk reads fill them in.
    @cached_property
    def type_key(self) -> str:
        return self.type.lower()

    @cached_property
    def id_key(self) -> str:
        return self.id.lower()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose cached keys follow an updated `id` or `type`."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            copied.__dict__.pop("id_key", None)
            copied.__dict__.pop("type_key", None)
        return copied

    def raw(self) -> dict[str, Any]:
        """The row as Resource Graph shapes it, for paths like `properties.x` and `identity.type`."""
        return self.model_dump(by_alias=True, exclude_none=True)


_UNSET: Any = object()
_set_attr = object.__setattr__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
"""A pydantic model's four slots, set through their own descriptors: `object.__setattr__` looks each
name up along the class's MRO first, which costs more than the store (findings and evidence are
made by the hundred thousand)."""


def _fill(model: BaseModel, values: dict[str, Any], fields_set: set[str]) -> None:
    """What pydantic sets on a model it built from already-checked `values`."""
    _set_dict(model, values)
    _set_fields_set(model, fields_set)
    _set_extra(model, None)
    _set_private(model, None)


class Evidence(Frozen):
    """A property path a check read and the value it saw (None when absent)."""

    path: str
    value: Any = None

    def __init__(self, *, path: str, value: Any = _UNSET, **extra: Any) -> None:
        """Checks build these by the hundred thousand: a plain `str` path needs no validation
        (`value` is `Any`), so it is stored directly; anything else goes through pydantic."""
        if type(path) is not str or extra:
            data: dict[str, Any] = {"path": path, **extra}
            if value is not _UNSET:
                data["value"] = value
            super().__init__(**data)
            return
        unset = value is _UNSET
        _fill(self, {"path": path, "value": None if unset else value}, _PATH_SET if unset else _EVIDENCE_SET)


_EVIDENCE_SET = {"path", "value"}
_PATH_SET = {"path"}
"""Shared by every Evidence built on the fast path: pydantic copies a model's set before changing it."""


class Remediation(Frozen):
    text: str
    az_cli: str | None = None
    azure_policy: tuple[str, ...] = ()
    """Built-in Azure Policy definition ids (GUIDs) that enforce or audit the same rule."""


class CheckMeta(Frozen):
    id: str
    title: str
    kinds: tuple[str, ...]
    """Logical resource kinds the check runs on (see `scanner.kinds`)."""
    severity: Severity
    tags: tuple[str, ...]
    pillar: str
    """One of encryption, private-network, identity, secrets, monitoring: the deployment-posture axis."""
    rationale: str
    remediation: Remediation
    references: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    """Collected sources the check reads beyond the resource row (e.g. `ml_computes`, `key_metadata`)."""


class ChangeAttribution(Frozen):
    """The Azure change that most plausibly made a finding fail: who, when, from where, what."""

    time: datetime
    changed_by: str | None = None
    changed_by_type: str | None = None
    client_type: str | None = None
    operation: str | None = None
    property: str | None = None
    previous: Any = None
    new: Any = None
    change_type: str
    """`Create` for a resource created in the window (property, previous and new may then be empty)."""
    correlation_id: str | None = None

    def summary(self) -> str:
        """One line for people: `changed by X at T via Azure Portal: publicNetworkAccess Disabled -> Enabled`."""
        who = self.changed_by or "an unknown principal"
        when = self.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        via = f" via {self.client_type}" if self.client_type else ""
        if self.change_type.lower() == "create" and not self.property:
            return f"created by {who} at {when}{via}"
        what = ""
        if self.property:
            previous = "(none)" if self.previous is None else self.previous
            new = "(none)" if self.new is None else self.new
            what = f": {self.property.removeprefix('properties.')} {previous} -> {new}"
        return f"changed by {who} at {when}{via}{what}"


class Finding(Frozen):
    check_id: str
    resource_id: str
    resource_type: str
    resource_name: str
    subscription_id: str | None = None
    location: str | None = None
    """The resource's Azure region, for residency filters in CSV and compliance reports."""
    status: Status
    severity: Severity
    title: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    remediation: Remediation | None = None
    detail_key: str | None = None
    """Distinguishes several findings of one check on one resource (a key name, an assessment name)."""
    tags: tuple[str, ...] = ()
    pillar: str = ""
    fingerprint: str = ""
    waived_by: str | None = None
    baselined: bool = False
    change: ChangeAttribution | None = None
    """For a failing finding: the change in the window that touched what the check read, or created the resource."""
    source_file: str | None = None
    """For template and plan scans: the file that declares the resource (relative, forward slashes)."""
    source_line: int | None = None
    source_address: str | None = None
    """The resource's Terraform address or template path: a SARIF logical location."""

    @staticmethod
    def make_fingerprint(check_id: str, resource_id: str, detail_key: str | None = None) -> str:
        parts = [check_id.upper(), resource_id.lower()]
        if detail_key:
            parts.append(detail_key.lower())
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """A model from values its builder already checked: what `model_construct` does, minus its
    per-call overhead. `values` must hold every field, in field order, with the types validation
    would give; `fields_set` is shared (pydantic copies a model's set before changing it)."""
    model = cls.__new__(cls)
    _fill(model, values, fields_set)
    return model


def shared_keys(cls: type[BaseModel], defaults: dict[str, Any]) -> dict[str, Any]:
    """A dict of every field of `cls` (None unless in `defaults`) whose copies share one key table:
    CPython keeps an instance dict filled attribute by attribute, in the same order, as a split
    dict, and `dict.copy` keeps it split. For a 22-field finding that is 250 bytes, not 830."""
    model = cls.__new__(cls)
    for name in cls.model_fields:
        _set_attr(model, name, defaults.get(name))
    return dict.copy(model.__dict__)


def fails_gate(finding: Finding, fail_on: Severity | None) -> bool:
    """True when this finding alone makes `--fail-on` exit 1: failing, at or above the threshold,
    neither waived nor baselined. The exit code, JUnit, Markdown and SARIF all ask this one question."""
    return (
        fail_on is not None
        and finding.status is Status.FAIL
        and not finding.waived_by
        and not finding.baselined
        and finding.severity.rank >= fail_on.rank
    )


ControlStatus = Literal["pass", "fail", "attested", "manual", "not_assessed"]
AttestationStatus = Literal["implemented", "partially-implemented", "not-implemented", "not-applicable"]
Day = date
"""Alias so that fields named `date` can still be typed as dates."""


class AttestationEvidence(Frozen):
    """One piece of evidence behind an attestation: a link, or a file with its SHA-256."""

    uri: str | None = None
    file: str | None = None
    sha256: str | None = None
    verified: bool = False
    """True when the file was found beside the attestations file and its digest matched at scan time."""


class Attestation(Frozen):
    """A person's signed-off statement about a control no check can judge (or judges only in part).

    Field names follow the attestations file, so the JSON report carries the entry as written.
    """

    framework: str
    control: str
    status: AttestationStatus
    statement: str
    evidence: tuple[AttestationEvidence, ...] = ()
    attested_by: str
    role: str
    date: Day
    expires: Day
    reference: str = ""
    """Where the entry was read: `<file>:<line>`."""


class ControlResult(Frozen):
    framework_id: str
    control_id: str
    title: str
    status: ControlStatus
    level: str | None = None
    """HIPAA required/addressable flag, when the catalog has one."""
    kind: str | None = None
    strength: str | None = None
    """`direct` or `supporting`: how strongly the mapped checks evidence the control."""
    reason: str = ""
    check_ids: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    """Fingerprints of failing findings behind the control."""
    passing_count: int = 0
    unknown_count: int = 0
    manual_evidence: str | None = None
    attestation: Attestation | None = None
    """The attestation in force for this control; it never turns a failing control into anything else."""
    expired_attestation: Attestation | None = None
    """An attestation that had expired on the scan date: the control went back to its automated status."""


class FrameworkResult(Frozen):
    id: str
    name: str
    version: str
    controls: tuple[ControlResult, ...]

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "attested": 0, "manual": 0, "not_assessed": 0}
        for control in self.controls:
            out[control.status] += 1
        return out


class Gap(Frozen):
    """A part of the scope a source could not read: a coverage gap, never a pass."""

    source: str
    scope: str
    reason: str


class SourceCoverage(Frozen):
    name: str
    collected: bool
    records: int = 0
    gaps: tuple[Gap, ...] = ()
    not_applicable: str | None = None
    """Why this source cannot exist for the input (a template holds no Defender assessments): the checks
    that need it are `not_applicable` with this reason, never a coverage gap."""


class ScanScope(Frozen):
    origin: Literal["demo", "snapshot", "azure", "template", "plan"]
    description: str
    cloud: str = "public"
    subscriptions: tuple[str, ...] = ()
    subscription_names: dict[str, str] = {}
    """Subscription id (lower case) to its display name, from the collected subscription rows."""
    collected_at: datetime | None = None
    tool_version: str = ""


class Timings(Frozen):
    load_seconds: float = 0.0
    check_seconds: float = 0.0
    framework_seconds: float = 0.0
    total_seconds: float = 0.0


class Dependency(Frozen):
    role: str
    """How the deployment uses it: workspace, key-vault, storage, registry, cmk-vault, private-endpoint, ..."""
    resource_id: str
    item: str | None = None
    """The one item of the resource that is used (a CMK's key name): per-item findings on others don't count."""


class PillarVerdict(Frozen):
    pillar: str
    status: Literal["pass", "fail", "unknown"]
    failing: tuple[str, ...] = ()
    """Fingerprints of the failing findings, on the deployment or on any dependency."""
    reasons: tuple[str, ...] = ()
    """One line each, e.g. "not private: its workspace's registry acr-x allows public network access"."""


class DeploymentPosture(Frozen):
    """One ML deployment judged together with everything it depends on."""

    deployment_id: str
    name: str
    kind: str
    subscription_id: str | None = None
    dependencies: tuple[Dependency, ...] = ()
    pillars: tuple[PillarVerdict, ...] = ()


WaiverNotice = Literal["catch-all", "waives-critical", "matches-nothing", "expired"]


class WaiverUse(Frozen):
    """A waiver as applied in this scan: how many failing findings it matched, whether it expired,
    and what a reviewer must be told about it."""

    check_id: str
    resource: str
    owner: str
    justification: str
    expires: date
    expired: bool
    matched: int
    """Failing findings its check and pattern match (expired or not)."""
    line: int | None = None
    """Where it sits in the waivers file."""
    catch_all: bool = False
    """Its pattern is universal (`*`) or matches every resource (two or more) its check evaluated."""
    waived_critical: int = 0
    """Critical failing findings it waives in this scan."""
    notices: tuple[WaiverNotice, ...] = ()
    """Each is announced on stderr and shown by reports: catch-all, waives-critical,
    matches-nothing, expired."""


class BaselineUse(Frozen):
    """The baseline a scan was compared against (`--baseline`). Without one no finding is new or
    unchanged: SARIF's `baselineState` is then left out, as SARIF 2.1.0 (3.27.24) requires."""

    accepted: int
    """Fingerprints the baseline file holds."""
    matched: int
    """Failing findings of this scan it accepts (waived or not)."""
    absent: int
    """Fingerprints no failing finding of this scan has any more: fixed, or the resource gone."""


class ScanResult(Frozen):
    """Everything a report needs; the JSON report is this model's dump."""

    schema_version: str = SCAN_RESULT_SCHEMA_VERSION
    tool_version: str
    generated_at: datetime
    scope: ScanScope
    sources: tuple[SourceCoverage, ...]
    resource_count: int
    resource_counts_by_kind: dict[str, int]
    checks: tuple[CheckMeta, ...]
    findings: tuple[Finding, ...]
    frameworks: tuple[FrameworkResult, ...]
    postures: tuple[DeploymentPosture, ...] = ()
    waivers: tuple[WaiverUse, ...] = ()
    baseline: BaselineUse | None = None
    """None when the scan was compared against no baseline."""
    fail_on: Severity | None = None
    timings: Timings = Timings()

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """Coverage gaps that leave checks unassessed (advisory sources such as change attribution excluded)."""
        return tuple(gap for source in self.sources if source.name not in ADVISORY_SOURCES for gap in source.gaps)

    @property
    def advisory_gaps(self) -> tuple[Gap, ...]:
        """Gaps of sources that never change a verdict or the exit code (who-changed-it attribution)."""
        return tuple(gap for source in self.sources if source.name in ADVISORY_SOURCES for gap in source.gaps)

    def failed(self) -> tuple[Finding, ...]:
        """Unwaived failing findings, in finding order (counted once per result, however many renderers ask)."""
        return _tally(self).failed

    def severity_counts(self) -> dict[str, int]:
        return dict(_tally(self).severities)

    def status_counts(self) -> dict[str, int]:
        return dict(_tally(self).statuses)

    def waived_count(self) -> int:
        """Findings a waiver accepted."""
        return _tally(self).waived


class Tally(NamedTuple):
    failed: tuple[Finding, ...]
    statuses: dict[str, int]
    severities: dict[str, int]
    """Of the unwaived failing findings."""
    waived: int


class TallyBuilder:
    """`Tally` fed one finding at a time, so that a pass over the findings made for another reason
    (the engine's `finding_index`) also counts them, while each finding is in cache."""

    __slots__ = ("failed", "severities", "statuses", "waived")

    def __init__(self) -> None:
        self.statuses = dict.fromkeys(Status, 0)  # StrEnum keys: a status stored as its plain value counts the same
        self.severities = dict.fromkeys(Severity, 0)
        self.failed: list[Finding] = []
        self.waived = 0

    def add(self, finding: Finding) -> None:
        status = finding.status
        self.statuses[status] += 1
        if finding.waived_by:
            self.waived += 1
        elif status == Status.FAIL:
            self.failed.append(finding)
            self.severities[finding.severity] += 1

    def tally(self) -> Tally:
        return Tally(
            tuple(self.failed),
            {status.value: count for status, count in self.statuses.items()},
            {severity.value: count for severity, count in self.severities.items()},
            self.waived,
        )


_TALLIES: dict[int, tuple[weakref.ref[ScanResult], tuple[Finding, ...], Tally]] = {}
"""Per live ScanResult (by id, dropped when it dies): one pass over its findings serves `failed`,
`status_counts` and `severity_counts` for every renderer. Kept beside the model, not in it, so equality,
copies and dumps never see it; a copy with other findings gets its own entry."""


def _tally(result: ScanResult) -> Tally:
    key = id(result)
    entry = _TALLIES.get(key)
    if entry is not None and entry[0]() is result and entry[1] is result.findings:
        return entry[2]
    builder = TallyBuilder()
    for finding in result.findings:
        builder.add(finding)
    return remember_tally(result, builder.tally())


def remember_tally(result: ScanResult, tally: Tally) -> Tally:
    """`tally` as the one of `result`, whose findings (in order) it must count."""
    key = id(result)
    _TALLIES[key] = (weakref.ref(result, partial(_forget, key)), result.findings, tally)
    return tally


def _forget(key: int, _dead: object) -> None:
    _TALLIES.pop(key, None)
