"""A UTF-8 byte order mark (what Windows PowerShell 5's `Out-File -Encoding utf8` and Notepad
write) at the start of every text input. JSON and YAML documents (templates, parameters files,
Terraform plans, waivers, framework catalogs, attestations) may carry one, as ARM and Terraform
accept it: they scan as without it. mlwarden's own machine-written formats refuse it, naming it:
a snapshot line starting with one was 'bytes that are not UTF-8 text' (they are UTF-8)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

REPO = Path(__file__).resolve().parents[1]
BOM = b"\xef\xbb\xbf"
DEMO = REPO / "scanner" / "data" / "demo-estate.jsonl"


def _scan(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", *map(str, args), "--fail-on", "none", "--format", "json"])
    return result.exit_code, result.stdout, result.stderr


def _findings(stdout: str) -> list[tuple[str, str, str]]:
    return sorted((f["check_id"], f["resource_id"], f["status"]) for f in json.loads(stdout)["findings"])


def _with_bom(source: Path, target: Path) -> Path:
    target.write_bytes(BOM + source.read_bytes())
    return target


ATTESTATION = (
    "attestations:\n  - framework: gdpr\n    control: Art. 9\n    status: implemented\n    statement: We do.\n"
    "    evidence:\n    - uri: https://x.example/a\n    attested_by: A\n    role: DPO\n"
    "    date: 2026-11-01\n    expires: 2099-11-28\n"
)
FRAMEWORK = (
    "id: acme\nname: ACME\nversion: '1'\ncontrols:\n  - id: A\n    title: a\n    mappings:\n"
    "      - checks: [MLW-KV-08]\n        strength: direct\n"
)


def _inputs(root: Path) -> dict[str, list[str | Path]]:
    (root / "att.yaml").write_text(ATTESTATION)
    (root / "fw.yaml").write_text(FRAMEWORK)
    return {
        "template": ["--template", REPO / "examples" / "iac" / "ml-platform.json"],
        "parameters": [
            "--template",
            REPO / "examples" / "iac" / "ml-platform.json",
            "--parameters",
            REPO / "examples" / "iac" / "ml-platform.parameters.json",
        ],
        "plan": ["--terraform-plan", REPO / "examples" / "iac" / "ml-platform.tfplan.json"],
        "waivers": ["--demo", "--waivers", REPO / "examples" / "waivers.yaml"],
        "framework": ["--demo", "--framework-file", root / "fw.yaml"],
        "attestations": ["--demo", "--attestations", root / "att.yaml"],
    }


@pytest.mark.parametrize("kind", ["template", "parameters", "plan", "waivers", "framework", "attestations"])
def test_documents_with_a_bom_scan_as_without_it(tmp_path: Path, kind: str) -> None:
    args = _inputs(tmp_path)[kind]
    plain = _scan(*args)
    assert plain[0] == 0, plain[2]
    marked = [
        _with_bom(Path(a), tmp_path / f"bom-{Path(a).name}") if i == len(args) - 1 else a for i, a in enumerate(args)
    ]
    code, stdout, stderr = _scan(*marked)
    assert code == 0, stderr
    assert _findings(stdout) == _findings(plain[1])


SNAPSHOT_MESSAGE = "starts with a UTF-8 byte order mark (BOM), which JSON Lines does not allow: save it without one"


@pytest.mark.parametrize("where", ["first-line", "later-line", "gzip", "stdin"])
def test_a_snapshot_line_starting_with_a_bom_is_named(tmp_path: Path, where: str) -> None:
    lines = DEMO.read_bytes().splitlines(keepends=True)
    line = 3 if where == "later-line" else 1
    lines[line - 1] = BOM + lines[line - 1]
    body = b"".join(lines)
    path = tmp_path / "estate.jsonl"
    if where == "gzip":
        path = tmp_path / "estate.jsonl.gz"
        path.write_bytes(gzip.compress(body))
    else:
        path.write_bytes(body)
    name = "<stdin>" if where == "stdin" else str(path)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scanner.cli import main; main()",
            "scan",
            "--snapshot",
            "-" if where == "stdin" else str(path),
            "--fail-on",
            "none",
            "--out",
            str(tmp_path / "out"),
        ],
        input=body if where == "stdin" else None,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [f"mlwarden: error: snapshot {name} line {line}: {SNAPSHOT_MESSAGE}"]
    assert not (tmp_path / "out").exists()


def test_a_baseline_with_a_bom_is_named(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert _scan("--demo", "--write-baseline", baseline)[0] == 0
    _with_bom(baseline, baseline)
    code, _, stderr = _scan("--demo", "--baseline", baseline)
    assert code == 2 and "byte order mark (BOM)" in stderr and len(stderr.splitlines()) == 1, stderr
