"""An output name the file system refuses (a component over 255 bytes) is exit 2 naming the option, and leaves nothing.

pathlib's `exists()`, `is_dir()` and `is_file()` raise, rather than answer False, for a name the
kernel refuses with ENAMETOOLONG. `--write-baseline NAME` and `--write-baseline NAME/x` (NAME
over 255 bytes) and `--history new/NAME` were exit 4, "internal error: OSError", where `--out NAME`
already said `cannot reach it (File name too long)`. `--evidence-pack new/sub/NAME` said so too
but left `new/sub/` behind, made for a pack that was never written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.helpers import refused_demo_scan

LONG = "a" * 300

CASES = [
    pytest.param(["--write-baseline", LONG], f"--write-baseline {LONG}: cannot write", id="baseline"),
    pytest.param(["--write-baseline", f"{LONG}/b.json"], f"--write-baseline {LONG}/b.json: cannot", id="baseline-dir"),
    pytest.param(["--history", f"new/{LONG}"], f"--history new/{LONG}: cannot create it", id="history-in-new-dir"),
    pytest.param(
        ["--evidence-pack", f"new/sub/{LONG}"], f"--evidence-pack new/sub/{LONG}: cannot", id="pack-in-new-dirs"
    ),
]


@pytest.mark.parametrize(("args", "said"), CASES)
def test_a_name_over_255_bytes_is_exit_2_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    stderr = refused_demo_scan(tmp_path, monkeypatch, args)
    assert stderr.startswith(f"mlwarden: error: {said}") and "File name too long" in stderr, stderr
    assert sorted(tmp_path.rglob("*")) == [], "the failed run left something behind"


@pytest.mark.parametrize("out", [LONG, f"new/{LONG}"], ids=["name", "name-in-new-dir"])
def test_collect_refuses_a_name_over_255_bytes_before_signing_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    """It was exit 4; once `is_dir()` no longer raised, the name passed the up-front check and
    would have failed only when the collection, done, was written."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["collect", "--out", out], catch_exceptions=False, env={"AZURE_TOKEN_CREDENTIALS": "environmentcredential"}
    )
    assert result.exit_code == 2, result.stderr
    assert result.stderr == f"mlwarden: error: --out {out}: cannot write: File name too long\n", result.stderr
    assert sorted(tmp_path.rglob("*")) == []
