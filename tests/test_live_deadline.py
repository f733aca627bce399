"""A reply that trickles in (a byte every moment, never a pause as long as `--read-timeout`) is bounded as a
whole: azure-core has no total timeout per request, so before, a scan waited as long as the trickle lasted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import inventory as sources
from scanner.azure.collect import collect
from scanner.errors import SourceError
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.sample import sample_inventory


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
        yield server


def test_a_trickling_vault_listing_is_cut_at_the_reply_deadline(fake: AzureFake, tmp_path: Path) -> None:
    vault = next(iter(fake.estate.vaults.values()))
    fake.wire.drip_path = f"/kv/{vault['name']}/keys?"  # the data-plane key listing only
    inventory = collect(options(fake, tmp_path, read_timeout=2.0, reply_timeout=1.0))
    [coverage] = [c for c in inventory.header.sources if c.name == sources.KEY_METADATA]
    reasons = [g.reason for g in coverage.gaps]
    assert len(reasons) == 1 and "data plane did not answer in time" in reasons[0], reasons
    assert {k.source for k in inventory.keys if k.vault_id == vault["id"]} == {"arm"}  # Reader's fallback read them


def test_a_trickling_resource_graph_page_is_one_error(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.drip_path = "/providers/Microsoft.ResourceGraph/resources"
    fake.wire.drip_for = 30.0
    with pytest.raises(SourceError, match="did not answer in time") as caught:
        collect(options(fake, tmp_path, read_timeout=2.0, reply_timeout=0.5, max_retries=1))
    assert "\n" not in str(caught.value)


def test_a_trickling_managed_identity_endpoint_is_cut_off_too(tmp_path: Path) -> None:
    """App Service's managed identity endpoint trickling its token reply: the sign-in ends as a timeout
    (one line, exit 2) instead of waiting as long as the trickle lasts, on every attempt."""
    from click.testing import CliRunner

    from scanner.cli import cli
    from tests.azure_fake.routes import MSI_HEADER, MSI_PATH

    environment: dict[str, str | None] = dict.fromkeys(
        ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")
    )
    with AzureFake(sample_inventory()) as fake:
        fake.wire.drip_path = MSI_PATH
        fake.wire.drip_seconds, fake.wire.drip_for = 0.1, 6.0
        environment.update(
            IDENTITY_ENDPOINT=fake.url + MSI_PATH,
            IDENTITY_HEADER=MSI_HEADER,
            AZURE_TOKEN_CREDENTIALS="managedidentitycredential",
        )
        args = ["collect", "--arm-endpoint", fake.url, "--ca-bundle", str(fake.ca_path), "--no-keyvault"]
        out = tmp_path / "e.jsonl"
        result = CliRunner().invoke(
            cli, [*args, "--quiet", "--read-timeout", "0.3", "--out", str(out)], env=environment
        )
        assert fake.counts["graph"] == 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "ManagedIdentityCredential" in lines[0] and "did not answer in time" in lines[0], lines[0]
    assert not out.exists()
