"""The cycle collector around bulk stages: paused while data is built, and in the command-line
process what was built is frozen before the collector resumes (no full collection over it)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from scanner import bulk


@pytest.fixture
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    gc.enable() if enabled else gc.disable()


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("resident", [True, False])
def test_what_a_paused_block_built_is_frozen_only_in_a_resident_process(
    resident: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "_resident", resident)
    gc.enable()
    gc.unfreeze()
    with bulk.collector_paused():
        assert not gc.isenabled()
        built = [{"row": index} for index in range(1000)]
        with bulk.collector_paused():  # nested: only the outermost block freezes
            assert gc.get_freeze_count() == 0
    assert gc.isenabled()
    assert (gc.get_freeze_count() >= len(built)) is resident


@pytest.mark.usefixtures("collector_state")
def test_a_collector_that_was_off_stays_off_and_nothing_is_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "_resident", True)
    gc.disable()
    gc.unfreeze()
    with bulk.collector_paused():
        pass
    assert not gc.isenabled() and gc.get_freeze_count() == 0
