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
