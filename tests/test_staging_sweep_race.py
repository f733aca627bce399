"""A run sweeps the staging entries an interrupted run left (those nobody holds locked) while
another run may be making its own: between making an entry and locking it, the sweep took it,
and two scans into one `--out` failed with "--out DIR: cannot write: No such file or
directory" (CI, once in 12 racing scans). Here a second process sweeps the directory without a
pause while this one reserves staging space again and again: every reservation must succeed,
and what it holds must exist, be locked and survive the sweeps until the commit."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import IO

import pytest

from scanner.outputs import CLAIM_PREFIX, STAGING_PREFIX, CommitStep, Outputs, reserved, sweep

ROUNDS = 300


Sweeper = Callable[[Path, str], None]


def _sweep_until(directory: str, prefix: str, stop: Event) -> None:
    while not stop.is_set():
        sweep(Path(directory), prefix)


@pytest.fixture
def sweeping() -> Iterator[Sweeper]:
    """Start a process sweeping a directory for a prefix without a pause, until the test ends."""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    started: list[BaseProcess] = []

    def start(directory: Path, prefix: str) -> None:
        process = context.Process(target=_sweep_until, args=(str(directory), prefix, stop))
        process.start()
        started.append(process)

    yield start
    stop.set()
    for process in started:
        process.join(30)
        assert process.exitcode == 0


def _is_locked(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _writer(data: bytes) -> Callable[[IO[bytes]], int]:
    return lambda handle: handle.write(data)


def test_staging_in_out_survives_a_concurrent_sweep(tmp_path: Path, sweeping: Sweeper) -> None:
    out = tmp_path
    sweeping(out, STAGING_PREFIX)
    for round_ in range(ROUNDS):
        with reserved(Outputs(out=out, report_names=("r.json",))) as outputs:
            staged = outputs.stage_report("r.json", _writer(b"%d" % round_))
            assert staged.file.path.is_file()
            outputs.commit()
        assert (out / "r.json").read_text() == str(round_)
    assert sorted(p.name for p in out.iterdir()) == ["r.json"]


def test_baseline_and_its_backup_survive_a_concurrent_sweep(tmp_path: Path, sweeping: Sweeper) -> None:
    directory = tmp_path
    baseline = directory / "baseline.json"
    baseline.write_text("first")
    sweeping(directory, f"{STAGING_PREFIX}{baseline.name}.")
    for round_ in range(ROUNDS):
        with reserved(Outputs(baseline=baseline)) as outputs:
            assert outputs._baseline_tmp is not None and _is_locked(outputs._baseline_tmp)
            outputs.stage_baseline(b"%d" % round_)
            outputs.commit()
        assert baseline.read_text() == str(round_)
    assert sorted(p.name for p in directory.iterdir()) == ["baseline.json"]


def test_a_failed_commit_restores_the_baseline_a_sweep_could_see(tmp_path: Path, sweeping: Sweeper) -> None:
    """The replaced baseline is kept aside under a staging name in its own directory until the
    whole set has landed: a sweep must not take it, or a failed commit could not put it back."""
    directory = tmp_path
    baseline = directory / "baseline.json"
    baseline.write_text("kept")
    sweeping(directory, f"{STAGING_PREFIX}{baseline.name}.")

    class Refused(Exception):
        pass

    def refuse() -> None:
        raise Refused

    for round_ in range(ROUNDS // 3):
        with pytest.raises(Refused), reserved(Outputs(baseline=baseline)) as outputs:
            outputs.stage_baseline(b"new %d" % round_)
            outputs.commit([CommitStep(run=refuse)])
        assert baseline.read_text() == "kept"
    assert sorted(p.name for p in directory.iterdir()) == ["baseline.json"]


def test_a_claim_is_swept_only_once_it_is_old(tmp_path: Path) -> None:
    """A claim a run killed between making and locking it left is removed by a later sweep; a
    fresh one may be a live run's, a moment before it holds the lock, and stays."""
    old, fresh = tmp_path / f"{CLAIM_PREFIX}old", tmp_path / f"{CLAIM_PREFIX}fresh"
    old.mkdir()
    (old / "half.json").write_text("{")
    fresh.write_text("")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert sweep(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name]
