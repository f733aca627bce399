"""SARIF `baselineState` means a comparison happened (SARIF 2.1.0, 3.27.24): through the CLI, a run
without `--baseline` has no state on any result; a run with one says `unchanged` for exactly the
findings the baseline accepts and `new` for the rest, counts the accepted findings that no longer
fail, and Markdown says the same. Every variant validates against the vendored SARIF schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from scanner.cli import cli

SCHEMA = Path(__file__).parent / "reports" / "schemas" / "sarif-schema-2.1.0.json"
VALIDATOR = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
GONE = "0" * 64
"""A fingerprint no finding of the demo has: an accepted finding since fixed (or its resource deleted)."""


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("baseline-state")
    full = root / "full.json"
    wrote = CliRunner().invoke(cli, ["scan", "--demo", "--write-baseline", str(full), "--fail-on", "none", "-q"])
    assert wrote.exit_code == 0, wrote.stderr
    document = json.loads(full.read_text())
    paths = {}
    for name, fingerprints in {
        "third": [*document["fingerprints"][::3], GONE],
        "empty": [],
    }.items():
        paths[name] = root / f"{name}.json"
        paths[name].write_text(json.dumps(document | {"fingerprints": fingerprints}))
    paths["root"] = root
    return paths


def _scan(root: Path, name: str, *args: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    out = root / name
    argv = ["scan", "--demo", "--out", str(out), "--format", "json,sarif,markdown", "--fail-on", "none", "-q", *args]
    done = CliRunner().invoke(cli, argv)
    assert done.exit_code == 0, done.stderr
    log = json.loads((out / "mlwarden-report.sarif").read_text())
    VALIDATOR.validate(log)
    report = json.loads((out / "mlwarden-report.json").read_text())
    return log, report, (out / "mlwarden-report.md").read_text()


@pytest.mark.parametrize("include", [(), ("--sarif-include", "unknown"), ("--sarif-include", "waived")])
def test_without_a_baseline_no_result_claims_a_state(baselines: dict[str, Path], include: tuple[str, ...]) -> None:
    log, report, markdown = _scan(baselines["root"], f"none{len(include)}{''.join(include)}", *include)
    run = log["runs"][0]
    assert run["results"] and not [r for r in run["results"] if "baselineState" in r]
    assert "baseline" not in run["properties"] and report["baseline"] is None
    notes = {n["descriptor"]["id"] for n in run["invocations"][0]["toolExecutionNotifications"]}
    assert "mlwarden/baseline" not in notes
    assert "no baseline" in markdown and "0 baselined" not in markdown


@pytest.mark.parametrize("include", [(), ("--sarif-include", "baselined"), ("--sarif-include", "unknown")])
def test_with_a_baseline_unchanged_is_exactly_what_it_accepts(
    baselines: dict[str, Path], include: tuple[str, ...]
) -> None:
    args = ["--baseline", str(baselines["third"]), *include]
    log, report, markdown = _scan(baselines["root"], f"third{''.join(include)}", *args)
    run = log["runs"][0]
    accepted = set(json.loads(baselines["third"].read_text())["fingerprints"])
    states = {r["partialFingerprints"]["mlwarden/v1"]: r["baselineState"] for r in run["results"]}
    assert states and set(states.values()) <= {"new", "unchanged"}
    assert {fp for fp, state in states.items() if state == "unchanged"} == set(states) & accepted
    unchanged = [fp for fp, state in states.items() if state == "unchanged"]
    assert bool(unchanged) == ("baselined" in include)  # by default the baselined stay out of the run

    failing = [f for f in report["findings"] if f["status"] == "fail"]
    matched = sum(1 for f in failing if f["fingerprint"] in accepted)
    absent = len(accepted - {f["fingerprint"] for f in failing})
    assert absent >= 1  # GONE at least
    expected = {"accepted": len(accepted), "matched": matched, "absent": absent}
    assert run["properties"]["baseline"] == report["baseline"] == expected
    (note,) = [
        n for n in run["invocations"][0]["toolExecutionNotifications"] if n["descriptor"]["id"] == "mlwarden/baseline"
    ]
    assert f"{absent} it accepts no longer fail" in note["message"]["text"]
    open_baselined = sum(1 for f in failing if f["baselined"] and not f["waived_by"])
    assert f"{open_baselined} baselined ({absent} in it no longer failing)" in markdown


def test_an_empty_baseline_makes_every_result_new(baselines: dict[str, Path]) -> None:
    """An empty baseline is still a comparison: everything is new, and the run says so."""
    log, report, markdown = _scan(baselines["root"], "empty", "--baseline", str(baselines["empty"]))
    run = log["runs"][0]
    assert run["results"] and {r["baselineState"] for r in run["results"]} == {"new"}
    assert report["baseline"] == {"accepted": 0, "matched": 0, "absent": 0}
    assert "0 baselined" in markdown and "no baseline" not in markdown
