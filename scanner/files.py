"""What a path given as a file names, judged before mlwarden opens it.

Every file mlwarden reads is a regular file on a file system that stores data (the snapshot may
also come down a FIFO or pipe, a template may be a directory). Anything else is refused by kind,
with one phrase naming what it is, before a byte of it is read:

- a file of a kernel pseudo file system (`/proc/self/status`, `/proc/self/environ`, `/sys/...`):
  stat says it is regular and 0 bytes long, yet reading it gives the kernel's text. SQLite took
  `--db /proc/self/status` for an empty history (exit 0, "no scans recorded"); the readers of YAML
  and JSON said what they found in it (a secret in `/proc/self/environ` is one error message away);
- a character or block device (`/dev/zero`, `/dev/urandom` never end; `/dev/null` is always empty),
  a socket, a FIFO where the file is read more than once or must not block (a FIFO with no writer
  held every reader but the snapshot's in `open()` for ever);
- a directory where a file is meant; a symbolic link loop;
- a path ending in `/` that names a file (`--waivers w.yaml/`): pathlib drops the slash, so a
  file was read, or replaced, where the user meant a directory;
- a regular file this process may not open (its permissions, or a mandatory access policy).

A path that does not exist is left to its reader, which says so in its own words (a history or an
output may be made there).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Literal

Accepts = Literal["file", "stream", "tree", "dir"]
"""`file`: a regular file; `stream`: also a FIFO or pipe (read once, front to back: a snapshot);
`tree`: a regular file or a directory (`--template`); `dir`: a directory."""

PSEUDO_FILE_SYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "debugfs",
        "tracefs",
        "securityfs",
        "cgroup",
        "cgroup2",
        "configfs",
        "bpf",
        "fusectl",
        "binfmt_misc",
        "selinuxfs",
        "rpc_pipefs",
        "nsfs",
        "devpts",
        "mqueue",
    }
)
"""Kernel interfaces dressed as files: what is read is made up by the kernel as it is read, and a
read may have effects, block (a trace pipe) or hold secrets (a process's environment)."""

_MOUNTINFO = "/proc/self/mountinfo"


def pseudo_file_system(st_dev: int) -> str | None:
    """The name of the kernel pseudo file system the device number `st_dev` belongs to, else None
    (also where the mount table cannot be read: macOS has none of these file systems)."""
    wanted = f"{os.major(st_dev)}:{os.minor(st_dev)}"
    try:
        with open(_MOUNTINFO, encoding="utf-8", errors="replace") as mounts:
            table = mounts.read(4 << 20)
    except OSError:
        return None
    for line in table.splitlines():
        # "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
        fields = line.split(" - ", 1)
        head, tail = fields[0].split(), fields[1].split() if len(fields) == 2 else []
        if len(head) > 2 and head[2] == wanted and tail:
            return tail[0] if tail[0] in PSEUDO_FILE_SYSTEMS else None
    return None


def problem(path: str | os.PathLike[str], accepts: Accepts = "file") -> str | None:
    """Why `path` cannot be read as `accepts` says (a phrase to follow the option and the path),
    or None: it is such a file, or there is nothing there (its reader or writer says what it
    makes of that: "no such file", or creates it)."""
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except FileNotFoundError:
        return None
    except NotADirectoryError:  # a file named as a directory: by the path's last `/`, or above it
        return "ends in '/', which names a directory, but it is a file" if name.endswith("/") else None
    except OSError as exc:
        return _unreachable(exc)
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        if accepts not in ("tree", "dir"):
            return "is a directory, not a file"
    elif accepts == "dir":
        return None  # "not a directory", in the reader's words
    elif stat.S_ISFIFO(mode):
        return None if accepts == "stream" else "not a regular file (a FIFO or pipe, which can be read only once)"
    elif stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    elif stat.S_ISCHR(mode):
        return "not a regular file (a character device)"
    elif stat.S_ISBLK(mode):
        return "not a regular file (a block device)"
    elif not stat.S_ISREG(mode):
        return "not a regular file"
    if (system := pseudo_file_system(info.st_dev)) is not None:
        if stat.S_ISDIR(mode):
            return f"not a directory of files (a {system} directory of the kernel, whose files are made up as read)"
        return f"not a regular file (a {system} file of the kernel, whose content is made up as it is read)"
    if stat.S_ISREG(mode):
        try:  # never blocks, never has an effect on a regular file
            os.close(os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY))
        except OSError as exc:
            return f"cannot read it ({exc.strerror or type(exc).__name__})"
    return None


def _unreachable(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"a symbolic link loop ({exc.strerror})"
    return f"cannot reach it ({exc.strerror or type(exc).__name__})"


def trailing_slash(value: str) -> str | None:
    """Why a file path ending in `/` is refused (pathlib would drop the slash), else None."""
    if value.endswith("/") and value.rstrip("/"):
        return "ends in '/', which names a directory, but a file is meant here"
    return None


def refuse(where: str, path: str | os.PathLike[str], accepts: Accepts = "file") -> None:
    """Raise InputError `where: problem` when `path` is no file of the kind `accepts` says."""
    from scanner.errors import InputError

    if (why := problem(path, accepts)) is not None:
        raise InputError(f"{where}: {why}")


__all__ = ["PSEUDO_FILE_SYSTEMS", "Accepts", "problem", "pseudo_file_system", "refuse", "trailing_slash"]
