"""Two scans writing one `--out` directory: each renamed its reports into place one by one, so
the directory could end with one run's JSON beside the other's CSV (different waivers, different
reports, no error). A run now lands its reports under an exclusive lock on the directory: here the
test holds that lock, the scan stages everything and waits, and nothing lands until it is let go.
Then several scans with different inputs race for one directory and it ends with one run's set."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN = "from scanner.cli import main; import sys; sys.argv[0] = 'mlwarden'; main()"
WAIVERS = REPO / "examples" / "waivers.yaml"
OWNER = "data-platform@example.org"


def _start(out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            MAIN,
            "scan",
            "--demo",
            "-q",
            "--fail-on",
            "none",
            "--jobs",
            "1",
            "--out",
            str(out),
            "--format",
            "json,csv",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )


def test_a_run_lands_nothing_while_another_holds_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    scan = _start(out)
    try:
        # Wait (no time asserted) until both reports are staged: the run is then at its commit.
        while scan.poll() is None and sum(len(list(p.glob("mlwarden-report.*"))) for p in out.glob(".*")) < 2:
            time.sleep(0.05)
        assert scan.poll() is None, scan.communicate()
        assert not list(out.glob("mlwarden-report.*"))  # staged, not landed
    finally:
        os.close(fd)
    _, stderr = scan.communicate(timeout=300)
    assert scan.returncode == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["mlwarden-report.csv", "mlwarden-report.json"]


def test_racing_runs_leave_one_runs_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(3):
        scans = [_start(out, *(["--waivers", str(WAIVERS)] if i % 2 else [])) for i in range(4)]
        for scan in scans:
            _, stderr = scan.communicate(timeout=300)
            assert scan.returncode == 0, stderr
        report = json.loads((out / "mlwarden-report.json").read_text())
        waived = sum(1 for f in report["findings"] if f.get("waived_by"))
        assert (OWNER in (out / "mlwarden-report.csv").read_text()) == bool(waived)
        assert sorted(p.name for p in out.iterdir()) == ["mlwarden-report.csv", "mlwarden-report.json"]
