"""Run every check over the estate in one pass, checks indexed by resource kind, each call isolated.

What a check does can only ever cost its own findings:
- anything it raises (`SystemExit`, `KeyboardInterrupt`, any `BaseException`) becomes an `error`
  finding naming the exception type and where it was raised, never its text (it could quote data);
- an invalid verdict (wrong type, unknown status, non-serialisable evidence) becomes `error`;
- a call that runs past the time limit becomes `error`, and that check is not called again in
  this scan (its remaining resources get `error` too), so one hang costs one time limit;
- plugin checks see the estate through a read-only facade, and every resource is deeply frozen.

Calls run on one worker thread while the calling thread supervises. A call past its limit gets
a `CheckTimeout` raised into it and is abandoned: a fresh worker carries on with the next call,
so even a check stuck in C code or swallowing the interruption cannot stop the scan (it keeps
burning CPU in the background until the process exits). A real Ctrl-C arrives on the calling
thread and stops the scan; a check raising `KeyboardInterrupt` only raises it on the worker.

A check that needs a source the collection did not read (or read with a gap covering the
resource) becomes `unknown`, a coverage gap, without being called.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import orjson

from scanner.bulk import collector_paused
from scanner.estate import Estate
from scanner.estate_view import ReadOnlyEstate
from scanner.finding_index import FindingIndex
from scanner.inventory import DEFENDER_ASSESSMENTS, DEFENDER_PLANS, RESOURCES, SECURITY_CONTACTS
from scanner.models import Evidence, Finding, Gap, Resource, Severity, Status, shared_keys, trusted
from scanner.props import focus
from scanner.registry import Check, Verdict, unknown
from scanner.textsafe import printable
from scanner.unevaluated import deploy_condition, undetermined

if TYPE_CHECKING:
    from scanner.shards import Aside, Stepwise

T = TypeVar("T")

DEFAULT_CHECK_TIMEOUT = 30.0
"""Seconds one call of one check (one resource) may take."""
MAX_VERDICTS = 100_000
"""Verdicts one call may return: an endless generator is an error, not an out-of-memory."""

_ACTIONABLE = frozenset({Status.FAIL, Status.ERROR, Status.UNKNOWN})


class CheckTimeout(BaseException):
    """Raised into a check that ran past its time limit (BaseException: `except Exception` cannot eat it)."""


def index_by_kind(checks: Iterable[Check]) -> dict[str, list[Check]]:
    by_kind: dict[str, list[Check]] = defaultdict(list)
    for item in sorted(checks, key=lambda c: c.meta.id):
        for kind in item.meta.kinds:
            by_kind[kind].append(item)
    return by_kind


def _error(message: str) -> list[Verdict]:
    return [Verdict(Status.ERROR, message)]


def _raised(exc: BaseException) -> list[Verdict]:
    frames = traceback.extract_tb(exc.__traceback__)
    # Only the exception type and where it was raised: its message could quote data.
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return _error(printable(f"check raised {type(exc).__name__}{where}"))


def _valid(verdict: Any, plugin: bool) -> Verdict | str:
    """The verdict, normalised, or what is wrong with it."""
    if not isinstance(verdict, Verdict):
        return f"check returned {type(verdict).__name__}, not a Verdict"
    try:
        status = Status(verdict.status)
        severity = None if verdict.severity is None else Severity(verdict.severity)
    except (ValueError, TypeError):
        return "check returned a verdict with an invalid status or severity"
    if not isinstance(verdict.message, str):
        return "check returned a verdict whose message is not text"
    for optional in (verdict.subject_id, verdict.detail_key):
        if optional is not None and not isinstance(optional, str):
            return "check returned a verdict whose subject_id or detail_key is not text"
    evidence = verdict.evidence
    if not isinstance(evidence, tuple | list) or not all(isinstance(e, Evidence) for e in evidence):
        return "check returned evidence that is not a sequence of Evidence"
    if plugin:
        try:
            orjson.dumps([e.model_dump(mode="json") for e in evidence])
        except Exception:  # pydantic and orjson raise several types for unserialisable values
            return "check returned evidence that cannot be serialised to JSON"
    if status is verdict.status and severity is verdict.severity and isinstance(evidence, tuple):
        return verdict
    return Verdict(status, verdict.message, tuple(evidence), severity, verdict.subject_id, verdict.detail_key)


def _plain(verdict: Any) -> bool:
    """A well-formed verdict of exact types (what built-in checks return): nothing to normalise."""
    if type(verdict) is not Verdict or type(verdict.status) is not Status or type(verdict.message) is not str:
        return False
    severity, subject, detail, evidence = verdict.severity, verdict.subject_id, verdict.detail_key, verdict.evidence
    if severity is not None and type(severity) is not Severity:
        return False
    if (subject is not None and type(subject) is not str) or (detail is not None and type(detail) is not str):
        return False
    return type(evidence) is tuple and _EVIDENCE_ONLY.issuperset(map(type, evidence))


_EVIDENCE_ONLY = frozenset({Evidence})
_DEFENDER = frozenset({DEFENDER_ASSESSMENTS, DEFENDER_PLANS, SECURITY_CONTACTS})
"""Sources holding Defender's own verdicts on a resource: they do not rest on its record."""


class _Plan:
    """One check's constants for a scan: what each call would otherwise look up again (sources
    that cannot apply, sources collected with gaps, the finding's check fields)."""

    __slots__ = (
        "absent",
        "func",
        "gapped",
        "id",
        "index",
        "item",
        "plugin",
        "prefix",
        "remediation",
        "template",
        "unread",
    )

    def __init__(self, item: Check, estate: Estate, index: int = -1) -> None:
        meta = item.meta
        self.item = item
        self.index = index
        """The check's place in the scan's mapping of checks (how a shard's rows name it)."""
        self.id = meta.id
        self.func = item.func
        self.plugin = item.plugin is not None
        self.remediation = meta.remediation
        self.prefix = meta.id.upper() + "|"
        gapped: list[str] = []
        self.absent: str | None = None
        """Why a needed source cannot exist (every call is not applicable once the earlier sources had no gap)."""
        for source in meta.needs:
            self.absent = estate.not_applicable(source)
            if self.absent is not None:
                break
            coverage = estate.coverage.get(source)
            if coverage is None or not coverage.collected or coverage.gaps:
                gapped.append(source)  # only these can have a gap covering a resource
        self.gapped = tuple(gapped)
        self.unread = {} if _DEFENDER.intersection(meta.needs) else unread_resources(estate)
        """Resources whose own record could not be read: a check judging it is a coverage gap (one
        reading Defender's verdicts on the resource is not)."""
        template = FINDING_VALUES.copy()
        template["check_id"] = meta.id
        template["severity"] = meta.severity
        template["title"] = meta.title
        template["tags"] = meta.tags
        template["pillar"] = meta.pillar
        self.template = template
        """The finding's values before the resource's and the verdict's: copies share its key table."""


def _verdicts(item: Check, resource: Resource, estate: Estate, view: Estate | None = None) -> list[Verdict]:
    """The checked verdicts of one call; `view` is what a plugin sees (default: a read-only facade)."""
    return _call(_Plan(item, estate), resource, estate, view)


def unread_resources(estate: Estate) -> dict[str, Gap]:
    """Lower-cased id -> gap, for each resource whose `resources` gap names that resource itself: a
    row that came without its properties and that ARM's GET could not read either. Judged, every
    property would read as absent (as the service default), so a check would pass or fail on nothing.
    Gaps of a wider scope (a subscription's partial page) leave the rows that did arrive judged."""
    coverage = estate.coverage.get(RESOURCES)
    if coverage is None or not coverage.gaps:
        return {}
    return {gap.scope.lower(): gap for gap in coverage.gaps if gap.scope.lower() in estate.by_id}


def _call(plan: _Plan, resource: Resource, estate: Estate, view: Estate | None) -> list[Verdict]:
    """`_verdicts` with the check's constants worked out once per scan."""
    if plan.unread:
        unread = plan.unread.get(resource.id_key)
        if unread is not None:
            return [unknown(f"coverage gap: {unread.reason}")]
    for source in plan.gapped:
        gap = estate.gap(source, resource.id)
        if gap is not None:
            return [unknown(f"coverage gap: {gap.reason}")]
    if plan.absent is not None:
        return [Verdict(Status.NOT_APPLICABLE, plan.absent)]
    plugin = plan.plugin
    if not plugin:
        view = estate
    else:
        estate.freeze()  # a no-op once done: run_checks freezes before any plugin runs
        if view is None:
            view = cast(Estate, ReadOnlyEstate(estate))
    try:
        result = plan.func(resource, view)
        if type(result) is Verdict and not plugin and _plain(result) and not resource.source_file:
            return [result]  # nearly every call of a built-in check: nothing to check further
        if isinstance(result, Verdict):
            raw: list[Any] = [result]
        elif isinstance(result, Iterable) and not isinstance(result, str | bytes | Mapping):
            raw = list(itertools.islice(result, MAX_VERDICTS + 1))
        else:
            return _error(f"check returned {type(result).__name__}, not a Verdict")
    except CheckTimeout:
        raise
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a check too
        return _raised(exc)
    if len(raw) > MAX_VERDICTS:
        return _error(f"check returned more than {MAX_VERDICTS} verdicts")
    if not raw:
        return [Verdict(Status.NOT_APPLICABLE, "nothing to evaluate on this resource")]
    if plugin or not all(map(_plain, raw)):
        verdicts: list[Verdict] = []
        for verdict in raw:
            checked = verdict if not plugin and _plain(verdict) else _valid(verdict, plugin)
            if isinstance(checked, str):
                return _error(checked)
            verdicts.append(checked)
        raw = verdicts
    return [undetermined(v, deploy_condition(resource, v, estate)) for v in raw] if resource.source_file else raw


FINDING_SET = set(Finding.model_fields) - {"waived_by", "baselined", "change"}
"""The fields a new finding sets (later stages add waivers, baselines and changes); one shared set."""


def _finding(item: Check, resource: Resource, estate: Estate, verdict: Verdict) -> Finding:
    """The finding of one verdict (see `_make`)."""
    return _of_verdict(_Plan(item, estate), resource, _part(resource), estate, verdict)


def _of_verdict(plan: _Plan, resource: Resource, part: dict[str, Any], estate: Estate, v: Verdict) -> Finding:
    """`_make` with a verdict's fields (shard rows carry the fields without the verdict)."""
    return _make(plan, resource, part, estate, v.status, v.message, v.evidence, v.severity, v.subject_id, v.detail_key)


def _part(resource: Resource) -> dict[str, Any]:
    """A resource's values in every finding about it (made once per resource, not per finding)."""
    return {
        "resource_id": resource.id,
        "resource_type": resource.type_key,
        "resource_name": resource.name,
        "subscription_id": resource.subscription_id,
        "location": resource.location,
        "source_file": resource.source_file,
        "source_line": resource.source_line,
        "source_address": resource.source_address,
    }


def _make(
    plan: _Plan,
    resource: Resource,
    part: dict[str, Any],
    estate: Estate,
    status: Status,
    message: str,
    evidence: tuple[Evidence, ...],
    severity: Severity | None,
    subject_id: str | None,
    detail_key: str | None,
) -> Finding:
    """The finding of one verdict (its fields), built without re-validation: every value comes
    from a validated `Resource` or `CheckMeta` or from a verdict `_valid` checked, so pydantic
    would only copy what is already right. The values go into a copy of a key-sharing dict (a
    third of the memory of a fresh 22-key dict)."""
    values = plan.template.copy()
    if subject_id:
        subject = estate.get(subject_id)
        if subject:
            values.update(_part(subject))
        else:
            values.update(part)
            values["resource_id"] = subject_id
            values["resource_type"] = "unknown"
            values["resource_name"] = subject_id.rsplit("/", 1)[-1]
            values["location"] = None
        subject_key = subject_id.lower()
    else:
        values.update(part)
        subject_key = resource.id_key
    values["status"] = status
    if severity:
        values["severity"] = severity
    values["message"] = message
    values["evidence"] = evidence
    # Remediation is for what needs fixing; passes stay small in 100k-resource reports.
    if status in _ACTIONABLE:
        values["remediation"] = plan.remediation
    if detail_key is not None:
        values["detail_key"] = detail_key
        subject_key += "|" + detail_key.lower() if detail_key else ""
    values["fingerprint"] = sha256((plan.prefix + subject_key).encode()).hexdigest()[:32]
    return trusted(Finding, values, FINDING_SET)


FINDING_VALUES = shared_keys(Finding, {"tags": (), "pillar": "", "fingerprint": "", "baselined": False})
"""Every field in order, at the value a new finding has unless `_finding` sets it."""


_BATCH = 512
"""Findings a worker holds before landing them under the lock (at most this much work is redone
after a timeout: the successor restarts at the first call whose findings had not landed)."""


def _timed_out_message(timeout: float) -> str:
    return (
        f"check did not finish within {timeout:g} s (--check-timeout) and was abandoned; "
        "it is not run on the rest of the estate"
    )


_NOT_RUN = "not run: this check timed out on an earlier resource in this scan"


class _Run:
    """State shared by the supervisor and its workers; findings only land through `_Worker.land`,
    always in call order, so the list is the same whatever timed out and whoever computed it."""

    def __init__(
        self,
        estate: Estate,
        checks: Mapping[str, Check],
        timeout: float | None,
        resources: Sequence[Resource],
        offset: int | None = None,
    ) -> None:
        self.estate = estate
        self.offset = offset
        """Set: the run makes rows (`Row`), `resources` starting at this index of `estate.resources`."""
        self.view = cast(Estate, ReadOnlyEstate(estate))
        by_id = {plan.id: plan for plan in plans(estate, checks)}
        self.by_kind = {
            kind: [by_id[item.meta.id] for item in items] for kind, items in index_by_kind(checks.values()).items()
        }
        self.timeout = timeout
        self.resources = resources
        self.lock = threading.Lock()
        self.findings: list[Any] = []
        """Findings in call order, or rows when `offset` is set."""
        self.landed = 0
        """Calls (in `pairs` order) whose findings are in `findings`."""
        self.timed_out: dict[str, int] = {}
        """Check id -> the call that hung; later calls of that check are not run."""
        self.current: _Worker | None = None
        self.failure: BaseException | None = None

    def pairs(self) -> Iterator[tuple[_Plan, Resource, int]]:
        """Every call in order: the check, the resource and the resource's place in `resources`."""
        kind_of = self.estate.kind_of
        by_kind = self.by_kind
        for index, resource in enumerate(self.resources):
            kind = kind_of.get(resource.id_key)
            if kind is not None:
                for plan in by_kind.get(kind, ()):
                    yield plan, resource, index


class _Worker(threading.Thread):
    def __init__(self, run: _Run, start: int) -> None:
        super().__init__(name="mlwarden-checks", daemon=True)
        self.run_state = run
        self.first = start
        self.call: tuple[int, float, Check, Resource] | None = None
        """The call in progress (position, start time, check, resource); one atomic attribute."""

    def run(self) -> None:
        state = self.run_state
        estate, view, timed_out = state.estate, state.view, state.timed_out
        pending: list[Any] = []
        position = self.first - 1
        current: Resource | None = None
        part: dict[str, Any] = {}
        monotonic = time.monotonic
        offset = state.offset
        try:
            for position, (plan, resource, index) in enumerate(
                itertools.islice(state.pairs(), self.first, None), self.first
            ):
                if resource is not current:
                    current = resource
                    if offset is None:  # rows carry the resource's place instead
                        part = _part(resource)
                    focus(resource)
                hung = timed_out.get(plan.id) if timed_out else None
                if hung is not None and position >= hung:
                    message = _timed_out_message(state.timeout or 0) if position == hung else _NOT_RUN
                    verdicts = _error(message)
                else:
                    self.call = (position, monotonic(), plan.item, resource)
                    verdicts = _call(plan, resource, estate, view)
                    self.call = None
                if offset is None:
                    for v in verdicts:
                        pending.append(_of_verdict(plan, resource, part, estate, v))
                else:
                    check, at = plan.index, offset + index
                    for v in verdicts:
                        pending.append(
                            (check, at, v.status, v.message, v.evidence, v.severity, v.subject_id, v.detail_key)
                        )
                if len(pending) >= _BATCH and not self.land(pending, position + 1):
                    return
            self.land(pending, position + 1)
        except BaseException as exc:  # a bug of ours, or a late CheckTimeout
            with state.lock:
                if state.current is self:
                    state.failure = exc
        finally:
            focus(None)

    def land(self, findings: list[Any], landed: int) -> bool:
        """Add the findings of every call before `landed`; False once abandoned (another worker owns the rest)."""
        state = self.run_state
        with state.lock:
            if state.current is not self:
                return False
            state.findings.extend(findings)
            state.landed = landed
        findings.clear()
        return True


def _interrupt(worker: threading.Thread) -> None:
    """Raise CheckTimeout in the worker at its next bytecode (CPython; stops pure-Python loops)."""
    set_async_exc = getattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc", None)
    if worker.ident is not None and set_async_exc is not None:
        set_async_exc(ctypes.c_ulong(worker.ident), ctypes.py_object(CheckTimeout))


_ABANDONED: list[threading.Thread] = []
"""Workers abandoned after a timeout that may still be running (process-wide, across scans)."""


def _reap() -> None:
    """Raise CheckTimeout again in abandoned workers that are still alive: one raised while the
    thread ran a gc callback or a `__del__` is swallowed by the interpreter, and a spinning
    thread would otherwise slow every later check. A check that swallows it on purpose keeps
    running until the process exits (documented)."""
    _ABANDONED[:] = [worker for worker in _ABANDONED if worker.is_alive()]
    for worker in _ABANDONED:
        _interrupt(worker)


def _supervise(run: _Run) -> None:
    worker = _Worker(run, 0)
    run.current = worker
    worker.start()
    poll = 0.25 if run.timeout is None else min(0.25, max(run.timeout / 4, 0.01))
    while True:
        worker.join(poll)
        if _ABANDONED:
            _reap()
        if not worker.is_alive():
            break
        call = worker.call
        if run.timeout is None or call is None or time.monotonic() - call[1] <= run.timeout:
            continue
        position, _, item, _ = call
        with run.lock:
            if worker.call is not call:
                continue  # it finished just now
            # The successor redoes the calls whose findings had not landed, then reports this
            # call as timed out and skips the check from here on.
            run.timed_out[item.meta.id] = position
            successor = _Worker(run, run.landed)
            run.current = successor
        _interrupt(worker)
        _ABANDONED.append(worker)
        worker = successor
        worker.start()
    if run.failure is not None:
        raise run.failure


SortKey = tuple[int, str, str, str]


def sort_key(finding: Finding) -> SortKey:
    """Most severe first, then by check, resource and detail (the order every report shows)."""
    return (
        _MOST_SEVERE_FIRST[finding.severity],
        finding.check_id,
        finding.resource_id.lower(),
        finding.detail_key or "",
    )


_MOST_SEVERE_FIRST = {severity: -severity.rank for severity in Severity}
"""`-severity.rank` without a property call per finding (sorting 340k findings)."""


def evaluate(
    estate: Estate,
    checks: Mapping[str, Check],
    timeout: float | None,
    resources: Sequence[Resource],
    hung: set[str] | None = None,
) -> list[Finding]:
    """The findings of every applicable check on `resources`, in call order (unsorted). `hung`
    carries the checks that timed out across calls: they are not run, and are added to it."""
    return cast(list[Finding], _evaluate(estate, checks, timeout, resources, hung, None))


Row = tuple[int, int, Status, str, tuple[Evidence, ...], Severity | None, str | None, str | None]
"""A finding as its verdict: (check's place in the checks mapping, resource's place in the estate,
then the verdict's status, message, evidence, severity, subject id and detail key)."""


def evaluate_rows(
    estate: Estate, checks: Mapping[str, Check], timeout: float | None, low: int, high: int, hung: set[str]
) -> list[Row]:
    """`evaluate` on `estate.resources[low:high]`, as rows (`findings_of` turns them into the
    findings): a shard process sends these, a fraction of the bytes of its findings."""
    return cast(list[Row], _evaluate(estate, checks, timeout, estate.resources[low:high], hung, low))


def findings_of(
    rows: Iterable[Row], estate: Estate, plans: Sequence[_Plan], keys: list[SortKey] | None = None
) -> list[Finding]:
    """The findings of rows, as `evaluate` would have made them; each one's `sort_key` added to
    `keys` when given, worked out from the row (the resource's lower-case id is at hand) rather
    than read back from the finding."""
    resources = estate.resources
    out: list[Finding] = []
    key = keys.append if keys is not None else None
    current, resource, part = -1, None, {}
    for check, index, status, message, evidence, severity, subject_id, detail_key in rows:
        if index != current:
            current, resource = index, resources[index]
            part = _part(resource)
        assert resource is not None
        plan = plans[check]
        out.append(_make(plan, resource, part, estate, status, message, evidence, severity, subject_id, detail_key))
        if key is not None:
            rank = _MOST_SEVERE_FIRST[severity or plan.template["severity"]]
            key((rank, plan.id, subject_id.lower() if subject_id else resource.id_key, detail_key or ""))
    return out


def plans(estate: Estate, checks: Mapping[str, Check]) -> list[_Plan]:
    """Each check's constants, in the mapping's order (how rows name checks)."""
    return [_Plan(item, estate, index) for index, item in enumerate(checks.values())]


def _evaluate(
    estate: Estate,
    checks: Mapping[str, Check],
    timeout: float | None,
    resources: Sequence[Resource],
    hung: set[str] | None,
    offset: int | None,
) -> list[Any]:
    if any(item.plugin is not None for item in checks.values()):
        estate.freeze()  # before any call: what a check reads of its resource is remembered (`props.focus`)
    run = _Run(estate, checks, timeout, resources, offset)
    if hung:
        run.timed_out.update(dict.fromkeys(hung, -1))  # before every call here: none runs
    _supervise(run)
    if hung is not None:
        hung.update(run.timed_out)
    return run.findings


def run_checks(
    estate: Estate,
    checks: Mapping[str, Check],
    *,
    timeout: float | None = DEFAULT_CHECK_TIMEOUT,
    jobs: int | str | None = 1,
) -> list[Finding]:
    """Every applicable check on every resource; `timeout` is seconds per call (None: no limit).
    `jobs` processes share the work (`auto`: every free core once the estate is large enough
    to pay for it); the findings are the same whatever the number."""
    return run_checks_aside(estate, checks, None, timeout=timeout, jobs=jobs, indexed=False).findings


@dataclass(frozen=True, slots=True)
class Checked(Generic[T]):
    """What `run_checks_aside` gives: the findings, sorted; their `index_findings(..., tally=True)`
    when a sharded run made it piece by piece (else None: index them when needed); and the aside
    (`shards.Aside`: its value is None when no shard process worked it out)."""

    findings: list[Finding]
    index: FindingIndex | None
    aside: Aside[T]


def run_checks_aside(
    estate: Estate,
    checks: Mapping[str, Check],
    aside: Stepwise[T] | None,
    *,
    timeout: float | None = DEFAULT_CHECK_TIMEOUT,
    jobs: int | str | None = 1,
    indexed: bool = True,
) -> Checked[T]:
    """`run_checks`; when the run is sharded, also the findings' index (`indexed`) and
    what `aside(estate)` returns, worked out in a shard process once its checks are done (see `Checked`)."""
    from scanner import shards  # it builds on this module

    limit = timeout if timeout and timeout > 0 else None
    if any(item.plugin is not None for item in checks.values()):
        estate.freeze()  # before any plugin sees a resource, outside every time limit, before forking
    with collector_paused():
        counts = shards.pair_counts(estate, checks) if jobs != 1 else []
        processes = shards.jobs_for(jobs, sum(counts)) if counts else 1
        if processes > 1:
            bounds = shards.split(counts, processes)
            return shards.run_sharded_aside(estate, checks, limit, bounds, aside, indexed=indexed)
        findings = evaluate(estate, checks, limit, estate.resources)
        findings.sort(key=sort_key)
    return Checked(findings, None, shards.Aside())
