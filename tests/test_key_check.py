"""A large snapshot's records checked for keys given twice by a second process while the read goes
on (`scanner.key_check`): the read gives what the serial read gives, inventory or first error."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner import key_check, snapshot
from scanner.errors import InputError
from scanner.inventory import Inventory
from scanner.snapshot import read_snapshot

DEMO = (Path(snapshot.__file__).parent / "data" / snapshot.DEMO_SNAPSHOT).read_bytes().splitlines(keepends=True)
DISABLED = b'"publicNetworkAccess":"Disabled"'
WITH = [i for i, line in enumerate(DEMO) if DISABLED in line]
"""Lines (0-based) of resources with the property given twice below."""
ROW = b'{"data":{"id":"'


def _twice(line: bytes) -> bytes:
    return line.replace(DISABLED, DISABLED + b',"publicNetworkAccess":"Enabled"', 1)


def _invalid(line: bytes) -> bytes:
    assert ROW in line
    return line.replace(ROW, b'{"data":{"id":7,"was":"', 1)  # an id that is not text


def _header_twice(line: bytes) -> bytes:
    return line.replace(b'{"', b'{"record":"header","', 1)


Edit = tuple[int, Callable[[bytes], bytes]]
CASES: dict[str, list[Edit]] = {
    "clean": [],
    "duplicate": [(WITH[-1], _twice)],
    "header": [(0, _header_twice)],
    "invalid-first": [(WITH[0], _invalid), (WITH[-1], _twice)],
    "duplicate-first": [(WITH[0], _twice), (WITH[-1], _invalid)],
    "same-line": [(WITH[0], lambda line: _invalid(_twice(line)))],
    "not-json-first": [(2, lambda line: b"{not json\n"), (WITH[-1], _twice)],
}


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> list[key_check.KeyCheck | None]:
    """Every snapshot takes the checker, whatever its size; what each read started is recorded."""
    monkeypatch.setattr(snapshot, "KEY_CHECK_BYTES", 0)
    started: list[key_check.KeyCheck | None] = []
    real = key_check.start

    def start(fd: int, limits: snapshot.Limits) -> key_check.KeyCheck | None:
        started.append(real(fd, limits))
        return started[-1]

    monkeypatch.setattr(key_check, "start", start)
    return started


def _outcome(path: Path, jobs: int) -> str | Inventory:
    try:
        return read_snapshot(path, jobs=jobs)
    except InputError as exc:
        return str(exc)


def _write(path: Path, edits: list[Edit]) -> Path:
    lines = list(DEMO)
    for index, change in edits:
        lines[index] = change(lines[index])
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("name", ["estate.jsonl", "estate.jsonl.gz"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_checked_read_gives_the_serial_outcome(
    tmp_path: Path, elsewhere: list[key_check.KeyCheck | None], name: str, case: str
) -> None:
    path = _write(tmp_path / name, CASES[case])
    serial = _outcome(path, jobs=1)
    assert elsewhere == []  # one process asked for: the read checks the keys itself
    checked = _outcome(path, jobs=2)
    assert len(elsewhere) == 1 and elsewhere[0] is not None  # the checker ran (and a serial read after it when needed)
    assert elsewhere[0].process.returncode is not None  # and has ended
    assert checked == serial
    if case == "clean":
        assert isinstance(checked, Inventory) and len(checked.resources) > 50
    else:
        assert isinstance(checked, str) and "line" in checked
    if case in ("duplicate", "duplicate-first", "same-line"):
        assert "appears twice" in str(checked)


def test_the_checker_says_clean_only_for_a_clean_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)  # it finds this code wherever this process did
    monkeypatch.chdir(tmp_path)
    limits = snapshot.Limits()
    for case, clean in (("clean", True), ("duplicate", False), ("invalid-first", False)):
        with _write(tmp_path / f"{case}.jsonl", CASES[case]).open("rb") as handle:
            checker = key_check.start(handle.fileno(), limits)
            assert checker is not None
            assert checker.clean() is clean, case
            assert handle.tell() == 0  # it read at offsets of its own


@pytest.mark.parametrize("executable", ["/nonexistent/python", "/bin/false"], ids=["cannot-start", "fails"])
def test_a_checker_that_cannot_answer_leaves_the_serial_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: list[key_check.KeyCheck | None], executable: str
) -> None:
    clean, duplicate = _write(tmp_path / "clean.jsonl", []), _write(tmp_path / "twice.jsonl", CASES["duplicate"])
    expected = [_outcome(clean, jobs=1), _outcome(duplicate, jobs=1)]
    monkeypatch.setattr(sys, "executable", executable)
    assert [_outcome(clean, jobs=2), _outcome(duplicate, jobs=2)] == expected
    assert len(elsewhere) == 2 and all((checker is None) == (executable != "/bin/false") for checker in elsewhere)


def test_a_small_file_stdin_or_one_process_checks_its_keys_in_the_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "estate.jsonl", [])
    with path.open("rb") as handle:
        assert snapshot._keys_elsewhere(handle, 2, snapshot.Limits()) is None  # below KEY_CHECK_BYTES
    assert path.stat().st_size < snapshot.KEY_CHECK_BYTES
