"""PSRule for Azure's App Service and Defender test resources, rewritten in mlwarden's snapshot and template
forms, with PSRule's expected outcome beside mlwarden's verdict and every disagreement decided.

Facts come from Azure/PSRule.Rules.Azure tests/PSRule.Rules.Azure.Tests: Resources.AppService.json (PSRule's
envelope: `ResourceId`/`Properties`, with the site's `config/web` nested under `resources`) judged by
Azure.AppService.Tests.ps1, and Azure.Defender.Tests.ps1 (defenderH Standard passes, defenderI Free fails
Azure.Defender.AppServices). The records below are our own, in Resource Graph's shape, reproducing those facts:

- site-A: web app (kind app) on a Standard plan, system-assigned identity, httpsOnly true; its config/web has
  minTlsVersion 1.2, ftpsState Disabled, remoteDebuggingEnabled false. PSRule passes UseHTTPS, MinTLS,
  RemoteDebug, ManagedIdentity and WebSecureFtp; so does mlwarden.
- site-B: httpsOnly false, no identity, config/web minTlsVersion 1.1. PSRule fails UseHTTPS, MinTLS and
  ManagedIdentity; so does mlwarden.
- site-c: a Linux web app on a Basic plan as the sites GET returns it: siteConfig present with
  minTlsVersion, remoteDebuggingEnabled and ftpsState null, publicNetworkAccess Enabled, no identity and no
  config/web child. PSRule passes UseHTTPS and fails MinTLS, RemoteDebug and ManagedIdentity.

Disagreements, each decided:

1. site-c, MinTLS and RemoteDebug, snapshot: PSRule fails the nulls in the site GET's siteConfig; mlwarden does
   not read those settings from the site row (the sites GET does not fill siteConfig reliably; CHECKS.md,
   section 7) but from the app's config/web record, and a collected config source without one is `unknown`,
   a coverage gap, never a pass or a fail. Kept.
2. site-c, MinTLS and RemoteDebug, template: the template declares no TLS version and no remote debugging;
   mlwarden scores them as the service defaults (TLS 1.2, debugging off) and passes, PSRule fails an unset
   value. Kept; it is MLW-CFG-01's documented divergence (also Azure Policy f0e6e85b's), and remote debugging
   is off unless turned on.
3. Defender for App Service, pricing Free: PSRule fails the pricing whatever the subscription runs; mlwarden
   fails it only where an app runs on a plan the Defender plan protects, and is not applicable where every app
   is on Free, Shared, Basic or Consumption (site-c's Basic plan). Kept: decided in
   test_reference_defender_hosting.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.checks.reference_scan import SUB, as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
PASS, FAIL, NA, UNKNOWN = "pass", "fail", "not_applicable", "unknown"
WEB = "Microsoft.Web/sites"
API = "2023-12-01"
_IDENTITY = {"type": "SystemAssigned", "principalId": "00000000-0000-0000-0000-0000000000b1"}


def _site(name: str, kind: str, tier: str, identity: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    body = {"state": "Running", "enabled": True, "sku": tier, "clientCertEnabled": False, **properties}
    envelope: dict[str, Any] = {"kind": kind}
    if identity is not None:
        envelope["identity"] = identity
    return record(WEB, name, body, **envelope)


def _web(site: str, **settings: Any) -> dict[str, Any]:
    return record(f"{WEB}/config", f"{site}/web", {"numberOfWorkers": 1, **settings})


SITE_A = [
    _site("site-A", "app", "Standard", _IDENTITY, httpsOnly=True, clientAffinityEnabled=False),
    _web("site-A", minTlsVersion="1.2", ftpsState="Disabled", remoteDebuggingEnabled=False, http20Enabled=True),
]
SITE_B = [
    _site("site-B", "app", "Standard", None, httpsOnly=False, clientAffinityEnabled=True),
    _web("site-B", minTlsVersion="1.1", ftpsState="Disabled", http20Enabled=False),
]
_NULL_CONFIG = {"minTlsVersion": None, "remoteDebuggingEnabled": None, "ftpsState": None, "http20Enabled": False}
SITE_C = [
    _site(
        "site-c",
        "app,linux",
        "Basic",
        None,
        httpsOnly=True,
        publicNetworkAccess="Enabled",
        privateEndpointConnections=[],
        keyVaultReferenceIdentity="SystemAssigned",
        siteConfig={"linuxFxVersion": "PHP|8.2", **_NULL_CONFIG},
    )
]

# (PSRule rule, target, PSRule's outcome, mlwarden check, mlwarden's verdict as a snapshot, as a template)
ROWS: list[tuple[str, str, str, str, str, str]] = [
    ("Azure.AppService.UseHTTPS", "site-A", PASS, "MLW-APP-01", PASS, PASS),
    ("Azure.AppService.MinTLS", "site-A", PASS, "MLW-CFG-01", PASS, PASS),
    ("Azure.AppService.RemoteDebug", "site-A", PASS, "MLW-CFG-03", PASS, PASS),
    ("Azure.AppService.ManagedIdentity", "site-A", PASS, "MLW-APP-04", PASS, PASS),
    ("Azure.AppService.WebSecureFtp", "site-A", PASS, "MLW-CFG-02", PASS, PASS),
    ("Azure.AppService.UseHTTPS", "site-B", FAIL, "MLW-APP-01", FAIL, FAIL),
    ("Azure.AppService.MinTLS", "site-B", FAIL, "MLW-CFG-01", FAIL, FAIL),
    ("Azure.AppService.ManagedIdentity", "site-B", FAIL, "MLW-APP-04", FAIL, FAIL),
    ("Azure.AppService.UseHTTPS", "site-c", PASS, "MLW-APP-01", PASS, PASS),
    ("Azure.AppService.MinTLS", "site-c", FAIL, "MLW-CFG-01", UNKNOWN, PASS),
    ("Azure.AppService.RemoteDebug", "site-c", FAIL, "MLW-CFG-03", UNKNOWN, PASS),
    ("Azure.AppService.ManagedIdentity", "site-c", FAIL, "MLW-APP-04", FAIL, FAIL),
]

DISAGREEMENTS = {
    ("Azure.AppService.MinTLS", "site-c", "snapshot"): "1: the site GET's siteConfig is not read; no config/web",
    ("Azure.AppService.RemoteDebug", "site-c", "snapshot"): "1: the site GET's siteConfig is not read; no config/web",
    ("Azure.AppService.MinTLS", "site-c", "template"): "2: unset TLS version is the service default, 1.2",
    ("Azure.AppService.RemoteDebug", "site-c", "template"): "2: unset remote debugging is off",
}


def _bodies() -> list[dict[str, Any]]:
    return [*SITE_A, *SITE_B, *SITE_C]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("psrule-app"), *_bodies())


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_template(tmp_path_factory.mktemp("psrule-app-tpl"), *(as_template(b, API) for b in _bodies()))


@pytest.mark.parametrize(("rule", "target", "psrule", "check_id", "snapshot", "template"), ROWS)
def test_mlwarden_verdict_beside_psrule(
    snapshot_findings: Found,
    template_findings: Found,
    rule: str,
    target: str,
    psrule: str,
    check_id: str,
    snapshot: str,
    template: str,
) -> None:
    seen = (status(snapshot_findings, check_id, target), status(template_findings, check_id, target))
    assert seen == (snapshot, template), (rule, target)


def test_every_disagreement_with_psrule_is_a_documented_decision() -> None:
    found = {
        (rule, target, form)
        for rule, target, psrule, _, snapshot, template in ROWS
        for form, ours in (("snapshot", snapshot), ("template", template))
        if ours != psrule
    }
    assert found == set(DISAGREEMENTS)


def _pricing(tier: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/AppServices",
        "name": "AppServices",
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": tier},
    }


@pytest.mark.parametrize(
    ("apps", "tier", "psrule", "ours"),
    [
        (SITE_A, "Standard", PASS, PASS),  # defenderH
        (SITE_A, "Free", FAIL, FAIL),  # defenderI beside a Standard-plan app
        (SITE_C, "Free", FAIL, NA),  # defenderI beside Basic apps only: disagreement 3
    ],
    ids=["standard-plan-on", "standard-plan-off", "basic-only-off"],
)
def test_defender_app_services_beside_psrule(
    tmp_path: Path, apps: list[dict[str, Any]], tier: str, psrule: str, ours: str
) -> None:
    found = scan_snapshot(tmp_path, *apps, _pricing(tier))
    assert status(found, "MLW-DEF-02", SUB) == ours
    assert (ours == psrule) == (apps is not SITE_C), "only the Basic-only subscription disagrees (decision 3)"
