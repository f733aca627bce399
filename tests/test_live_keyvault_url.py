"""`--keyvault-url TEMPLATE`: each vault's data plane at a URL of the user's, `{name}` replaced by the
vault's name, for a vault whose `vaultUri` does not resolve from where mlwarden runs (Azure Stack Hub,
a private DNS zone, a local fake). Before, the option existed only in the collector's settings: the
real CLI could not reach such a vault's keys, so every live scan of it was incomplete (exit 3, a
coverage gap) and its keys' expiry and rotation were judged from ARM's partial listing.

Run through the real CLI, the real SDK clients and HTTPS against the project's fake."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.azure_fake import AzureFake
from tests.azure_fake.harness import env
from tests.azure_fake.sample import sample_inventory

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from scanner.cli import main; main()"]


def _collect(
    fake: AzureFake, tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / f"estate-{len(list(tmp_path.glob('estate-*')))}.jsonl.gz"
    args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path)]
    done = subprocess.run(
        [*CLI, *args, *extra, "--out", str(out)],
        env={**os.environ, **env(fake, tmp_path), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    records = [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()] if out.exists() else []
    keys = {
        r["data"]["vault_id"].rsplit("/", 1)[-1] + "/" + r["data"]["name"]: r["data"]
        for r in records
        if r["record"] == "key"
    }
    gaps = [g for r in records if r["record"] == "header" for s in r["sources"] for g in s["gaps"]]
    return done, {"keys": keys, "gaps": gaps}


def test_the_data_plane_is_reached_at_the_template_and_the_scan_is_complete(tmp_path: Path) -> None:
    with AzureFake(sample_inventory()) as fake:
        unreached, before = _collect(fake, tmp_path)
        reached, after = _collect(fake, tmp_path, "--keyvault-url", fake.keyvault_template)
    # without it: the sample's vault names a host that resolves nowhere here
    assert unreached.returncode == 3, unreached.stderr[-800:]
    assert any(g["source"] == "key_metadata" and "kv-claims" in g["scope"] for g in before["gaps"]), before["gaps"]
    assert reached.returncode == 0, reached.stderr[-800:]
    assert after["gaps"] == []
    read = after["keys"]
    assert read and {k["source"] for k in read.values()} == {"data-plane"}, read
    assert set(read) >= set(before["keys"])  # ARM's listing, the fallback, names no key the data plane did not


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("https://kv.example/", "expected {name} (the vault's name), and no other braces"),
        ("https://{name}.kv.example/{0}", "expected {name} (the vault's name), and no other braces"),
        ("https://{name.__class__}.kv.example/", "expected {name} (the vault's name), and no other braces"),
        ("http://{name}.kv.example/", "expected an https:// URL with a host"),
        ("https://user:pw@{name}.kv.example/", "a user name or password in the URL is refused"),
    ],
)
def test_a_template_that_is_no_https_url_naming_the_vault_is_refused(tmp_path: Path, value: str, said: str) -> None:
    done = subprocess.run(
        [*CLI, "scan", "--subscription", "00000000-0000-0000-0000-000000000000", "--keyvault-url", value],
        env={**os.environ, "PYTHONPATH": str(REPO), "MLWARDEN_HISTORY": ""},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "--keyvault-url" in lines[0] and said in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "pw" not in done.stderr
    assert list(tmp_path.iterdir()) == []
