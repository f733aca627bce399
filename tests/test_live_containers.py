"""Blob containers of ML storage: one ARM list per account through the real pipeline, gaps kept."""

from __future__ import annotations

from pathlib import Path

from scanner import inventory as sources
from scanner.azure.collect import collect
from scanner.estate import Estate
from scanner.inventory import Inventory
from scanner.models import Gap, Resource, Status
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.sample import sample_inventory
from tests.helpers import run

CONTAINERS = "microsoft.storage/storageaccounts/blobservices/containers"


def _with_containers(refused: bool = False) -> tuple[Inventory, Resource]:
    inventory = sample_inventory()
    index, stored = next(
        (i, r) for i, r in enumerate(inventory.resources) if r.type_key == "microsoft.storage/storageaccounts"
    )
    raw = stored.raw()
    account = Resource.model_validate({**raw, "properties": {**raw["properties"], "allowBlobPublicAccess": True}})
    inventory.resources[index] = account
    for name, access in (("models", "None"), ("public-samples", "Blob")):
        inventory.resources.append(
            Resource.model_validate(
                {
                    "id": f"{account.id}/blobServices/default/containers/{name}",
                    "name": name,
                    "type": CONTAINERS,
                    "subscriptionId": account.subscription_id,
                    "properties": {"publicAccess": access},
                }
            )
        )
    if refused:  # the fake serves the estate's own gaps as 403s
        gap = Gap(source=sources.BLOB_CONTAINERS, scope=account.id, reason="HTTP 403")
        coverage = tuple(
            c.model_copy(update={"gaps": (gap,)}) if c.name == sources.BLOB_CONTAINERS else c
            for c in inventory.header.sources
        )
        inventory.header = inventory.header.model_copy(update={"sources": coverage})
    return inventory, account


def test_containers_of_ml_storage_are_listed_and_judged(tmp_path: Path) -> None:
    original, account = _with_containers()
    with AzureFake(original, quota=15, window=1.0) as server:
        collected = collect(options(server, tmp_path))
        assert server.counts["arm:containers"] == 1
    names = sorted(r.name for r in collected.resources if r.type_key == CONTAINERS)
    assert names == ["models", "public-samples"]
    [finding] = run("MLW-ST-11", account, Estate(collected))
    assert finding.status is Status.FAIL and "public-samples (Blob)" in finding.message


def test_a_refused_container_list_is_a_gap_naming_the_account(tmp_path: Path) -> None:
    original, account = _with_containers(refused=True)
    with AzureFake(original, quota=15, window=1.0) as server:
        collected = collect(options(server, tmp_path))
    coverage = {c.name: c for c in collected.header.sources}[sources.BLOB_CONTAINERS]
    assert [g.scope.lower() for g in coverage.gaps] == [account.id_key]
    [finding] = run("MLW-ST-11", account, Estate(collected))
    assert finding.status is Status.UNKNOWN and account.name in finding.message
