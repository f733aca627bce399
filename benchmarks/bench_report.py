"""Report benchmark: the auditor's deliverable on the demo and on a generated 20,000-resource estate.

Prints, for each estate, the HTML size and render time, the summary PDF's page count and render
time, and the compliance CSV's size, each time also as a ratio to the JSON report's render of the
same result (machines here are noisy; ratios measured in the same process are comparable).
Targets from issue 8: demo summary PDF at most 40 pages; 20k HTML under 5 MB; 20k summary PDF
under 60 s.

    python -m benchmarks.bench_report --resources 20000
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from typing import TypeVar

from pypdf import PdfReader

from benchmarks.estate_gen import generate
from frameworks.catalog import load_all
from reports import compliance_csv, html, json_report, pdf
from reports.options import RenderOptions
from scanner.engine import scan
from scanner.inventory import Inventory
from scanner.models import ScanResult
from scanner.registry import TAGS, load_checks
from scanner.snapshot import read_demo

T = TypeVar("T")


def timed(func: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def _scan(inventory: Inventory) -> ScanResult:
    checks = load_checks(plugins=False)
    frameworks = [fw for fw in load_all(check_ids=set(checks), tags=TAGS).values() if fw.status == "in-force"]
    return scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks)


def _csv_bytes(result: ScanResult) -> int:
    class Counter(io.RawIOBase):
        size = 0

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.size += len(data)
            return len(data)

    sink = Counter()
    compliance_csv.write(result, sink)  # type: ignore[arg-type]
    return sink.size


def measure(name: str, result: ScanResult) -> None:
    json_s, _ = timed(lambda: json_report.render(result))
    html_s, page = timed(lambda: html.render(result))
    pdf_s, document = timed(lambda: pdf.render(result, RenderOptions(pdf_detail="summary")))
    csv_s, csv_size = timed(lambda: _csv_bytes(result))
    pages = len(PdfReader(io.BytesIO(document)).pages)
    print(f"{name}: {result.resource_count} resources, {len(result.findings)} findings")
    print(f"  html            {len(page) / 1e6:7.2f} MB  {html_s:6.1f} s  ({html_s / json_s:5.1f}x the JSON render)")
    print(f"  pdf (summary)   {pages:7d} pages {pdf_s:5.1f} s  ({pdf_s / json_s:5.1f}x the JSON render)")
    print(f"  compliance csv  {csv_size / 1e6:7.2f} MB  {csv_s:6.1f} s  ({csv_s / json_s:5.1f}x the JSON render)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    args = parser.parse_args()
    measure("demo", _scan(read_demo()))
    measure(f"generated {args.resources}", _scan(generate(args.resources, seed=1)))


if __name__ == "__main__":
    main()
