"""Hostile destinations and endpoints, through the installed command in a process of its own
(standard output must be the real file descriptor 1).

Each class broke before its fix:
- an output path that is no regular file: `--write-baseline /dev/null` replaced the device node
  with a regular file for the whole host (the baseline lands by rename), `--write-baseline
  /dev/stdout` the host's /dev/stdout link, and a FIFO where a baseline or report lands hung the
  scan for ever (the kept-aside old one was opened to be locked);
- standard output that cannot take what is written (`> /dev/full`, a full disk) was exit 4,
  "a bug in mlwarden", and the scan was recorded in the history although its report was lost;
- an endpoint URL that does not parse (`http://[::1`, a port past 65535) was exit 4 from deep in
  azure-core or MSAL; `ftp://` was exit 3 ("unreachable", as if a rerun could succeed).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SECRET = "S3cretPw-canary"
REPO = Path(__file__).resolve().parents[1]
MAIN = f"import sys; sys.path.insert(0, {str(REPO)!r}); from scanner.cli import main; sys.argv[0] = 'mlwarden'; main()"


def mlwarden(*args: str | Path, stdout: int | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the command line in a process of its own; (exit code, stderr). 120 s is a guard against
    a hang (the FIFO cases hung for ever), not a measured time."""
    done = subprocess.run(
        [sys.executable, "-c", MAIN, *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr.decode()


def one_error(code: int, stderr: str, expected: int = 2) -> str:
    lines = stderr.splitlines()
    assert code == expected, (code, stderr)
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), stderr
    assert "Traceback" not in stderr and SECRET not in stderr
    return lines[0]


def fifo(path: Path) -> None:
    os.mkfifo(path)


def unix_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


def device(path: Path) -> None:
    """A character device like /dev/null (1, 3) in the test's own directory, never the real one."""
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))


def descriptor_link(path: Path) -> None:
    """A link like the host's /dev/stdout, made in the test's own directory (the real one was replaced)."""
    os.symlink("/proc/self/fd/1", path)


@pytest.mark.parametrize(
    "make", [fifo, unix_socket, device, descriptor_link], ids=["fifo", "socket", "device", "descriptor-link"]
)
@pytest.mark.parametrize("option", ["--write-baseline", "--out", "collect"])
def test_an_output_that_is_no_regular_file_is_refused_and_left_in_place(
    tmp_path: Path, make: Callable[[Path], None], option: str
) -> None:
    target = tmp_path / "mlwarden-report.json"
    make(target)
    kind = os.lstat(target).st_mode
    given = tmp_path if option == "--out" else target
    if option == "collect":  # refused before signing in: nothing here reaches for Azure
        code, stderr = mlwarden("collect", "--out", given, "--subscription", "00000000-0000-0000-0000-000000000000")
    else:
        code, stderr = mlwarden("scan", "--demo", "--fail-on", "none", "--format", "json", option, given)
    line = one_error(code, stderr)
    assert "not a" in line and any(word in line for word in ("FIFO", "socket", "device", "file descriptor")), line
    assert os.lstat(target).st_mode == kind  # still the FIFO, socket or device it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlwarden-report.json"]  # no staging left


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--demo", "--fail-on", "none", "--format", "json"],
        ["scan", "--demo", "--fail-on", "none", "--format", "sarif.gz"],
        ["scan", "--demo", "--fail-on", "none"],  # the terminal summary
        ["checks", "list"],
        ["frameworks", "show", "gdpr"],
        ["scan", "--help"],
        ["--version"],
    ],
    ids=["json", "sarif-gz", "summary", "checks-list", "frameworks-show", "help", "version"],
)
def test_stdout_that_cannot_take_the_output_is_one_error_and_no_recorded_scan(tmp_path: Path, args: list[str]) -> None:
    history = tmp_path / "h.db"
    extra = ["--history", str(history)] if args[0] == "scan" and "--help" not in args else []
    with open("/dev/full", "wb") as full:
        code, stderr = mlwarden(*args, *extra, stdout=full.fileno())
    assert "No space left on device" in one_error(code, stderr)
    assert not history.exists()  # the report was lost, so the scan is not recorded either


def test_a_report_to_stdout_still_lands_whole(tmp_path: Path) -> None:
    """The check under stdout changes nothing when writes succeed."""
    with (tmp_path / "r.sarif").open("wb") as handle:
        code, stderr = mlwarden("scan", "--demo", "--fail-on", "none", "--format", "sarif", stdout=handle.fileno())
    assert code == 0, stderr
    assert (tmp_path / "r.sarif").read_bytes().rstrip().endswith(b"}")


LIVE = ["scan", "--subscription", "00000000-0000-0000-0000-000000000000", "--fail-on", "none", "--format", "json"]
SIGN = ["scan", "--demo", "--fail-on", "none", "--format", "json"]


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        ([*LIVE, "--arm-endpoint", "http://[::1"], {}, "not a URL"),
        ([*LIVE, "--arm-endpoint", "https://management.example:70000"], {}, "Port out of range"),
        ([*LIVE, "--arm-endpoint", "ftp://management.example"], {}, "expected an https:// URL"),
        ([*LIVE, "--arm-endpoint", "http://management.example"], {}, "expected an https:// URL"),
        ([*LIVE, "--arm-endpoint", f"https://user:{SECRET}@management.example"], {}, "is not shown"),
        ([*LIVE, "--authority-host", "https://[::1"], {}, "not a URL"),
        (LIVE, {"AZURE_AUTHORITY_HOST": "https://login.example:99999"}, "AZURE_AUTHORITY_HOST"),
        ([*SIGN, "--sign-key", "https://[kv/keys/k"], {}, "--sign-key"),
        ([*SIGN, "--sign-key", "https://kv.vault.azure.net:123456/keys/k"], {}, "Port out of range"),
        (["verify", ".", "--key", "https://[::1/keys/k"], {}, "--key"),
        (["verify", ".", "--authority-host", "login.example:0x1"], {}, "not a URL"),
    ],
)
def test_an_endpoint_that_is_no_https_url_is_refused_before_anything_runs(
    tmp_path: Path, args: list[str], env: dict[str, str], fragment: str
) -> None:
    signed = ["--evidence-pack", str(tmp_path / "pack")] if "--sign-key" in args else []
    credentials = {"AZURE_TOKEN_CREDENTIALS": "environmentcredential", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
    code, stderr = mlwarden(*args, *signed, env={**credentials, "AZURE_CLIENT_SECRET": SECRET, **env})
    assert fragment in one_error(code, stderr)
    assert not (tmp_path / "pack").exists()
