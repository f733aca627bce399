"""App Service web app and function app checks: the site row (MLW-APP-*) and its config (MLW-CFG-*).

Model-serving APIs often run as web or function apps. The `microsoft.web/sites` row carries
HTTPS-only, network access, identity and client certificates; TLS, FTPS, remote debugging and CORS
live in the site's `config/web` (the `appserviceresources` table, PascalCase property names, read
case-insensitively). A collected config source without a row for this site is `unknown`, never a
pass. Publishing-credential policies and app-setting facts are records of their own. Deployment
slots (`sites/slots`, a public hostname of their own) are judged like sites, each on its own records.
Apps on Azure Arc-enabled Kubernetes (kind `...,kubernetes`) are not applicable to the rules about
features App Service does not offer there (networking, managed identity, FTP); the rest judge them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from checks._shared import PUBLIC_ACCESS, link_states, private_endpoint_verdict, public_access_verdict, read_from
from scanner import inventory, kinds, props
from scanner.estate import Estate
from scanner.inventory import AppSettingFact
from scanner.models import Evidence, Resource
from scanner.registry import CheckFunc, CheckResult, Verdict, check, failed, not_applicable, passed, unknown
from scanner.unevaluated import PREFIX as UNEVALUATED

_SITES = (kinds.WEB_APP, kinds.FUNCTION_APP)
_DOCS = "https://learn.microsoft.com/azure/app-service"
_ASE = "properties.hostingEnvironmentProfile.id"
_PLAN_SKU = "properties.sku"
_NO_NETWORKING_SKUS = ("Free", "Shared", "Dynamic")
"""Plans without private endpoints or VNet integration: Free, Shared and the Consumption plan."""


_CONTAINER_APPS = "azurecontainerapps"


def on_container_apps(site: Resource) -> bool:
    """A function app hosted on Azure Container Apps (kind `functionapp,linux,container,azurecontainerapps`)."""
    return _CONTAINER_APPS in (site.kind or "").lower()


_CONTAINER_APPS_NOTE = (
    "Function apps hosted on Azure Container Apps (kind azurecontainerapps) are not applicable: the "
    "Container Apps environment, not App Service, sets their ingress, network and TLS, and Azure Policy's "
    "function-app definitions skip them (PSRule's function-app selector does not)."
)


_ARC = "kubernetes"


def on_azure_arc(site: Resource) -> bool:
    """An app in an App Service Kubernetes environment on an Azure Arc-enabled cluster: every such kind
    (`app,linux,kubernetes`, `app,linux,container,kubernetes`, `functionapp,linux,kubernetes`, ...) names
    `kubernetes`."""
    return _ARC in (site.kind or "").lower()


_ARC_DOCS = f"{_DOCS}/overview-arc-integration"
_NO_ARC_IDENTITY = "apps cannot be assigned managed identities there"


def not_on_arc(why: str) -> Callable[[CheckFunc], CheckFunc]:
    """The check, except that an app on Azure Arc is not applicable for `why` (a feature Arc lacks)."""

    def guard(func: CheckFunc) -> CheckFunc:
        @functools.wraps(func)
        def judged(resource: Resource, estate: Estate) -> CheckResult:
            if on_azure_arc(resource):
                message = f"the app runs on Azure Arc-enabled Kubernetes: {why}"
                return not_applicable(message, Evidence(path="kind", value=resource.kind))
            return func(resource, estate)

        return judged

    return guard


def _arc_note(why: str) -> str:
    return (
        f" Apps on Azure Arc-enabled Kubernetes (kind containing 'kubernetes') are not applicable: {why}, as "
        "the App Service on Azure Arc preview limitations state."
    )


def host_check(*, arc: str | None = None, **meta: Any) -> Callable[[CheckFunc], CheckFunc]:
    """`@check` for a rule about the App Service host (HTTPS redirect, network access, private link, TLS,
    FTP, publishing, client certificates, CORS, built-in auth). A function app on Azure Container Apps has
    no such host: its ingress, network and TLS belong to the Container Apps environment, and Azure
    Policy's function-app definitions skip kind azurecontainerapps. Such an app is not applicable here;
    its identity and app settings are still judged. `arc`, when given, is why the rule does not apply to
    an app on Azure Arc-enabled Kubernetes (a feature App Service does not offer there); without it, such
    an app is judged like any other."""

    def register(func: CheckFunc) -> CheckFunc:
        inner = not_on_arc(arc)(func) if arc else func

        @functools.wraps(func)
        def judged(resource: Resource, estate: Estate) -> CheckResult:
            if on_container_apps(resource):
                return not_applicable(
                    "the function app runs on Azure Container Apps: its environment, not App Service, "
                    "sets ingress, network and TLS",
                    Evidence(path="kind", value=resource.kind),
                )
            return inner(resource, estate)

        rationale = f"{meta.pop('rationale')}{_arc_note(arc) if arc else ''} {_CONTAINER_APPS_NOTE}"
        references = (*meta.pop("references", ()), *((_ARC_DOCS,) if arc else ()))
        return check(kinds=_SITES, rationale=rationale, references=references, **meta)(judged)

    return register


def _in_ase(site: Resource) -> bool:
    return bool(props.text(site, _ASE))


def _site_config(site: Resource, estate: Estate) -> Resource | None:
    """The app's `config/web` record (several checks of each app ask: see `props.derived`)."""
    return estate.site_config(site)


def _config_evidence(config: Resource, *paths: str) -> tuple[Evidence, ...]:
    """Evidence read from `config/web`, labelled so an auditor sees which record it came from."""
    return read_from("config/web.", config, *paths)


def _judged_on_config(judge: Callable[[Resource], Verdict]) -> Callable[[Resource, Estate], Verdict]:
    """Make a judge of the site's `config/web` record a check of the site. A collected config
    source without a record for this site is unknown, never a pass."""

    @functools.wraps(judge)
    def on_site(resource: Resource, estate: Estate) -> Verdict:
        config = props.derived(resource, _site_config, estate)
        if config is None:
            return unknown("the app service config source was read but holds no config/web record for this app")
        return judge(config)

    return on_site


# -- the site row ---------------------------------------------------------------------------------


@host_check(
    id="MLW-APP-01",
    title="App accepts HTTPS only",
    severity="high",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "With HTTPS only, plain-HTTP requests to the app are redirected to HTTPS, so inference inputs "
        "and outputs are not sent in clear text. Absent means HTTP is served (the service default) and fails."
    ),
    remediation="Turn on HTTPS only.",
    az_cli="az webapp update -g <rg> -n <name> --https-only true",
    azure_policy=("a4af4a39-4135-47fb-b175-47fbdf85311d", "6d555dd1-86f2-4f1c-8ed7-5abae7c6cbab"),
    references=(f"{_DOCS}/configure-ssl-bindings#enforce-https",),
)
def app_https_only(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.httpsOnly")
    if props.flag(resource, "properties.httpsOnly") is True:
        return passed("only HTTPS is served", *evidence)
    return failed("the app serves plain HTTP (HTTPS only is off)", *evidence)


@host_check(
    id="MLW-APP-02",
    arc="App Service networking is not available there; the cluster's load balancer and network rules set exposure",
    title="App public network access is disabled",
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "publicNetworkAccess 'Disabled' blocks all public inbound traffic, leaving private endpoints. "
        "Absent fails, as in Azure Policy: since 2023 a private endpoint no longer turns public access "
        "off by itself, so an absent value cannot be read as private. Apps in an App Service Environment "
        "(hostingEnvironmentProfile.id set; ASE v3 internal or external alike) are not applicable: their "
        "exposure is set by the environment's load balancer, which Azure Policy 2d048aca judges on the "
        "Microsoft.Web/hostingEnvironments resource (internalLoadBalancingMode Web, Publishing) and which "
        "neither the site row nor mlwarden's scope holds; an explicit 'Disabled' there still passes. "
        "Divergence: Policy 1b5ef780 1.0.0 and its function-app twin 969ac98b test every app, ASE or not "
        "(later 1b5ef780 versions add the ASE exclusion), and Checkov CKV_AZURE_222 does too. "
        "The setting also lives in the site's config/web (siteConfig.publicNetworkAccess, "
        "which Checkov CKV_AZURE_222 reads too): when the site row leaves it out or empty, config/web's "
        "value is judged."
    ),
    remediation="Set public network access to Disabled and reach the app through a private endpoint.",
    az_cli="az webapp update -g <rg> -n <name> --set publicNetworkAccess=Disabled",
    azure_policy=("1b5ef780-c53c-4a64-87f3-bb9c8c8094ba", "969ac98b-88a8-449f-883c-2e9adb123127"),
    references=(f"{_DOCS}/overview-access-restrictions", "https://github.com/MicrosoftDocs/azure-docs/pull/107167"),
)
def app_public_network_access(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, PUBLIC_ACCESS, _ASE)
    subject = resource
    if not (props.text(resource, PUBLIC_ACCESS) or "").strip():  # the site row leaves it out: config/web may say
        config = props.derived(resource, _site_config, estate)
        if config is not None and (props.text(config, PUBLIC_ACCESS) or "").strip():
            subject, evidence = config, (*evidence, *_config_evidence(config, PUBLIC_ACCESS))
    if _in_ase(resource) and not props.equals(subject, PUBLIC_ACCESS, "Disabled"):
        return not_applicable(
            "the app runs in an App Service Environment, whose load balancer sets exposure", *evidence
        )
    return public_access_verdict(
        subject, *evidence, unset="public network access is not disabled (absent means Enabled)"
    )


@host_check(
    id="MLW-APP-03",
    arc="App Service networking, private endpoints included, is not available there; the cluster's network sets reach",
    title="App is reachable through an approved private endpoint",
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private endpoint gives the app an address inside the virtual network, so clients need not "
        "cross the internet. Only an Approved connection counts. Free, Shared and Consumption ('Dynamic') "
        "plans cannot have private endpoints, so the rule is not applicable there. Azure Policy has a "
        "web-app variant only; function apps are judged too because Premium and Flex plans support it."
    ),
    remediation="Create a private endpoint (group id 'sites') for the app and approve it.",
    az_cli=(
        "az network private-endpoint create -g <rg> -n <pe> --vnet-name <vnet> --subnet <subnet> "
        "--private-connection-resource-id <app-id> --group-id sites --connection-name <conn>"
    ),
    azure_policy=("687aa49d-0982-40f8-bf6b-66d1da97a04b",),
    references=(f"{_DOCS}/networking/private-endpoint",),
)
def app_private_endpoint(resource: Resource, estate: Estate) -> Verdict:
    links = estate.private_links(resource)
    evidence = (*props.read(resource, _PLAN_SKU), link_states(links))
    if not estate.has_approved_private_endpoint(resource) and props.equals(resource, _PLAN_SKU, *_NO_NETWORKING_SKUS):
        plan = props.text(resource, _PLAN_SKU)
        return not_applicable(f"the {plan} plan does not support private endpoints", *evidence)
    return private_endpoint_verdict("the app", links, *evidence)


@check(
    id="MLW-APP-04",
    title="App uses a managed identity",
    kinds=_SITES,
    severity="medium",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "A managed identity lets the app reach Key Vault, Storage and Azure ML without stored "
        "credentials. identity.type is read as a set ('SystemAssigned, UserAssigned' passes). Absent or "
        "'None' fails." + _arc_note(_NO_ARC_IDENTITY) + " Such an app needs a credential of its own (an "
        "application service principal), which MLW-CFG-06 judges wherever the app's settings hold it."
    ),
    remediation="Assign a system- or user-assigned managed identity.",
    az_cli="az webapp identity assign -g <rg> -n <name>",
    azure_policy=("2b9ad585-36bc-4615-b300-fd4435808332", "0da106f2-4ca3-48e8-bc85-c638fe6aea8f"),
    references=(f"{_DOCS}/overview-managed-identity", _ARC_DOCS),
)
@not_on_arc(_NO_ARC_IDENTITY)
def app_managed_identity(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "identity.type")
    if props.has_managed_identity(resource):
        return passed("the app has a managed identity", *evidence)
    return failed("the app has no managed identity", *evidence)


@host_check(
    id="MLW-APP-05",
    title="App has FTP and SCM basic-auth publishing disabled",
    severity="medium",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "Basic-auth publishing credentials are a username and password that can deploy code to the app, "
        "outside Entra ID. Both the 'ftp' and 'scm' basicPublishingCredentialsPolicies must have allow "
        "false. allow absent on a policy means allowed (the default) and fails; a policy record missing "
        "for a collected app is unknown. Azure Policy's definitions cover web apps; function apps have "
        "the same credentials and are judged too. An app on Azure Arc-enabled Kubernetes (kind containing "
        "'kubernetes') is judged on its 'scm' policy alone: FTP publishing is not available there (App "
        "Service on Azure Arc preview limitations), while deployment through the SCM site is."
    ),
    remediation="Disable basic authentication for FTP and SCM publishing.",
    az_cli=(
        "az resource update -g <rg> --namespace Microsoft.Web --resource-type basicPublishingCredentialsPolicies "
        "--parent sites/<name> -n ftp --set properties.allow=false  (repeat with -n scm)"
    ),
    azure_policy=("871b205b-57cf-4e1e-a234-492616998bf7", "aede300b-d67f-480a-ae26-4b3dfb1a1fdc"),
    references=(f"{_DOCS}/configure-basic-auth-disable", _ARC_DOCS),
    needs=(inventory.PUBLISHING_CREDENTIALS,),
)
def app_basic_auth_publishing(resource: Resource, estate: Estate) -> Verdict:
    policies = estate.publishing_policies(resource)
    evidence: list[Evidence] = []
    allowed: list[str] = []
    missing: list[str] = []
    arc = on_azure_arc(resource)
    for name in ("scm",) if arc else ("ftp", "scm"):
        policy = policies.get(name)
        if policy is None:
            missing.append(name)
            evidence.append(Evidence(path=f"basicPublishingCredentialsPolicies/{name}", value=None))
            continue
        evidence.extend(read_from(f"basicPublishingCredentialsPolicies/{name}.", policy, "properties.allow"))
        if props.flag(policy, "properties.allow") is not False:
            allowed.append(name.upper())
    if allowed:
        return failed(f"basic-auth publishing is allowed for {' and '.join(allowed)}", *evidence)
    if missing:
        return unknown(f"no {' or '.join(missing)} publishing policy was collected for this app", *evidence)
    if arc:
        return passed("basic-auth publishing is disabled for SCM (no FTP publishing on Azure Arc)", *evidence)
    return passed("basic-auth publishing is disabled for FTP and SCM", *evidence)


@host_check(
    id="MLW-APP-06",
    arc="VNet integration is not available there; outbound traffic follows the cluster's network",
    title="App routes all outbound traffic through VNet integration",
    severity="low",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "VNet integration with route-all sends the app's outbound calls (to Key Vault, Storage, ML "
        "endpoints) through the virtual network, where private endpoints and firewalls apply. Route-all "
        "is read from outboundVnetRouting.allTraffic, vnetRouteAllEnabled on the site, or "
        "VnetRouteAllEnabled in config/web when collected. No subnet, or route-all absent (off by "
        "default), fails. App Service Environment apps already run in a VNet and Free, Shared and "
        "Consumption plans cannot integrate, so those are not applicable. Divergence: the legacy "
        "WEBSITE_VNET_ROUTE_ALL=1 app setting also routes all traffic (Learn keeps it for backward "
        "compatibility), but mlwarden never keeps app setting values, so an app relying on it fails here; "
        "set outboundVnetRouting.allTraffic (what Azure Policy audits) or waive the finding."
    ),
    remediation="Integrate the app with a VNet subnet and route all outbound traffic through it.",
    az_cli=(
        "az webapp vnet-integration add -g <rg> -n <name> --vnet <vnet> --subnet <subnet> && "
        "az resource update -g <rg> -n <name> --resource-type Microsoft.Web/sites "
        "--set properties.vnetRouteAllEnabled=true"
    ),
    azure_policy=(
        "72d04c29-f87d-4575-9731-419ff16a2757",
        "a691eacb-474d-47e4-b287-b4813ca44222",
        "32a913ec-5ed7-4b31-a5b0-198450d8fb13",
    ),
    references=(f"{_DOCS}/overview-vnet-integration",),
)
def app_vnet_route_all(resource: Resource, estate: Estate) -> Verdict:
    route_paths = (
        "properties.outboundVnetRouting.allTraffic",
        "properties.vnetRouteAllEnabled",
        "properties.siteConfig.vnetRouteAllEnabled",
    )
    evidence = props.read(resource, "properties.virtualNetworkSubnetId", *route_paths, _PLAN_SKU)
    if _in_ase(resource):
        return not_applicable("the app runs in an App Service Environment, inside a VNet", *evidence)
    if props.equals(resource, _PLAN_SKU, *_NO_NETWORKING_SKUS):
        plan = props.text(resource, _PLAN_SKU)
        return not_applicable(f"the {plan} plan does not support VNet integration", *evidence)
    if not props.text(resource, "properties.virtualNetworkSubnetId"):
        return failed("the app is not integrated with a virtual network", *evidence)
    route_all = any(props.flag(resource, path) is True for path in route_paths)
    config = props.derived(resource, _site_config, estate)
    if config is not None:
        evidence = (*evidence, *_config_evidence(config, "properties.vnetRouteAllEnabled"))
        route_all = route_all or props.flag(config, "properties.vnetRouteAllEnabled") is True
    if route_all:
        return passed("all outbound traffic goes through the integrated VNet", *evidence)
    return failed("only private-range traffic goes through the VNet; the rest leaves directly", *evidence)


@host_check(
    id="MLW-APP-07",
    title="App requires client certificates",
    severity="low",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Required client certificates (mutual TLS) reject callers without a certificate before they "
        "reach the model API. clientCertEnabled absent means off (the default) and fails. Enabled with "
        "clientCertMode 'Optional' or 'OptionalInteractiveUser' also fails: a request without a "
        "certificate is still accepted. Mode absent with clientCertEnabled true means Required. "
        "Divergence: Azure Policy 19dd1db6 counts an app whose config/web has http20Enabled as compliant "
        "(the definition covers HTTP/1.1 apps only); mlwarden judges every app on its own setting, since "
        "an HTTP/2 app without required client certificates still accepts callers without one."
    ),
    remediation="Require incoming client certificates.",
    az_cli="az webapp update -g <rg> -n <name> --set clientCertEnabled=true clientCertMode=Required",
    azure_policy=("19dd1db6-f442-49cf-a838-b0786b4401ef", "ab6a902f-9493-453b-928d-62c30b11b5a6"),
    references=(f"{_DOCS}/app-service-web-configure-tls-mutual-auth",),
)
def app_client_certificates(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.clientCertEnabled", "properties.clientCertMode")
    if props.flag(resource, "properties.clientCertEnabled") is not True:
        return failed("client certificates are not required", *evidence)
    mode = props.text(resource, "properties.clientCertMode")
    if mode is not None and mode.lower() != "required":
        return failed(f"client certificates are {mode}, so callers without one are accepted", *evidence)
    return passed("client certificates are required", *evidence)


@host_check(
    id="MLW-APP-08",
    title="App encrypts traffic from the front ends to the workers",
    severity="low",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "TLS normally ends at the App Service front ends; end-to-end encryption keeps the hop to the "
        "worker encrypted as well. Absent means off (the default) and fails."
    ),
    remediation="Enable end-to-end TLS encryption.",
    az_cli="az webapp update -g <rg> -n <name> --set endToEndEncryptionEnabled=true",
    azure_policy=("af1d7e88-c1c8-4ea8-be1f-87bff0df9101", "387140f1-6da9-4741-bcee-3b5edcdfd9ec"),
    references=(f"{_DOCS}/overview-tls",),
)
def app_end_to_end_encryption(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.endToEndEncryptionEnabled")
    if props.flag(resource, "properties.endToEndEncryptionEnabled") is True:
        return passed("traffic is encrypted end to end, up to the workers", *evidence)
    return failed("traffic between front ends and workers is not encrypted", *evidence)


# -- config/web -----------------------------------------------------------------------------------

_TLS_VERSIONS = {"1.0": 10, "1.1": 11, "1.2": 12, "1.3": 13}


@host_check(
    id="MLW-CFG-01",
    title="App requires TLS 1.2 or later",
    severity="high",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "TLS 1.0 and 1.1 have known weaknesses. '1.2' and '1.3' pass (the anchors compare with '1.2' "
        "only; 1.3 is stricter). Divergence: an absent MinTlsVersion scores as the service default, 1.2, "
        "and passes, while Azure Policy f0e6e85b (existence condition equals '1.2') and Checkov "
        "CKV_AZURE_15 (a value check, missing fails) flag it; a live config/web always reports the value, "
        "so only templates leave it out. An empty string counts as absent; any other unrecognised value "
        "(Storage's 'TLS1_2' naming among them) fails, as in all three anchors."
    ),
    remediation="Set the minimum inbound TLS version to 1.2 or 1.3.",
    az_cli="az webapp config set -g <rg> -n <name> --min-tls-version 1.2",
    azure_policy=("f0e6e85b-9b9f-4a4b-b67b-f730d42f1b0b", "f9d614c5-c173-4d56-95a7-b4437057d193"),
    references=(f"{_DOCS}/overview-tls",),
    needs=(inventory.APPSERVICE_CONFIG,),
)
@_judged_on_config
def cfg_min_tls(config: Resource) -> Verdict:
    return _judge_min_tls(config, "properties.minTlsVersion", "minimum TLS version")


def _judge_min_tls(config: Resource, path: str, label: str) -> Verdict:
    """1.2 and 1.3 pass; absent or blank is the service default 1.2; older or unknown values fail."""
    evidence = _config_evidence(config, path)
    version = (props.text(config, path) or "").strip()
    if not version:
        return passed(f"{label} is not set (the service default is 1.2)", *evidence)
    rank = _TLS_VERSIONS.get(version)
    if rank is None:  # e.g. Storage's 'TLS1_2' naming, which App Service rejects (as every anchor does)
        return failed(f"{label} {version!r} is not a known TLS version (App Service names them '1.2')", *evidence)
    if rank < _TLS_VERSIONS["1.2"]:
        return failed(f"{label} is {version}", *evidence)
    return passed(f"{label} is {version}", *evidence)


@host_check(
    id="MLW-CFG-50",
    title="App deployment (SCM) endpoint requires TLS 1.2 or later",
    severity="low",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "The SCM (Kudu) endpoint takes deployments and their credentials and has its own minimum TLS "
        "version, ScmMinTlsVersion, separate from the app's (MLW-CFG-01). mlwarden's own rule; no anchor "
        "has it. Scored like MLW-CFG-01: '1.2' and '1.3' pass, absent or empty means the service "
        "default 1.2 and passes, anything else fails."
    ),
    remediation="Set the SCM site's minimum TLS version to 1.2 or 1.3.",
    az_cli="az resource update --ids <app-id>/config/web --set properties.scmMinTlsVersion=1.2",
    references=(f"{_DOCS}/overview-tls",),
    needs=(inventory.APPSERVICE_CONFIG,),
)
@_judged_on_config
def cfg_scm_min_tls(config: Resource) -> Verdict:
    return _judge_min_tls(config, "properties.scmMinTlsVersion", "SCM minimum TLS version")


@host_check(
    id="MLW-CFG-02",
    arc="FTP publishing is not available there, so there is no FTP endpoint to secure",
    title="App allows FTPS only or no FTP at all",
    severity="medium",
    tags=("encryption-in-transit",),
    pillar="encryption",
    rationale=(
        "Plain FTP sends deployment credentials and code in clear text. FtpsState 'FtpsOnly' or "
        "'Disabled' passes; 'AllAllowed' fails, and so does absent (the service default is AllAllowed). "
        "PSRule applies this to web apps only; Azure Policy has a function-app variant and function apps "
        "have the same FTP endpoint, so both kinds are judged."
    ),
    remediation="Set FTP state to Disabled (or FtpsOnly if FTP deployment is still needed).",
    az_cli="az webapp config set -g <rg> -n <name> --ftps-state Disabled",
    azure_policy=("4d24b6d4-5e53-4a4f-a7f4-618fa573ee4b", "399b2637-a50f-4f95-96f8-3a145476eb15"),
    references=(f"{_DOCS}/deploy-ftp#enforce-ftps",),
    needs=(inventory.APPSERVICE_CONFIG,),
)
@_judged_on_config
def cfg_ftps(config: Resource) -> Verdict:
    evidence = _config_evidence(config, "properties.ftpsState")
    if props.equals(config, "properties.ftpsState", "FtpsOnly", "Disabled"):
        return passed(f"FTP state is {props.text(config, 'properties.ftpsState')}", *evidence)
    state = props.text(config, "properties.ftpsState") or "not set (default AllAllowed)"
    return failed(f"plain FTP is allowed: FTP state is {state}", *evidence)


@host_check(
    id="MLW-CFG-03",
    title="App has remote debugging off",
    severity="medium",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Remote debugging opens extra inbound ports and lets a debugger attach to the running app. "
        "Only an explicit true fails: absent means the service default, off."
    ),
    remediation="Turn off remote debugging.",
    az_cli="az webapp config set -g <rg> -n <name> --remote-debugging-enabled false",
    azure_policy=("cb510bfd-1cba-4d9f-a230-cb0976f4bb71", "0e60b895-3786-45da-8377-9c6b4b6ac5f9"),
    references=(f"{_DOCS}/configure-common",),
    needs=(inventory.APPSERVICE_CONFIG,),
)
@_judged_on_config
def cfg_remote_debugging(config: Resource) -> Verdict:
    evidence = _config_evidence(config, "properties.remoteDebuggingEnabled")
    if props.flag(config, "properties.remoteDebuggingEnabled") is True:
        return failed("remote debugging is on", *evidence)
    return passed("remote debugging is off", *evidence)


@host_check(
    id="MLW-CFG-04",
    title="App CORS does not allow every origin",
    severity="low",
    tags=("access-control",),
    pillar="private-network",
    rationale=(
        "CORS '*' lets script on any website call the app from a user's browser. Absent CORS settings "
        "mean no cross-origin access (the default) and pass."
    ),
    remediation="List the allowed origins explicitly instead of '*'.",
    az_cli="az webapp cors remove -g <rg> -n <name> --allowed-origins '*'",
    azure_policy=("5744710e-cc2f-4ee8-8809-3b11e89f4bc9", "0820b7b9-23aa-4725-a1ce-ae4558f718e5"),
    references=(f"{_DOCS}/app-service-web-tutorial-rest-api",),
    needs=(inventory.APPSERVICE_CONFIG,),
)
@_judged_on_config
def cfg_cors_wildcard(config: Resource) -> Verdict:
    evidence = _config_evidence(config, "properties.cors.allowedOrigins")
    origins = [str(origin).strip() for origin in props.items(config, "properties.cors.allowedOrigins")]
    if "*" in origins:
        return failed("CORS allows every origin ('*')", *evidence)
    if not origins:
        return passed("no cross-origin access is configured", *evidence)
    return passed(f"CORS allows {len(origins)} listed origin(s)", *evidence)


@host_check(
    id="MLW-CFG-05",
    title="App has App Service authentication on",
    severity="low",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "Built-in authentication rejects unauthenticated callers before they reach the model API. It is "
        "read from config/authsettingsV2 (platform.enabled), or the older config/authsettings (enabled). "
        "Absent enabled means off (the default) and fails. Neither record collected for the app is "
        "unknown: these are separate GETs that Resource Graph does not return."
    ),
    remediation="Enable App Service authentication with an identity provider (or authenticate in a gateway).",
    az_cli="az webapp auth update -g <rg> -n <name> --enabled true --action Return401",
    azure_policy=("95bccee9-a7f8-4bec-9ee9-62c3473701fc", "c75248c1-ea1d-4a9c-8fc9-29a6aabd5da8"),
    references=(f"{_DOCS}/overview-authentication-authorization",),
    needs=(inventory.APPSERVICE_CONFIG,),
)
def cfg_authentication(resource: Resource, estate: Estate) -> Verdict:
    configs = estate.app_configs(resource)
    if (v2 := configs.get("authsettingsv2")) is not None:
        evidence = read_from("config/authsettingsV2.", v2, "properties.platform.enabled")
        enabled = props.flag(v2, "properties.platform.enabled")
    elif (v1 := configs.get("authsettings")) is not None:
        evidence = read_from("config/authsettings.", v1, "properties.enabled")
        enabled = props.flag(v1, "properties.enabled")
    else:
        return unknown("no authsettingsV2 or authsettings record was collected for this app")
    if enabled is True:
        return passed("App Service authentication is on", *evidence)
    return failed("App Service authentication is off", *evidence)


_HOST_STORAGE = "AzureWebJobsStorage"
_IDENTITY_HOST_STORAGE = ("azurewebjobsstorage__accountname", "azurewebjobsstorage__blobserviceuri")


def _plaintext_secret(setting: AppSettingFact) -> bool:
    return setting.classification != "none" and not setting.key_vault_reference


def _label(setting: AppSettingFact) -> str:
    kind = "connection string" if setting.source == "connection_string" else "setting"
    return f"{kind} {setting.name} ({setting.classification})"


@check(
    id="MLW-CFG-06",
    title="App keeps secrets only as Key Vault references",
    kinds=_SITES,
    severity="critical",
    tags=("secrets-in-vault",),
    pillar="secrets",
    rationale=(
        "A secret pasted into an app setting or connection string is readable by anyone with "
        "config/list rights and never rotates with the vault. Each setting's value is classified in "
        "memory at collection and dropped; only its name and class reach this check. A value is a "
        "secret when it carries a credential (account or shared access key, SAS signature, password, "
        "client secret, private key, bearer or API token), not because it looks like a connection "
        "string: Application Insights connection strings, Entra or managed-identity connection "
        "strings and identity-based X__accountName / X__serviceUri settings carry none and pass. A "
        "setting classified as a secret that is not an @Microsoft.KeyVault(...) reference fails, naming the "
        "settings (never their values). For function apps, AzureWebJobsStorage holding an account-key "
        "connection string fails like any other; identity-based host storage "
        "(AzureWebJobsStorage__accountName) passes. Settings not collected for this app are unknown. Apps on "
        "Azure Arc-enabled Kubernetes are judged too, although Key Vault references are not available there "
        "(they depend on managed identities, which such apps cannot have): a credential in their settings is "
        "as readable as anywhere, and the fix there is to keep it out of the app's settings."
    ),
    remediation=(
        "Move each secret to Key Vault and reference it (@Microsoft.KeyVault(SecretUri=...)); for "
        "Functions host storage use AzureWebJobsStorage__accountName with the app's managed identity."
    ),
    az_cli=(
        "az webapp config appsettings set -g <rg> -n <name> "
        "--settings <NAME>='@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<secret>)'"
    ),
    references=(
        f"{_DOCS}/app-service-key-vault-references",
        "https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity",
    ),
    needs=(inventory.APP_SETTINGS,),
)
def cfg_secrets_in_key_vault(resource: Resource, estate: Estate) -> Verdict:
    facts = estate.settings_of(resource)
    if facts is None:
        return unknown("app settings were collected, but none for this app (listing them may have been denied)")
    settings = [s for s in facts.settings if not s.name.startswith(UNEVALUATED)]
    plaintext = [s for s in settings if _plaintext_secret(s)]
    references = sum(1 for s in settings if s.key_vault_reference)
    summary = Evidence(
        path="appSettings",
        value={"settings": len(settings), "keyVaultReferences": references, "plaintextSecrets": len(plaintext)},
    )
    evidence = (summary, *(Evidence(path=f"{s.source}:{s.name}", value=s.classification) for s in plaintext))
    if not plaintext and (
        unknown_part := next((s.name for s in facts.settings if s.name.startswith(UNEVALUATED)), None)
    ):
        # A template whose settings (or part of them) are known only at deployment: not "no secrets".
        evidence = (*evidence, Evidence(path="appSettings (known at deployment)", value=unknown_part))
    if plaintext:
        host = [s for s in plaintext if s.name.lower() == _HOST_STORAGE.lower()]
        hint = "; use identity-based AzureWebJobsStorage__accountName" if host else ""
        names = ", ".join(_label(s) for s in plaintext)
        return failed(f"plaintext secrets outside Key Vault: {names}{hint}", *evidence)
    names_seen = {s.name.lower() for s in settings}
    if kinds.is_function_app(resource) and names_seen & set(_IDENTITY_HOST_STORAGE):
        return passed(
            f"no plaintext secrets; host storage uses the managed identity ({references} Key Vault reference(s))",
            *evidence,
        )
    return passed(
        f"no plaintext secrets among {len(settings)} setting(s), {references} Key Vault reference(s)", *evidence
    )
