"""Every file a scan writes, all or nothing.

A scan may write reports into `--out`, a baseline and a history record. They are checked before
the scan runs (a bad path costs nothing), staged while it runs (reports rendered into a
temporary directory inside `--out`, each written as a stream, and hashed as it goes when an
evidence pack will list its digest; the baseline into a temporary file beside it), and only
then committed: staged files are renamed into place, each replaced file kept aside until the
whole set (history record included) has landed. On any failure the renames are undone, so
nothing of the failed run remains and earlier reports stay as they were.

Staging directories and files hold an exclusive `flock` while their run is alive; the next
run removes any it can lock, which are what an interrupted run (SIGKILL, power loss) left. Each
is made under a claim name and takes its staging name only once locked, so that a concurrent
run's sweep never takes one in the moment between (see `_claim`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import queue
import secrets
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Generic, TypeVar, cast

from scanner import files, sigterm
from scanner.errors import InputError

STAGING_PREFIX = ".mlwarden-staging-"
CLAIM_PREFIX = ".mlwarden-claim-"
"""A staging entry's name from its creation until its run holds its lock (see `_claim`)."""
STALE_CLAIM_SECONDS = 600
T = TypeVar("T")
V = TypeVar("V")


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _where(option: str, path: Path) -> str:
    return f"{option} {path}"


def _not_a_file(path: Path) -> str | None:
    """What an existing output path is when it is no file a rename may replace, else None.

    An output lands by renaming a staged file over it: over `/dev/null` (`--write-baseline
    /dev/null`) that replaced the device node with a regular file for every process on the host,
    and over a FIFO the backup kept for a roll-back blocked forever when opened to be locked.
    A symbolic link is replaced, never written through; but not one that stands for a file
    descriptor (`/dev/stdout`, `/dev/stdin`: the host's own links, which were replaced just the same).
    """
    try:
        info = path.lstat()
    except OSError:
        return None
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        if _names_a_descriptor(path):
            return "a link to a file descriptor (like /dev/stdout)"
        return "a symbolic link loop" if _loops(path) else None
    if stat.S_ISREG(mode):  # a file of /proc or /sys is no file a report may replace
        system = files.pseudo_file_system(info.st_dev)
        return None if system is None else f"a {system} file of the kernel"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _is_dir(path: Path) -> bool:
    """`path.is_dir()`, except that a name the file system refuses (ENAMETOOLONG: a component over
    255 bytes) is no directory: the write that follows names the refusal (it was exit 4)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _loops(link: Path) -> bool:
    """Whether following `link` never ends (`a -> a`): a name that was a mistake, not a link to replace."""
    try:
        link.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _names_a_descriptor(link: Path) -> bool:
    """Whether a chain of symbolic links passes through /proc or /dev/fd (`/dev/stdout` ->
    `/proc/self/fd/1`); whatever fd 1 is at the moment, the link is the host's."""
    current = str(link)
    for _ in range(40):
        try:
            target = os.readlink(current)
        except OSError:
            return False
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        if current.startswith(("/proc/", "/dev/fd/")):
            return True
    return False


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _locked(fd: int) -> bool:
    """True when another live process holds the lock on `fd`."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


def sweep(directory: Path, prefix: str = STAGING_PREFIX) -> list[Path]:
    """Remove staging entries under `directory` whose run is gone (no live lock); return them."""
    removed: list[Path] = []
    try:
        entries = [e for e in directory.iterdir() if e.name.startswith(prefix) or _stale_claim(e)]
    except OSError:
        return removed
    for entry in entries:
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO so named must not block
        except OSError:
            continue
        try:
            if _locked(fd):
                continue
            _remove(entry)
            removed.append(entry)
        finally:
            os.close(fd)
    return removed


def _claim(make: Callable[[], tuple[int | None, str]], final: Path) -> tuple[int, Path]:
    """Make a staging entry with `make` (its open descriptor or None, and its path), lock it, and
    only then rename it to `final`, its staging name; run it under `sigterm.held`.

    A sweep removes the staging entries nobody holds locked, which are an interrupted run's. An
    entry made under its staging name and locked a moment later could be swept in between by a
    concurrent run (two scans into one `--out`: "--out DIR: cannot write: No such file or
    directory"). Made under a claim name, an entry is already locked when it becomes sweepable;
    a sweep takes a claim only once it is old (what a run killed in that moment left)."""
    fd, made = make()
    try:
        if fd is None:
            fd = os.open(made, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(made, final)
    except BaseException:
        if fd is not None:
            os.close(fd)
        _remove(Path(made))
        raise
    return fd, final


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            entry.unlink()


def _stale_claim(entry: Path) -> bool:
    try:
        return entry.name.startswith(CLAIM_PREFIX) and time.time() - entry.lstat().st_mtime > STALE_CLAIM_SECONDS
    except OSError:
        return False


def _probe(directory: Path) -> None:
    """Create and remove a file in `directory` (is it writable?). A concurrent run's sweep may
    remove it first, since it carries the staging prefix so that a killed run's probe is swept."""
    with sigterm.held():
        fd, name = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=directory)
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _make_dirs(path: Path, option: str, shown: Path | None = None) -> list[Path]:
    """`mkdir -p path`, returning the directories it created (outermost first); errors name
    `option shown` (the path as the user gave it). A directory another process creates meanwhile
    (concurrent scans into one new history directory) is used, not claimed: only its creator's
    failure may remove it."""
    shown = path if shown is None else shown
    missing: list[Path] = []
    probe = path
    try:  # pathlib's exists() raises for a name the file system refuses (over 255 bytes): was exit 4
        while not probe.exists():
            if probe.is_symlink():  # a dangling symlink: mkdir would fail with a confusing error
                raise InputError(f"{_where(option, shown)}: {probe} is a broken symbolic link")
            missing.append(probe)
            if probe.parent == probe:
                break
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise InputError(f"{_where(option, shown)}: {probe} is not a directory")
    except OSError as exc:
        raise InputError(f"{_where(option, shown)}: cannot create directory: {_reason(exc)}") from None
    created: list[Path] = []
    try:
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except FileExistsError:
                if not directory.is_dir():
                    raise
                continue
            created.append(directory)
    except OSError as exc:
        _remove_dirs(created)
        raise InputError(f"{_where(option, shown)}: cannot create directory: {_reason(exc)}") from None
    return created


def _remove_dirs(created: list[Path]) -> None:
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            directory.rmdir()


@dataclass(frozen=True)
class CommitStep:
    """One more output that lands with the reports (a history record, an evidence pack):
    `run` after the reports are in place; `undo` if a later step fails; `abandon` if it never ran."""

    run: Callable[[], object]
    undo: Callable[[], object] | None = None
    abandon: Callable[[], object] | None = None


@dataclass(frozen=True)
class StagedFile:
    """A report written into staging, with the size and SHA-256 of its bytes, computed as they were
    written, or (`Outputs.digests` off) read back from the staged file the first time it is asked for."""

    name: str
    path: Path
    size: int
    digest: str | None = None

    @property
    def sha256(self) -> str:
        digest = self.digest
        if digest is None:
            digest = _file_sha256(self.path)
            object.__setattr__(self, "digest", digest)
        return digest


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class Written(Generic[T]):
    file: StagedFile
    value: T
    """What the writer returned (e.g. the notices of a report)."""


class _Hashing:
    """A write-only binary handle that hashes (unless `digests` is off) and counts what passes
    through to the file.

    Hashing and writing happen in a thread (both release the GIL), so the renderer builds its
    next piece meanwhile: on the 440 MB JSON report of 100,000 resources they are about 0.5 s of
    work, the hashing 0.2 s of it. Small writes are gathered first (a hand-off costs more than
    hashing a few bytes); at most `_QUEUED` pieces wait, so memory stays bounded. `finish` (or
    `abandon`) ends the thread."""

    _PIECE = 1 << 16
    _QUEUED = 8

    def __init__(self, handle: IO[bytes], digests: bool = True) -> None:
        self._handle, self._digest, self.size = handle, hashlib.sha256() if digests else None, 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=self._QUEUED)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="mlwarden-report-writer", daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        piece = bytes(data)  # the same object for bytes; a copy of a buffer its owner may reuse
        self.size += len(piece)
        self._pending.append(piece)
        self._pending_size += len(piece)
        if self._pending_size >= self._PIECE:
            self._send()
        return len(piece)

    def _send(self) -> None:
        if self._error is not None:
            raise self._error
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        self._queue.put(data)

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    if self._digest is not None:
                        self._digest.update(data)
                    self._handle.write(data)
                except BaseException as exc:  # raised in the renderer's thread at its next piece or at finish
                    self._error = exc

    def flush(self) -> None:
        """Nothing to do before `finish`: pieces reach the file in order."""

    def writable(self) -> bool:
        return True

    def finish(self) -> None:
        """Wait until every byte is hashed and handed to the file; raise what writing raised."""
        if self._pending:
            self._send()
        self._end()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """The renderer failed: end the thread, ignoring what is left."""
        self._pending = []
        self._end()

    def _end(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def hexdigest(self) -> str | None:
        return None if self._digest is None else self._digest.hexdigest()


@dataclass
class _Staged:
    target: Path
    staged: Path
    backup: Path | None = None
    committed: bool = False


@contextlib.contextmanager
def _landing(out: Path | None) -> Iterator[None]:
    """One run at a time lands its reports in `out`: two scans writing one directory renamed their
    reports in turn, so the directory could end with one run's JSON beside the other's CSV. The
    lock is an exclusive `flock` on the directory, waited for, held until the run's steps are done."""
    if out is None:
        yield
        return
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class Outputs:
    """The destinations of one scan, checked up front and committed together."""

    out: Path | None = None
    report_names: tuple[str, ...] = ()
    baseline: Path | None = None
    history: str | Path | None = None
    inputs: tuple[tuple[str, Path], ...] = ()
    """(option, file) of every file the scan reads: no output may land on one of them."""
    pack: Path | None = None
    """The `--evidence-pack` directory (written by scanner.evidence): no other output may land in
    it, on it, or around it."""
    digests: bool = True
    """Hash each report as it is written (an evidence pack lists the digests); off, a report's
    `sha256` is read back from its staged file if ever asked for, and an ordinary scan does not
    spend 0.2 s of a core hashing the 440 MB JSON report of 100,000 resources."""
    _created: list[Path] = field(default_factory=list)
    _staging: Path | None = None
    _lock_fds: list[int] = field(default_factory=list)
    _baseline_tmp: Path | None = None
    _staged: list[_Staged] = field(default_factory=list)
    _scratch: Path | None = None
    """Private staging for reports that do not go to `--out` (stdout, an evidence pack only)."""

    # -- before the scan -------------------------------------------------------------------
    def prepare(self) -> None:
        """Check every destination is usable and reserve staging space; raise InputError if not."""
        self._check_overlaps()
        try:
            if self.out is not None:
                self._prepare_out(self.out)
            if self.baseline is not None:
                self._prepare_baseline(self.baseline)
            if self.history is not None:
                self._check_history(self.history)
        except BaseException:
            self.discard()
            raise

    def _check_overlaps(self) -> None:
        """No output may be written over a file the scan reads (`--write-baseline estate.jsonl`
        replaced the snapshot it scanned) or over another output (a baseline named like a report
        in `--out`: one of them silently lost). Refreshing `--baseline` in place stays allowed."""
        from scanner import history

        written: list[tuple[str, Path]] = [("--out", self.out / name) for name in self.report_names if self.out]
        if self.baseline is not None:
            written.append(("--write-baseline", self.baseline))
        if self.history is not None and not history.is_url(self.history) and str(self.history).strip():
            written.append(("--history", Path(self.history)))
        seen: dict[str, tuple[str, Path]] = {}
        for option, path in written:
            key = os.path.realpath(path)
            if key in seen:
                raise InputError(f"{_where(option, path)}: is also where {seen[key][0]} writes")
            seen[key] = (option, path)
        if self.pack is not None:
            self._check_pack(self.pack, written)
        for option, path in self.inputs:
            writer = seen.get(os.path.realpath(path))
            if writer is not None and (option, writer[0]) != ("--baseline", "--write-baseline"):
                where = _where(*writer)
                raise InputError(f"{where}: is the {option} file this scan reads; writing there would destroy it")

    def _check_pack(self, pack: Path, written: list[tuple[str, Path]]) -> None:
        """The pack is a new directory holding exactly the files its manifest lists. Another output
        inside it (`--history pack/h.db`) landed there and the pack failed `verify` at once; one on
        it or around it (`--out pack`, `--write-baseline pack`, `--evidence-pack base.json/p`) made
        the directory the other needed, so the run failed on a directory it had made itself
        (`exists and is not an empty directory`, `Is a directory`, or exit 4) and left it behind."""
        root = os.path.realpath(pack)
        inside = root.rstrip(os.sep) + os.sep
        if self.out is not None and (os.path.realpath(self.out) + os.sep).startswith(inside):
            raise InputError(
                f"--out {self.out}: is inside --evidence-pack {pack}, which holds only the pack's own files"
            )
        for option, path in written:  # files
            key = os.path.realpath(path)
            if key == root:
                raise InputError(f"--evidence-pack {pack}: is also where {option} writes")
            if key.startswith(inside):
                raise InputError(
                    f"{_where(option, path)}: is inside --evidence-pack {pack}, which holds only the pack's own files"
                )
            if root.startswith(key + os.sep):
                raise InputError(f"--evidence-pack {pack}: is inside {path}, where {option} writes a file")

    def _prepare_out(self, out: Path) -> None:
        if out.exists() and not out.is_dir():
            raise InputError(f"{_where('--out', out)}: exists and is not a directory")
        self._created += _make_dirs(out, "--out")
        sweep(out)
        for name in self.report_names:
            if (what := _not_a_file(out / name)) is not None:
                raise InputError(f"{_where('--out', out)}: {name} is {what}, not a report file")
        try:
            with sigterm.held():
                fd, self._staging = _claim(
                    lambda: (None, tempfile.mkdtemp(prefix=CLAIM_PREFIX, dir=out)),
                    out / f"{STAGING_PREFIX}{secrets.token_hex(8)}",
                )
                self._lock_fds.append(fd)
        except OSError as exc:
            raise InputError(f"{_where('--out', out)}: cannot write: {_reason(exc)}") from None

    def _prepare_baseline(self, path: Path) -> None:
        if (what := _not_a_file(path)) is not None or _is_dir(path):
            what = what or "a directory"
            raise InputError(f"{_where('--write-baseline', path)}: is {what}, not a file it may replace")
        self._created += _make_dirs(path.parent, "--write-baseline", path)
        sweep(path.parent, self._baseline_prefix(path))
        try:
            with sigterm.held():
                fd, self._baseline_tmp = _claim(
                    lambda: tempfile.mkstemp(prefix=CLAIM_PREFIX, dir=path.parent),
                    path.parent / f"{self._baseline_prefix(path)}{secrets.token_hex(8)}",
                )
                self._lock_fds.append(fd)
        except OSError as exc:
            raise InputError(f"{_where('--write-baseline', path)}: cannot write: {_reason(exc)}") from None

    @staticmethod
    def _baseline_prefix(path: Path) -> str:
        return f"{STAGING_PREFIX}{path.name}."

    def _check_history(self, target: str | Path) -> None:
        """A SQLite history must be creatable or writable here; then the history module's own check."""
        from scanner import history

        history.open_store(target)  # refuses what is neither a file path nor a postgresql:// URL, before any mkdir
        if not history.is_url(target):
            db = Path(target)
            where = _where("--history", db)
            files.refuse(where, db)
            if db.exists():
                try:
                    db.open("r+b").close()
                except OSError as exc:
                    raise InputError(f"{where}: cannot open for writing: {_reason(exc)}") from None
            else:
                self._created += _make_dirs(db.parent, "--history", db)
                try:
                    _probe(db.parent)
                    with contextlib.suppress(FileNotFoundError):
                        db.lstat()  # a name the file system refuses (over 255 bytes) fails here, not as exit 4
                except OSError as exc:
                    raise InputError(f"{where}: cannot create it: {_reason(exc)}") from None
        history.check(target)

    # -- after the scan --------------------------------------------------------------------
    def stage_report(self, name: str, write: Callable[[IO[bytes]], T]) -> Written[T]:
        """Stream one report into staging through `write(handle)`, hashing it as it goes. With
        `--out` it lands there at commit; without, it stays in private staging (for stdout or an
        evidence pack) until `discard`."""
        return self.stage_reports([(name, write)], jobs=1)[0][0]

    def stage_reports(
        self,
        reports: Sequence[tuple[str, Callable[[IO[bytes]], T]]],
        also: Callable[[], V] | None = None,
        jobs: int | str = "auto",
    ) -> tuple[list[Written[T]], V | None]:
        """`stage_report` for each (name, write), then `also()` (the terminal summary), with the
        value of each. With several reports and `jobs` above 1 (`auto`: one per free core),
        forked children take these tasks as this process does (`scanner.forked`): each report is
        written and hashed exactly as it would be here, and whoever is free first takes `also`.
        Any failure, or a child's death, raises here after every child has ended: nothing is
        registered, so nothing lands."""
        from scanner import forked

        targets = [self._target(name) for name, _ in reports]
        tasks: list[Callable[[], object]] = [
            partial(self._write_report, target, write, self.digests)
            for target, (_, write) in zip(targets, reports, strict=True)
        ]
        if also is not None:
            tasks.append(also)
        children = forked.children_for(len(reports), jobs)
        done = forked.run(len(tasks), forked.Shared(lambda index: tasks[index](), self._release_locks), children)
        written = []
        for (name, _), (staged, _shown, _option), outcome in zip(reports, targets, done, strict=False):
            size, digest, value = cast(tuple[int, str | None, T], outcome)
            if self.out is not None:
                self._staged.append(_Staged(target=self.out / name, staged=staged))
            written.append(Written(StagedFile(name, staged, size, digest), value))
        return written, cast(V, done[-1]) if also is not None else None

    def _target(self, name: str) -> tuple[Path, Path, str]:
        """Where report `name` is staged, and how an error about it names the destination."""
        if self.out is not None:
            assert self._staging is not None
            return self._staging / name, self.out, "--out"
        return self._scratch_dir() / name, Path(name), "report"

    @staticmethod
    def _write_report(
        target: tuple[Path, Path, str], write: Callable[[IO[bytes]], T], digests: bool
    ) -> tuple[int, str | None, T]:
        staged, shown, option = target
        try:
            with staged.open("wb") as handle:
                hashing = _Hashing(handle, digests)
                try:
                    value = write(cast(IO[bytes], hashing))
                except BaseException:
                    hashing.abandon()
                    raise
                hashing.finish()
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(staged, 0o666 & ~_umask())
        except OSError as exc:
            raise InputError(f"{_where(option, shown)}: cannot write {staged.name}: {_reason(exc)}") from None
        return hashing.size, hashing.hexdigest(), value

    def _release_locks(self) -> None:
        """In a forked child: close its copies of the staging locks, so that they end with this
        run's own process (a next run may then sweep what a killed run left)."""
        for fd in self._lock_fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            try:
                with sigterm.held():
                    self._scratch = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX))
            except OSError as exc:
                raise InputError(f"cannot stage a report in {tempfile.gettempdir()}: {_reason(exc)}") from None
        return self._scratch

    def stage_baseline(self, data: bytes) -> None:
        assert self.baseline is not None and self._baseline_tmp is not None
        self._write(self._baseline_tmp, data, "--write-baseline", self.baseline)
        self._staged.append(_Staged(target=self.baseline, staged=self._baseline_tmp))

    @staticmethod
    def _write(path: Path, data: bytes, option: str, shown: Path) -> None:
        try:
            with path.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(path, 0o666 & ~_umask())
        except OSError as exc:
            raise InputError(f"{_where(option, shown)}: cannot write {path.name}: {_reason(exc)}") from None

    def commit(self, steps: Sequence[CommitStep] = ()) -> list[Path]:
        """Rename every staged file into place, then run `steps` in order; undo all on failure."""
        done: list[CommitStep] = []
        try:
            with _landing(self.out if self._staging is not None else None):
                for item in self._staged:
                    self._swap_in(item)
                for step in steps:
                    step.run()
                    done.append(step)
        except BaseException:
            for step in reversed(done):
                if step.undo is not None:
                    with contextlib.suppress(Exception):
                        step.undo()
            for step in steps[len(done) :]:
                if step.abandon is not None:
                    with contextlib.suppress(Exception):
                        step.abandon()
            self._roll_back()
            self.discard()
            raise
        written = [item.target for item in self._staged]
        self.discard(keep_created=True)
        return written

    def _swap_in(self, item: _Staged) -> None:
        """Replace the target; an existing one stays reachable under a second (locked) name."""
        in_out = self._staging is not None and item.staged.parent == self._staging
        try:
            if os.path.lexists(item.target):  # a symlink (even dangling) is replaced, never written through
                keep_dir = self._staging if in_out and self._staging is not None else item.target.parent
                prefix = f"{STAGING_PREFIX}old-" if in_out else self._baseline_prefix(item.target)

                backup = keep_dir / f"{prefix}{secrets.token_hex(8)}"
                if os.path.islink(item.target):  # not locked: a link kept aside may point nowhere from there
                    item.backup = self._keep_aside(item.target, backup)
                else:
                    claim = keep_dir / f"{CLAIM_PREFIX}{secrets.token_hex(8)}"
                    with sigterm.held():
                        fd, item.backup = _claim(lambda: (None, str(self._keep_aside(item.target, claim))), backup)
                        self._lock_fds.append(fd)
            os.replace(item.staged, item.target)
            item.committed = True
        except OSError as exc:
            option = "--out" if in_out else "--write-baseline"
            raise InputError(f"{option} {item.target}: cannot write: {_reason(exc)}") from None

    @staticmethod
    def _keep_aside(target: Path, backup: Path) -> Path:
        try:
            os.link(target, backup)
        except OSError:  # a filesystem without hard links
            shutil.copy2(target, backup, follow_symlinks=False)
        return backup

    def _roll_back(self) -> None:
        for item in reversed(self._staged):
            if not item.committed:
                continue
            with contextlib.suppress(OSError):
                if item.backup is not None:
                    os.replace(item.backup, item.target)
                else:
                    os.unlink(item.target)

    def discard(self, *, keep_created: bool = False) -> None:
        """Remove staging space (and, unless kept, the directories this run created)."""
        for directory in (self._staging, self._scratch):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
        self._staging = self._scratch = None
        if self._baseline_tmp is not None:
            with contextlib.suppress(OSError):
                self._baseline_tmp.unlink()
            self._baseline_tmp = None
        for item in self._staged:
            if item.backup is not None:
                with contextlib.suppress(OSError):
                    item.backup.unlink()
        for fd in self._lock_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._lock_fds.clear()
        if not keep_created:
            _remove_dirs(self._created)
        self._created = []


def check_file_destination(path: Path, option: str) -> None:
    """Fail now, not after a long collection, when `path` cannot be written; leave no trace."""
    if (what := _not_a_file(path)) is not None or _is_dir(path):
        raise InputError(f"{_where(option, path)}: is {what or 'a directory'}, not a file it may replace")
    created = _make_dirs(path.parent, option, path)
    try:
        _probe(path.parent)
        with contextlib.suppress(FileNotFoundError):
            path.lstat()  # a name the file system refuses (over 255 bytes): now, not after the collection
    except OSError as exc:
        raise InputError(f"{_where(option, path)}: cannot write: {_reason(exc)}") from None
    finally:
        _remove_dirs(created)


@contextlib.contextmanager
def reserved(outputs: Outputs) -> Iterator[Outputs]:
    """Prepare `outputs`; whatever fails inside the block leaves nothing behind."""
    outputs.prepare()
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise


__all__ = [
    "STAGING_PREFIX",
    "CommitStep",
    "Outputs",
    "StagedFile",
    "Written",
    "check_file_destination",
    "reserved",
    "sweep",
]
