"""A host that accepts the connection and never answers: a coverage gap or a clear error, never a hang.

`Silent` is a local TCP server that accepts every connection and never sends a byte (a blackholed
private endpoint as a runner sees it: the TLS handshake never completes). Timeouts are set to a
fraction of a second; the tests assert the outcome (the gap, the exit code, the one line, how many
times the host was tried), never how long it took.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result

from scanner import inventory as sources
from scanner.azure.collect import collect
from scanner.cli import cli
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import env, options
from tests.azure_fake.proxy import RecordingProxy
from tests.azure_fake.sample import sample_inventory
from tests.azure_fake.silent import Silent

TIMEOUTS = ["--connect-timeout", "0.3", "--read-timeout", "0.3"]


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory()) as server:
        yield server


@pytest.fixture
def silent() -> Iterator[Silent]:
    with Silent() as server:
        yield server


def _scan(fake: AzureFake, tmp_path: Path, *extra: str, **environment: str) -> Result:
    args = [
        "scan", "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path), "--fail-on", "none",
        "--format", "json", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, env={**env(fake, tmp_path), **environment})


def test_a_vault_that_never_answers_is_one_gap_and_the_scan_goes_on(
    fake: AzureFake, silent: Silent, tmp_path: Path
) -> None:
    with RecordingProxy({"kv-claims.vault.azure.net": silent.port}) as proxy:  # the real vault URI, blackholed
        result = _scan(
            fake, tmp_path, "--arm-endpoint", fake.url, *TIMEOUTS,
            HTTPS_PROXY=proxy.url, NO_PROXY="localhost,127.0.0.1",
        )  # fmt: skip
    assert result.exit_code == 3, result.stderr  # scan incomplete: the report is written, the gap named
    assert "Traceback" not in result.output
    gap_lines = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: coverage gap in ")]
    assert len(gap_lines) == 1, result.stderr
    assert "vault kv-claims: data plane did not answer in time (a private endpoint or firewall?)" in gap_lines[0]
    assert "scan incomplete: 1 coverage gap(s)" in result.stderr
    report = json.loads(result.stdout)
    [gap] = [gap for source in report["sources"] for gap in source["gaps"]]
    assert gap["source"] == sources.KEY_METADATA and "did not answer in time" in gap["reason"]
    assert len(silent.accepted) == 2  # tried once more, then ARM's key listing: not azure-core's four tries
    assert fake.counts["arm:vault-keys"] == 1  # the Reader fallback still read the keys' dates


def test_the_timeouts_come_from_the_options_and_the_environment(
    fake: AzureFake, silent: Silent, tmp_path: Path
) -> None:
    run_options = options(fake, tmp_path, keyvault_url_template=silent.url + "/{name}", connect_timeout=0.3)
    inventory = collect(run_options)
    [coverage] = [c for c in inventory.header.sources if c.name == sources.KEY_METADATA]
    assert [g.reason.split(";")[0] for g in coverage.gaps] == [
        "vault kv-claims: data plane did not answer in time (a private endpoint or firewall?)"
    ]
    assert {k.source for k in inventory.keys} == {"arm"} and len(inventory.keys) == 3
    with RecordingProxy({"kv-claims.vault.azure.net": silent.port}) as proxy:
        result = _scan(
            fake, tmp_path, "--arm-endpoint", fake.url, HTTPS_PROXY=proxy.url, NO_PROXY="localhost,127.0.0.1",
            MLWARDEN_CONNECT_TIMEOUT="0.3", MLWARDEN_READ_TIMEOUT="0.3",
        )  # fmt: skip
    assert result.exit_code == 3 and "did not answer in time" in result.stderr, result.stderr


def test_a_vault_that_connects_and_never_replies_is_the_same_gap(fake: AzureFake, tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "cas.pem"
    bundle.write_text(fake.ca_path.read_text() + ca.cert_pem.bytes().decode())
    with Silent(tls=ca) as mute:
        run_options = options(
            fake, tmp_path, ca_bundle=bundle, keyvault_url_template=mute.url + "/{name}", read_timeout=0.3
        )
        inventory = collect(run_options)
        handshakes = mute.handshakes
    [coverage] = [c for c in inventory.header.sources if c.name == sources.KEY_METADATA]
    assert [g.reason.split(";")[0] for g in coverage.gaps] == [
        "vault kv-claims: data plane did not answer in time (a private endpoint or firewall?)"
    ]
    assert handshakes == 2  # connected, asked, no reply: once more, then ARM


def test_an_arm_endpoint_that_never_answers_is_one_error_line(fake: AzureFake, silent: Silent, tmp_path: Path) -> None:
    result = _scan(fake, tmp_path, "--arm-endpoint", silent.url, *TIMEOUTS)
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"mlwarden: error: Resource Graph at {silent.url} did not answer in time "
        "(--connect-timeout 0.3 s, --read-timeout 0.3 s)"
    ), lines
    assert "Traceback" not in result.output and result.stdout == ""
    assert 1 <= len(silent.accepted) <= 4  # azure-core's connect retries, each bounded


@pytest.mark.parametrize("value", ["0", "-1", "nan", "abc", "99999"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_a_usage_error(
    fake: AzureFake, tmp_path: Path, value: str
) -> None:
    result = _scan(fake, tmp_path, "--arm-endpoint", fake.url, "--connect-timeout", value)
    assert result.exit_code == 2 and "--connect-timeout" in result.stderr, result.output
    assert fake.counts["token"] == 0
