"""Scan-pipeline benchmark: every stage as a ratio to the bare JSON parse of the same snapshot.

Machines here are noisy, so absolute times are not comparable across runs; ratios measured in
the same process are. For each estate size a fresh child process measures, stage by stage:
read, index, checks, waivers and change attribution, compliance, posture, and each renderer;
then the real CLI (`mlwarden scan --format json --format html --out DIR`) runs end to end in
another fresh process, whose wall time and peak RSS are the headline figures. The scan of 2N
resources against N shows linearity (2.00 is linear).

    python -m benchmarks.bench_scan --resources 100000
    python -m benchmarks.bench_scan --resources 1000000 --no-linearity --no-stages   # completes?

`--mix realistic` pads the demo shapes with unrelated resources (VMs, disks, NICs, ...) that no
check reads, the shape of a real tenant where ML is a small part of the estate.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

T = TypeVar("T")

STAGES = ("read", "index", "checks", "waivers+changes", "compliance", "posture", "engine")
RENDERS = ("json", "html", "sarif", "junit", "csv", "markdown")
HEADLINE_FORMATS = ("json", "html")


def timed(func: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """Best of `repeat` runs: the least disturbed measurement."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    assert value is not None
    return best, value


def bare_parse(path: Path) -> float:
    """Best of three: decode every line of the snapshot with orjson and nothing else."""

    def parse() -> int:
        with path.open("rb") as handle:
            return sum(1 for line in handle if orjson.loads(line))

    return timed(parse, repeat=3)[0]


def _jobs(jobs: int | None) -> dict[str, Any]:
    """`jobs=` only when asked for: otherwise the scanner's own default is what is measured."""
    return {} if jobs is None else {"jobs": jobs}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pieces(inventory: Any, checks: Any, frameworks: Any, jobs: int | None, out: dict[str, Any]) -> None:
    """The stages of `scan()` one by one; what they build is freed on return."""
    from scanner import changes, compliance, policy, posture
    from scanner.estate import Estate
    from scanner.runner import run_checks

    seconds, estate = timed(lambda: Estate(inventory))
    out["index"] = seconds
    seconds, findings = timed(lambda: run_checks(estate, checks, **_jobs(jobs)))
    out["checks"] = seconds
    out["findings"] = len(findings)
    today = inventory.header.collected_at.date()

    def after() -> list[Any]:
        applied, _ = policy.apply(findings, [], frozenset(), today)
        return changes.attribute(applied, inventory.changes, now=inventory.header.collected_at)

    seconds, findings = timed(after)
    out["waivers+changes"] = seconds
    metas = [c.meta for c in checks.values()]
    out["compliance"], _ = timed(lambda: compliance.evaluate(frameworks, metas, findings, None, today))
    out["posture"], _ = timed(lambda: posture.postures(estate, findings))


def stages(path: Path, jobs: int | None) -> dict[str, Any]:
    """In one process: each stage of `scanner.engine.scan` timed alone, then each renderer."""
    from frameworks.catalog import load_all
    from reports.options import RenderOptions
    from reports.options import write as write_report
    from scanner.bulk import collector_paused
    from scanner.engine import scan
    from scanner.registry import TAGS, load_checks
    from scanner.snapshot import read_snapshot

    out: dict[str, Any] = {"bare_parse": bare_parse(path)}
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    seconds, inventory = timed(lambda: read_snapshot(path))
    out["read"] = seconds
    out["rss_after_read_mb"] = peak_rss_mb()
    _pieces(inventory, checks, frameworks, jobs, out)
    gc.collect()
    seconds, result = timed(
        lambda: scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks, **_jobs(jobs))
    )
    out["engine"] = seconds
    out["rss_after_scan_mb"] = peak_rss_mb()
    options = RenderOptions()
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in RENDERS:
            target = Path(tmp) / f"report.{fmt}"
            start = time.perf_counter()
            with target.open("wb") as handle, collector_paused():  # as the command line writes them
                write_report(fmt, result, handle, options)
            out[fmt] = time.perf_counter() - start
            out[f"{fmt}_bytes"] = target.stat().st_size
            target.unlink()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def end_to_end(path: Path, jobs: int | None, repeat: int = 1) -> dict[str, Any]:
    """The real CLI in fresh processes: the least disturbed of `repeat` wall times and that run's
    peak RSS (largest process), then one more run for the memory of the whole process tree.

    The tree is sampled in a run of its own: reading `smaps_rollup` walks the page tables of every
    process under the memory-map lock that page faults also take, and every 20 ms that slowed the
    scan it measured by about a quarter at 100,000 resources."""
    timed_runs = [_cli_run(path, jobs, sample=False) for _ in range(max(1, repeat))]
    best = min(timed_runs, key=lambda run: run["wall"])
    best["walls"] = [run["wall"] for run in timed_runs]
    best["peak_tree_mb"] = _cli_run(path, jobs, sample=True)["peak_tree_mb"]
    return best


def _cli_run(path: Path, jobs: int | None, sample: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-c", "from scanner.cli import main; main()", "scan", "--snapshot", str(path)]
        command += ["--out", out, "--fail-on", "none"]
        command += [arg for fmt in HEADLINE_FORMATS for arg in ("--format", fmt)]
        if jobs is not None:
            command += ["--jobs", str(jobs)]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        tree = _TreeMemory(process.pid) if sample else None
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if tree is not None:
            tree.stop()
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1, 3):
            raise SystemExit(f"bench_scan: the CLI exited {code}: {stderr.strip()[-500:]}")
        written = sorted(p.name for p in Path(out).iterdir())
        if len(written) < len(HEADLINE_FORMATS):
            raise SystemExit(f"bench_scan: the CLI wrote {written}, expected {len(HEADLINE_FORMATS)} reports")
        return {
            "wall": wall,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "peak_tree_mb": tree.peak_mb if tree else 0.0,
            "exit": float(code),
        }


class _TreeMemory:
    """The peak, sampled every 20 ms, of the summed proportional set size (PSS) of a process and
    its descendants: the memory the run holds when it renders reports in forked children, which
    share the scan's pages. `ru_maxrss` only gives the largest single process."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid, self.peak_mb, self._done = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak_mb = max(self.peak_mb, sum(_pss_kb(pid) for pid in _descendants(self.pid)) / 1024)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _descendants(pid: int) -> list[int]:
    found = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            for child in handle.read().split():
                found += _descendants(int(child))
    except OSError:  # gone, or not Linux
        pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            return next((int(line.split()[1]) for line in handle if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def _child(args: argparse.Namespace) -> None:
    from scanner import bulk

    bulk.set_resident(True)  # as the command line runs: bulk data out of the cycle collector's walks
    print(orjson.dumps(stages(Path(args.child), args.jobs)).decode())


def _in_child(path: Path, jobs: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_scan", "--child", str(path)]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode:
        raise SystemExit(f"bench_scan: stage run failed: {done.stderr.decode(errors='replace').strip()[-800:]}")
    return dict(orjson.loads(done.stdout.splitlines()[-1]))


def _generate(n: int, mix: str, target: Path) -> int:
    from benchmarks.estate_gen import generate, generate_realistic
    from scanner.snapshot import write_snapshot

    inventory = generate(n, seed=1) if mix == "demo" else generate_realistic(n, seed=1)
    write_snapshot(inventory, target)
    return sum(1 for _ in target.open("rb"))


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--mix", choices=("demo", "realistic"), default="demo")
    parser.add_argument("--jobs", type=int, default=None, help="passed to the scan (default: the scanner's own choice)")
    parser.add_argument("--no-linearity", action="store_true", help="skip the 2N run")
    parser.add_argument("--no-stages", action="store_true", help="only the end-to-end CLI run")
    parser.add_argument("--repeat", type=int, default=1, help="end-to-end runs to take the least disturbed of")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    sizes = [args.resources] if args.no_linearity else [args.resources, args.resources * 2]
    print(f"machine: {_machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows: dict[int, dict[str, Any]] = {}
        for n in sizes:
            path = Path(tmp) / f"estate-{n}.jsonl"
            records = _generate(n, args.mix, path)
            # A million resources is over the default 1 GiB snapshot bound: raise it, as its README says.
            os.environ["MLWARDEN_SNAPSHOT_MAX_BYTES"] = str(max(2**30, 2 * path.stat().st_size))
            row: dict[str, Any] = {"records": records, "snapshot_mb": path.stat().st_size / 1e6}
            row["parse"] = bare_parse(path)
            row["cli"] = end_to_end(path, args.jobs, args.repeat)
            if not args.no_stages:
                row["stages"] = _in_child(path, args.jobs)
            rows[n] = row
            path.unlink()
    _print(args, rows)


def _print(args: argparse.Namespace, rows: dict[int, dict[str, Any]]) -> None:
    n = args.resources
    row = rows[n]
    print(
        f"estate: {n} generated resources ({args.mix} mix) -> {row['records']} snapshot records, "
        f"{row['snapshot_mb']:.0f} MB; bare orjson parse {row['parse']:.2f} s"
    )
    cli = row["cli"]
    print(
        f"end to end (mlwarden scan, {' + '.join(HEADLINE_FORMATS)} reports, fresh process): "
        f"{cli['wall'] / row['parse']:.1f}x the bare parse, peak RSS {cli['peak_rss_mb']:.0f} MB "
        f"(largest process; whole process tree, summed PSS: {cli['peak_tree_mb']:.0f} MB)"
    )
    if len(cli["walls"]) > 1:
        print("  each run: " + ", ".join(f"{wall / row['parse']:.1f}x" for wall in cli["walls"]))
    if "stages" in row:
        st = row["stages"]
        base = st["bare_parse"]
        print(f"stages ({st['findings']} findings), ratio to the bare parse measured in the same process:")
        for stage in STAGES:
            note = (
                " (index + checks + waivers + compliance + posture, as scan() runs them)" if stage == "engine" else ""
            )
            print(f"  {stage:<16} {st[stage] / base:7.2f}x{note}")
        for fmt in RENDERS:
            per = st[f"{fmt}_bytes"] / max(st["findings"], 1)
            print(f"  render {fmt:<9} {st[fmt] / base:7.2f}x  {st[f'{fmt}_bytes'] / 1e6:8.1f} MB  {per:6.0f} B/finding")
        print(
            f"  resident memory: {st['rss_after_read_mb']:.0f} MB after read, {st['rss_after_scan_mb']:.0f} MB "
            f"after the scan, {st['peak_rss_mb']:.0f} MB peak while rendering (all stages kept in one process)"
        )
    if len(rows) == 2:
        large = rows[2 * n]
        ratio = large["cli"]["wall"] / cli["wall"]
        parse_ratio = large["parse"] / row["parse"]
        print(f"linearity: end-to-end 2N / N = {ratio:.2f} (2.00 is linear); bare parse 2N / N = {parse_ratio:.2f}")
        if "stages" in large:
            engine = large["stages"]["engine"] / row["stages"]["engine"]
            print(f"           engine 2N / N = {engine:.2f}")


if __name__ == "__main__":
    main()
