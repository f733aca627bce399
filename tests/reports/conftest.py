"""Hand-built ScanResults shaped like a real scan of a small ML estate, and a 100k-finding one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.models import (
    BaselineUse,
    CheckMeta,
    ControlResult,
    ControlStatus,
    Dependency,
    DeploymentPosture,
    Evidence,
    Finding,
    FrameworkResult,
    Gap,
    PillarVerdict,
    Remediation,
    ScanResult,
    ScanScope,
    Severity,
    SourceCoverage,
    Status,
    Timings,
    WaiverUse,
)

SCHEMAS = Path(__file__).parent / "schemas"
SUB = "3f2c9a6e-5b1d-4c8e-9a7f-0e1d2c3b4a51"
SUB_DENIED = "8d7e6f5a-4b3c-4d2e-8f1a-9b0c1d2e3f41"
HOSTILE_NAME = "<script>alert(1)</script>"
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
PIPE_MESSAGE = "allows | public\nnetwork access"
GENERATED_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def arm_id(provider_type: str, name: str, rg: str = "rg-ml-prod") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{provider_type}/{name}"


WORKSPACE = arm_id("Microsoft.MachineLearningServices/workspaces", "mlw-claims")
ENDPOINT = f"{WORKSPACE}/onlineEndpoints/ep-triage"
DEPLOYMENT = f"{ENDPOINT}/deployments/blue"
VAULT = arm_id("Microsoft.KeyVault/vaults", "kv-claims")
STORAGE = arm_id("Microsoft.Storage/storageAccounts", "stclaimsml")
REGISTRY = arm_id("Microsoft.ContainerRegistry/registries", "crclaims")
WEBAPP = arm_id("Microsoft.Web/sites", "app-claims-portal")
FUNCAPP = arm_id("Microsoft.Web/sites", "func-scoring")


def check(check_id: str, title: str, severity: Severity, tags: tuple[str, ...], pillar: str, **extra: Any) -> CheckMeta:
    return CheckMeta(
        id=check_id,
        title=title,
        kinds=extra.pop("kinds", ("ml-workspace",)),
        severity=severity,
        tags=tags,
        pillar=pillar,
        rationale=extra.pop("rationale", f"{title} keeps health data from being reachable or readable."),
        remediation=extra.pop("remediation", Remediation(text=f"Fix: {title.lower()}.")),
        references=extra.pop("references", ()),
    )


CHECKS: tuple[CheckMeta, ...] = (
    check(
        "MLW-WS-001",
        "ML workspace disables public network access",
        Severity.HIGH,
        ("private-network",),
        "private-network",
        remediation=Remediation(
            text="Set publicNetworkAccess to Disabled and reach the workspace through a private endpoint.",
            az_cli="az ml workspace update --name <ws> --resource-group <rg> --public-network-access Disabled",
            azure_policy=("438c38d2-3772-465a-a9cc-7a6666a275ce",),
        ),
        references=("https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link",),
    ),
    check(
        "MLW-WS-003",
        "ML workspace encrypts with a customer-managed key",
        Severity.MEDIUM,
        ("encryption-at-rest",),
        "encryption",
        remediation=Remediation(
            text="Create the workspace with a customer-managed key held in Key Vault.",
            azure_policy=("ba769a63-b8cc-4b2d-abf6-ac33c7204be8", "7f40cee6-e933-4d0f-a782-b96615e0f4a6"),
        ),
    ),
    check("MLW-EP-001", "Online endpoint uses Entra ID tokens", Severity.HIGH, ("local-auth",), "identity"),
    check("MLW-KV-001", "Key Vault has purge protection", Severity.MEDIUM, ("key-lifecycle",), "secrets"),
    check("MLW-ST-002", "Storage account disallows shared key access", Severity.CRITICAL, ("local-auth",), "identity"),
    check("MLW-APP-004", "Web app keeps secrets in Key Vault", Severity.HIGH, ("secrets-in-vault",), "secrets"),
    check("MLW-APP-001", "Web app requires TLS 1.2", Severity.LOW, ("encryption-in-transit",), "encryption"),
    check("MLW-DEF-001", "Defender for Storage is on", Severity.INFO, ("threat-protection",), "monitoring"),
)
_META = {meta.id: meta for meta in CHECKS}


def _arm_type(resource_id: str) -> str:
    """microsoft.web/sites from an ARM id; nested types keep every type segment (workspaces/onlineendpoints)."""
    segments = resource_id.split("/providers/", 1)[1].split("/")
    return "/".join([segments[0], *segments[1::2]]).lower()


def finding(check_id: str, resource_id: str, status: Status, message: str, **extra: Any) -> Finding:
    meta = _META[check_id]
    detail_key = extra.pop("detail_key", None)
    return Finding(
        check_id=check_id,
        resource_id=resource_id,
        resource_type=extra.pop("resource_type", _arm_type(resource_id)),
        resource_name=extra.pop("resource_name", resource_id.rsplit("/", 1)[-1]),
        subscription_id=SUB,
        status=status,
        severity=meta.severity,
        title=meta.title,
        message=message,
        evidence=extra.pop("evidence", ()),
        remediation=extra.pop("remediation", meta.remediation),
        detail_key=detail_key,
        tags=meta.tags,
        pillar=meta.pillar,
        fingerprint=Finding.make_fingerprint(check_id, resource_id, detail_key),
        **extra,
    )


FINDINGS: tuple[Finding, ...] = (
    finding(
        "MLW-WS-001",
        WORKSPACE,
        Status.FAIL,
        "publicNetworkAccess is Enabled",
        evidence=(
            Evidence(path="properties.publicNetworkAccess", value="Enabled"),
            Evidence(path="properties.allowPublicAccessWhenBehindVnet", value=None),
        ),
    ),
    finding(
        "MLW-WS-003",
        WORKSPACE,
        Status.FAIL,
        "encryption uses Microsoft-managed keys",
        evidence=(Evidence(path="properties.encryption", value={"status": "Disabled"}),),
    ),
    finding(
        "MLW-EP-001",
        ENDPOINT,
        Status.FAIL,
        "authMode is Key",
        evidence=(Evidence(path="properties.authMode", value="Key"),),
    ),
    finding(
        "MLW-KV-001",
        VAULT,
        Status.PASS,
        "purge protection is on",
        evidence=(Evidence(path="properties.enablePurgeProtection", value=True),),
    ),
    finding(
        "MLW-ST-002",
        STORAGE,
        Status.FAIL,
        "allowSharedKeyAccess is not false",
        evidence=(Evidence(path="properties.allowSharedKeyAccess", value=None),),
        waived_by="WAIVER-42 (data-platform team, expires 2027-01-31): legacy batch job migrating in Q1",
    ),
    finding(
        "MLW-APP-004",
        WEBAPP,
        Status.FAIL,
        PIPE_MESSAGE,
        resource_name=HOSTILE_NAME,
        detail_key="DB_PASSWORD",
        evidence=(
            Evidence(path="appSettings.DB_PASSWORD", value="plaintext secret (value not kept)"),
            Evidence(path="tags.owner", value=HOSTILE_NAME),
        ),
    ),
    finding("MLW-APP-004", FUNCAPP, Status.UNKNOWN, "app settings were not collected (needs --app-settings)"),
    finding(
        "MLW-APP-001",
        WEBAPP,
        Status.FAIL,
        "minTlsVersion is 1.0",
        resource_name=HOSTILE_NAME,
        evidence=(Evidence(path="properties.siteConfig.minTlsVersion", value="1.0"),),
    ),
    finding("MLW-APP-001", FUNCAPP, Status.PASS, "minTlsVersion is 1.2"),
    finding(
        "MLW-APP-001",
        arm_id("Microsoft.Web/sites", "app-legacy"),
        Status.FAIL,
        "minTlsVersion is 1.1",
        resource_name=FORMULA_NAME,
        baselined=True,
    ),
    finding("MLW-DEF-001", STORAGE, Status.ERROR, "check raised KeyError: 'pricingTier'"),
    finding("MLW-DEF-001", VAULT, Status.NOT_APPLICABLE, "not a storage account"),
    finding(
        "MLW-KV-001",
        arm_id("Microsoft.KeyVault/vaults", "kv-shared", rg="rg-shared"),
        Status.UNKNOWN,
        "vault is in a subscription that could not be read",
    ),
    finding(
        "MLW-WS-003",
        arm_id("Microsoft.MachineLearningServices/workspaces", "mlw-claims-project"),
        Status.NOT_APPLICABLE,
        "a Project workspace inherits encryption from its hub",
    ),
    finding(
        "MLW-WS-001",
        arm_id("Microsoft.MachineLearningServices/workspaces", "mlw-research"),
        Status.PASS,
        "publicNetworkAccess is Disabled",
        evidence=(Evidence(path="properties.publicNetworkAccess", value="Disabled"),),
    ),
)


def control(framework_id: str, control_id: str, title: str, status: ControlStatus, **extra: Any) -> ControlResult:
    return ControlResult(framework_id=framework_id, control_id=control_id, title=title, status=status, **extra)


def _fp(check_id: str, resource_id: str, detail_key: str | None = None) -> str:
    return Finding.make_fingerprint(check_id, resource_id, detail_key)


HIPAA = FrameworkResult(
    id="hipaa-security-rule",
    name="HIPAA Security Rule",
    version="45 CFR 164 Subpart C",
    controls=(
        control(
            "hipaa-security-rule",
            "164.312(a)(2)(iv)",
            "Encryption and decryption",
            "fail",
            level="addressable",
            kind="spec",
            strength="direct",
            check_ids=("MLW-WS-003",),
            failing=(_fp("MLW-WS-003", WORKSPACE),),
            reason="1 resource fails a mapped check",
        ),
        control(
            "hipaa-security-rule",
            "164.312(d)",
            "Person or entity authentication",
            "fail",
            level="required",
            kind="standard",
            strength="direct",
            check_ids=("MLW-EP-001",),
            failing=(_fp("MLW-EP-001", ENDPOINT),),
        ),
        control(
            "hipaa-security-rule",
            "164.312(e)(2)(ii)",
            "Encryption",
            "pass",
            level="addressable",
            kind="spec",
            strength="direct",
            check_ids=("MLW-APP-001",),
            passing_count=1,
        ),
        control(
            "hipaa-security-rule",
            "164.308(a)(1)(ii)(A)",
            "Risk analysis",
            "manual",
            level="required",
            kind="spec",
            manual_evidence="The current risk analysis document, its date and approver",
        ),
        control(
            "hipaa-security-rule",
            "164.308(a)(7)(ii)(A)",
            "Data backup plan",
            "not_assessed",
            level="required",
            kind="spec",
            reason="no mapped check ran",
        ),
    ),
)

GDPR = FrameworkResult(
    id="gdpr",
    name="GDPR",
    version="Regulation (EU) 2016/679",
    controls=(
        control(
            "gdpr",
            "Art. 32(1)(a)",
            "Security of processing: pseudonymisation and encryption",
            "fail",
            strength="direct",
            check_ids=("MLW-WS-003", "MLW-APP-001"),
            failing=(_fp("MLW-WS-003", WORKSPACE), _fp("MLW-APP-001", WEBAPP)),
        ),
        control(
            "gdpr",
            "Art. 25(2)",
            "Data protection by default",
            "fail",
            strength="direct",
            check_ids=("MLW-WS-001",),
            failing=(_fp("MLW-WS-001", WORKSPACE),),
        ),
        control(
            "gdpr",
            "Art. 30",
            "Records of processing activities",
            "manual",
            manual_evidence="The record of processing activities listing these ML systems",
        ),
        control(
            "gdpr",
            "Art. 35",
            "Data protection impact assessment",
            "manual",
            manual_evidence="The DPIA covering the triage model and its approval",
        ),
    ),
)

POSTURE = DeploymentPosture(
    deployment_id=DEPLOYMENT,
    name="ep-triage/blue",
    kind="ml-online-deployment",
    subscription_id=SUB,
    dependencies=(
        Dependency(role="workspace", resource_id=WORKSPACE),
        Dependency(role="key-vault", resource_id=VAULT),
        Dependency(role="storage", resource_id=STORAGE),
        Dependency(role="registry", resource_id=REGISTRY),
    ),
    pillars=(
        PillarVerdict(
            pillar="encryption",
            status="fail",
            failing=(_fp("MLW-WS-003", WORKSPACE),),
            reasons=("its workspace mlw-claims: encryption uses Microsoft-managed keys",),
        ),
        PillarVerdict(
            pillar="private-network",
            status="fail",
            failing=(_fp("MLW-WS-001", WORKSPACE),),
            reasons=("not private: its workspace mlw-claims allows public network access",),
        ),
        PillarVerdict(
            pillar="identity",
            status="fail",
            failing=(_fp("MLW-EP-001", ENDPOINT),),
            reasons=("its endpoint ep-triage accepts keys instead of Entra ID tokens",),
        ),
        PillarVerdict(pillar="secrets", status="unknown", reasons=("key metadata was not collected",)),
    ),
)


WAIVERS = (
    WaiverUse(
        check_id="MLW-ST-002",
        resource="*/storageAccounts/stclaimsml",
        owner="data-platform team",
        justification="legacy batch job migrating in Q1",
        expires=date(2027, 1, 31),
        expired=False,
        matched=1,
    ),
    WaiverUse(
        check_id="MLW-WS-001",
        resource="*/workspaces/mlw-*",
        owner="ml-platform team",
        justification="pilot exception",
        expires=date(2026, 10, 1),
        expired=True,
        matched=1,
    ),
)


def _baseline_of(findings: tuple[Finding, ...]) -> BaselineUse | None:
    """As a scan records it: a result with baselined findings was compared against a baseline."""
    matched = sum(1 for f in findings if f.status is Status.FAIL and f.baselined)
    return BaselineUse(accepted=matched, matched=matched, absent=0) if matched else None


def scan_result(findings: tuple[Finding, ...] = FINDINGS, resource_count: int = 9) -> ScanResult:
    return ScanResult(
        tool_version="0.1.0",
        generated_at=GENERATED_AT,
        scope=ScanScope(
            origin="azure",
            description="tenant contoso-health, 2 subscriptions",
            subscriptions=(SUB, SUB_DENIED),
            collected_at=datetime(2026, 11, 24, 9, 12, 5, tzinfo=UTC),
            tool_version="0.1.0",
        ),
        sources=(
            SourceCoverage(
                name="resources",
                collected=True,
                records=resource_count,
                gaps=(
                    Gap(
                        source="resources",
                        scope=f"/subscriptions/{SUB_DENIED}",
                        reason="403 AuthorizationFailed: no Reader role",
                    ),
                ),
            ),
            SourceCoverage(name="key_metadata", collected=False),
            SourceCoverage(name="defender_plans", collected=True, records=14),
        ),
        resource_count=resource_count,
        resource_counts_by_kind={"ml-workspace": 1, "ml-online-endpoint": 1, "web-app": 3, "key-vault": 1},
        checks=CHECKS,
        findings=findings,
        frameworks=(HIPAA, GDPR),
        postures=(POSTURE,),
        waivers=WAIVERS,
        baseline=_baseline_of(findings),
        fail_on=Severity.HIGH,
        timings=Timings(load_seconds=0.4, check_seconds=1.2, framework_seconds=0.1, total_seconds=1.8),
    )


@pytest.fixture
def result() -> ScanResult:
    return scan_result()


@pytest.fixture(scope="session")
def large_result() -> ScanResult:
    """100,000 findings, nearly all passing: the shape of a big, mostly healthy estate."""
    meta = _META["MLW-KV-001"]
    base = Finding(
        check_id=meta.id,
        resource_id=VAULT,
        resource_type="microsoft.keyvault/vaults",
        resource_name="kv",
        subscription_id=SUB,
        status=Status.PASS,
        severity=meta.severity,
        title=meta.title,
        message="purge protection is on",
        tags=meta.tags,
        pillar=meta.pillar,
    )
    findings = []
    for index in range(100_000):
        resource_id = arm_id("Microsoft.KeyVault/vaults", f"kv-{index:06d}")
        status = Status.FAIL if index % 1000 == 0 else Status.PASS
        findings.append(
            base.model_copy(
                update={
                    "resource_id": resource_id,
                    "resource_name": f"kv-{index:06d}",
                    "status": status,
                    "fingerprint": f"{index:032x}",
                }
            )
        )
    return scan_result(tuple(findings), resource_count=100_000)


@pytest.fixture(scope="session")
def estate_100k() -> ScanResult:
    """A real scan's findings at the size of a 100,000-resource estate (see tests/reports/generated.py)."""
    from tests.reports.generated import scan_at_scale

    return scan_at_scale(100_000)
