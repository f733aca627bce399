"""Defender for Cloud checks: the plans the subscription's ML estate needs, security contacts, assessments.

Plans are judged only where the subscription runs the service they protect (a Key Vault plan
for a subscription without vaults is not applicable, and so is the App Service plan where every app
runs on a tier or platform it does not cover). Assessments turn Defender's own verdicts
into findings on the resources they name, so one report carries both.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from checks._shared import read_from
from checks.appservice import on_azure_arc, on_container_apps
from scanner import inventory, kinds, props
from scanner.estate import Estate, parent_id
from scanner.models import Evidence, Resource, Severity
from scanner.registry import Verdict, check, failed, not_applicable, passed, unknown

_DOCS = "https://learn.microsoft.com/azure/defender-for-cloud"
_TAGS = ("threat-protection",)


@dataclass(frozen=True, slots=True)
class Plan:
    """A Defender plan (pricing name) and the resource kinds that make a subscription need it."""

    name: str
    label: str
    needed_by: tuple[str, ...]
    """Empty: every subscription needs the plan."""
    gap: Callable[[Resource], str | None] | None = None
    """For a Standard row: why it still falls short (a retired sub-plan, a feature off), or None."""
    hosting: Callable[[Resource], str] | None = None
    """Where one of `needed_by` runs (an App Service plan tier), for a plan that covers only some hosting."""
    not_covered: frozenset[str] = frozenset()
    """With `hosting`: the hosting (lower case) the plan does not protect; any other is protected."""


_HOSTING: weakref.WeakKeyDictionary[Estate, dict[str, dict[str, Counter[str]]]] = weakref.WeakKeyDictionary()
"""Per estate, per plan name, per subscription (lower case): the plan's resources counted by hosting."""


def _hosting_counts(plan: Plan, hosting: Callable[[Resource], str], estate: Estate) -> dict[str, Counter[str]]:
    """Worked out once per estate and plan, in one pass over the plan's resources: every subscription asks."""
    try:
        per_plan = _HOSTING.setdefault(estate, {})
    except TypeError:  # an estate that takes no weak reference (a plugin's read-only view): counted afresh
        per_plan = {}
    found = per_plan.get(plan.name)
    if found is None:
        found = {}
        for kind in plan.needed_by:
            for resource in estate.of_kind(kind):
                found.setdefault((resource.subscription_id or "").lower(), Counter())[hosting(resource)] += 1
        per_plan[plan.name] = found  # published whole: a check abandoned at its timeout leaves no partial count
    return found


_COVERAGE = "properties.resourcesCoverageStatus"
_SHORT_COVERAGE = {"partiallycovered": "only some", "notcovered": "none"}
"""resourcesCoverageStatus (pricings 2024-01-01, on a subscription's row only): `FullyCovered`, or a plan set
on single resources leaves `PartiallyCovered` or `NotCovered` of the subscription's resources under it."""


def _judge_plan(plan: Plan, subscription: Resource, estate: Estate) -> Verdict:
    sub = subscription.subscription_id or subscription.name
    counts = {kind: estate.kind_count(sub, kind) for kind in plan.needed_by}
    users: tuple[Evidence, ...] = (Evidence(path="resourceCounts", value=counts),)
    if plan.needed_by and not any(counts.values()):
        return not_applicable(f"the subscription has no resources {plan.label} protects", *users)
    if plan.hosting is not None:
        hosted = _hosting_counts(plan, plan.hosting, estate).get(sub.lower(), Counter())
        users = (*users, Evidence(path="resourceHosting", value=dict(sorted(hosted.items()))))
        if hosted and all(where.lower() in plan.not_covered for where in hosted):
            return not_applicable(
                f"every app in the subscription runs where {plan.label} does not protect it "
                f"({', '.join(sorted(hosted))})",
                *users,
            )
    row = estate.plans(sub).get(plan.name.lower())
    if row is None:
        return unknown(f"no {plan.name} pricing record was collected for the subscription", *users)
    fields: tuple[str, ...] = (
        "properties.pricingTier",
        "properties.subPlan",
        "properties.enforce",
        "properties.inherited",
    )
    if props.get(row, _EXTENSIONS) is not None:
        fields = (*fields, _EXTENSIONS)
    coverage = props.text(row, _COVERAGE)
    if coverage is not None:
        fields = (*fields, _COVERAGE)
    evidence = (*read_from(f"pricings/{plan.name}.", row, *fields), *users)
    overrides = estate.plan_overrides(sub, plan.name)
    standard = [props.equals(o, "properties.pricingTier", "Standard") for o in overrides]
    off = sorted(str(parent_id(o.id)) for o, on in zip(overrides, standard, strict=True) if not on)
    if overrides:
        evidence = (*evidence, Evidence(path=f"pricings/{plan.name}.offForResources", value=off))
    if props.equals(row, "properties.pricingTier", "Standard"):
        if off:  # the resource's own pricing row (2024-01-01) takes it out of the subscription's plan
            names = ", ".join(o.rsplit("/", 1)[-1] for o in off[:3]) + (
                f" and {len(off) - 3} more" if len(off) > 3 else ""
            )
            return failed(
                f"{plan.label} is on (Standard tier) but turned off for {names} by its own pricing", *evidence
            )
        if coverage is not None and coverage.lower() in _SHORT_COVERAGE:
            # The subscription's own row says some of its resources are left out (their own pricing turns the
            # plan off), though the reply does not name them.
            how = _SHORT_COVERAGE[coverage.lower()]
            return failed(
                f"{plan.label} is on (Standard tier) but Defender reports {how} of the subscription's resources "
                f"covered (resourcesCoverageStatus {coverage})",
                *evidence,
            )
        if plan.gap is not None and (short := plan.gap(row)) is not None:
            return failed(f"{plan.label} is on (Standard tier) but {short}", *evidence)
        return passed(f"{plan.label} is on (Standard tier)", *evidence)
    tier = props.text(row, "properties.pricingTier") or "Free (not set)"
    return failed(f"{plan.label} is off ({tier} tier)", *evidence)


def _plan_check(
    *, number: str, plan: Plan, severity: str, rationale: str, policy: tuple[str, ...], reference: str
) -> Callable[[Resource, Estate], Verdict]:
    """Register one plan check; each differs only in plan, severity and wording."""

    def judge(resource: Resource, estate: Estate) -> Verdict:
        return _judge_plan(plan, resource, estate)

    judge.__name__ = f"defender_plan_{plan.name.lower()}"
    judge.__qualname__ = judge.__name__
    judge.__doc__ = f"{plan.label} is on where the subscription runs what it protects."
    check(
        id=f"MLW-DEF-{number}",
        title=f"{plan.label} is enabled on the subscription",
        kinds=(kinds.SUBSCRIPTION,),
        severity=severity,
        tags=_TAGS,
        pillar="monitoring",
        rationale=rationale
        + " Reads the subscription's microsoft.security/pricings row; pricingTier Standard passes, Free fails, "
        "a missing row is unknown. A resource's own pricing row (api-version 2024-01-01 sets plans on single "
        "VMs, AKS clusters and registries) never stands for the subscription's; one that turns the plan off "
        "for its resource fails a Standard subscription, and so does a subscription row whose "
        "resourcesCoverageStatus is PartiallyCovered or NotCovered (Defender's word that some resources are "
        "left out when the reply does not name them).",
        remediation=f"Turn on {plan.label} for the subscription.",
        az_cli=f"az security pricing create -n {plan.name} --tier Standard",
        azure_policy=policy,
        references=(reference,),
        needs=(inventory.DEFENDER_PLANS,),
    )(judge)
    return judge


defender_containers = _plan_check(
    number="01",
    plan=Plan("Containers", "Defender for Containers", (kinds.AKS, kinds.REGISTRY)),
    severity="medium",
    rationale=(
        "Defender for Containers scans registry images for vulnerabilities and raises runtime alerts on AKS "
        "clusters serving models. Applies when the subscription has AKS clusters or container registries "
        "(the deprecated KubernetesService/ContainerRegistry plans are replaced by Containers)."
    ),
    policy=("1c988dd6-ade4-430f-a608-2a3e5b0a6d38",),
    reference=f"{_DOCS}/defender-for-containers-introduction",
)

_CONTAINER_APPS = "Azure Container Apps"
_ARC = "Azure Arc-enabled Kubernetes"
_UNPROTECTED_HOSTING = frozenset(
    h.lower() for h in ("Free", "Shared", "Basic", "Dynamic", "FlexConsumption", _CONTAINER_APPS, _ARC)
)
"""Hosting Defender for App Service does not protect: the Free, Shared and Basic tiers (its overview, revised
April 2026: "Free, Shared, and Basic tier App Service plans aren't supported"), the Consumption and Flex
Consumption plans (never among its supported plans; the 2020 overview names Consumption as unsupported), and
apps with no App Service plan under them (Azure Container Apps, Azure Arc-enabled Kubernetes)."""


def _app_hosting(site: Resource) -> str:
    """Where an app runs: its App Service plan tier (the site row's properties.sku), else the platform."""
    if on_container_apps(site):
        return _CONTAINER_APPS
    if on_azure_arc(site):
        return _ARC
    return props.text(site, "properties.sku") or "tier not stated"


defender_app_service = _plan_check(
    number="02",
    plan=Plan(
        "AppServices",
        "Defender for App Service",
        (kinds.WEB_APP, kinds.FUNCTION_APP),
        hosting=_app_hosting,
        not_covered=_UNPROTECTED_HOSTING,
    ),
    severity="medium",
    rationale=(
        "Defender for App Service detects attacks on web and function apps that host inference APIs. "
        "It protects App Service plans on the Standard, Premium v2/v3 and Isolated (App Service Environment) "
        "tiers; its overview (revised April 2026) says Free, Shared and Basic plans are not supported, and the "
        "Consumption and Flex Consumption plans of Azure Functions never were. Applies when the subscription "
        "has a web or function app (deployment slots included) on any other hosting: the tier is read from "
        "each site row's properties.sku, and an app whose row does not state it counts as protected. A "
        "subscription whose apps all run on Free, Shared, Basic, Consumption ('Dynamic') or Flex Consumption "
        "plans, on Azure Container Apps or on Azure Arc-enabled Kubernetes (no App Service plan at all) gives "
        "the plan nothing to protect and is not applicable. Divergence: Azure Policy 2913021d audits the "
        "pricing of every subscription, whatever it runs."
    ),
    policy=("2913021d-f2fd-4f3d-b958-22354e2bdbcb",),
    reference=f"{_DOCS}/defender-for-app-service-introduction",
)

defender_key_vault = _plan_check(
    number="03",
    plan=Plan("KeyVaults", "Defender for Key Vault", (kinds.KEY_VAULT,)),
    severity="medium",
    rationale=(
        "Defender for Key Vault alerts on unusual access to secrets and keys (e.g. from a Tor exit node or "
        "an unfamiliar identity). Applies when the subscription has key vaults."
    ),
    policy=("0e6763cc-5078-4e64-889d-ff4d9a839047",),
    reference=f"{_DOCS}/defender-for-key-vault-introduction",
)

_EXTENSIONS = "properties.extensions"
_STORAGE_EXTENSIONS = ("OnUploadMalwareScanning", "SensitiveDataDiscovery")


def _storage_plan_gap(row: Resource) -> str | None:
    """What Policy 640d2586 asks beyond Standard: the DefenderForStorageV2 sub-plan with malware scanning
    and sensitive data threat detection on. Extensions a row does not list are not judged."""
    sub_plan = props.text(row, "properties.subPlan")
    if sub_plan and not props.equals(row, "properties.subPlan", "DefenderForStorageV2"):
        return f"on the classic {sub_plan} sub-plan, without malware scanning or sensitive data threat detection"
    listed = {(props.text(e, "name") or "").lower(): e for e in props.items(row, _EXTENSIONS)}
    off = [
        n for n in _STORAGE_EXTENSIONS if n.lower() in listed and props.flag(listed[n.lower()], "isEnabled") is not True
    ]
    return f"{' and '.join(off)} {'is' if len(off) == 1 else 'are'} off" if off else None


defender_storage = _plan_check(
    number="04",
    plan=Plan("StorageAccounts", "Defender for Storage", (kinds.STORAGE,), gap=_storage_plan_gap),
    severity="medium",
    rationale=(
        "Defender for Storage detects unusual access, data exfiltration and malware uploads in the accounts "
        "holding training data and models. Applies when the subscription has storage accounts. As Azure "
        "Policy 640d2586 requires, Standard passes only on the DefenderForStorageV2 sub-plan (a classic "
        "PerTransaction or PerStorageAccount sub-plan fails: it has neither malware scanning nor sensitive "
        "data threat detection and is being retired) with the OnUploadMalwareScanning and "
        "SensitiveDataDiscovery extensions on. Divergence: a row without subPlan (older API versions) or "
        "without an extensions list is judged on its tier alone, since it does not say what is off."
    ),
    policy=("640d2586-54d2-465f-877f-9ffc1d2109f4",),
    reference=f"{_DOCS}/defender-for-storage-introduction",
)

defender_ai = _plan_check(
    number="05",
    plan=Plan("AI", "Defender for AI services", (kinds.COGNITIVE,)),
    severity="medium",
    rationale=(
        "Defender for AI services raises alerts on prompt injection, jailbreak attempts and data leakage "
        "through AI model endpoints. Applies when the subscription has Cognitive Services accounts (Azure "
        "OpenAI, AI Services, the accounts Foundry hubs connect to): the plan's threat detection rides on "
        "their content filtering, and its per-resource setting exists only on them "
        "(Microsoft.CognitiveServices/accounts/defenderForAISettings). A subscription holding only Azure ML "
        "workspaces, endpoints and computes gives it nothing to protect, so it is not applicable there."
    ),
    policy=(),
    reference=f"{_DOCS}/ai-threat-protection",
)

defender_cspm = _plan_check(
    number="06",
    plan=Plan("CloudPosture", "Defender CSPM", ()),
    severity="low",
    rationale=(
        "Defender CSPM adds attack-path analysis and data-security posture (sensitive data discovery in "
        "storage) on top of the free foundational posture. Applies to every subscription."
    ),
    policy=("1f90fc71-a595-4066-8974-d4d0802e8ef0",),
    reference=f"{_DOCS}/concept-cloud-security-posture-management",
)


def _contact_emails(contact: Resource) -> str | None:
    """`emails` (2020+ API, ';'-separated) or `email` (2017 API)."""
    return props.text(contact, "properties.emails") or props.text(contact, "properties.email")


def _alerts_emailed(contact: Resource) -> bool:
    """Alert notifications are on, in any of the three API shapes."""
    if props.flag(contact, "properties.isEnabled") is False:
        return False
    if props.equals(contact, "properties.alertNotifications.state", "On"):
        return True
    if props.equals(contact, "properties.alertNotifications", "On"):
        return True
    sources = props.items(contact, "properties.notificationsSources")
    return any(props.equals(source, "sourceType", "Alert") for source in sources)


@check(
    id="MLW-DEF-07",
    title="Defender for Cloud emails security alerts to a named contact",
    kinds=(kinds.SUBSCRIPTION,),
    severity="medium",
    tags=("threat-protection", "incident-response"),
    pillar="monitoring",
    rationale=(
        "A breach must reach someone who can act on it: GDPR Art. 33/34 gives 72 hours to notify, and "
        "HIPAA 164.308(a)(6) requires incident response. Passes when a security contact has email "
        "addresses and alert notifications on (alertNotifications.state On in the 2020 API, an Alert "
        "notifications source in the 2023 API, alertNotifications On in the 2017 API). No contact record "
        "fails: the source was read and the subscription has none."
    ),
    remediation="Set security contact emails and turn on alert notifications (minimum severity High or lower).",
    az_cli=(
        "az rest --method put --url https://management.azure.com/subscriptions/<sub>/providers/"
        "Microsoft.Security/securityContacts/default?api-version=2023-12-01-preview --body @contact.json"
    ),
    azure_policy=("4f4f78b8-e367-4b10-a341-d9a4ad5cf1c7", "6e2593d9-add6-4083-9c9b-4b7d2188c899"),
    references=(f"{_DOCS}/configure-email-notifications",),
    needs=(inventory.SECURITY_CONTACTS,),
)
def defender_security_contacts(resource: Resource, estate: Estate) -> Verdict:
    contacts = estate.security_contacts(resource.subscription_id or resource.name)
    if not contacts:
        none = Evidence(path="securityContacts", value=[])
        return failed("no Defender for Cloud security contact is configured", none)
    evidence = tuple(
        ev
        for contact in contacts
        for ev in (
            Evidence(path=f"securityContacts/{contact.name}.emailsSet", value=bool(_contact_emails(contact))),
            Evidence(path=f"securityContacts/{contact.name}.alertNotifications", value=_alerts_emailed(contact)),
        )
    )
    if any(_contact_emails(c) and _alerts_emailed(c) for c in contacts):
        return passed("security alerts are emailed to a named contact", *evidence)
    if not any(_contact_emails(c) for c in contacts):
        return failed("the security contact has no email address", *evidence)
    return failed("security alert email notifications are off", *evidence)


_SEVERITIES = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}


def assessment_subject(assessment: Resource) -> str | None:
    """The resource an assessment is about: resourceDetails.Id (any casing), else ResourceId, else the
    resource its own id hangs under (`{resource}/providers/Microsoft.Security/assessments/{name}`)."""
    return (
        props.text(assessment, "properties.resourceDetails.Id")
        or props.text(assessment, "properties.resourceDetails.ResourceId")
        or parent_id(assessment.id)
    )


@check(
    id="MLW-DEF-08",
    title="Defender for Cloud recommendation",
    kinds=(kinds.DEFENDER_ASSESSMENT,),
    severity="medium",
    tags=_TAGS,
    pillar="monitoring",
    rationale=(
        "Defender for Cloud already judges many resources; carrying its assessments into the report puts "
        "them beside mlwarden's own findings and framework mappings. Each assessment becomes a verdict on "
        "the resource it names (resourceDetails.Id, PascalCase from the live service; id and ResourceId "
        "also accepted; else the resource the assessment id hangs under) with Defender's severity: "
        "Unhealthy fails, Healthy passes, NotApplicable is not "
        "applicable, any other status is unknown."
    ),
    remediation="Follow the remediation steps of the Defender for Cloud recommendation (portal link in evidence).",
    references=(f"{_DOCS}/review-security-recommendations",),
    needs=(inventory.DEFENDER_ASSESSMENTS,),
)
def defender_assessment(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(
        resource,
        "properties.status.code",
        "properties.status.cause",
        "properties.metadata.severity",
        "properties.links.azurePortalUri",
    )
    extra = {
        "subject_id": assessment_subject(resource),
        "detail_key": resource.name,
        "severity": _SEVERITIES.get((props.text(resource, "properties.metadata.severity") or "").lower()),
    }
    name = props.text(resource, "properties.displayName") or resource.name
    code = (props.text(resource, "properties.status.code") or "").lower()
    if code == "unhealthy":
        # The check's title already says "Defender for Cloud recommendation": the message names it and its state.
        return failed(f"unhealthy: {name}", *evidence, **extra)
    if code == "healthy":
        return passed(f"healthy: {name}", *evidence, **extra)
    if code == "notapplicable":
        return not_applicable(f"not applicable: {name}", *evidence, **extra)
    return unknown(f"no recognised status: {name}", *evidence, **extra)
