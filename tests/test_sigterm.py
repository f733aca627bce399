"""An interruption that lands between creating a staging file or directory and recording it.

`docker stop` right after `mkdtemp` returned, before its name was kept, left the directory in
`--out` for a next run to sweep (seen as a flaky SIGTERM test on a loaded machine). These tests
put the signal exactly there, so they fail every time without `scanner.sigterm.held`.
"""

from __future__ import annotations

import gc
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from scanner import atomic, evidence, outputs, sigterm


@pytest.fixture
def routed() -> Iterator[None]:
    """SIGTERM routed through KeyboardInterrupt, as the CLI installs it; restored after."""
    previous = signal.getsignal(signal.SIGTERM)
    sigterm.install()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sigterm._received[0] = False


def _terminated_after(make: Any) -> Any:
    """`make`, then SIGTERM to this process: the handler runs at the caller's next instruction."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        made = make(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return made

    return wrapper


def test_a_held_signal_is_delivered_after_the_step(routed: None) -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), sigterm.held():
        os.kill(os.getpid(), signal.SIGTERM)
        steps.append("recorded")
    assert steps == ["recorded"]
    assert sigterm.received()
    assert signal.getsignal(signal.SIGTERM) is sigterm._raise


def test_nothing_held_nothing_raised(routed: None) -> None:
    with sigterm.held():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("what", ["--out", "--write-baseline"])
def test_sigterm_right_after_the_staging_is_made_leaves_nothing(
    what: str, tmp_path: Path, routed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("earlier")
    maker = "mkdtemp" if what == "--out" else "mkstemp"
    monkeypatch.setattr(tempfile, maker, _terminated_after(getattr(tempfile, maker)))
    if what == "--out":
        target = outputs.Outputs(out=out, report_names=("mlwarden-report.json",))
    else:
        target = outputs.Outputs(baseline=out / "baseline.json")
    with pytest.raises(KeyboardInterrupt):
        target.prepare()
    assert sorted(p.name for p in out.iterdir()) == ["kept.txt"]


def test_sigterm_right_after_an_atomic_write_begins_leaves_nothing(
    tmp_path: Path, routed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "mkstemp", _terminated_after(tempfile.mkstemp))
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text(tmp_path / "snapshot.jsonl", "{}")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_right_after_the_evidence_pack_staging_is_made_leaves_nothing(
    tmp_path: Path, routed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "mkdtemp", _terminated_after(tempfile.mkdtemp))
    nothing = cast(Any, None)  # the interruption lands before the scan's result is read
    with pytest.raises(KeyboardInterrupt):
        evidence.stage(tmp_path / "pack", nothing, nothing, (), {})
    gc.collect()  # the interrupted frame held the pack; its finalizer removes the staging directory
    assert list(tmp_path.iterdir()) == []
