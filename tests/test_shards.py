"""Checks evaluated in forked shards give exactly the serial run's findings, byte for byte, and
keep every guarantee of the serial runner: errors, time limits and plugin isolation per call."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Generator
from functools import cache

import orjson
import pytest

from benchmarks.estate_gen import generate
from frameworks.catalog import load_all
from scanner import posture, shards
from scanner.engine import scan
from scanner.estate import Estate
from scanner.finding_index import index_findings
from scanner.models import CheckMeta, Finding, Remediation, Resource, Severity, Status
from scanner.registry import TAGS, Check, Verdict, failed, load_checks, passed
from scanner.runner import SortKey, evaluate_rows, findings_of, plans, run_checks, sort_key
from scanner.snapshot import read_snapshot
from tests.helpers import estate, resource
from tests.test_scan_equivalence import DEMO, NOW, digests


@cache
def _estates() -> dict[str, Estate]:
    return {"demo": Estate(read_snapshot(DEMO)), "generated": Estate(generate(3_000, seed=11))}


def _bytes(findings: list[Finding]) -> bytes:
    return orjson.dumps([f.model_dump(mode="json") for f in findings])


@pytest.mark.parametrize("name", ["demo", "generated"])
@pytest.mark.parametrize("jobs", [2, 3])
def test_sharded_findings_are_the_serial_findings_byte_for_byte(name: str, jobs: int) -> None:
    est = _estates()[name]
    checks = load_checks(plugins=False)
    serial = run_checks(est, checks, jobs=1)
    counts = shards.pair_counts(est, checks)
    bounds = shards.split(counts, jobs)
    assert len(bounds) == jobs and all(high > low for low, high in bounds)  # every process has work
    sharded = shards.run_sharded(est, checks, 30.0, bounds)
    sharded.sort(key=lambda f: (-f.severity.rank, f.check_id, f.resource_id.lower(), f.detail_key or ""))
    assert len(serial) > 100 and _bytes(sharded) == _bytes(serial)
    assert sharded == serial
    assert [f.model_fields_set for f in sharded] == [f.model_fields_set for f in serial]


def test_split_is_contiguous_complete_and_balanced() -> None:
    counts = [3, 0, 5, 1, 1, 7, 2, 2, 4, 0, 6] * 50
    for jobs in (2, 3, 4):
        bounds = shards.split(counts, jobs)
        assert bounds[0][0] == 0 and bounds[-1][1] == len(counts)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        work = [sum(counts[low:high]) for low, high in bounds]
        share = sum(counts) / (jobs - 1 + shards.PARENT_SHARE)
        assert abs(work[0] - share * shards.PARENT_SHARE) <= 7
        assert all(abs(part - share) <= 2 * 7 for part in work[1:])


def test_auto_stays_serial_until_the_estate_pays_for_a_process() -> None:
    assert shards.jobs_for("auto", shards.MIN_PAIRS_PER_JOB - 1) == 1
    assert 1 <= shards.jobs_for("auto", 100 * shards.MIN_PAIRS_PER_JOB) <= min(shards.usable_cores(), 100)
    assert shards.jobs_for(3, 10) == 3 and shards.jobs_for(1, 10**9) == 1
    est = _estates()["demo"]
    checks = load_checks(plugins=False)
    assert sum(shards.pair_counts(est, checks)) < shards.MIN_PAIRS_PER_JOB  # the demo runs serial


def _meta(check_id: str) -> CheckMeta:
    return CheckMeta(
        id=check_id,
        title="t",
        kinds=("storage",),
        severity=Severity.HIGH,
        tags=("private-network",),
        pillar="private-network",
        rationale="r",
        remediation=Remediation(text="fix"),
    )


def _storage(count: int) -> Estate:
    return estate([resource("Microsoft.Storage/storageAccounts", f"st{i:03}") for i in range(count)])


def test_a_plugin_that_raises_or_hangs_in_a_shard_is_an_error_there_and_the_scan_completes() -> None:
    parent = os.getpid()

    def hangs_in_a_child(r: Resource, e: Estate) -> Verdict:
        if os.getpid() != parent and r.name == "st030":
            time.sleep(3600)
        return failed("plugin says no")

    def raises(r: Resource, e: Estate) -> Verdict:
        raise SystemExit(f"{r.id} must not leak")

    def mutates(r: Resource, e: Estate) -> Verdict:
        e.resources.clear()
        return passed("cleared")

    est = _storage(40)
    checks = {
        "P-HANG": Check(_meta("P-HANG"), hangs_in_a_child, plugin="rogue"),
        "P-RAISE": Check(_meta("P-RAISE"), raises, plugin="rogue"),
        "P-MUTATE": Check(_meta("P-MUTATE"), mutates, plugin="rogue"),
        "B-OK": Check(_meta("B-OK"), lambda r, e: passed("fine")),
    }
    before = list(est.resources)
    findings = shards.run_sharded(est, checks, 1.0, shards.split(shards.pair_counts(est, checks), 2))
    by = {(f.check_id, f.resource_name): f for f in findings}
    assert len(by) == len(findings) == 160
    hang = {name: f.message for (check_id, name), f in by.items() if check_id == "P-HANG"}
    first_child = min(name for name in hang if hang[name] != "plugin says no")
    assert first_child == "st030" and "did not finish within 1 s" in hang["st030"]
    assert all("timed out on an earlier resource" in hang[f"st{i:03}"] for i in range(31, 40))
    assert all(hang[f"st{i:03}"] == "plugin says no" for i in range(30))
    assert {f.status for (c, _), f in by.items() if c in ("P-RAISE", "P-MUTATE")} == {Status.ERROR}
    assert all("must not leak" not in f.message for f in findings)
    assert {f.status for (c, _), f in by.items() if c == "B-OK"} == {Status.PASS}
    assert est.resources == before


@pytest.mark.timeout(120)  # a safety net only: without the fallback this process would wait forever
def test_a_starved_child_has_the_chunks_it_has_not_begun_evaluated_by_the_scanning_process() -> None:
    """A shard process that makes no progress (here: it waits, in its first call, for this process to
    reach its second chunk) is not waited for: once this process has nothing of the child's to make,
    it takes the child's chunks from the last, and the findings are the serial ones."""
    parent = os.getpid()
    reader, writer = os.pipe()
    est = _storage(300)
    checks = {"B-OK": Check(_meta("B-OK"), lambda r, e: passed("fine"))}
    bounds = shards.split(shards.pair_counts(est, checks), 2)
    ranges = shards.chunks(*bounds[1])
    first, second = est.resources[ranges[0][0]].name, est.resources[ranges[1][0]].name
    here: list[str] = []

    def stalls_in_the_child(r: Resource, e: Estate) -> Verdict:
        if os.getpid() != parent:
            if r.name == first:
                os.read(reader, 1)
        else:
            here.append(r.name)
            if r.name == second:
                os.write(writer, b"x")
        return passed("fine")

    slow = {"B-OK": Check(_meta("B-OK"), stalls_in_the_child)}
    sharded = shards.run_sharded(est, slow, None, bounds)
    assert _bytes(sharded) == _bytes(run_checks(est, checks, jobs=1))
    taken = {r.name for start, end in ranges[1:] for r in est.resources[start:end] if r.name.startswith("st")}
    assert taken <= set(here) and first not in here  # every chunk but the one the child began


def test_a_shard_process_that_dies_fails_the_scan_instead_of_losing_findings() -> None:
    parent = os.getpid()

    def dies_in_a_child(r: Resource, e: Estate) -> Verdict:
        if os.getpid() != parent:
            os._exit(7)
        return passed("fine")

    checks = {"B-DIE": Check(_meta("B-DIE"), dies_in_a_child)}
    est = _storage(10)
    with pytest.raises(RuntimeError, match="died"):
        shards.run_sharded(est, checks, None, shards.split(shards.pair_counts(est, checks), 2))


def test_the_dependency_walk_done_beside_the_checks_gives_the_serial_postures() -> None:
    est = _estates()["generated"]
    checks = load_checks(plugins=False)
    serial = run_checks(est, checks, jobs=1)
    bounds = shards.split(shards.pair_counts(est, checks), 2)
    outcome = shards.run_sharded_aside(est, checks, 30.0, bounds, posture.dependency_steps)
    sharded, aside = outcome.findings, outcome.aside
    assert outcome.index == index_findings(serial, tally=True)  # made piece by piece, as the whole gives it
    assert outcome.index is not None and outcome.index.tally is not None
    assert all(
        a is b for a, b in zip(outcome.index.tally.failed, (f for f in sharded if f.status == "fail"), strict=True)
    )
    plan = aside.value()
    assert isinstance(plan, posture.DependencyPlan) and len(plan.deployments) > 100
    planned = posture.postures(est, index_findings(sharded), plan)
    walked = posture.postures(est, index_findings(serial))
    assert orjson.dumps([p.model_dump(mode="json") for p in planned]) == orjson.dumps(
        [p.model_dump(mode="json") for p in walked]
    )
    assert planned == walked
    assert aside.shard is not None and not aside.shard.child.is_alive()
    assert shards.Aside().value() is None  # a serial run: the caller walks them itself


def test_a_whole_scan_is_the_same_serial_and_sharded() -> None:
    inventory = generate(3_000, seed=11)
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    serial, sharded = (
        scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks, now=NOW, jobs=jobs) for jobs in (1, 2)
    )
    assert digests(sharded) == digests(serial)


@pytest.mark.timeout(120)  # a safety net only: without the fallback this process would wait forever
def test_an_aside_the_child_never_sends_is_worked_out_here() -> None:
    """A shard process starved of CPU (here: one that never gets to its walk) is not waited for: the
    scanning process walks the dependencies itself meanwhile, gets the same plan, and ends the child."""
    parent = os.getpid()
    est = _estates()["generated"]

    def stalls_in_the_child(e: Estate) -> Generator[None, None, posture.DependencyPlan]:
        if os.getpid() != parent:
            threading.Event().wait()  # never returns: the child is ended by the parent
        return (yield from posture.dependency_steps(e))

    checks = load_checks(plugins=False)
    bounds = shards.split(shards.pair_counts(est, checks), 2)
    aside = shards.run_sharded_aside(est, checks, 30.0, bounds, stalls_in_the_child).aside
    assert aside.shard is not None and aside.shard.child.is_alive()  # still stuck in its walk
    assert aside.value() == posture.dependency_plan(est)
    assert not aside.shard.child.is_alive()
    assert aside.shard.aside is None  # the child never sent one


def test_an_aside_that_fails_in_the_child_fails_the_run_when_read() -> None:
    parent = os.getpid()

    def broken(e: Estate) -> Generator[None, None, int]:
        while os.getpid() == parent:  # this process walks until the child's outcome arrives
            yield
        raise KeyError("the walk has a bug")

    est = _storage(10)
    checks = {"B-OK": Check(_meta("B-OK"), lambda r, e: passed("fine"))}
    outcome = shards.run_sharded_aside(est, checks, None, shards.split(shards.pair_counts(est, checks), 2), broken)
    assert len(outcome.findings) == 10
    aside = outcome.aside
    with pytest.raises(RuntimeError, match="failed: KeyError"):
        aside.value()
    assert aside.shard is not None and not aside.shard.child.is_alive()


def test_an_aside_never_read_still_ends_its_process() -> None:
    est = _storage(10)
    checks = {"B-OK": Check(_meta("B-OK"), lambda r, e: passed("fine"))}
    bounds = shards.split(shards.pair_counts(est, checks), 2)

    def large(e: Estate) -> Generator[None, None, bytes]:
        yield
        return b"x" * (4 << 20)  # beyond a pipe's buffer

    aside = shards.run_sharded_aside(est, checks, None, bounds, large).aside
    assert aside.shard is not None
    aside.shard.child.join(timeout=60)
    assert aside.shard.child.exitcode == 0


def test_sort_keys_worked_out_from_rows_are_the_findings_sort_keys() -> None:
    est = _estates()["generated"]
    checks = load_checks(plugins=False)
    rows = evaluate_rows(est, checks, None, 0, len(est.resources), set())
    keys: list[SortKey] = []
    findings = findings_of(rows, est, plans(est, checks), keys)
    assert len(keys) == len(findings) > 1000
    assert keys == [sort_key(f) for f in findings]
    assert any(f.resource_id != est.resources[row[1]].id for f, row in zip(findings, rows, strict=True))  # subjects
