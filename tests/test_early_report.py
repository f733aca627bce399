"""The JSON report begun in a forked child once the findings are final (`scanner.early_report`):
the same bytes and hash as written whole, and all or nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from reports import json_report
from reports.options import write
from scanner import forked
from scanner.cli import cli
from scanner.early_report import EarlyJson
from scanner.models import ScanResult
from scanner.outputs import Outputs, reserved


@pytest.fixture(scope="module")
def demo_result() -> ScanResult:
    from frameworks.catalog import load_all
    from scanner.engine import scan
    from scanner.registry import TAGS, load_checks
    from scanner.snapshot import read_demo

    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    return scan(read_demo(), origin="demo", checks=checks, frameworks=frameworks, jobs=1)


def _head(result: ScanResult) -> json_report.Head:
    return json_report.Head(result.checks, result.fail_on, result.findings)


def test_head_then_tail_is_the_whole_report(demo_result: ScanResult, tmp_path: Path) -> None:
    whole = json_report.render(demo_result)
    with (tmp_path / "parts.json").open("wb") as handle:
        json_report.write_head(_head(demo_result), handle)
        json_report.write_tail(demo_result, handle)
    assert (tmp_path / "parts.json").read_bytes() == whole
    assert _head(demo_result).begins(demo_result)
    fewer = demo_result.model_copy(update={"findings": demo_result.findings[1:]})
    copied = demo_result.model_copy(update={"findings": tuple(f.model_copy() for f in demo_result.findings)})
    assert not _head(demo_result).begins(fewer) and not _head(demo_result).begins(copied)


def _staged(out: Path, result: ScanResult, head: Callable[[IO[bytes]], object] | None) -> dict[str, bytes]:
    with reserved(Outputs(out=out, report_names=("report.json", "report.html"))) as outputs:  # all or nothing
        if head is not None:
            outputs.begin_report("report.json", head)
            assert outputs.begun("report.json")
        rest = partial(json_report.write_tail, result) if head is not None else partial(write, "json", result)
        staged, _ = outputs.stage_reports([("report.json", rest), ("report.html", partial(write, "html", result))])
        assert not outputs.begun("report.json")
        outputs.commit()
    for report in staged:
        data = (out / report.file.name).read_bytes()
        assert (report.file.size, report.file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    return {path.name: path.read_bytes() for path in out.iterdir()}


@pytest.mark.parametrize("free", [1, 2])
def test_a_begun_report_has_the_bytes_and_hash_of_one_written_whole(
    demo_result: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int
) -> None:
    monkeypatch.setattr(forked, "free_cores", lambda most: min(most, free))  # a child finishes it even when busy
    begun = _staged(tmp_path / "begun", demo_result, partial(json_report.write_head, _head(demo_result)))
    whole = _staged(tmp_path / "whole", demo_result, None)
    assert begun == whole and begun["report.json"] == json_report.render(demo_result)


def test_a_head_that_fails_fails_the_staging_and_nothing_lands(demo_result: ScanResult, tmp_path: Path) -> None:
    def broken(handle: IO[bytes]) -> None:
        handle.write(b"{")
        raise ZeroDivisionError

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        _staged(out, demo_result, broken)
    assert not out.exists()


def test_a_scan_that_fails_after_beginning_ends_the_child_and_leaves_nothing(tmp_path: Path) -> None:
    reader, writer = os.pipe()

    def stalls(handle: IO[bytes]) -> None:
        os.close(writer)
        os.read(reader, 1)  # never answered: only ended by the parent

    out = tmp_path / "out"
    outputs = Outputs(out=out, report_names=("report.json",))
    outputs.prepare()
    outputs.begin_report("report.json", stalls)
    outputs.discard()
    os.close(writer)
    assert os.read(reader, 1) == b""  # the child, the pipe's last writer, is gone
    os.close(reader)
    assert not out.exists()


def _without_time(report: bytes) -> list[bytes]:
    return [line for line in report.splitlines() if not line.startswith((b'"generated_at"', b'"timings"'))]


def test_a_sharded_scan_begins_its_json_report_and_writes_the_serial_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    begun: list[str] = []
    real = Outputs.begin_report

    def begin_report(self: Outputs, name: str, write_head: Callable[[IO[bytes]], object]) -> None:
        begun.append(name)
        real(self, name, write_head)

    monkeypatch.setattr(Outputs, "begin_report", begin_report)
    rests: list[bool] = []
    real_rest = EarlyJson.rest

    def rest(self: EarlyJson, name: str, result: ScanResult) -> Callable[[IO[bytes]], tuple[str, ...]] | None:
        writer = real_rest(self, name, result)
        rests.append(writer is not None)
        return writer

    monkeypatch.setattr(EarlyJson, "rest", rest)
    reports = {}
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        args = ["scan", "--demo", "--jobs", jobs, "--format", "json", "--format", "html", "--out", str(out)]
        assert CliRunner().invoke(cli, [*args, "--fail-on", "none"], catch_exceptions=False).exit_code == 0
        reports[jobs] = (out / "mlwarden-report.json").read_bytes()
        assert begun == ([] if jobs == "1" else ["mlwarden-report.json"])
        assert rests == ([False, False] if jobs == "1" else [True, False])  # json finished after its head
        rests.clear()
    assert _without_time(reports["2"]) == _without_time(reports["1"])
    assert len(_without_time(reports["1"])) == len(reports["1"].splitlines()) - 2
