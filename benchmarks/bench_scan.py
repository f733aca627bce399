"""Scan-pipeline benchmark: every stage as a ratio to the bare JSON parse of the same snapshot.

Machines here are noisy, so absolute times are not comparable across runs; ratios measured in
the same process are. Also prints the ratio of a 2N-resource scan to an N-resource scan,
which should stay near 2 (linear in resources).

    python -m benchmarks.bench_scan --resources 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import orjson

from benchmarks.estate_gen import generate
from frameworks.catalog import load_all
from reports import RENDERERS
from scanner.engine import scan
from scanner.registry import TAGS, load_checks
from scanner.snapshot import read_snapshot, write_snapshot

T = TypeVar("T")


def timed(func: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    """Best of `repeat` runs: the least disturbed measurement."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    assert value is not None
    return best, value


def bare_parse(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if orjson.loads(line))


def measure(n_resources: int, workdir: Path) -> dict[str, float]:
    inventory = generate(n_resources, seed=1)
    path = workdir / f"estate-{n_resources}.jsonl"
    write_snapshot(inventory, path)
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    base, lines = timed(lambda: bare_parse(path))
    read_s, loaded = timed(lambda: read_snapshot(path))
    scan_s, result = timed(lambda: scan(loaded, origin="snapshot", checks=checks, frameworks=frameworks), repeat=2)
    out = {
        "records": float(lines),
        "bare_parse": base,
        "read_snapshot": read_s,
        "scan": scan_s,
        "findings": float(len(result.findings)),
    }
    for fmt in ("json", "html", "sarif"):
        out[f"render_{fmt}"], data = timed(lambda fmt=fmt: RENDERERS[fmt](result), repeat=1)  # type: ignore[misc]
        out[f"{fmt}_mb"] = len(data) / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(args.resources, Path(tmp))
        large = measure(args.resources * 2, Path(tmp))
    base = small["bare_parse"]
    print(
        f"estate: {args.resources} generated resources -> {int(small['records'])} snapshot records, "
        f"{int(small['findings'])} findings"
    )
    print("stage                ratio to bare JSON parse of the same snapshot")
    for stage in ("read_snapshot", "scan", "render_json", "render_html", "render_sarif"):
        print(f"  {stage:<18} {small[stage] / base:8.1f}x")
    print("report sizes: " + ", ".join(f"{fmt} {small[fmt + '_mb']:.1f} MB" for fmt in ("json", "html", "sarif")))
    print(
        f"linearity: scan of 2N / scan of N = {large['scan'] / small['scan']:.2f} (2.00 is linear); "
        f"bare parse 2N / N = {large['bare_parse'] / base:.2f}"
    )


if __name__ == "__main__":
    main()
