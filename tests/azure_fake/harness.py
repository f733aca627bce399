"""Wiring for tests: a real azure-identity credential pointed at the fake's token endpoint."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from azure.identity import WorkloadIdentityCredential

from scanner.azure.collect import collect
from scanner.azure.options import CollectOptions
from scanner.inventory import Inventory
from tests.azure_fake.sample import sample_inventory
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


_REFERENCE: list[tuple[Any, ...]] = []


def collected_shape(inventory: Inventory) -> tuple[Any, ...]:
    """What a collection read: every row, every key and its metadata, every app-setting fact, every gap."""
    rows = sorted(json.dumps(r.raw(), sort_keys=True) for r in inventory.resources)
    keys = sorted(k.model_dump_json() for k in inventory.keys)
    facts = sorted(f.model_dump_json() for f in inventory.app_settings)
    gaps = sorted((g.source, g.scope.lower()) for c in inventory.header.sources for g in c.gaps)
    return rows, keys, facts, gaps


def reference(tmp_path: Path) -> tuple[Any, ...]:
    """The sample collected with the fake's default shapes (once per session)."""
    if not _REFERENCE:
        with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
            _REFERENCE.append(collected_shape(collect(options(server, tmp_path))))
    return _REFERENCE[0]
