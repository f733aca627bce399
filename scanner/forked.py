"""Tasks shared out between this process and forked children that see its memory copy-on-write.

After a scan every report is a pure function of one large result already in memory: a child
forked then renders it without anything being copied or pickled on the way in, and sends back
only a small value (a report's size and digest). Tasks sit in a pipe that every process takes
from one at a time, so a process that finishes early takes the next one and the work balances
itself whatever the formats cost.

A child that fails says how (an MlwardenError keeps its message and exit code, anything else
its type's name) and one that dies says nothing: either way the parent raises once every child
has ended, so the caller's all-or-nothing rule holds. Children leave with `os._exit`: they
share the parent's files, locks and atexit handlers, none of which are theirs to run.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from scanner import errors
from scanner.bulk import flush_std_streams
from scanner.cores import free_cores, usable_cores
from scanner.errors import MlwardenError

T = TypeVar("T")
_OK, _FAILED, _REFUSED = b"+", b"?", b"!"


def children_for(tasks: int, jobs: int | str = "auto") -> int:
    """Children to fork for `tasks` independent tasks: with `jobs` processes in all (`auto`: one
    per free core, see `cores.free_cores`), never more than tasks need; none where fork is not
    available."""
    if not hasattr(os, "fork") or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    processes = free_cores(min(tasks, usable_cores())) if jobs == "auto" else int(jobs)
    return max(0, min(tasks, processes) - 1)


class _Queue:
    """Task numbers in a pipe: a one-byte read takes the next one, atomically across processes."""

    def __init__(self, count: int) -> None:
        assert count < 256
        self._reader, writer = os.pipe()
        os.write(writer, bytes(range(count)))
        os.close(writer)

    def take(self) -> int | None:
        data = os.read(self._reader, 1)
        return data[0] if data else None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._reader)


@dataclass
class _Child:
    pid: int
    reader: int
    status: int | None = None

    def receive(self) -> bytes:
        """Everything the child sent, once it closed its end (ended)."""
        chunks = []
        while chunk := os.read(self.reader, 1 << 16):
            chunks.append(chunk)
        os.close(self.reader)
        _, self.status = os.waitpid(self.pid, 0)
        return b"".join(chunks)

    def kill(self) -> None:
        if self.status is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.close(self.reader)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.status = -1


@dataclass(frozen=True)
class Shared(Generic[T]):
    """How `run` hands out tasks: `do(i)` is task i's value, in whichever process takes it;
    `in_child` runs first in each child (e.g. to drop locks that must end with the parent)."""

    do: Callable[[int], T]
    in_child: Callable[[], object] = lambda: None


def run(count: int, shared: Shared[T], children: int) -> list[T]:
    """Every task's value, in task order, from this process and `children` forked ones (see
    `children_for`), each taking the next task when free; serial, in order, without children."""
    if children == 0:
        return [shared.do(index) for index in range(count)]
    queue = _Queue(count)
    started: list[_Child] = []
    try:
        flush_std_streams()  # what a child would otherwise print a second time
        for _ in range(children):
            started.append(_fork(queue, shared))
        done = _take_all(queue, shared)
        for child in started:
            done.update(_outcome(child.receive(), child.status))
    finally:
        queue.close()
        for child in started:
            child.kill()
    return [done[index] for index in range(count)]


def _take_all(queue: _Queue, shared: Shared[T]) -> dict[int, T]:
    done: dict[int, T] = {}
    while (index := queue.take()) is not None:
        done[index] = shared.do(index)
    return done


def _fork(queue: _Queue, shared: Shared[T]) -> _Child:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code, whatever happens
        try:
            os.close(reader)
            _child(queue, shared, writer)
        finally:
            os._exit(70)
    os.close(writer)
    return _Child(pid, reader)


def _child(queue: _Queue, shared: Shared[T], writer: int) -> None:
    """Take tasks until none is left, send their values (or the failure), and leave at once.
    The collector stays off: it would write to every shared page it walks."""
    gc.disable()
    try:
        shared.in_child()
        payload = _OK + pickle.dumps(_take_all(queue, shared), protocol=pickle.HIGHEST_PROTOCOL)
    except MlwardenError as exc:
        payload = _REFUSED + pickle.dumps((type(exc).__name__, str(exc), exc.exit_code))
    except BaseException as exc:  # reported to the parent, which raises
        payload = _FAILED + type(exc).__name__.encode()
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(writer, view) :]
        flush_std_streams()
    finally:
        os._exit(0)


def _outcome(payload: bytes, status: int | None) -> dict[int, T]:
    """The values a child sent, or its failure raised here as it would have been in this process."""
    kind, body = payload[:1], payload[1:]
    if kind == _OK:
        values: dict[int, T] = pickle.loads(body)
        return values
    if kind == _REFUSED:
        name, message, exit_code = pickle.loads(body)
        kind_of = getattr(errors, name, MlwardenError)
        error = kind_of(message) if isinstance(kind_of, type) and issubclass(kind_of, MlwardenError) else None
        if error is None or error.exit_code != exit_code:
            error = MlwardenError(message)
            error.exit_code = exit_code
        raise error
    if kind == _FAILED:
        name = body.decode(errors="replace")
        if name == "KeyboardInterrupt":
            raise KeyboardInterrupt
        # Same type name as the failure in the child: the CLI's one error line names it.
        raise type(name, (RuntimeError,), {})(f"failed in a forked child: {name}")
    how = f"signal {-os.waitstatus_to_exitcode(status)}" if status is not None and os.WIFSIGNALED(status) else "exit"
    raise RuntimeError(f"a forked child died ({how}) before sending its result")


__all__ = ["Shared", "children_for", "run", "usable_cores"]
