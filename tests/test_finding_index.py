"""One pass over the findings serves control evaluation and posture alike: the same results as each
stage indexing the findings itself, and an index built without a part refuses to pretend."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from benchmarks.estate_gen import generate
from frameworks.catalog import load_all
from scanner import compliance, posture
from scanner.engine import scan
from scanner.estate import Estate
from scanner.finding_index import index_findings, index_piece, merged
from scanner.models import Status
from scanner.policy import Waiver
from scanner.registry import TAGS, load_checks
from scanner.snapshot import read_snapshot
from tests.test_scan_equivalence import DEMO, NOW, digests


def test_one_index_for_both_stages_gives_what_each_stage_finds_alone() -> None:
    inventory = read_snapshot(DEMO)
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    result = scan(
        inventory, origin="snapshot", checks=checks, frameworks=frameworks, now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    findings = list(result.findings)
    metas = [c.meta for c in checks.values()]
    both = index_findings(findings)
    assert compliance.evaluate(frameworks, metas, both) == compliance.evaluate(frameworks, metas, findings)
    estate = Estate(inventory)
    assert posture.postures(estate, both) == posture.postures(estate, findings) == result.postures
    assert any(p.pillars for p in result.postures)


def test_an_index_without_a_part_is_refused() -> None:
    with pytest.raises(ValueError, match="check tallies"):
        compliance.evaluate([], [], index_findings([], checks=False))
    with pytest.raises(ValueError, match="resources"):
        posture.postures(Estate(read_snapshot(DEMO)), index_findings([], resources=False))


def test_pieces_indexed_apart_and_merged_in_order_give_the_whole_index() -> None:
    """A sharded run indexes each piece as it makes it; merged in the final order, the pieces give
    exactly the index of the whole list, waived failures, shared resources and tally included."""
    inventory = generate(1_500, seed=5)
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    findings = list(scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks, jobs=1).findings)
    failing = [i for i, f in enumerate(findings) if f.status == Status.FAIL]
    for i in failing[::7]:  # some accepted risk, as a waiver leaves it
        findings[i] = findings[i].model_copy(update={"waived_by": "owner until 2030-01-01: accepted"})
    # Three pieces that interleave (every resource's findings spread over all of them), each in its own order.
    pieces = [findings[start::3] for start in range(3)]
    places = [place for start in range(3) for place in range(start, len(findings), 3)]
    order = sorted(range(len(places)), key=places.__getitem__)
    made = merged([index_piece(piece) for piece in pieces], order)
    whole = index_findings(findings, tally=True)
    assert made == whole and made.tally is not None and whole.tally is not None
    assert made.tally.waived == len(failing[::7]) > 0
    assert all(a is b for a, b in zip(made.tally.failed, whole.tally.failed, strict=True))
    for key, facts in whole.resources().items():
        assert all(a is b for a, b in zip(made.resources()[key].itemised, facts.itemised, strict=True))


def test_a_sharded_scan_with_waivers_and_a_floor_is_the_serial_scan() -> None:
    """Waivers and a severity floor replace or drop findings after the checks: the index made
    piece by piece no longer matches them and the engine indexes the findings it reports."""
    inventory = generate(3_000, seed=3)
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    first = scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks, now=NOW, jobs=1)
    target = next(f for f in first.findings if f.status == Status.FAIL)
    waiver = Waiver(target.check_id, "*", "accepted", "owner", date(2030, 1, 1), 1)
    results = [
        scan(
            inventory,
            origin="snapshot",
            checks=checks,
            frameworks=frameworks,
            now=NOW,
            jobs=jobs,
            waivers=[waiver],
            min_severity="low",
        )
        for jobs in (1, 2)
    ]
    assert digests(results[0]) == digests(results[1])
    assert results[0].waived_count() == results[1].waived_count() > 0
    assert results[0].status_counts() == results[1].status_counts()
