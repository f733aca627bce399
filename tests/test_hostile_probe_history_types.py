"""A history value of the wrong type is a damaged history (exit 2 naming the record), never a bug.

SQLite keeps whatever type is written into any column: a history edited by hand, restored by a
tool that writes blobs, or damaged, can hold a blob, a number or text where mlwarden wrote the
other. A blob in `scans.origin` (or `tool_version`, or a framework's `version`) reached
`json.dumps` as bytes: `history list --format json` and `history diff --format json` were exit 4
("internal error: TypeError"), while the text listing printed `b'\\xff\\x00'` as the origin. Text in
a framework's counts was listed as "x failing", and 0.5 in `scans.waived` as 0. Each is now
`corrupt history in scan N, column C` (or `framework F`, or `finding FP (CHECK)`), exit 2, as a
stored value that does not decode already was.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"MLWARDEN_HISTORY": None})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("history") / "scans.db"
    for _ in range(2):
        result = _invoke("scan", "--demo", "-q", "--fail-on", "none", "--history", str(db))
        assert result.exit_code == 0, result.stderr
    return db


DAMAGE = [
    pytest.param("scans", "origin", b"\xff\x00", "scan 1, column origin", id="blob-origin"),
    pytest.param("scans", "tool_version", b"0.1.0", "scan 1, column tool_version", id="blob-tool-version"),
    pytest.param("scans", "waived", 0.5, "scan 1, column waived", id="fraction-waived"),
    pytest.param("scans", "resource_count", "many", "scan 1, column resource_count", id="text-count"),
    pytest.param("scans", "subscriptions", "[1]", "scan 1, column subscriptions", id="number-subscription"),
    pytest.param("framework_counts", "version", b"\xff", "scan 1, framework gdpr", id="blob-framework-version"),
    pytest.param("framework_counts", "pass", "x", "scan 1, framework gdpr", id="text-framework-count"),
    pytest.param("framework_counts", "fail", -3, "scan 1, framework gdpr", id="negative-framework-count"),
]


def _damaged(recorded: Path, tmp_path: Path, table: str, column: str, value: object) -> Path:
    db = tmp_path / "damaged.db"
    shutil.copy(recorded, db)
    with sqlite3.connect(db) as conn:
        key = "scan_id" if table == "framework_counts" else "id"
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = 1", (value,))
    conn.close()
    return db


@pytest.mark.parametrize("listing", [["history", "list"], ["history", "list", "--format", "json"]])
@pytest.mark.parametrize(("table", "column", "value", "where"), DAMAGE)
def test_a_wrongly_typed_stored_value_is_a_corrupt_history_naming_it(
    recorded: Path, tmp_path: Path, table: str, column: str, value: object, where: str, listing: list[str]
) -> None:
    db = _damaged(recorded, tmp_path, table, column, value)
    for args in (listing, ["history", "diff", "--format", "json"], ["history", "diff"]):
        result = _invoke(*args, "--db", str(db))
        assert result.exit_code == 2, (args, result.stdout[-500:], result.stderr)
        assert result.stderr.startswith(f"mlwarden: error: history db {db}: corrupt history in {where} ("), (
            result.stderr
        )
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stdout == ""


def test_a_blob_in_a_findings_detail_key_is_named_by_the_diff(recorded: Path, tmp_path: Path) -> None:
    db = tmp_path / "damaged.db"
    shutil.copy(recorded, db)
    with sqlite3.connect(db) as conn:
        fingerprint, check_id = conn.execute(
            "SELECT s.fingerprint, s.check_id FROM subjects s JOIN findings f ON f.subject_id = s.id"
            " WHERE f.scan_id = 2 ORDER BY s.id LIMIT 1"
        ).fetchone()
        conn.execute("UPDATE subjects SET detail_key = ? WHERE fingerprint = ?", (b"\xff", fingerprint))
    conn.close()
    for fmt in ("text", "json"):
        result = _invoke("history", "diff", "--db", str(db), "--format", fmt)
        assert result.exit_code == 2, result.stderr
        assert f", finding {fingerprint} ({check_id}) (TypeError)" in result.stderr, result.stderr
        assert result.stderr.startswith(f"mlwarden: error: history db {db}: corrupt history in scan ")
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
