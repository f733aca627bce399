"""Hostile input through the real CLI in a memory-capped subprocess: every case is one line, exit 2.

Snapshots are limited while streaming (line length, inflated size); every YAML file (waivers,
framework catalogs) goes through one bounded loader (size, UTF-8, aliases, depth, impossible
values). The child process runs under RLIMIT_AS, so materialising a bomb would fail loudly as
a MemoryError (exit 4) instead of passing.
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest

from scanner.snapshot import encode_records, read_demo

MEMORY_CAP = 768 * 1024 * 1024
CANARY = "CANARY-yaml-value"


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def mlwarden(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=_cap_memory,
        timeout=600,
        check=False,
    )


def error_line(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), proc.stderr[-2000:]
    assert CANARY not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def demo_lines() -> list[bytes]:
    return list(encode_records(read_demo()))


# -- snapshots ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def line_bomb(tmp_path_factory: pytest.TempPathFactory, demo_lines: list[bytes]) -> Path:
    """About 1 MiB of gzip: a valid header, then one line of 1 GiB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.jsonl.gz"
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"a" * (1 << 20)
    with path.open("wb") as handle:
        handle.write(squeeze.compress(demo_lines[0] + b'{"record": "resource", "data": "'))
        for _ in range(1024):
            handle.write(squeeze.compress(block))
        handle.write(squeeze.compress(b'"}\n') + squeeze.flush())
    assert path.stat().st_size < 2 << 20
    return path


def test_a_gzip_inflating_to_a_1_gib_line_is_one_line_in_bounded_memory(line_bomb: Path) -> None:
    message = error_line(mlwarden("scan", "--snapshot", str(line_bomb)))
    assert f"snapshot {line_bomb} line 2: longer than 16 MiB" in message


def test_total_inflated_size_is_limited(tmp_path: Path) -> None:
    path = tmp_path / "newlines.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n" * (64 << 20)))
    message = error_line(mlwarden("scan", "--snapshot", str(path), env={"MLWARDEN_SNAPSHOT_MAX_BYTES": str(32 << 20)}))
    assert "more than 32 MiB of data" in message and "MLWARDEN_SNAPSHOT_MAX_BYTES" in message


def test_the_line_limit_is_configurable(tmp_path: Path, demo_lines: list[bytes]) -> None:
    path = tmp_path / "demo.jsonl"
    path.write_bytes(b"".join(demo_lines))
    longest = max(range(len(demo_lines)), key=lambda i: len(demo_lines[i]))
    env = {"MLWARDEN_SNAPSHOT_MAX_LINE_BYTES": str(len(demo_lines[longest]) - 2)}
    message = error_line(mlwarden("scan", "--snapshot", str(path), env=env))
    assert f"line {longest + 1}: longer than" in message


@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
def test_a_snapshot_from_stdin_scans_like_the_file(tmp_path: Path, demo_lines: list[bytes], zipped: bool) -> None:
    data = b"".join(demo_lines)
    path = tmp_path / "demo.jsonl"
    path.write_bytes(data)
    from_file = mlwarden("scan", "--snapshot", str(path), "--format", "json", "--fail-on", "none")
    body = gzip.compress(data) if zipped else data
    proc = subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", "scan", "--snapshot", "-", "--format", "json"],
        input=body,
        capture_output=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    assert from_file.returncode == 0
    import json

    assert [f["fingerprint"] for f in json.loads(proc.stdout)["findings"]] == [
        f["fingerprint"] for f in json.loads(from_file.stdout)["findings"]
    ]


def test_a_snapshot_from_a_fifo(tmp_path: Path, demo_lines: list[bytes]) -> None:
    fifo = tmp_path / "snapshot.fifo"
    os.mkfifo(fifo)
    data = gzip.compress(b"".join(demo_lines))

    def feed() -> None:
        with fifo.open("wb") as handle:
            handle.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = mlwarden("scan", "--snapshot", str(fifo), "--fail-on", "none", "--quiet")
    writer.join(timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_an_empty_stdin_is_one_line() -> None:
    assert "empty file" in error_line(mlwarden("scan", "--snapshot", "-", stdin=b""))


# -- YAML (waivers and framework catalogs) -----------------------------------------------------

WAIVER = (
    "waivers:\n  - check: MLW-ST-07\n    resource: '*'\n    justification: j\n    owner: o\n    expires: {expires}\n"
)
ALIAS_BOMB = (
    "a: &a ["
    + CANARY
    + "]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("waivers: []\n" + ALIAS_BOMB, "line 3: YAML aliases (*name) are not supported"),
        ("waivers: " + "[" * 100_000 + "]" * 100_000 + "\n", "line 1: nested deeper than 64 levels"),
        ("waivers:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 80)), "nested deeper than 64 levels"),
        (WAIVER.format(expires="2027-02-30"), "line 6: invalid date or time '2027-02-30'"),
        (WAIVER.format(expires="2027-13-01"), "line 6: invalid date or time '2027-13-01'"),
        (WAIVER.format(expires="2027-03-31T10:00:00Z"), "line 6: waiver 'expires' must be a date (YYYY-MM-DD) (a date"),
        (WAIVER.format(expires="2027-03-31 10:00:00"), "not a date and time"),
        (WAIVER.format(expires="1" * 5000), "line 6: invalid value"),
        (
            WAIVER.replace("owner: o", "owner: " + CANARY + " \x07"),
            "line 5: invalid YAML: unacceptable character #x0007",
        ),
    ],
    ids=[
        "alias-bomb",
        "flow-nesting-100000",
        "block-nesting-80",
        "impossible-date",
        "month-13",
        "datetime-not-date",
        "space-datetime",
        "5000-digit-int",
        "control-character",
    ],
)
def test_hostile_waiver_files_are_one_line_exit_2(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    message = error_line(mlwarden("scan", "--demo", "--waivers", str(path)))
    assert f"waivers {path}" in message and fragment in message, message


def test_non_utf8_and_oversized_yaml(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(WAIVER.format(expires="2027-03-31").replace("owner: o", "owner: caf\xe9").encode("latin-1"))
    assert "line 5: not UTF-8" in error_line(mlwarden("scan", "--demo", "--waivers", str(latin)))
    huge = tmp_path / "huge.yaml"
    huge.write_text("# padding\n" * 500_000 + WAIVER.format(expires="2027-03-31"))
    assert "larger than 4 MiB" in error_line(mlwarden("scan", "--demo", "--waivers", str(huge)))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (ALIAS_BOMB, ":2: YAML aliases (*name) are not supported"),
        ("id: x\ncontrols: " + "[" * 100_000 + "\n", ":2: nested deeper than 64 levels"),
        ("id: x\nversion: 2027-02-30\n", ":2: invalid date or time '2027-02-30'"),
    ],
    ids=["alias-bomb", "flow-nesting-100000", "impossible-date"],
)
def test_hostile_framework_files_are_one_line_exit_2(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "framework.yaml"
    path.write_text(text)
    for args in (("scan", "--demo"), ("frameworks", "list")):
        message = error_line(mlwarden(*args, "--framework-file", str(path)))
        assert f"{path}{fragment}" in message, message
