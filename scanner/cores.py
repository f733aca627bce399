"""How many processes `--jobs auto` should use: the usable cores, less those busy with other work.

Sharding costs about a third more CPU than a serial run, so it only pays on cores that are free;
on a 2-core runner whose other core is busy, two processes finish later than one.

The signal is the number of runnable tasks in /proc/loadavg (its 4th field, "running/total"): the
kernel counts it when the file is read, so unlike the load averages it does not lag by a minute,
and it leaves out tasks waiting on disk or sleeping. A task that keeps a core busy is runnable at
every instant, one that merely wakes (a shell, a kernel thread) is not, so the least of SAMPLES
readings GAP seconds apart counts the steady ones; this process is one of them, as it runs while
it reads. That costs about 5 ms, and only when more than one process could be used, i.e. on
estates whose checks take seconds. /proc/stat idle deltas would need a window of tens of
milliseconds: its counters move in 10 ms ticks, so shorter windows say little.

The count covers the whole host: free = online cores - other runnable tasks, never more than the
usable cores (affinity) nor the CPU quota of this process's cgroup (v2 `cpu.max`, v1
`cpu.cfs_quota_us`/`cpu.cfs_period_us`, the least along its path), which is how containers and
CI runners limit CPU without affinity showing it. A fraction of a core does not count: a process
beyond the quota is throttled, and the run waits for its slowest shard. Where these files do not
exist (macOS, Windows) the answer is the usable cores; it is never fewer than 1.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

SAMPLES = 5
GAP = 0.001
"""Seconds between two readings of /proc/loadavg."""


def usable_cores() -> int:
    """The cores this process may run on (its affinity), whatever else runs there."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def free_cores(
    most: int | None = None,
    *,
    proc: Path = Path("/proc"),
    cgroup: Path = Path("/sys/fs/cgroup"),
    online: int | None = None,
) -> int:
    """Cores free for this process right now, from 1 to `most` (default: the usable cores).
    `proc`, `cgroup` and `online` (the host's cores) are the system's unless given."""
    most = usable_cores() if most is None else most
    if most <= 1:
        return 1
    quota = cgroup_quota(proc / "self" / "cgroup", cgroup)
    if quota is not None:
        most = min(most, int(quota))
    if most <= 1:
        return 1
    others = busy_others(_readings(proc / "loadavg"))
    if others is None:
        return most
    return max(1, min(most, (online or os.cpu_count() or most) - others))


def runnable(loadavg: str) -> int | None:
    """The runnable tasks in a /proc/loadavg line ("0.52 0.58 0.59 3/1024 12345" gives 3)."""
    fields = loadavg.split()
    running, slash, total = fields[3].partition("/") if len(fields) >= 4 else ("", "", "")
    if not (slash and running.isdigit() and total.isdigit()):
        return None
    return int(running)


def busy_others(readings: Iterable[str]) -> int | None:
    """Tasks that were runnable at every reading, besides the reader; None if any is unreadable."""
    counts = [runnable(text) for text in readings]
    if not counts or None in counts:
        return None
    return max(0, min(count for count in counts if count is not None) - 1)


def _readings(loadavg: Path) -> Iterator[str]:
    for index in range(SAMPLES):
        if index:
            time.sleep(GAP)
        try:
            yield loadavg.read_text()
        except OSError:  # no /proc: busy_others says it does not know
            yield ""
            return


def quota_cores(text: str) -> float | None:
    """Cores a CPU quota allows, from "QUOTA PERIOD" (`cpu.max`, or v1's two files joined):
    "150000 100000" gives 1.5; None for no limit ("max ..." or v1's -1) or anything malformed."""
    fields = text.split()
    if len(fields) != 2 or not all(field.isascii() and field.isdigit() for field in fields):
        return None
    quota, period = int(fields[0]), int(fields[1])
    return quota / period if quota > 0 and period > 0 else None


def cgroup_quota(self_cgroup: Path, root: Path) -> float | None:
    """The least CPU quota, in cores, along this process's cgroup path (as /proc/self/cgroup gives
    it, under the hierarchy mounted at `root`); None without one. Levels that are not mounted
    here are skipped, e.g. a container sees its own cgroup as the root of the mount."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        _, _, rest = line.partition(":")
        controllers, colon, path = rest.partition(":")
        if not colon:
            continue
        if not controllers:  # v2
            quotas += _along(root, path, lambda level: _read(level / "cpu.max"))
        elif "cpu" in controllers.split(","):  # v1, mounted under the controllers' names or "cpu"
            for mount in {root / controllers, root / "cpu"}:
                quotas += _along(mount, path, _v1_quota)
    return min(quotas, default=None)


def _along(mount: Path, path: str, read: Callable[[Path], str]) -> list[float]:
    parts = [part for part in path.split("/") if part]
    if ".." in parts:  # a cgroup outside this namespace: only the mount's own limit is visible
        parts = []
    levels = (mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1))
    return [quota for level in levels if (quota := quota_cores(read(level))) is not None]


def _v1_quota(level: Path) -> str:
    return f"{_read(level / 'cpu.cfs_quota_us')} {_read(level / 'cpu.cfs_period_us')}"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
