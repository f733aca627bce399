"""A check plugin that writes below Python's `sys.stdout`: `os.write(1, ...)`, `sys.__stdout__`,
a child process (`os.system`), at import and in its checks, in the scanning process and in the
forked ones. `stdout.to_stderr` swaps only `sys.stdout`, so each of these landed in a report sent
to standard output (`scan --format sarif > results.sarif` was no longer JSON). Descriptor 1 now
points at stderr for the whole run and mlwarden writes its own output to a copy of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_hostile_sources import REPO, mlwarden

WRITES = {
    "os-write": "os.write(1, b'RAW-{when}\\n')",
    "dunder-stdout": "sys.__stdout__.write('DUNDER-{when}\\n'); sys.__stdout__.flush()",
    "child-process": "os.system('echo CHILD-{when}')",
}


def _plugin(directory: Path, write: str) -> Path:
    (directory / "loud_checks.py").write_text(
        "import os, sys\n"
        f"{write.format(when='import')}\n"
        "from scanner.registry import check, failed\n"
        "@check(id='LOUD-01', title='Loud rule', kinds=('storage',), severity='high', tags=('logging',),\n"
        "       pillar='monitoring', rationale='r', remediation='f')\n"
        "def loud_rule(resource, estate):\n"
        f"    {write.format(when='check')}\n"
        "    return failed('x')\n"
    )
    info = directory / "loud_checks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loud-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mlwarden.checks]\nloud_checks = loud_checks\n")
    return directory


@pytest.mark.parametrize("how", sorted(WRITES))
@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--demo", "--fail-on", "none", "--format", "json", "--jobs", "1"],
        ["scan", "--demo", "--fail-on", "none", "--format", "sarif", "--jobs", "2"],
        ["checks", "list", "--format", "json"],
    ],
    ids=["json", "sarif-two-processes", "checks-list"],
)
def test_writes_below_python_never_land_in_standard_output(tmp_path: Path, how: str, args: list[str]) -> None:
    plugin = _plugin(tmp_path, WRITES[how])
    done = mlwarden(*args, env={"PYTHONPATH": os.pathsep.join([str(plugin), str(REPO)])})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is the one JSON document
    assert "LOUD-01" in json.dumps(document)
    assert b"-import" in done.stderr  # said, where a person reads it
    if args[0] == "scan":
        assert b"-check" in done.stderr


def test_the_summary_and_listings_still_reach_standard_output(tmp_path: Path) -> None:
    done = mlwarden("scan", "--demo", "--fail-on", "none", "--out", tmp_path / "out")
    assert done.returncode == 0 and b"wrote " in done.stdout and b"wrote " not in done.stderr, done
    assert mlwarden("checks", "list").stdout.startswith(b"ID ")
