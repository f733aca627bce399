"""One pass over the findings serves control evaluation and posture alike: the same results as each
stage indexing the findings itself, and an index built without a part refuses to pretend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frameworks.catalog import load_all
from scanner import compliance, posture
from scanner.engine import scan
from scanner.estate import Estate
from scanner.finding_index import index_findings
from scanner.registry import TAGS, load_checks
from scanner.snapshot import read_snapshot
from tests.test_scan_equivalence import DEMO


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
