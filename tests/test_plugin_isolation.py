"""Misbehaving third-party checks, installed as real entry-point plugins and run through the CLI.

Whatever a plugin does costs only its own findings (`error`), never the scan, the other checks'
verdicts, or a green gate; a plugin that cannot load is one line and exit 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from tests.helpers import install_plugin

CANARY = "CANARY-plugin-data"
NAME = "rogue_checks"


@pytest.fixture(autouse=True)
def _forget_plugin_module() -> Iterator[None]:
    yield
    sys.modules.pop(NAME, None)


def scan(*extra: str) -> Result:
    args = ["scan", "--demo", "--format", "json", "--fail-on", "none", *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    return install_plugin(tmp_path, monkeypatch, NAME, "ROGUE-01", body)


def findings(result: Result) -> list[dict[str, Any]]:
    assert "Traceback" not in result.stdout + result.stderr
    assert CANARY not in result.stdout + result.stderr
    return list(json.loads(result.stdout)["findings"])


def builtin_verdicts(result: Result) -> dict[str, str]:
    return {f["fingerprint"]: f["status"] for f in findings(result) if not f["check_id"].startswith("ROGUE")}


@pytest.fixture(scope="module")
def clean() -> dict[str, str]:
    """The built-in verdicts of the demo with no plugin installed."""
    result = scan()
    assert result.exit_code == 0
    return builtin_verdicts(result)


def assert_contained(result: Result, clean: dict[str, str], fragment: str) -> list[dict[str, Any]]:
    """Every plugin finding is an error mentioning `fragment`; built-ins are as without the plugin;
    the gate is not green (exit 3, scan incomplete) and says why on stderr."""
    rogue = [f for f in findings(result) if f["check_id"] == "ROGUE-01"]
    assert rogue and all(f["status"] == "error" for f in rogue), rogue
    assert any(fragment in f["message"] for f in rogue), rogue
    assert builtin_verdicts(result) == clean
    assert result.exit_code == 3, result.stderr
    assert "check error" in result.stderr
    return rogue


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("import sys; sys.exit(0)", "SystemExit"),
        ("raise SystemExit(f'{resource.id} " + CANARY + "')", "SystemExit"),
        ("raise KeyboardInterrupt('" + CANARY + "')", "KeyboardInterrupt"),
        ("raise type('PluginBoom', (BaseException,), {})('" + CANARY + "')", "PluginBoom"),
        ("raise GeneratorExit('" + CANARY + "')", "GeneratorExit"),
        ("raise MemoryError('" + CANARY + "')", "MemoryError"),
    ],
)
def test_any_exception_becomes_error_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: dict[str, str], body: str, fragment: str
) -> None:
    plugin(tmp_path, monkeypatch, body)
    assert_contained(scan(), clean, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("return 'pass'", "not a Verdict"),
        ("return None", "not a Verdict"),
        ("return {'status': 'fail'}", "not a Verdict"),
        ("return [failed('x'), 42]", "not a Verdict"),
        ("from scanner.registry import Verdict; return Verdict('bogus', 'x')", "invalid status"),
        ("from scanner.registry import Verdict; return Verdict('fail', 'x', severity='apocalyptic')", "severity"),
        ("from scanner.registry import Verdict; return Verdict('fail', b'bytes')", "not text"),
        ("from scanner.registry import Verdict; return Verdict('fail', 'x', evidence=('p',))", "Evidence"),
        (
            "from scanner.models import Evidence; return failed('x', Evidence(path='p', value=object()))",
            "serialised",
        ),
        ("return (failed('x') for _ in iter(int, 1))", "more than"),
    ],
)
def test_invalid_verdicts_become_error_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: dict[str, str], body: str, fragment: str
) -> None:
    plugin(tmp_path, monkeypatch, body)
    assert_contained(scan(), clean, fragment)


def test_a_valid_string_status_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin(tmp_path, monkeypatch, "from scanner.registry import Verdict; return Verdict('fail', 'plugin says no')")
    rogue = [f for f in findings(scan()) if f["check_id"] == "ROGUE-01"]
    assert rogue and {f["status"] for f in rogue} == {"fail"}


@pytest.mark.parametrize(
    "body",
    [
        "while True: pass",
        "import time; time.sleep(3600)",
        # swallows the interruption and keeps going: abandoned on its worker thread
        "import time\n    while True:\n        try: time.sleep(3600)\n        except BaseException: pass",
    ],
)
def test_a_hanging_check_is_abandoned_once_and_the_scan_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: dict[str, str], body: str
) -> None:
    plugin(tmp_path, monkeypatch, body)
    rogue = assert_contained(scan("--check-timeout", "2"), clean, "did not finish within 2 s")
    timed_out = [f for f in rogue if "did not finish" in f["message"]]
    assert len(timed_out) == 1  # one hang costs one time limit, not one per resource
    assert len(rogue) > 1 and all(
        "timed out on an earlier resource" in f["message"] for f in rogue if f not in timed_out
    )


@pytest.mark.parametrize(
    "body",
    [
        "resource.properties['publicNetworkAccess'] = 'Disabled'; return failed('x')",
        "resource.properties['encryption'].update(keySource='Microsoft.Keyvault'); return failed('x')",
        "resource.properties['networkAcls'].pop('defaultAction', None); return failed('x')",
        "resource.tags.clear(); return failed('x')",
        "resource.properties['privateEndpointConnections'].clear(); return failed('x')",
        "estate.resources.clear(); return failed('x')",
        "estate.by_id.clear(); return failed('x')",
        "estate.of_kind('storage').clear(); return failed('x')",
        "estate.coverage = {}; return failed('x')",
    ],
)
def test_checks_cannot_change_what_other_checks_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: dict[str, str], body: str
) -> None:
    plugin(tmp_path, monkeypatch, body)
    assert_contained(scan(), clean, "check raised")


def test_a_read_only_plugin_reads_everything_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = (
        "from scanner import props\n"
        "    vault = estate.get(resource.id); links = estate.private_links(resource)\n"
        "    ok = isinstance(resource.properties, dict) and vault is resource and len(estate.resources) > 1\n"
        "    ok = ok and len(estate.of_kind('storage')) == len(list(estate.by_kind['storage']))\n"
        "    ok = ok and 'nope' not in estate.by_kind and isinstance(links, list)\n"
        "    return failed('seen', *props.read(resource, 'properties.minimumTlsVersion')) if ok else None"
    )
    plugin(tmp_path, monkeypatch, body)
    rogue = [f for f in findings(scan()) if f["check_id"] == "ROGUE-01"]
    assert rogue and {f["status"] for f in rogue} == {"fail"}
    assert all(f["evidence"][0]["path"] == "properties.minimumTlsVersion" for f in rogue)


@pytest.mark.parametrize(
    ("module", "what"),
    [
        ("raise RuntimeError('" + CANARY + "')\n", "RuntimeError"),
        ("import sys\nsys.exit('" + CANARY + "')\n", "SystemExit"),
        ("raise KeyboardInterrupt('" + CANARY + "')\n", "KeyboardInterrupt"),
        ("def broken(:\n    '" + CANARY + "'\n", "SyntaxError"),
        ("import " + "no_such_module_" + "for_mlwarden\n", "ModuleNotFoundError"),
        ("raise type('Weird', (BaseException,), {})('" + CANARY + "')\n", "Weird"),
    ],
)
def test_a_plugin_that_cannot_load_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, what: str
) -> None:
    plugin(tmp_path, monkeypatch, "return failed('x')").write_text(module)
    result = scan()
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: check plugin 'rogue_checks'"), result.stderr
    assert what in lines[0] and "failed to load" in lines[0]
    assert CANARY not in result.stdout + result.stderr and not result.stdout


def test_plugin_with_invalid_metadata_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = plugin(tmp_path, monkeypatch, "return failed('x')")
    path.write_text(path.read_text().replace("tags=('logging',)", "tags=('made-up',)"))
    result = scan()
    assert result.exit_code == 2
    assert result.stderr.startswith("mlwarden: error: check plugin 'rogue_checks'") and "unknown tags" in result.stderr


def test_a_real_ctrl_c_still_stops_a_scan_stuck_in_a_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = tmp_path / "started"
    plugin(tmp_path, monkeypatch, f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(3600)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scanner.cli import main; main()", "scan", "--demo", "--check-timeout", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while not started.exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode not in (0, None)
