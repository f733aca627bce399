"""Reports rendered in forked children: the same files as one by one, and all or nothing.

`scanner.forked.usable_cores` is set to 4 here and every usable core counts as free, so children
are forked whatever the machine and its load.
Renderers that must run in a child make the parent wait, at its first report, for a byte the
child writes into a pipe when it starts its own: the child then surely holds one report.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner, Result

import reports
from reports.options import write
from scanner import forked
from scanner.cli import cli
from scanner.errors import InputError
from scanner.models import ScanResult
from scanner.outputs import Outputs

FORMATS = ["json", "html", "csv", "sarif", "junit", "compliance-csv", "markdown", "json.gz"]


@pytest.fixture(autouse=True)
def cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "usable_cores", lambda: 4)
    monkeypatch.setattr(forked, "free_cores", lambda most: most)


@pytest.fixture(scope="module")
def demo_result() -> ScanResult:
    from frameworks.catalog import load_all
    from scanner.engine import scan
    from scanner.registry import TAGS, load_checks
    from scanner.snapshot import read_demo

    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    return scan(read_demo(), origin="demo", checks=checks, frameworks=frameworks)


def _stage(out: Path, result: ScanResult, digests: bool = True) -> dict[str, object]:
    outputs = Outputs(out=out, report_names=tuple(FORMATS), digests=digests)
    outputs.prepare()

    def writer(fmt: str) -> Callable[[IO[bytes]], tuple[int, tuple[str, ...]]]:
        return lambda handle: (os.getpid(), write(fmt, result, handle))

    staged, also = outputs.stage_reports([(f"report.{fmt}", writer(fmt)) for fmt in FORMATS], lambda: "summary")
    assert also == "summary"
    files = {}
    for report in staged:
        assert (report.file.digest is None) is not digests  # hashed while written only when asked to
        data = report.file.path.read_bytes()  # still staged: the digest read back must be of these bytes
        assert (report.file.size, report.file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    outputs.commit()
    for report in staged:
        data = (out / report.file.name).read_bytes()
        assert len(data) == report.file.size
        files[report.file.name] = (data, report.value[1])
    files["pids"] = {report.value[0] for report in staged}
    return files


def test_forked_reports_are_the_serial_bytes_hashes_and_notices(
    demo_result: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    concurrent = _stage(tmp_path / "forked", demo_result)
    assert len(concurrent.pop("pids")) > 1  # type: ignore[arg-type]  # children did render some
    monkeypatch.setattr(forked, "usable_cores", lambda: 1)
    serial = _stage(tmp_path / "serial", demo_result)
    assert serial.pop("pids") == {os.getpid()}
    assert concurrent == serial
    assert sorted(p.name for p in (tmp_path / "forked").iterdir()) == sorted(f"report.{fmt}" for fmt in FORMATS)


def test_reports_not_hashed_while_written_give_their_digest_when_asked(demo_result: ScanResult, tmp_path: Path) -> None:
    """Without an evidence pack nothing needs the reports' SHA-256: they are written without it, and
    `sha256` reads the staged file back if something asks after all; the files are the same."""
    hashed = _stage(tmp_path / "hashed", demo_result)
    unhashed = _stage(tmp_path / "unhashed", demo_result, digests=False)
    hashed.pop("pids")
    unhashed.pop("pids")
    assert unhashed == hashed


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _in_a_child(monkeypatch: pytest.MonkeyPatch, child: Callable[[], bytes]) -> None:
    """json and html: `child()` in a forked child, the real renderer in the parent, which waits at
    its first report until the child has started one (each takes one of the first two formats)."""
    parent = os.getpid()
    reader, writer = os.pipe()
    waited: list[bool] = []

    def renderer(real: reports.Renderer) -> reports.Renderer:
        def render(result: ScanResult) -> bytes:
            if os.getpid() != parent:
                os.write(writer, b"x")
                return child()
            if not waited:
                os.read(reader, 1)
                waited.append(True)
            return real(result)

        return render

    for fmt in ("json", "html"):
        monkeypatch.setitem(reports.RENDERERS, fmt, renderer(reports.RENDERERS[fmt]))
    monkeypatch.setattr(forked, "usable_cores", lambda: 2)


def _error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def _previous(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    assert invoke("scan", "--demo", "--out", str(out), "--format", "sarif", "--fail-on", "none").exit_code == 0
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


def _unchanged(out: Path, before: dict[str, bytes]) -> bool:
    return {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_renderer_failing_in_a_child_writes_nothing_and_is_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = _previous(tmp_path)

    def broken() -> bytes:
        raise ValueError("renderer bug")

    _in_a_child(monkeypatch, broken)
    result = invoke(
        "scan", "--demo", "--out", str(out), "--format", "json,html,sarif", "--evidence-pack", str(tmp_path / "pack")
    )
    assert result.exit_code == 4
    assert "internal error: ValueError" in _error_line(result)
    assert _unchanged(out, before) and not (tmp_path / "pack").exists()
    assert result.stdout == ""  # no summary for a scan that wrote nothing


def test_a_child_that_dies_writes_nothing_and_is_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = _previous(tmp_path)

    def die() -> bytes:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    _in_a_child(monkeypatch, die)
    result = invoke("scan", "--demo", "--out", str(out), "--format", "json,html")
    assert result.exit_code == 4
    assert "internal error: RuntimeError" in _error_line(result)
    assert _unchanged(out, before)


def test_an_input_error_in_a_child_keeps_its_message_and_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = _previous(tmp_path)

    def refuse() -> bytes:
        raise InputError("--out somewhere: cannot write mlwarden-report.csv: No space left on device")

    _in_a_child(monkeypatch, refuse)
    result = invoke("scan", "--demo", "--out", str(out), "--format", "json,html,csv")
    assert result.exit_code == 2
    assert (
        _error_line(result)
        == "mlwarden: error: --out somewhere: cannot write mlwarden-report.csv: No space left on device"
    )
    assert _unchanged(out, before)


def test_several_formats_land_with_the_summary_and_wrote_lines(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("scan", "--demo", "--out", str(out), "--format", "json,html,csv", "--fail-on", "none")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("mlwarden ")
    assert result.stdout.endswith(
        "".join(
            f"wrote {out / name}\n" for name in ("mlwarden-report.json", "mlwarden-report.html", "mlwarden-report.csv")
        )
    )


def test_jobs_1_renders_every_report_in_the_scanning_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = tmp_path / "pids"

    def noting(real: reports.Renderer) -> reports.Renderer:
        def render(result: ScanResult) -> bytes:
            with pids.open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            return real(result)

        return render

    for fmt in ("json", "html", "csv"):
        monkeypatch.setitem(reports.RENDERERS, fmt, noting(reports.RENDERERS[fmt]))
    out = tmp_path / "out"
    result = invoke(
        "scan", "--demo", "--out", str(out), "--format", "json,html,csv", "--jobs", "1", "--fail-on", "none"
    )
    assert result.exit_code == 0, result.stderr
    assert pids.read_text().split() == [str(os.getpid())] * 3
    assert sorted(p.name for p in out.iterdir()) == [
        "mlwarden-report.csv",
        "mlwarden-report.html",
        "mlwarden-report.json",
    ]
