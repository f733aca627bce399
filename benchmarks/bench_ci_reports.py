"""CI reports on hostile and large input, as ratios to a baseline render in the same process.

Markdown over a name of 20,000 spaces (26x a normal name when a backtracking regex split
lines) must stay near 1x, and doubling a 512 KiB name must double the time, not quadruple
it; SARIF, JUnit and Markdown at 100,000 resources are timed against the bare
`orjson.dumps` of the same findings.

    python -m benchmarks.bench_ci_reports
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import orjson

from reports import junit, markdown, sarif
from scanner.models import ScanResult, Status
from tests.reports.conftest import arm_id, finding, scan_result
from tests.reports.generated import scan_at_scale


def _best(func: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def _named(name: str) -> ScanResult:
    workspace = arm_id("Microsoft.MachineLearningServices/workspaces", "w1")
    return scan_result((finding("MLW-WS-001", workspace, Status.FAIL, name, resource_name=name),))


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    normal = _named("mlw-claims")
    base = _best(lambda: markdown.render(normal))
    spaced = _named("w" + " " * 20_000 + "x")
    print(f"markdown, name of 20,000 spaces: {_best(lambda: markdown.render(spaced)) / base:.1f}x a normal name")
    half, full = _named(" " * 524_288), _named(" " * 1_048_576)
    doubling = _best(lambda: markdown.render(full)) / _best(lambda: markdown.render(half))
    print(f"markdown, name of 1 MiB vs 512 KiB of spaces: {doubling:.1f}x (linear: 2x; quadratic: 4x)")
    big = scan_at_scale(100_000)
    dump = _best(lambda: orjson.dumps([f.model_dump(mode="json") for f in big.findings]), repeat=1)
    for label, render in (("sarif", sarif.render), ("junit", junit.render), ("markdown", markdown.render)):
        ratio = _best(partial(render, big), repeat=1) / dump
        print(f"{label} at 100k resources: {ratio:.2f}x orjson.dumps of the findings")


if __name__ == "__main__":
    main()
