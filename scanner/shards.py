"""The check phase across processes: checks are pure functions of (resource, estate), so the
estate is cut into contiguous shards of resources and each is evaluated by its own process.

The indexed estate is shared read-only through `fork` (it sits in a module global when the
children are forked, so nothing is pickled on the way in). Each child runs the ordinary runner
(same supervisor, same per-call time limit, same plugin isolation) on its shard and sends back
compact rows: plain tuples whose repeated strings pickle once. The parent evaluates the first
shard itself meanwhile, then rebuilds the children's findings in shard order, so the merged
list is in the serial run's call order and sorts to the identical result.

A child that dies or fails is a bug (exit 4), never a silent hole in the findings.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from scanner import props
from scanner.estate import Estate
from scanner.models import CheckMeta, Finding, trusted
from scanner.registry import Check
from scanner.runner import FINDING_SET, FINDING_VALUES, evaluate

MIN_PAIRS_PER_JOB = 10_000
"""Check calls each process must get before forking one pays: at 3,000 generated resources (9,700
calls) two processes need about 0.77 of the serial CPU time on the critical path; fork, pickling
and rebuilding the rows are a fixed cost that smaller estates do not repay."""
PARENT_SHARE = 1.05
"""The parent's part of the calls against one child's: it works beside them, then rebuilds their rows
(about a sixth of what evaluating them cost), while each child also pickles its rows."""

_JOB: tuple[Estate, Mapping[str, Check], float | None] | None = None
"""What the children evaluate, set just before forking and cleared after."""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pair_counts(estate: Estate, checks: Mapping[str, Check]) -> list[int]:
    """Check calls per resource, in the runner's order."""
    per_kind: dict[str, int] = {}
    for item in checks.values():
        for kind in item.meta.kinds:
            per_kind[kind] = per_kind.get(kind, 0) + 1
    kind_of = estate.kind_of
    return [per_kind.get(kind_of.get(r.id_key) or "", 0) for r in estate.resources]


def jobs_for(requested: int | str | None, pairs: int) -> int:
    """Processes to use: `auto` uses every usable core once each has enough calls to pay for
    itself; a number is taken as given (1 is serial)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested is None or requested == "auto":
        return max(1, min(usable_cores(), pairs // MIN_PAIRS_PER_JOB))
    return max(1, int(requested))


def split(counts: Sequence[int], jobs: int) -> list[tuple[int, int]]:
    """Contiguous resource ranges, one per process, with calls in proportion to PARENT_SHARE for
    the first (the parent's) and 1 for each other."""
    total = sum(counts)
    weights = [PARENT_SHARE] + [1.0] * (jobs - 1)
    bounds: list[tuple[int, int]] = []
    start, done, target = 0, 0, 0.0
    for weight in weights[:-1]:
        target += total * weight / sum(weights)
        end = start
        while end < len(counts) and done + counts[end] <= target:
            done += counts[end]
            end += 1
        bounds.append((start, end))
        start = end
    bounds.append((start, len(counts)))
    return bounds


def run_sharded(
    estate: Estate, checks: Mapping[str, Check], timeout: float | None, bounds: Sequence[tuple[int, int]]
) -> list[Finding]:
    """The findings of every shard in call order: the first evaluated here, the rest in children,
    whose rows the parent rebuilds chunk by chunk as they arrive."""
    global _JOB
    context = multiprocessing.get_context("fork")
    children: list[tuple[Any, Connection]] = []
    _JOB = (estate, checks, timeout)
    try:
        for low, high in bounds[1:]:
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(low, high, writer), daemon=True)
            child.start()
            writer.close()
            children.append((child, reader))
        low, high = bounds[0]
        findings = evaluate(estate, checks, timeout, estate.resources[low:high])
        metas = {check_id: item.meta for check_id, item in checks.items()}
        for child, reader in children:
            while (rows := _receive(child, reader)) is not None:
                findings.extend(_rebuild(rows, metas))
            child.join()
        return findings
    finally:
        _JOB = None
        for child, reader in children:
            reader.close()
            if child.is_alive():
                child.terminate()
                child.join()


def _receive(child: Any, reader: Connection) -> list[dict[str, Any]] | None:
    """The next chunk of a child's rows; None once it has sent them all."""
    try:
        payload = reader.recv_bytes()
    except EOFError:
        child.join()
        raise RuntimeError(f"a check shard process died (exit code {child.exitcode})") from None
    if payload == _DONE:
        return None
    if payload[:1] != _ROWS:
        raise RuntimeError(f"a check shard process failed: {payload[1:].decode(errors='replace')}")
    rows: list[dict[str, Any]] = pickle.loads(payload[1:])
    return rows


_ROWS, _DONE, _FAILED = b"+", b".", b"!"
CHUNKS = 8
"""Pieces a child sends its shard in: the parent rebuilds one while the child evaluates the next,
so only the last piece's rebuilding waits for the child."""


def _child(low: int, high: int, writer: Connection) -> None:
    """Evaluate one shard in chunks and send each one's rows; leave at once (abandoned check
    threads may still spin). The collector stays off (the runner paused it before forking), so
    it never writes to the estate's shared pages."""
    gc.disable()
    code = 0
    try:
        assert _JOB is not None
        estate, checks, timeout = _JOB
        hung: set[str] = set()  # a check that timed out in one chunk is not run in the next
        step = max(1, -(-(high - low) // CHUNKS))
        for start in range(low, high, step):
            findings = evaluate(estate, checks, timeout, estate.resources[start : min(start + step, high)], hung)
            writer.send_bytes(_ROWS + pickle.dumps(_rows(findings), protocol=pickle.HIGHEST_PROTOCOL))
        writer.send_bytes(_DONE)
    except BaseException as exc:  # reported to the parent, which raises
        code = 1
        with contextlib.suppress(BaseException):
            writer.send_bytes(_FAILED + type(exc).__name__.encode())
    finally:
        writer.close()
        sys.stdout.flush()
        os._exit(code)


def _rows(findings: list[Finding]) -> list[dict[str, Any]]:
    """Each finding's own values (evidence as (path, value) pairs, remediation as whether it has
    the check's); identical objects pickle once, so repeated ids, names and messages are cheap."""
    rows = []
    for finding in findings:
        row = finding.__dict__.copy()
        row["evidence"] = tuple((e.path, e.value) for e in finding.evidence)
        row["remediation"] = finding.remediation is not None
        rows.append(row)
    return rows


def _rebuild(rows: list[dict[str, Any]], metas: Mapping[str, CheckMeta]) -> list[Finding]:
    """Findings again, their values in key-sharing dicts as the runner makes them (a third of the
    memory of the unpickled ones)."""
    evidence = props.evidence
    out = []
    for row in rows:
        row["evidence"] = tuple(evidence(path, value) for path, value in row["evidence"])
        row["remediation"] = metas[row["check_id"]].remediation if row["remediation"] else None
        values = FINDING_VALUES.copy()
        values.update(row)
        out.append(trusted(Finding, values, FINDING_SET))
    return out
