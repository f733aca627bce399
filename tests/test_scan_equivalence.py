"""Speed work must not change a single verdict: findings, control results and postures are
compared byte for byte with digests recorded before the performance work (issue 11).

Regenerate only when a verdict is meant to change, and say why in the commit:
    python -m tests.test_scan_equivalence --write
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.estate_gen import generate
from frameworks.catalog import load_all
from scanner.engine import scan
from scanner.inventory import Inventory
from scanner.models import ScanResult
from scanner.registry import TAGS, load_checks
from scanner.snapshot import read_snapshot

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "scan-digests.json"
DEMO = Path(__file__).parents[1] / "scanner" / "data" / "demo-estate.jsonl"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GENERATED = 2_500
"""Resources in the generated estate: two whole copies of the demo and a third cut short (dangling references)."""


def _inventories() -> dict[str, Inventory]:
    return {"demo": read_snapshot(DEMO), f"generated-{GENERATED}": generate(GENERATED, seed=7)}


def _result(inventory: Inventory) -> ScanResult:
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    return scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks, now=NOW)


def _parts(result: ScanResult) -> dict[str, Any]:
    return {
        "findings": [f.model_dump(mode="json") for f in result.findings],
        "frameworks": [f.model_dump(mode="json") for f in result.frameworks],
        "postures": [p.model_dump(mode="json") for p in result.postures],
    }


def digests(result: ScanResult) -> dict[str, Any]:
    parts = _parts(result)
    out: dict[str, Any] = {name: hashlib.sha256(orjson.dumps(value)).hexdigest() for name, value in parts.items()}
    out["counts"] = {name: len(value) for name, value in parts.items()}
    return out


@pytest.mark.parametrize("name", ["demo", f"generated-{GENERATED}"])
def test_findings_controls_and_postures_are_unchanged(name: str) -> None:
    expected = orjson.loads(GOLDEN.read_bytes())[name]
    assert digests(_result(_inventories()[name])) == expected


def main() -> None:
    if "--write" not in sys.argv:
        raise SystemExit(__doc__)
    recorded = {name: digests(_result(inventory)) for name, inventory in _inventories().items()}
    GOLDEN.write_bytes(orjson.dumps(recorded, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
