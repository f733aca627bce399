"""The check phase across processes: checks are pure functions of (resource, estate), so the
estate is cut into contiguous shards of resources and each is evaluated by its own process.

The indexed estate is shared read-only through `fork` (it sits in a module global when the
children are forked, so nothing is pickled on the way in). Each child runs the ordinary runner
(same supervisor, same per-call time limit, same plugin isolation) on its shard and sends back
compact rows: each verdict with the places of its check and resource (`runner.Row`), whose
repeated objects pickle once. The parent evaluates the first shard itself meanwhile, while a
thread per child makes the findings of that child's rows with the runner's own code as they
arrive (another takes them off the pipe); the merged list is in the serial run's call order and
sorts to the identical result.

Once its checks are done, the last child can work out something else of the estate alone (an
`aside`, such as the posture's dependency walk) and send it too: its core would otherwise idle
while this process merges and indexes the findings. The run returns without waiting for it, and
whoever reads the aside before it has arrived walks it too meanwhile, taking whichever is done
first: a child starved of CPU on a busy machine never leaves this process idle waiting for it.

A child that dies or fails is a bug (exit 4), never a silent hole in the findings.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import itertools
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from scanner import props
from scanner.bulk import flush_std_streams, to_end
from scanner.cores import free_cores, usable_cores
from scanner.estate import Estate
from scanner.finding_index import Piece, index_piece, merged
from scanner.models import Evidence, Finding
from scanner.registry import Check
from scanner.runner import Checked, Row, SortKey, evaluate, evaluate_rows, findings_of, plans, sort_key

MIN_PAIRS_PER_JOB = 5_000
"""Check calls each process must get before forking one pays. Measured on generated estates as the
sharded run's critical path (the busier process's CPU) against the serial CPU: 0.99 at 1,000
resources (3,200 calls), 0.82 at 3,000 (9,700 calls), 0.75 at 6,000 and 0.68 at 100,000; fork,
pickling and making the rows' findings are a cost that smaller estates do not repay."""
PARENT_SHARE = 0.3
"""The parent's part of the calls against one child's: besides its own part it makes the findings
of every child's rows, sorts and indexes them (`finding_index.Piece`) and merges everything at the
end, while the last child walks the posture's dependencies once its checks are done (`aside`),
which the parent needs soon after the merge. Measured at 100,000 resources (CPU seconds, one
machine, load about 5): the parent's checks 3.45 s at 0.35 against the child's 2.9 s plus a 0.4 s
walk; 3.2 s at 0.25 against 3.15 s plus the walk, which then came late."""

T = TypeVar("T")
Stepwise = Callable[[Estate], Generator[None, None, T]]
"""Work of the estate alone that pauses (yields) now and then and returns its value (an aside)."""
_JOB: tuple[Estate, Mapping[str, Check], float | None, Stepwise[Any] | None] | None = None
"""What the children evaluate (and the last one's aside), set while a sharded run lasts (the children inherit it)."""


def pair_counts(estate: Estate, checks: Mapping[str, Check]) -> list[int]:
    """Check calls per resource, in the runner's order."""
    per_kind: dict[str, int] = {}
    for item in checks.values():
        for kind in item.meta.kinds:
            per_kind[kind] = per_kind.get(kind, 0) + 1
    kind_of = estate.kind_of
    return [per_kind.get(kind_of.get(r.id_key) or "", 0) for r in estate.resources]


def jobs_for(requested: int | str | None, pairs: int) -> int:
    """Processes to use: `auto` uses every free core (`cores.free_cores`: usable, within the CPU
    quota and not busy with other work) once each has enough calls to pay for itself; a number is
    taken as given (1 is serial)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested is None or requested == "auto":
        return free_cores(min(usable_cores(), pairs // MIN_PAIRS_PER_JOB))
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
    """The findings of every shard, sorted (`runner.sort_key`) as the serial run sorts them: the
    first shard evaluated here, the rest in children."""
    return run_sharded_aside(estate, checks, timeout, bounds, None, indexed=False).findings


def run_sharded_aside(
    estate: Estate,
    checks: Mapping[str, Check],
    timeout: float | None,
    bounds: Sequence[tuple[int, int]],
    aside: Stepwise[T] | None,
    *,
    indexed: bool = True,
) -> Checked[T]:
    """`run_sharded`, the findings' index when `indexed` (see `finding_index.Piece`), and what
    `aside(estate)` returns, worked out by the last child once its checks are done (see `Aside`; it
    must pickle).

    Threads per child (`_Shard`) receive its rows and make their findings while this process
    evaluates its own shard: a child never blocks on a full pipe waiting for the parent to finish
    its shard, which would serialise the work. Each piece is sorted (and indexed) as it is made, so
    what is left once the last child is done is merging sorted runs."""
    global _JOB
    context = multiprocessing.get_context("fork")
    shards: list[_Shard] = []
    later: Aside[T] = Aside()
    _JOB = (estate, checks, timeout, aside)
    try:
        for number, (low, high) in enumerate(bounds[1:], 2):
            reader, writer = context.Pipe(duplex=False)
            _widen(writer)
            last = number == len(bounds)
            claims = _Claims(context, chunks(low, high))
            child = context.Process(target=_child, args=(claims, writer, last), daemon=True)
            child.start()
            writer.close()
            shards.append(
                _Shard(child, reader, estate, checks, claims, aside=aside is not None and last, indexed=indexed)
            )
        for shard in shards:
            shard.start()
        low, high = bounds[0]
        findings, keys = _sorted(evaluate(estate, checks, timeout, estate.resources[low:high]))
        pieces = [index_piece(findings)] if indexed else []
        for shard in shards:
            while not shard.rows_done.wait(_POLL):
                if (chunk := shard.steal()) is not None:  # nothing of the child's to make: take a chunk of its own
                    shard.evaluate(chunk, timeout)
            if shard.failure is not None:
                raise shard.failure
            shard.settle(timeout)
            for found, found_keys, piece in shard.in_order():
                findings += found
                keys += found_keys
                if piece is not None:
                    pieces.append(piece)
        later = Aside(shards[-1], aside) if aside is not None else Aside()
        # Sorted runs in call order: a stable sort of them is the stable sort of the calls' findings.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        index = merged(pieces, order) if indexed else None
        return Checked(list(map(findings.__getitem__, order)), index, later)
    finally:
        _JOB = None
        for shard in shards:
            if shard is not later.shard:
                shard.close()


class Aside(Generic[T]):
    """A value of the estate alone that a shard child works out beside the checks (`value`), or
    None when no child did (a serial run): the caller then works it out itself, in whatever way
    costs it least. Reading it is optional: a child whose value is never read (the scan failed
    before it needed it) still sends it to its receiving thread and ends."""

    def __init__(self, shard: _Shard | None = None, work: Stepwise[T] | None = None) -> None:
        self.shard = shard
        self.work = work
        """The child's work, which this process walks too while the child's value has not arrived."""

    def value(self) -> T | None:
        """The child's value, or this process's own when it finished the work first (a child
        starved of CPU, or stopped, is never waited for); the child ends either way. A child that
        failed or died before this process was done is a bug (raised)."""
        shard = self.shard
        if shard is None:
            return None
        try:
            if self.work is not None and not shard.aside_done.is_set():
                steps = self.work(shard.estate)
                try:
                    while not shard.aside_done.is_set():
                        next(steps)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                finally:
                    steps.close()
            shard.join()
            if shard.aside_failure is not None:
                raise shard.aside_failure
            return shard.aside  # type: ignore[no-any-return]
        finally:
            shard.close()


def _widen(writer: Connection) -> None:
    """Give the pipe 1 MiB instead of 64 KiB where Linux allows it: the parent's thread reads a
    chunk in pieces of the pipe's size and needs the GIL back between two (up to 5 ms while
    this process evaluates), so with a small pipe a child waited about 0.35 s at 100k."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or above the system's limit
        fcntl.fcntl(writer.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)


class _Shard(threading.Thread):
    """Rebuilds one child's findings from its rows as they arrive, then takes its aside if it has
    one. Messages are taken off the pipe by a thread of their own (`_drain`) the moment they come:
    this one shares the interpreter with the parent's own evaluation, and when making a large
    chunk's findings took it longer than the child took to evaluate the next chunk, the child
    waited on a full pipe (up to 1.8 s at 100,000 resources) instead of evaluating."""

    def __init__(
        self,
        child: Any,
        reader: Connection,
        estate: Estate,
        checks: Mapping[str, Check],
        claims: _Claims,
        *,
        aside: bool,
        indexed: bool,
    ) -> None:
        super().__init__(name="mlwarden-shard", daemon=True)
        self.child = child
        self.reader = reader
        self.inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        """The child's messages in order, then None once its pipe is at end of file."""
        self.drain = threading.Thread(target=self._drain, name="mlwarden-shard-pipe", daemon=True)
        self.estate = estate
        self.plans = plans(estate, checks)
        self.claims = claims
        self.parts: dict[int, tuple[list[Finding], list[SortKey], Piece | None]] = {}
        """Chunk -> its findings sorted, their sort keys and (when `indexed`) their index, whoever evaluated it."""
        self.indexed = indexed
        self.busy = False
        """Set while this thread makes a chunk's findings."""
        self.idle_since = time.monotonic()
        """When this thread last had something of the child's to make (as `steal` saw it)."""
        self.checks = checks
        self.stolen: list[int] = []
        """Chunks this process evaluated itself, and the checks that timed out there (`settle`)."""
        self.stolen_hung: set[str] = set()
        self.child_hung: set[str] = set()
        """The checks that timed out in the child (sent with its last message)."""
        self.expects_aside = aside
        self.aside: Any = None
        self.rows_done = threading.Event()
        """Set once every row is in `findings` (or `failure` is set)."""
        self.failure: BaseException | None = None
        self.aside_failure: BaseException | None = None
        self.aside_done = threading.Event()
        """Set once `aside` (or `aside_failure`) is set."""

    def start(self) -> None:
        self.drain.start()
        super().start()

    def _drain(self) -> None:
        """Move every message from the pipe to `inbox` until the child has closed it (`recv`
        waits without the GIL)."""
        try:
            while True:
                self.inbox.put(self.reader.recv_bytes())
        except (EOFError, OSError):  # the child ended, or `close` closed the pipe
            pass
        finally:
            self.inbox.put(None)

    def run(self) -> None:
        try:
            while True:
                chunk, rows = _receive(self.child, self.inbox)
                self.busy = True
                made: list[SortKey] = []
                self.add(chunk, *_sorted(findings_of(rows, self.estate, self.plans, made), made))
                self.busy, self.idle_since = False, time.monotonic()
        except _Done as done:
            self.child_hung = set(done.hung)
        except BaseException as exc:  # raised by the parent once it has evaluated its own shard
            self.failure = exc
            return
        finally:
            self.rows_done.set()
        if self.expects_aside:
            try:
                self.aside = _receive_aside(self.child, self.inbox)
            except BaseException as exc:  # raised by whoever asks for the aside
                self.aside_failure = exc
            finally:
                self.aside_done.set()

    def add(self, chunk: int, findings: list[Finding], keys: list[SortKey]) -> None:
        """A chunk's findings (sorted) and their keys."""
        self.parts[chunk] = (findings, keys, index_piece(findings) if self.indexed else None)

    def in_order(self) -> list[tuple[list[Finding], list[SortKey], Piece | None]]:
        """Every chunk's part, in call order."""
        return [self.parts[chunk] for chunk in sorted(self.parts)]

    def evaluate(self, chunk: int, timeout: float | None) -> None:
        """Evaluate one of the child's chunks here."""
        start, end = self.claims.chunks[chunk]
        found = evaluate(self.estate, self.checks, timeout, self.estate.resources[start:end], self.stolen_hung)
        self.add(chunk, *_sorted(found))
        self.stolen.append(chunk)

    def settle(self, timeout: float | None) -> None:
        """Make the chunks evaluated here what the child would have made of them, once it is done.
        They are the last ones (taken from the end) and equal to its own unless a check timed out:
        then, as in one process, a check that timed out is not run on later resources, so they are
        evaluated again in call order, after the child's chunks (rare: a check that hangs)."""
        if not self.stolen or not (self.child_hung or self.stolen_hung):
            return
        redo = sorted(self.stolen)
        self.stolen_hung = set(self.child_hung)
        self.stolen = []
        for chunk in redo:
            self.evaluate(chunk, timeout)

    def steal(self) -> int | None:
        """The last chunk the child has not begun, now this process's to evaluate, once this thread
        has had nothing of the child's to make for `_IDLE` seconds (else None)."""
        now = time.monotonic()
        if self.busy or not self.inbox.empty():
            self.idle_since = now
            return None
        if now - self.idle_since < _IDLE:
            return None
        return self.claims.take_last()

    def close(self) -> None:
        """End the child if it still runs (a failure elsewhere, or an aside nobody asked for), then these threads."""
        if self.child.is_alive():
            self.child.terminate()
        self.child.join()
        if self.ident is not None:
            self.drain.join()  # the child is gone: its pipe is at end of file
            self.join()
        self.reader.close()


def _sorted(findings: list[Finding], keys: list[SortKey] | None = None) -> tuple[list[Finding], list[SortKey]]:
    """The findings in stable `sort_key` order, and their keys (given, or worked out) in that order."""
    if keys is None:
        keys = list(map(sort_key, findings))
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return list(map(findings.__getitem__, order)), list(map(keys.__getitem__, order))


def _message(child: Any, inbox: queue.SimpleQueue[bytes | None]) -> bytes:
    """A child's next message; a child that ended without sending it died."""
    payload = inbox.get()
    if payload is None:
        child.join()
        raise RuntimeError(f"a check shard process died (exit code {child.exitcode})")
    return payload


class _Done(Exception):
    """The child has sent all its rows; `hung` are the checks that timed out there."""

    def __init__(self, hung: list[str]) -> None:
        super().__init__()
        self.hung = hung


def _receive(child: Any, inbox: queue.SimpleQueue[bytes | None]) -> tuple[int, list[Row]]:
    """The next chunk of a child's rows, with its number; raises `_Done` once it has sent them all."""
    payload = _message(child, inbox)
    if payload[:1] == _DONE:
        raise _Done(pickle.loads(payload[1:]))
    if payload[:1] != _ROWS:
        raise RuntimeError(f"a check shard process failed: {payload[1:].decode(errors='replace')}")
    chunk: int
    rows: list[Row]
    chunk, rows = pickle.loads(payload[1:])
    return chunk, rows


def _receive_aside(child: Any, inbox: queue.SimpleQueue[bytes | None]) -> Any:
    """The aside a child sent after its rows."""
    payload = _message(child, inbox)
    if payload[:1] != _ASIDE:
        raise RuntimeError(f"a check shard process failed: {payload[1:].decode(errors='replace')}")
    return pickle.loads(payload[1:])


_ROWS, _DONE, _ASIDE, _FAILED = b"+", b".", b"=", b"!"
CHUNK_ENDS = (0.25, 0.5, 0.68, 0.82, 0.91, 0.96, 0.99, 1.0)
"""Where a child's pieces end, as fractions of its shard: the parent makes one piece's findings
while the child evaluates the next, so only the last piece waits for the child, and it is small."""
_POLL = 0.02
"""Seconds between two looks, while this process waits for a child's rows, at whether it could
evaluate one of the child's chunks itself."""
_IDLE = 0.5
"""Seconds this process must have had nothing of a child's to make before it takes one of the
child's chunks: in an ordinary run the child's next chunk comes sooner, and a chunk taken then
would only delay making that one's findings (a starved child sends nothing for much longer)."""


def chunks(low: int, high: int) -> list[tuple[int, int]]:
    """The resource ranges of a child's chunks (`CHUNK_ENDS`), in call order."""
    ends = sorted({low + round((high - low) * end) for end in CHUNK_ENDS} - {low})
    return list(itertools.pairwise([low, *ends]))


class _Claims:
    """Which of a child's chunks are still to be begun, shared by the child and this process: the
    child begins them from the first, and this process, once it has nothing else to do while it
    waits (a child starved of CPU on a busy machine), takes them from the last. Whoever claims a
    chunk evaluates it; the findings are the same either way."""

    def __init__(self, context: Any, ranges: list[tuple[int, int]]) -> None:
        self.chunks = ranges
        self._lock = context.Lock()
        self._bounds = context.RawArray("i", [0, len(ranges)])
        """[first chunk not begun, end of the chunks not begun]."""

    def take_first(self) -> int | None:
        with self._lock:
            first, end = self._bounds
            if first >= end:
                return None
            self._bounds[0] = first + 1
            return int(first)

    def take_last(self) -> int | None:
        with self._lock:
            first, end = self._bounds
            if first >= end:
                return None
            self._bounds[1] = end - 1
            return int(end - 1)


def _child(claims: _Claims, writer: Connection, last: bool) -> None:
    """Evaluate one shard in chunks (those the parent has not taken, `_Claims`) and send each
    one's rows, then (`last`) the aside; leave at once (abandoned check threads may still spin).
    The collector stays off (the runner paused it before forking), so it never writes to the
    estate's shared pages."""
    gc.disable()
    code = 0
    try:
        assert _JOB is not None
        estate, checks, timeout, aside = _JOB
        hung: set[str] = set()  # a check that timed out in one chunk is not run in the next
        while (chunk := claims.take_first()) is not None:
            start, end = claims.chunks[chunk]
            rows = evaluate_rows(estate, checks, timeout, start, end, hung)
            writer.send_bytes(_ROWS + _pickle((chunk, rows)))
        writer.send_bytes(_DONE + pickle.dumps(sorted(hung)))
        if last and aside is not None:
            writer.send_bytes(_ASIDE + pickle.dumps(to_end(aside(estate)), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as exc:  # reported to the parent, which raises
        code = 1
        with contextlib.suppress(BaseException):
            writer.send_bytes(_FAILED + type(exc).__name__.encode())
    finally:
        writer.close()
        flush_std_streams()
        os._exit(code)


def _pickle(rows: tuple[int, list[Row]]) -> bytes:
    """Rows pickled with evidence as (path, value), which the parent turns into its own shared
    evidence; identical objects pickle once, so repeated messages and evidence are cheap."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {Evidence: lambda e: (props.evidence, (e.path, e.value))}
    pickler.dump(rows)
    return buffer.getvalue()
