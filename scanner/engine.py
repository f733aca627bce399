"""One way through: inventory -> estate -> checks -> findings -> frameworks -> ScanResult."""

from __future__ import annotations

import heapq
import operator
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from frameworks.catalog import Framework
from scanner import __version__, changes, compliance, finding_index, policy, posture, selection
from scanner.bulk import collector_paused
from scanner.estate import Estate
from scanner.finding_index import FindingIndex
from scanner.inventory import Inventory
from scanner.models import (
    Attestation,
    BaselineUse,
    Finding,
    ScanResult,
    ScanScope,
    Severity,
    Status,
    Timings,
    fails_gate,
    remember_tally,
)
from scanner.policy import Waiver
from scanner.registry import Check
from scanner.runner import DEFAULT_CHECK_TIMEOUT, Checked, run_checks, run_checks_aside, sort_key
from scanner.textsafe import printable

AfterChecks = Callable[[list[str]], Inventory]
"""Called once the checks have run, with the sorted ids of the resources that fail (`failing_ids`):
returns the inventory to report on, the same records with more sources (a live scan adds who
changed the failing resources, `resource_changes`). Reading it then spares a second run of the checks."""


@collector_paused()  # every stage builds long-lived objects without cycles; collections would only rescan them
def scan(
    inventory: Inventory,
    *,
    origin: Literal["demo", "snapshot", "azure", "template", "plan"],
    checks: Mapping[str, Check],
    frameworks: Sequence[Framework],
    fail_on: Severity | None = None,
    waivers: Sequence[Waiver] = (),
    baseline: frozenset[str] | None = None,
    description: str = "",
    load_seconds: float = 0.0,
    now: datetime | None = None,
    attestations: Mapping[tuple[str, str], Attestation] | None = None,
    check_timeout: float | None = DEFAULT_CHECK_TIMEOUT,
    jobs: int | str = "auto",
    catalog: Mapping[str, Check] | None = None,
    min_severity: str | None = None,
    after_checks: AfterChecks | None = None,
) -> ScanResult:
    """`checks` run; `catalog` (default: the same) is every registered check, so frameworks know which
    mapped checks a selection left out; `min_severity` drops findings below that severity; `jobs`
    processes run the checks (`auto`: every free core when the estate is large enough);
    `after_checks` (see `AfterChecks`) gives the inventory the scan reports on; `baseline` None
    means no baseline was given (an empty one still makes every failing finding new)."""
    started = time.perf_counter()
    estate = Estate(inventory)
    generated_at = now or datetime.now(UTC)
    # A sharded run's other process walks every deployment's dependencies once its checks are
    # done, while this one merges and indexes the findings: posture is then left the judging.
    outcome = run_checks_aside(estate, checks, posture.dependency_steps, timeout=check_timeout, jobs=jobs)
    ran = outcome.findings
    if after_checks is not None:
        reading = time.perf_counter()
        updated = after_checks(failing_ids(ran))
        read = time.perf_counter() - reading  # collection time: counted as loading, not as checking
        started += read
        load_seconds += read
        ran = _rejudged(ran, inventory, updated, checks, timeout=check_timeout, jobs=jobs)
        inventory = updated
    findings, waiver_uses = policy.apply(
        selection.above(ran, min_severity),
        waivers,
        baseline or frozenset(),
        generated_at.date(),
    )
    # Who changed it: judged against the collection time, so a rescan of an old snapshot attributes the same way.
    findings = changes.attribute(findings, inventory.changes, now=inventory.header.collected_at)
    checked = time.perf_counter()
    metas = tuple(sorted((c.meta for c in checks.values()), key=lambda m: m.id))
    catalog = catalog if catalog is not None else checks
    not_run = frozenset(set(catalog) - set(checks))
    if min_severity:  # a check whose every finding was dropped below the floor did not really judge
        judged = {f.check_id for f in findings}
        floor = Severity(min_severity).rank
        not_run |= {cid for cid, c in checks.items() if c.meta.severity.rank < floor and cid not in judged}
    # One index for both stages below and the reports; a sharded run made it while its findings were fresh.
    indexed = _made_index(findings, outcome)
    if indexed is None:
        indexed = finding_index.index_findings(findings, tally=True)
    framework_results = compliance.evaluate(
        frameworks,
        [c.meta for c in catalog.values()],
        indexed,
        attestations,
        generated_at.date(),
        not_run=frozenset(not_run),
    )
    deployment_postures = posture.postures(estate, indexed, outcome.aside.value())
    done = time.perf_counter()
    header = inventory.header
    counts = Counter(kind for kind in estate.kind_of.values() if kind)
    result = ScanResult(
        tool_version=__version__,
        generated_at=generated_at,
        scope=ScanScope(
            origin=origin,
            description=description or header.scope.description,
            cloud=header.cloud,
            subscriptions=header.scope.subscriptions
            or tuple(sorted({r.subscription_id for r in estate.resources if r.subscription_id})),
            subscription_names=_subscription_names(estate),
            collected_at=header.collected_at,
            tool_version=header.tool_version,
        ),
        sources=header.sources,
        resource_count=len(estate.resources),
        resource_counts_by_kind=dict(sorted(counts.items())),
        checks=metas,
        findings=tuple(findings),
        frameworks=framework_results,
        postures=deployment_postures,
        waivers=waiver_uses,
        baseline=None if baseline is None else _baseline_use(baseline, findings),
        fail_on=fail_on,
        timings=Timings(
            load_seconds=round(load_seconds, 4),
            check_seconds=round(checked - started, 4),
            framework_seconds=round(done - checked, 4),
            total_seconds=round(done - started + load_seconds, 4),
        ),
    )
    assert indexed.tally is not None
    remember_tally(result, indexed.tally)  # reports forked from here inherit it: none counts again
    return result


def _made_index(findings: Sequence[Finding], outcome: Checked[Any]) -> FindingIndex | None:
    """The index the run made (`Checked.index`) when it indexes exactly `findings`: the same objects
    in the same order, none replaced or dropped by a waiver, a baseline, a severity floor, who
    changed it or a second run; else None."""
    made, index = outcome.findings, outcome.index
    if index is None or len(made) != len(findings) or not all(map(operator.is_, made, findings)):
        return None
    return index


def _baseline_use(baseline: frozenset[str], findings: Sequence[Finding]) -> BaselineUse:
    """What the baseline did in this scan, so reports can tell new from unchanged (and say so only
    when there was a baseline): the fingerprints it accepts that still fail, and those that do not."""
    failing = {f.fingerprint for f in findings if f.status is Status.FAIL}
    matched = sum(1 for f in findings if f.status is Status.FAIL and f.baselined)
    return BaselineUse(accepted=len(baseline), matched=matched, absent=len(baseline - failing))


def _subscription_names(estate: Estate) -> dict[str, str]:
    """Display names from the subscription rows (Resource Graph `resourcecontainers`), so reports name them."""
    rows = estate.by_type.get("microsoft.resources/subscriptions", [])  # in resource order, like the rows
    return {r.subscription_id.lower(): r.name for r in rows if r.subscription_id and r.name}


def exceeds_threshold(result: ScanResult, fail_on: Severity | None) -> bool:
    """True when an unwaived, non-baselined failing finding is at or above `fail_on`."""
    return any(fails_gate(f, fail_on) for f in result.findings)


def check_errors(result: ScanResult) -> str:
    """'' or one line naming the checks that could not judge (raised, hung, invalid verdict): the
    scan is then incomplete, so a broken check can never leave a gate green."""
    failing = Counter(f.check_id for f in result.findings if f.status is Status.ERROR)
    if not failing:
        return ""
    names = sorted(failing)
    shown = ", ".join(f"{name} ({failing[name]})" for name in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"{sum(failing.values())} check error(s): {printable(shown)}{more}"


def failing_ids(findings: Iterable[Finding]) -> list[str]:
    """Ids of the resources with a failing finding: the ones worth asking `resourcechanges` about."""
    return sorted({f.resource_id for f in findings if f.status is Status.FAIL})


def failing_resources(inventory: Inventory, checks: Mapping[str, Check]) -> list[str]:
    """`failing_ids` of a run of `checks` on `inventory` alone (`mlwarden collect`, which reports no findings)."""
    return failing_ids(run_checks(Estate(inventory), checks))


def _rejudged(
    findings: list[Finding],
    before: Inventory,
    after: Inventory,
    checks: Mapping[str, Check],
    *,
    timeout: float | None,
    jobs: int | str,
) -> list[Finding]:
    """The findings as a run on `after` would give them. An estate reads only the sources' coverage
    from the header, and `after` has the same records, so only checks that need a source whose
    coverage changed can judge differently: those run again (on their own) and their findings
    replace the first ones, in the runner's order."""
    was = {source.name: source for source in before.header.sources}
    now = {source.name: source for source in after.header.sources}
    changed = {name for name in was.keys() | now.keys() if was.get(name) != now.get(name)}
    again = {cid: item for cid, item in checks.items() if changed.intersection(item.meta.needs)}
    if not again:
        return findings
    kept = [f for f in findings if f.check_id not in again]
    # Ties of `sort_key` are findings of one check, so all come from one side: the merge keeps their order.
    return list(heapq.merge(kept, run_checks(Estate(after), again, timeout=timeout, jobs=jobs), key=sort_key))
