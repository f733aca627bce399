"""MLW-DEF-02 (Defender for App Service) in a subscription whose apps run where the plan protects nothing.

Defender for App Service protects App Service plans and bills "according to the total compute instances in
supported plans". Its overview (defender-docs `defender-for-app-service-introduction.md`, revised 2026-04-19)
names the supported plans, Standard, Premium v2, Premium v3 and Isolated (App Service Environment v1-v3), and
says "Free, Shared, and Basic tier App Service plans aren't supported ... aren't monitored or protected by
this Defender plan". No version of that page ever listed Consumption; the 2020 one named it unsupported
beside Free and Shared. Flex Consumption is not among the supported plans either, and apps hosted on Azure
Container Apps or on Azure Arc-enabled Kubernetes have no App Service plan at all.

Decision: an app counts toward MLW-DEF-02 unless the tier in its site row (`properties.sku`: Free, Shared,
Basic, Dynamic for Consumption, FlexConsumption) or its kind (`azurecontainerapps`, `kubernetes`) puts it
outside the plan. A subscription whose every app is outside it is not applicable, whatever the plan's tier;
one app on any other tier (ElasticPremium, Standard, PremiumV3, or a row that does not state its tier) makes
the plan apply. Before: any web or function app made the plan apply, so a subscription running only a Basic
web app and a Consumption function failed (plan Free) or passed (plan Standard) on a plan that could not
protect them. Azure Policy 2913021d audits every subscription's pricing whatever it runs; the divergence is
in the check's rationale.

The demo's research subscription ran exactly that (a Basic web app and a Consumption function app), so its
MLW-DEF-02 turned not applicable; its notebook viewer now runs on Standard (S1), so the demo still shows the
rule failing. Records are our own, in the shapes of the sites GET (2023-12-01) and pricings GET (2024-01-01)
examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.checks.reference_scan import RG, SUB, record, scan_snapshot, status

PASS, FAIL, NA = "pass", "fail", "not_applicable"
WEB = "Microsoft.Web/sites"


def _app(name: str, kind: str, tier: str | None, **properties: Any) -> dict[str, Any]:
    """A site row; `tier` is the plan tier Resource Graph shows in properties.sku (None: not stated)."""
    farm = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Web/serverfarms/asp-{name}"
    body: dict[str, Any] = {"state": "Running", "httpsOnly": True, "serverFarmId": farm, **properties}
    if tier is not None:
        body["sku"] = tier
    return record(WEB, name, body, kind=kind)


def _pricing(tier: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/AppServices",
        "name": "AppServices",
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": tier, "freeTrialRemainingTime": "PT0S"},
    }


_ENV = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.App/managedEnvironments/cae-ml"

CASES: list[tuple[str, list[dict[str, Any]], str, str]] = [
    (
        "a Basic web app and a Consumption function app: nothing the plan protects",
        [_app("app-basic", "app", "Basic"), _app("func-consumption", "functionapp", "Dynamic")],
        "Free",
        NA,
    ),
    (
        "the same with the plan on: still nothing to protect, not a pass",
        [_app("app-basic", "app", "Basic"), _app("func-consumption", "functionapp", "Dynamic")],
        "Standard",
        NA,
    ),
    ("Free and Shared web apps", [_app("app-free", "app", "Free"), _app("app-shared", "app", "Shared")], "Free", NA),
    ("a Flex Consumption function app", [_app("func-flex", "functionapp,linux", "FlexConsumption")], "Free", NA),
    (
        "a function app on Azure Container Apps and a web app on Azure Arc: no App Service plan under either",
        [
            _app("func-aca", "functionapp,linux,container,azurecontainerapps", None, managedEnvironmentId=_ENV),
            _app("app-arc", "app,linux,kubernetes", None),
        ],
        "Free",
        NA,
    ),
    (
        "one Standard app beside a Basic one: the plan applies",
        [_app("app-basic", "app", "Basic"), _app("app-standard", "app", "Standard")],
        "Free",
        FAIL,
    ),
    (
        "a Functions Premium (ElasticPremium) app: the plan applies",
        [_app("func-premium", "functionapp,linux", "ElasticPremium")],
        "Free",
        FAIL,
    ),
    ("a row that does not state its tier counts as protected", [_app("app-untiered", "app", None)], "Free", FAIL),
    ("PremiumV3 with the plan on passes", [_app("app-p1v3", "app,linux", "PremiumV3")], "Standard", PASS),
]


@pytest.mark.parametrize(("source", "apps", "tier", "want"), CASES, ids=[c[0] for c in CASES])
def test_app_service_plan_applies_only_where_it_protects_an_app(
    tmp_path: Path, source: str, apps: list[dict[str, Any]], tier: str, want: str
) -> None:
    found = scan_snapshot(tmp_path, *apps, _pricing(tier))
    assert status(found, "MLW-DEF-02", SUB) == want, (source, found[("MLW-DEF-02", SUB)][0]["message"])


def test_not_applicable_names_where_the_apps_run(tmp_path: Path) -> None:
    apps = [_app("app-basic", "app", "Basic"), _app("func-consumption", "functionapp", "Dynamic")]
    [finding] = scan_snapshot(tmp_path, *apps, _pricing("Free"))[("MLW-DEF-02", SUB)]
    assert finding["message"] == (
        "every app in the subscription runs where Defender for App Service does not protect it (Basic, Dynamic)"
    )
    assert {"path": "resourceHosting", "value": {"Basic": 1, "Dynamic": 1}} in finding["evidence"]


def test_failure_counts_the_hosting_it_saw(tmp_path: Path) -> None:
    apps = [_app("app-basic", "app", "Basic"), _app("app-standard", "app", "Standard")]
    [finding] = scan_snapshot(tmp_path, *apps, _pricing("Free"))[("MLW-DEF-02", SUB)]
    assert finding["message"] == "Defender for App Service is off (Free tier)"
    assert {"path": "resourceHosting", "value": {"Basic": 1, "Standard": 1}} in finding["evidence"]
