"""A managed identity endpoint that accepts the connection and never answers: one plain error line.

The managed identity credential was given the CA alone, so it waited on azure-core's 300 s read
timeout per attempt (four attempts at App Service's endpoint; IMDS's probe too), and the line
that ended it named the transport. It now takes `--read-timeout`, and says the endpoint did not
answer in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.azure_fake import AzureFake
from tests.azure_fake.routes import MSI_HEADER, MSI_PATH
from tests.azure_fake.sample import sample_inventory
from tests.azure_fake.silent import Silent


@pytest.fixture
def silent() -> Iterator[Silent]:
    with Silent() as server:
        yield server


@pytest.mark.parametrize("endpoint", ["app-service", "imds"])
def test_a_silent_managed_identity_endpoint_is_one_plain_error(tmp_path: Path, silent: Silent, endpoint: str) -> None:
    environment: dict[str, str | None] = dict.fromkeys(
        (
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_AUTHORITY_HOST",
            "IDENTITY_ENDPOINT",
        )
    )
    plain = f"http://127.0.0.1:{silent.port}"
    if endpoint == "app-service":
        environment.update(IDENTITY_ENDPOINT=plain + MSI_PATH, IDENTITY_HEADER=MSI_HEADER)
    else:
        environment.update(AZURE_POD_IDENTITY_AUTHORITY_HOST=plain)
    environment["AZURE_TOKEN_CREDENTIALS"] = "managedidentitycredential"
    with AzureFake(sample_inventory()) as fake:
        args = ["collect", "--arm-endpoint", fake.url, "--ca-bundle", str(fake.ca_path), "--no-keyvault"]
        timeouts = ["--connect-timeout", "0.3", "--read-timeout", "0.3"]
        result = CliRunner().invoke(cli, [*args, *timeouts, "--out", str(tmp_path / "e.jsonl")], env=environment)
        assert fake.counts["graph"] == 0  # no token, no request
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "ManagedIdentityCredential" in lines[0] and "did not answer in time" in lines[0], lines[0]
    assert "--read-timeout 0.3 s" in lines[0] and "Traceback" not in result.output
    assert len(silent.accepted) <= 4  # bounded attempts, each ended by the read timeout
    assert not (tmp_path / "e.jsonl").exists()
