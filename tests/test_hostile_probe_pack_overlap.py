"""`--evidence-pack DIR` is an output like the others: no other output may land in it, on it or around it.

The pack was left out of the up-front overlap check that `--out`, `--write-baseline` and
`--history` go through. `--evidence-pack p --history p/h.db` was exit 0 with the history inside
the pack, which then failed `mlwarden verify` at once (`h.db: not listed in manifest.json`).
`--out o --evidence-pack o/mlwarden-report.json` and `--write-baseline b.json --evidence-pack
b.json` were exit 4 (NotADirectoryError). `--out o --evidence-pack o` and `--evidence-pack p
--write-baseline p/b.json` said the pack directory "exists and is not an empty directory" when it
had not existed: the run had made it for the other output. `--write-baseline b.json
--evidence-pack b.json/p` said `--write-baseline b.json: cannot write: Is a directory` and left
the directory `b.json/` behind. Each is now exit 2 before the scan, one line naming both options,
and nothing is created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.helpers import refused_demo_scan

CASES = [
    pytest.param(["--out", "o", "--evidence-pack", "o"], "--out o: is inside --evidence-pack o", id="out-is-pack"),
    pytest.param(["--evidence-pack", "p", "--out", "p/r"], "--out p/r: is inside --evidence-pack p", id="out-in-pack"),
    pytest.param(
        ["--evidence-pack", "p", "--write-baseline", "p/b.json"],
        "--write-baseline p/b.json: is inside --evidence-pack p",
        id="baseline-in-pack",
    ),
    pytest.param(
        ["--evidence-pack", "p", "--history", "p/h.db"],
        "--history p/h.db: is inside --evidence-pack p",
        id="history-in-pack",
    ),
    pytest.param(
        ["--out", "o", "--evidence-pack", "o/mlwarden-report.json"],
        "--evidence-pack o/mlwarden-report.json: is also where --out writes",
        id="pack-is-report",
    ),
    pytest.param(
        ["--write-baseline", "b.json", "--evidence-pack", "b.json"],
        "--evidence-pack b.json: is also where --write-baseline writes",
        id="pack-is-baseline",
    ),
    pytest.param(
        ["--history", "h.db", "--evidence-pack", "h.db"],
        "--evidence-pack h.db: is also where --history writes",
        id="pack-is-history",
    ),
    pytest.param(
        ["--write-baseline", "b.json", "--evidence-pack", "b.json/p"],
        "--evidence-pack b.json/p: is inside b.json, where --write-baseline writes a file",
        id="pack-under-baseline",
    ),
    pytest.param(
        ["--out", "o", "--evidence-pack", "o/mlwarden-report.json/p"],
        "--evidence-pack o/mlwarden-report.json/p: is inside o/mlwarden-report.json, where --out writes a file",
        id="pack-under-report",
    ),
]


def _listing(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(("args", "said"), CASES)
def test_an_output_in_on_or_around_the_pack_is_refused_before_anything_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    stderr = refused_demo_scan(tmp_path, monkeypatch, args)
    assert stderr.startswith(f"mlwarden: error: {said}"), stderr
    assert _listing(tmp_path) == {}, "the failed run left something behind"


def test_an_existing_baseline_under_the_named_pack_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.json").write_text('{"fingerprints": [], "version": 1}\n')
    before = _listing(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["scan", "--demo", "-q", "--fail-on", "none", "--write-baseline", "b.json", "--evidence-pack", "b.json/p"],
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.stderr
    assert _listing(tmp_path) == before


def test_a_pack_beside_or_below_out_still_lands_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["--out", "o", "--evidence-pack", "o/pack"], ["--out", "r", "--evidence-pack", "pack2"]):
        result = CliRunner().invoke(cli, ["scan", "--demo", "-q", "--fail-on", "none", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        checked = CliRunner().invoke(cli, ["verify", args[-1]], catch_exceptions=False)
        assert checked.exit_code == 0, checked.stderr
