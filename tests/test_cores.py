"""`--jobs auto` counts the cores free right now: parsers fed the files' real contents (temporary
/proc and cgroup trees), and a real CPU-busy process seen on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import cores, forked, shards

IDLE = "0.52 0.58 0.59 1/1024 12345\n"
"""Only the reader is runnable."""


def _tree(tmp_path: Path, loadavg: str | None = IDLE, cgroup: str | None = "0::/\n") -> tuple[Path, Path]:
    """A /proc with `loadavg` and self/cgroup (None: the file is absent), and an empty cgroup root."""
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    root.mkdir()
    if loadavg is not None:
        (proc / "loadavg").write_text(loadavg)
    if cgroup is not None:
        (proc / "self" / "cgroup").write_text(cgroup)
    return proc, root


def _free(proc: Path, root: Path, most: int = 4, online: int = 4) -> int:
    return cores.free_cores(most, proc=proc, cgroup=root, online=online)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (IDLE, 1),
        ("3.10 2.00 1.50 3/1024 77\n", 3),
        ("12.00 11.00 10.00 17/2048 4194303", 17),
        ("", None),
        ("garbage\n", None),
        ("0.1 0.2 0.3 x/y 1", None),
        ("0.1 0.2 0.3 3 1", None),
        ("0.1 0.2 0.3 -3/100 1", None),
    ],
)
def test_runnable_reads_the_fourth_field(line: str, expected: int | None) -> None:
    assert cores.runnable(line) == expected


def test_only_tasks_runnable_at_every_reading_are_busy() -> None:
    # Two steady tasks besides the reader; a third woke up for one reading only.
    readings = ["1.0 1.0 1.0 3/90 1", "1.0 1.0 1.0 4/90 1", "1.0 1.0 1.0 3/91 2"]
    assert cores.busy_others(readings) == 2
    assert cores.busy_others([IDLE] * 3) == 0
    assert cores.busy_others([IDLE, "truncated"]) is None
    assert cores.busy_others([]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max 100000\n", None),
        ("150000 100000\n", 1.5),
        ("50000 100000\n", 0.5),
        ("200000 100000", 2.0),
        ("-1 100000", None),  # v1's "no limit"
        ("", None),
        ("max", None),
        ("100000", None),
        ("abc 100000", None),
        ("100000 0", None),
        ("100000 100000 7", None),
    ],
)
def test_quota_cores(text: str, expected: float | None) -> None:
    assert cores.quota_cores(text) == expected


def test_the_load_of_a_host_takes_cores_away(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path)
    assert _free(proc, root) == 4
    (proc / "loadavg").write_text("2.91 2.40 2.02 3/300 9\n")  # two others keep two cores busy
    assert _free(proc, root) == 2
    assert _free(proc, root, online=2) == 1  # this machine's case: the other core is busy
    (proc / "loadavg").write_text("9.50 9.10 8.70 10/300 9\n")
    assert _free(proc, root) == 1  # never fewer than one
    assert _free(proc, root, most=4, online=64) == 4  # a large host's load leaves our cores free
    assert _free(proc, root, most=1) == 1


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000\n", 4), ("150000 100000\n", 1), ("50000 100000\n", 1), ("250000 100000\n", 2), ("nonsense", 4)],
)
def test_a_cgroup_v2_quota_caps_the_cores(tmp_path: Path, cpu_max: str, expected: int) -> None:
    proc, root = _tree(tmp_path)
    (root / "cpu.max").write_text(cpu_max)
    assert _free(proc, root) == expected


def test_the_least_quota_along_the_cgroup_path_wins(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path, cgroup="0::/ci.slice/job-7.scope\n")
    (root / "ci.slice" / "job-7.scope").mkdir(parents=True)
    (root / "ci.slice" / "cpu.max").write_text("300000 100000\n")
    (root / "ci.slice" / "job-7.scope" / "cpu.max").write_text("max 100000\n")
    assert cores.cgroup_quota(proc / "self" / "cgroup", root) == 3.0
    assert _free(proc, root) == 3
    (root / "ci.slice" / "job-7.scope" / "cpu.max").write_text("200000 100000\n")
    assert _free(proc, root) == 2


def test_a_cgroup_v1_quota_in_a_container(tmp_path: Path) -> None:
    # A container sees its own cgroup at the mount's root, not under the path the kernel names.
    lines = "12:pids:/docker/ab12\n4:cpu,cpuacct:/docker/ab12\n1:name=systemd:/docker/ab12\n0::/\n"
    proc, root = _tree(tmp_path, cgroup=lines)
    mount = root / "cpu,cpuacct"
    mount.mkdir()
    (mount / "cpu.cfs_period_us").write_text("100000\n")
    (mount / "cpu.cfs_quota_us").write_text("-1\n")
    assert _free(proc, root) == 4
    (mount / "cpu.cfs_quota_us").write_text("150000\n")
    assert _free(proc, root) == 1


def test_malformed_or_missing_files_leave_the_usable_cores(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path, loadavg=None, cgroup=None)  # e.g. macOS has neither
    assert _free(proc, root) == 4
    assert cores.free_cores(3, proc=tmp_path / "nowhere", cgroup=tmp_path / "nowhere") == 3
    proc, root = _tree(tmp_path / "bad", loadavg="not a loadavg\n", cgroup="junk\n::\n0::/../../elsewhere\n")
    (root / "cpu.max").write_text("100000 100000 100000\n")
    assert _free(proc, root) == 4


def test_auto_never_exceeds_the_usable_cores_and_a_number_is_taken_as_given() -> None:
    usable = cores.usable_cores()
    assert 1 <= shards.jobs_for("auto", 100 * shards.MIN_PAIRS_PER_JOB) <= min(usable, 100)
    assert shards.jobs_for("auto", shards.MIN_PAIRS_PER_JOB - 1) == 1
    assert shards.jobs_for(8, 10) == 8
    assert 0 <= forked.children_for(8, "auto") <= usable - 1
    assert forked.children_for(8, 3) == 2 and forked.children_for(1, "auto") == 0


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="needs Linux's /proc/loadavg")
def test_a_busy_core_on_this_machine_is_not_free() -> None:
    usable, online = cores.usable_cores(), os.cpu_count() or 1
    spin = "import sys\nsys.stdout.write('x')\nsys.stdout.flush()\nwhile True:\n    pass\n"
    child = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.read(1) == b"x"  # it spins from now on
        others = cores.busy_others(Path("/proc/loadavg").read_text() for _ in range(cores.SAMPLES))
        free = cores.free_cores()
    finally:
        child.kill()
        child.wait()
    assert others is not None and others >= 1  # the spinning child is runnable at every reading
    assert 1 <= free <= usable
    assert free <= max(1, online - 1)  # on 2 cores: one left
