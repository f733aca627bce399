"""Documented Defender for Cloud, Key Vault data-plane and token-endpoint contracts our fake did not serve
by default: a fake written from the REST docs (or the real service) may serve them. Each test names the
contract it follows and goes through the real SDK clients over HTTPS; the verdicts must be those the
documented shape means, or the scan must say what it could not read, never crash or pass on nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.azure.collect import collect
from scanner.estate import Estate
from scanner.inventory import Inventory
from scanner.models import Finding, Resource
from scanner.registry import load_checks
from scanner.runner import run_checks
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.sample import SUB_B, sample_inventory

PRICING = "microsoft.security/pricings"


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
        yield server


def _findings(inventory: Inventory, prefix: str) -> dict[tuple[str, str], Finding]:
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    return {(f.check_id, f.resource_id.lower()): f for f in findings if f.check_id.startswith(prefix)}


def _gaps(inventory: Inventory) -> set[tuple[str, str, str]]:
    return {(c.name, g.scope.lower(), g.reason) for c in inventory.header.sources for g in c.gaps}


# -- Defender plans set on single resources -------------------------------------------------------------
# Pricings (api-version 2024-01-01, azure-rest-api-specs .../Microsoft.Security/stable/2024-01-01/examples/
# Pricings/GetResourcePricingByNameContainers_example.json, PutResourcePricingByNameContainersACR_example.json,
# ListResourcePricings_example.json): a plan can be set on one resource, an AKS cluster, a registry or a VM.
# Its id is `{resource}/providers/Microsoft.Security/pricings/{plan}`, its name the plan's (`Containers`),
# with `inherited` "False" when the resource overrides its subscription and "True" when it follows it.


def _with_plans(sub_tier: str, *overrides: tuple[str, str, str]) -> Inventory:
    """The sample with SUB_B's Containers plan at `sub_tier`, plus (resource type, tier, inherited) rows
    set on the first resource of each type."""
    inventory = sample_inventory()
    rows: list[Resource] = []
    for row in inventory.resources:
        if row.type_key == PRICING and row.subscription_id == SUB_B and row.name == "Containers":
            tiered = {**(row.properties or {}), "pricingTier": sub_tier}
            row = Resource.model_validate({**row.raw(), "properties": tiered})
        rows.append(row)
    for type_key, tier, inherited in overrides:
        target = next(r for r in inventory.resources if r.type_key == type_key)
        properties: dict[str, Any] = {
            "pricingTier": tier,
            "freeTrialRemainingTime": "P26DT17H24M",
            "enablementTime": "2025-01-13T10:30:45.1234567Z",
            "inherited": inherited,
            "inheritedFrom": f"/subscriptions/{target.subscription_id}" if inherited == "True" else None,
            "extensions": [{"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"}],
        }
        rows.append(
            Resource.model_validate(
                {
                    "id": f"{target.id}/providers/Microsoft.Security/pricings/Containers",
                    "name": "Containers",
                    "type": PRICING,
                    "subscriptionId": target.subscription_id,
                    "resourceGroup": target.resource_group,
                    "properties": properties,
                }
            )
        )
    return Inventory(header=inventory.header, resources=rows, keys=inventory.keys, app_settings=inventory.app_settings)


AKS = "microsoft.containerservice/managedclusters"
CONTAINERS_B = ("MLW-DEF-01", f"/subscriptions/{SUB_B}")


def _containers_verdict(inventory: Inventory, tmp_path: Path, **wire: Any) -> Finding:
    with AzureFake(inventory, quota=100, window=1.0) as server:
        for name, value in wire.items():
            setattr(server.wire, name, value)
        collected = collect(options(server, tmp_path))
    assert not _gaps(collected)
    return _findings(collected, "MLW-DEF-01")[CONTAINERS_B]


def test_a_plan_turned_on_for_one_cluster_does_not_pass_a_subscription_that_has_it_off(tmp_path: Path) -> None:
    """The cluster's own Standard row stood for the subscription (the last row of a name won): Defender for
    Containers passed on a subscription whose plan is Free."""
    finding = _containers_verdict(_with_plans("Free", (AKS, "Standard", "False")), tmp_path)
    assert finding.status.value == "fail"
    assert finding.message == "Defender for Containers is off (Free tier)"


def test_a_plan_turned_off_for_one_cluster_fails_the_subscription_naming_it(tmp_path: Path) -> None:
    """Standard on the subscription, Free on the AKS cluster serving the model: the cluster is not protected."""
    finding = _containers_verdict(_with_plans("Standard", (AKS, "Free", "False")), tmp_path)
    assert finding.status.value == "fail"
    assert (
        finding.message
        == "Defender for Containers is on (Standard tier) but turned off for aks-infer by its own pricing"
    )
    off = {e.path: e.value for e in finding.evidence}["pricings/Containers.offForResources"]
    assert [str(v).rsplit("/", 1)[-1] for v in off] == ["aks-infer"]


def test_a_resource_that_follows_its_subscription_plan_changes_nothing(tmp_path: Path) -> None:
    finding = _containers_verdict(_with_plans("Standard", (AKS, "Standard", "True")), tmp_path)
    assert finding.status.value == "pass"
    assert finding.message == "Defender for Containers is on (Standard tier)"


def test_resource_plan_rows_alone_leave_the_subscription_plans_to_defender(tmp_path: Path) -> None:
    """Resource Graph held only a cluster's own pricing row for the subscription: it was taken as the
    subscription's plans, Defender was never asked, and every plan but that one was unknown."""
    inventory = _with_plans("Free", (AKS, "Standard", "False"))
    finding = _containers_verdict(inventory, tmp_path, graph_resource_pricings_only=True)
    assert finding.status.value == "fail" and finding.message == "Defender for Containers is off (Free tier)"
