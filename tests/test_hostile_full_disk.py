"""A full disk under every output: one error line, exit 2, and nothing of the failed run left.

A first `--history` scan on a full disk left an empty database file behind: the clean-up takes
SQLite's write lock before removing it, and a full disk refuses even that lock. The reports,
baseline and evidence pack already held; they stay tested here with it. Needs a small tmpfs
(root with CAP_SYS_ADMIN, as in the project's CI container); skipped where it cannot be mounted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.tmpfs import tmpfs


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        earlier = CliRunner().invoke(
            cli, ["scan", "--demo", "-q", "--fail-on", "none", "--history", str(disk / "old.db")]
        )
        assert earlier.exit_code == 0, earlier.output
        with (disk / "filler").open("wb", buffering=0) as filler:
            try:
                while filler.write(b"\0" * 4096):
                    pass
            except OSError:
                pass  # full
        yield disk


def _listing(disk: Path) -> dict[str, bytes | int]:
    """Every file with its bytes (the filler by size). SQLite's own `-wal` and `-shm` files of an
    existing history in WAL mode are left out: SQLite makes them for any reader, and a failed write
    leaves the database itself as it was."""
    return {
        p.name: p.stat().st_size if p.name == "filler" else p.read_bytes()
        for p in sorted(disk.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


CASES = {
    "reports": ["--out", "{disk}/out"],
    "one-report": ["--out", "{disk}/out", "--format", "csv"],
    "baseline": ["--write-baseline", "{disk}/baseline.json", "--format", "json", "--out", "{disk}/../elsewhere"],
    "first-history": ["--history", "{disk}/new.db"],
    "history": ["--history", "{disk}/old.db"],
    "evidence-pack": ["--evidence-pack", "{disk}/pack", "--format", "json"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_full_disk_is_one_error_and_leaves_nothing(full: Path, case: str) -> None:
    before = _listing(full)
    args = [a.format(disk=full) for a in CASES[case]]
    result = CliRunner().invoke(cli, ["scan", "--demo", "-q", "--fail-on", "none", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert "full" in lines[0] or "No space left on device" in lines[0], lines[0]
    assert _listing(full) == before
