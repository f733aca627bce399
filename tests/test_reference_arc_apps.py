"""App Service apps on Azure Arc-enabled Kubernetes: which App Service rules apply there, decided on purpose.

An app in an App Service Kubernetes environment has a kind naming `kubernetes` (`app,linux,kubernetes`,
`app,linux,container,kubernetes`, `functionapp,linux,kubernetes`, ...; `az webapp create --custom-location`
returns such a site with `extendedLocation` of type customLocation and a K1 plan). The App Service on Azure
Arc overview (azure-docs `app-service/overview-arc-integration.md`, "Public preview limitations" and its
FAQ) lists what App Service does not offer there:

- Networking: "Not available (rely on cluster networking)"; hybrid connections and VNet integration are not
  supported, "networking should be handled directly in the networking rules in the Kubernetes cluster"
  (access restrictions were added in April 2022). So MLW-APP-02 (public network access), MLW-APP-03 (private
  endpoint) and MLW-APP-06 (VNet integration) are not applicable: the cluster's load balancer and network
  rules decide exposure, and App Service's switches for it do not exist there.
- Managed identities: "Apps cannot be assigned managed identities when running in Azure Arc". MLW-APP-04 is
  not applicable; the service principal such an app uses instead is a credential that MLW-CFG-06 judges
  wherever the app's settings hold it.
- Key Vault references: not available (they depend on managed identities). MLW-CFG-06 still applies: a
  credential in app settings is as readable on Arc as anywhere; the fix is to keep it out of the settings.
- FTP publishing: not available. MLW-CFG-02 (FTPS only) is not applicable and MLW-APP-05 (basic-auth
  publishing) judges the SCM policy alone; deployment through the SCM site (ZIP, Git) is supported.

Everything else (HTTPS only, minimum TLS and SCM TLS, remote debugging, CORS, built-in authentication,
client certificates, end-to-end encryption) has no documented limitation on Arc and is judged as on any
app. Before this decision every rule judged Arc apps as ordinary apps, so each failed APP-02, APP-03, APP-04,
APP-06 and CFG-02 (and APP-05 for an FTP policy that cannot matter) with findings nobody could fix.

An app is recognised by its kind alone: Resource Graph's projection and mlwarden's resource rows do not
carry `extendedLocation`, so a template site that leaves `kind` out but sets `extendedLocation` is judged
as an ordinary app (a known gap). Records are our own, in the shape of that `az webapp create` output.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import SUB, as_template, record, scan_snapshot, scan_template

Found = dict[tuple[str, str], list[dict[str, Any]]]
PASS, FAIL, NA = "pass", "fail", "not_applicable"
WEB = "Microsoft.Web/sites"
API = "2023-12-01"
_LOCATION = f"/subscriptions/{SUB}/resourceGroups/rg-ref/providers/Microsoft.ExtendedLocation/customLocations/cl-apps"


def _site(name: str, kind: str, *, arc: bool = True, **properties: Any) -> dict[str, Any]:
    body = {"enabled": True, "state": "Running", "clientCertEnabled": False, "hostingEnvironmentProfile": None}
    envelope: dict[str, Any] = {"kind": kind}
    if arc:
        envelope["extendedLocation"] = {"name": _LOCATION, "type": "customLocation"}
    return record(WEB, name, {**body, **properties}, **envelope)


def _children(site: str, ftp: bool, scm: bool, **web: Any) -> list[dict[str, Any]]:
    """config/web and the two publishing-credential policies, as the app's own GETs return them."""
    return [
        record(f"{WEB}/config", f"{site}/web", {"remoteDebuggingEnabled": False, **web}),
        record(f"{WEB}/basicPublishingCredentialsPolicies", f"{site}/ftp", {"allow": ftp}),
        record(f"{WEB}/basicPublishingCredentialsPolicies", f"{site}/scm", {"allow": scm}),
    ]


_NOT_ON_ARC = {"MLW-APP-02": NA, "MLW-APP-03": NA, "MLW-APP-04": NA, "MLW-APP-06": NA, "MLW-CFG-02": NA}

CASES: list[tuple[str, list[dict[str, Any]], str, dict[str, str]]] = [
    (
        "Arc web app: networking, identity and FTP rules do not apply; the FTP policy is not judged",
        [
            _site("app-arc", "app,linux,kubernetes", httpsOnly=True, publicNetworkAccess=None),
            *_children("app-arc", ftp=True, scm=False, minTlsVersion="1.2", ftpsState="AllAllowed"),
        ],
        "app-arc",
        {**_NOT_ON_ARC, "MLW-APP-01": PASS, "MLW-APP-05": PASS, "MLW-APP-07": FAIL, "MLW-CFG-01": PASS},
    ),
    (
        "Arc function app: HTTPS, TLS and SCM basic auth are still judged and fail",
        [
            _site("func-arc", "functionapp,linux,kubernetes", httpsOnly=False),
            *_children("func-arc", ftp=False, scm=True, minTlsVersion="1.0", ftpsState="Disabled"),
        ],
        "func-arc",
        {**_NOT_ON_ARC, "MLW-APP-01": FAIL, "MLW-APP-05": FAIL, "MLW-CFG-01": FAIL, "MLW-CFG-03": PASS},
    ),
    (
        "Arc container app (kind app,linux,container,kubernetes), even one stating publicNetworkAccess Enabled",
        [
            _site("app-arc-ctr", "app,linux,container,kubernetes", httpsOnly=True, publicNetworkAccess="Enabled"),
            *_children("app-arc-ctr", ftp=True, scm=True, minTlsVersion="1.2"),
        ],
        "app-arc-ctr",
        {**_NOT_ON_ARC, "MLW-APP-05": FAIL},
    ),
    (
        "the same settings on an ordinary Linux app still fail every one of those rules",
        [
            _site("app-multitenant", "app,linux", arc=False, httpsOnly=True, publicNetworkAccess=None),
            *_children("app-multitenant", ftp=True, scm=False, minTlsVersion="1.2", ftpsState="AllAllowed"),
        ],
        "app-multitenant",
        {
            "MLW-APP-02": FAIL,
            "MLW-APP-03": FAIL,
            "MLW-APP-04": FAIL,
            "MLW-APP-05": FAIL,
            "MLW-APP-06": FAIL,
            "MLW-CFG-02": FAIL,
        },
    ),
]


def _bodies() -> list[dict[str, Any]]:
    return [body for _, bodies, _, _ in CASES for body in bodies]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("arc"), *_bodies())


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_template(tmp_path_factory.mktemp("arc-template"), *(as_template(b, API) for b in _bodies()))


def _expectations() -> list[tuple[str, str, str, str]]:
    return [(source, name, check_id, want) for source, _, name, checks in CASES for check_id, want in checks.items()]


@pytest.mark.parametrize(("source", "name", "check_id", "want"), _expectations())
@pytest.mark.parametrize("scanned", ["snapshot_findings", "template_findings"])
def test_arc_apps_are_judged_only_where_app_service_offers_the_feature(
    request: pytest.FixtureRequest, scanned: str, source: str, name: str, check_id: str, want: str
) -> None:
    found: Found = request.getfixturevalue(scanned)
    [finding] = found[(check_id, name)]
    assert finding["status"] == want, (source, check_id, finding["message"], finding["evidence"])


@pytest.mark.parametrize(
    ("check_id", "says"),
    [
        ("MLW-APP-02", "App Service networking is not available there"),
        ("MLW-APP-04", "apps cannot be assigned managed identities there"),
        ("MLW-CFG-02", "FTP publishing is not available there"),
    ],
)
def test_not_applicable_names_arc_and_the_missing_feature(snapshot_findings: Found, check_id: str, says: str) -> None:
    [finding] = snapshot_findings[(check_id, "app-arc")]
    assert finding["message"].startswith("the app runs on Azure Arc-enabled Kubernetes: ")
    assert says in finding["message"]
    assert {"path": "kind", "value": "app,linux,kubernetes"} in finding["evidence"]


def test_scm_alone_decides_basic_auth_on_arc(snapshot_findings: Found) -> None:
    [passing] = snapshot_findings[("MLW-APP-05", "app-arc")]
    assert passing["message"] == "basic-auth publishing is disabled for SCM (no FTP publishing on Azure Arc)"
    assert not any("ftp" in e["path"] for e in passing["evidence"])
    [failing] = snapshot_findings[("MLW-APP-05", "app-arc-ctr")]
    assert failing["message"] == "basic-auth publishing is allowed for SCM"


def test_plaintext_secret_in_an_arc_app_still_fails(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Key Vault references are not available on Arc, but an account key in the settings is still exposed."""
    site = as_template(_site("app-arc-secret", "app,linux,kubernetes", httpsOnly=True), API)
    settings = [{"name": "STORAGE", "value": "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=ZmFrZQ=="}]
    site["properties"] = {**site["properties"], "siteConfig": {"appSettings": settings}}
    found = scan_template(tmp_path_factory.mktemp("arc-secret"), site)
    [finding] = found[("MLW-CFG-06", "app-arc-secret")]
    assert finding["status"] == FAIL and "STORAGE" in finding["message"]
