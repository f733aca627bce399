"""Wiring for tests: a real azure-identity credential pointed at the fake's token endpoint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from azure.identity import WorkloadIdentityCredential

from scanner.azure.options import CollectOptions
from tests.azure_fake.server import CLIENT_ID, TENANT, AzureFake


def credential(fake: AzureFake, tmp_path: Path) -> WorkloadIdentityCredential:
    """Workload identity federation, exactly as on AKS or in CI, against the fake authority."""
    token_file = tmp_path / "federated-token"
    token_file.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.")
    return WorkloadIdentityCredential(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        token_file_path=str(token_file),
        authority=fake.url,
        connection_verify=str(fake.ca_path),
    )


def options(fake: AzureFake, tmp_path: Path, **overrides: Any) -> CollectOptions:
    base = CollectOptions(
        arm_endpoint=fake.url,
        ca_bundle=fake.ca_path,
        credential=credential(fake, tmp_path),
        keyvault_url_template=fake.keyvault_template,
        app_settings=True,
        diagnostics=True,
        retry_backoff=0.05,
        quiet=True,
    )
    return replace(base, **overrides)


def env(fake: AzureFake, tmp_path: Path) -> dict[str, str]:
    """Environment for the CLI's credential chain: workload identity via env vars."""
    token_file = tmp_path / "federated-token"
    token_file.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.")
    return {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": fake.url,
        "AZURE_TOKEN_CREDENTIALS": "workloadidentitycredential",
    }
