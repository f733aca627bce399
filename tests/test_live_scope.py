"""A live scan narrowed by --tag or --resource-group takes the resources a rescan of the full
collection narrowed the same way takes: tag keys and values in any casing, and a child (an online
endpoint, its deployments, a site's config) follows its tagged top-level resource, as offline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scanner.azure.collect import collect
from scanner.inventory import Inventory
from scanner.scope import narrow
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.sample import sample_inventory

TAGS = {"mlw-claims": {"Env": "Prod"}, "app-intake": {"ENV": "prod", "owner": "dana"}, "kv-claims": {"env": "test"}}


def _tagged() -> Inventory:
    inventory = sample_inventory()
    resources = [r.model_copy(update={"tags": TAGS[r.name]}) if r.name in TAGS else r for r in inventory.resources]
    return replace(inventory, resources=resources)


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(_tagged()) as server:
        yield server


def _ids(inventory: Inventory) -> list[str]:
    return sorted(r.id_key for r in inventory.resources)


@pytest.mark.parametrize(
    "scope",
    [
        {"tags": {"env": "PROD"}},
        {"tags": {"Env": "prod", "OWNER": "Dana"}},
        {"resource_groups": ("RG-ML",)},
        {"resource_groups": ("rg-ml",), "tags": {"env": "prod"}},
    ],
)
def test_live_narrowing_takes_what_offline_narrowing_takes(
    fake: AzureFake, tmp_path: Path, scope: dict[str, Any]
) -> None:
    full = collect(options(fake, tmp_path))
    live = collect(options(fake, tmp_path, **scope))
    offline = narrow(full, **scope)
    assert _ids(live) == _ids(offline)
    assert sorted(a.resource_id.lower() for a in live.app_settings) == sorted(
        a.resource_id.lower() for a in offline.app_settings
    )
    assert _ids(live)  # the scope holds something, so the comparison is not vacuous


def test_a_tagged_workspace_brings_its_untagged_endpoint_and_deployment(fake: AzureFake, tmp_path: Path) -> None:
    live = collect(options(fake, tmp_path, tags={"env": "prod"}))
    names = {r.name for r in live.resources if r.type_key != "microsoft.resources/subscriptions"}
    assert {"mlw-claims", "ep-triage", "blue", "app-intake"} <= names
    assert not names & {"kv-claims", "stclaims", "func-score", "aks-infer"}


def test_resources_out_of_the_tag_scope_are_not_read_one_by_one(fake: AzureFake, tmp_path: Path) -> None:
    collect(options(fake, tmp_path, tags={"env": "prod"}))
    read = [path.lower() for _, _, path in list(fake.requests)]
    assert not [p for p in read if "/sites/func-score" in p]  # its config and credentials were not asked for
    assert [p for p in read if "/sites/app-intake" in p]
