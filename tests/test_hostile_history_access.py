"""A SQLite history the user may not read, as a CI runner's unprivileged user meets it (root reads
anything, so the capability is dropped): `history list` and `history diff` said only 'cannot use it
(unable to open database file)', SQLite's words for any failure to open. They now give the reason;
a scan recording into it already did (`cannot open for writing: Permission denied`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.test_hostile_sources import NO_READ_ANYTHING, mlwarden, one_error


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux) to drop root's read-anything")
@pytest.mark.parametrize(
    "args",
    [["history", "list", "--db"], ["history", "diff", "--db"], ["scan", "--demo", "--fail-on", "none", "--history"]],
    ids=["list", "diff", "scan"],
)
def test_a_history_that_cannot_be_read_says_why(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "h.db"
    for _ in range(2):
        assert (
            CliRunner().invoke(cli, ["scan", "--demo", "-q", "--fail-on", "none", "--history", str(db)]).exit_code == 0
        )
    before = db.read_bytes()
    db.chmod(0)
    try:
        prefix = ["setpriv", *NO_READ_ANYTHING] if os.geteuid() == 0 else []
        line = one_error(mlwarden(*args, db, prefix=prefix))
    finally:
        db.chmod(0o600)
    assert str(db) in line and "Permission denied" in line, line
    assert db.read_bytes() == before
