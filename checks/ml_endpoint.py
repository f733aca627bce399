"""Azure ML online endpoint and deployment checks (MLW-MLEP-*, MLW-MLDEP-*): the inference plane.

No anchor (PSRule, Azure Policy, Checkov) covers these: how callers authenticate to the scoring
URI, whether it is public, and what a deployment carries in its environment and may reach.
Endpoint keys are never read (`listKeys` is never called; `properties.keys` is null on GET).
Deployment environment-variable values are never kept: the collector classifies them and leaves
"<redacted>" in the row, and this module reports variable names only.
"""

from __future__ import annotations

from checks._shared import PUBLIC_ACCESS, any_identity, identity_verdict, public_access_verdict
from checks.ml_workspace import PUBLIC_ACCESS_UNSET, failed_unless_managed_network
from scanner import kinds, props, secrets
from scanner.estate import Estate
from scanner.inventory import AppSettingFact
from scanner.models import Evidence, Resource, Severity
from scanner.registry import Verdict, check, failed, not_applicable, passed, unknown

_ENDPOINT = (kinds.ML_ONLINE_ENDPOINT,)
_DEPLOYMENT = (kinds.ML_ONLINE_DEPLOYMENT,)
_DOCS = "https://learn.microsoft.com/azure/machine-learning"
_ENV = "properties.environmentVariables"
_COMPUTE = "properties.compute"


@check(
    id="MLW-MLEP-01",
    title="ML online endpoint authenticates callers with Entra ID tokens",
    kinds=_ENDPOINT,
    severity="high",
    tags=("local-auth", "access-control"),
    pillar="identity",
    rationale=(
        "authMode AADToken makes every scoring call carry an Entra ID token, checked against Azure "
        "RBAC per caller. Key mode uses static keys that never expire and anyone holding them can "
        "score: it fails. AMLToken (the catalog's 'warn') issues short-lived tokens to Entra-"
        "authenticated callers, so there is no long-lived secret, but the token itself is a bearer "
        "credential not checked per call: it fails at medium severity, below the usual High CI gate. "
        "authMode absent fails, since the CLI and SDK default is key. Kubernetes online endpoints "
        "(properties.compute set) cannot use AADToken (the authentication how-to lists it for managed "
        "endpoints only), so AMLToken is the best they can do: it still fails at medium, since Entra ID "
        "per-caller checks need a managed endpoint (or a gateway in front)."
    ),
    remediation="Recreate or update the endpoint with auth mode aad_token and grant callers an RBAC role.",
    az_cli="az ml online-endpoint create -g <rg> -w <workspace> -n <endpoint> --auth-mode aad_token",
    references=(f"{_DOCS}/how-to-authenticate-online-endpoint",),
)
def endpoint_auth_mode(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.authMode")
    mode = props.text(resource, "properties.authMode")
    if props.equals(resource, "properties.authMode", "AADToken"):
        return passed("callers authenticate with Entra ID tokens", *evidence)
    if props.equals(resource, "properties.authMode", "AMLToken"):
        return failed(
            "callers use Azure ML tokens (short-lived bearer tokens), not Entra ID", *evidence, severity=Severity.MEDIUM
        )
    if props.equals(resource, "properties.authMode", "Key"):
        return failed("callers authenticate with static endpoint keys", *evidence)
    if mode is None:
        return failed("auth mode is not set; the default is key-based authentication", *evidence)
    return failed(f"auth mode {mode} is not Entra ID", *evidence)


@check(
    id="MLW-MLEP-02",
    title="ML online endpoint public network access is disabled",
    kinds=_ENDPOINT,
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "With publicNetworkAccess Disabled the scoring URI is reachable only through the workspace's "
        "private endpoint. Absent means the service default (Enabled) and fails. The flag applies to "
        "managed online endpoints only (the CLI's endpoint YAML reference says so, and azure-ai-ml reads a "
        "GET with compute set as a KubernetesOnlineEndpoint, which has no such field): a Kubernetes online "
        "endpoint (properties.compute "
        "names an attached cluster) is exposed by the cluster's inference router, whatever the flag says. "
        "It is not applicable either way: not failed on a flag it does not have, and not passed on one "
        "that closes nothing (the AKS rules judge the cluster's exposure)."
    ),
    remediation="Disable public network access on the endpoint and score through the workspace private endpoint.",
    az_cli="az ml online-endpoint update -g <rg> -w <workspace> -n <endpoint> --set public_network_access=disabled",
    references=(f"{_DOCS}/concept-secure-online-endpoint",),
)
def endpoint_public_access(resource: Resource, estate: Estate) -> Verdict:
    if props.text(resource, _COMPUTE):
        return not_applicable(
            "a Kubernetes online endpoint has no effective public network access flag (it applies to managed "
            "endpoints): the cluster's inference router exposes its scoring URI",
            *props.read(resource, _COMPUTE, PUBLIC_ACCESS),
        )
    return public_access_verdict(
        resource, disabled="the scoring endpoint is not reachable from public networks", unset=PUBLIC_ACCESS_UNSET
    )


@check(
    id="MLW-MLEP-03",
    title="ML online endpoint has a managed identity",
    kinds=_ENDPOINT,
    severity="low",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "Deployments pull images and models and reach other services with the endpoint's identity; "
        "a managed identity avoids stored credentials. identity.type absent or None fails."
    ),
    remediation="Create the endpoint with a system- or user-assigned managed identity.",
    az_cli="az ml online-endpoint create -g <rg> -w <workspace> -f endpoint.yml  # identity: type: system_assigned",
    references=(f"{_DOCS}/how-to-access-resources-from-endpoints-managed-identities",),
)
def endpoint_managed_identity(resource: Resource, estate: Estate) -> Verdict:
    return identity_verdict(resource, "the endpoint", assigned=any_identity)


def _unsafe(fact: AppSettingFact) -> bool:
    return fact.classification != "none" and not fact.key_vault_reference


def _judge_facts(env_facts: list[AppSettingFact]) -> Verdict:
    names = sorted(f.name for f in env_facts)
    flagged = sorted((f.name, f.classification) for f in env_facts if _unsafe(f))
    evidence = [Evidence(path=f"{_ENV}.{name} (secret class)", value=label) for name, label in flagged]
    evidence.append(Evidence(path=f"{_ENV} (names)", value=names))
    if flagged:
        listed = ", ".join(f"{name} ({label})" for name, label in flagged)
        return failed(f"plaintext secrets in environment variables: {listed}", *evidence)
    return passed(f"none of {len(names)} environment variable(s) holds a plaintext secret", *evidence)


@check(
    id="MLW-MLDEP-01",
    title="ML online deployment keeps no plaintext secrets in environment variables",
    kinds=_DEPLOYMENT,
    severity="critical",
    tags=("secrets-in-vault",),
    pillar="secrets",
    rationale=(
        "environmentVariables is a plain string map returned to anyone with Reader on the workspace; "
        "a key, password, SAS signature or token there is disclosed (a connection string counts only "
        "when it carries one: a managed-identity or endpoint-only one does not). Values are never stored: the "
        "collector records each variable's secret class and leaves '<redacted>' in the row. The check "
        "reads those facts; for a row from another tool that still carries values it classifies them "
        "in memory and reports names only. Key Vault references are safe. Redacted values with no "
        "facts are a coverage gap (unknown); no environment variables at all passes."
    ),
    remediation=(
        "Move secrets to Key Vault and read them with the endpoint's managed identity at startup, "
        "or use identity-based connections instead of keys."
    ),
    references=(f"{_DOCS}/how-to-access-resources-from-endpoints-managed-identities",),
)
def deployment_env_secrets(resource: Resource, estate: Estate) -> Verdict:
    facts = estate.settings_of(resource)
    env_facts = [f for f in facts.settings if f.source == "environment_variable"] if facts else []
    if env_facts:
        return _judge_facts(env_facts)
    variables = props.mapping(resource, _ENV)
    if not variables:
        declared = props.get(resource, _ENV)  # a template's map known only at deployment is not "none"
        seen = Evidence(path=_ENV, value=declared if isinstance(declared, str) else [])
        return passed("the deployment sets no environment variables", seen)
    redacted = sorted(name for name, value in variables.items() if value == secrets.REDACTED)
    classified = [
        secrets.fact(name, value, "environment_variable")
        for name, value in variables.items()
        if value != secrets.REDACTED
    ]
    if redacted and not any(_unsafe(f) for f in classified):
        return unknown(
            f"values of {', '.join(redacted)} were redacted and no classification was recorded",
            Evidence(path=f"{_ENV} (names)", value=sorted(variables)),
        )
    return _judge_facts(classified)


@check(
    id="MLW-MLDEP-02",
    title="ML online deployment cannot reach the public internet",
    kinds=_DEPLOYMENT,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "egressPublicNetworkAccess Disabled stops a managed deployment from sending data to internet "
        "hosts (legacy network isolation); absent means Enabled and fails. When the workspace (or its "
        "hub) uses a managed network, the managed VNet governs egress and this flag is not applicable "
        "(MLW-MLWS-06 judges it). Kubernetes deployments have no such flag: egress is the AKS "
        "cluster's network (see the MLW-AKS rules), so they are not applicable. A workspace missing "
        "from the scan is unknown unless egress is already Disabled."
    ),
    remediation="Set egress public network access to disabled, or move the workspace to a managed network.",
    az_cli="az ml online-deployment update -g <rg> -w <workspace> -e <endpoint> -n <deployment> "
    "--set egress_public_network_access=disabled",
    references=(f"{_DOCS}/concept-secure-online-endpoint",),
)
def deployment_egress(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.endpointComputeType", "properties.egressPublicNetworkAccess")
    if props.equals(resource, "properties.endpointComputeType", "Kubernetes"):
        return not_applicable("a Kubernetes deployment's egress is controlled by its AKS cluster", *evidence)
    if props.equals(resource, "properties.egressPublicNetworkAccess", "Disabled"):
        return passed("egress to the public internet is disabled", *evidence)
    seen = props.text(resource, "properties.egressPublicNetworkAccess")
    exposed = (
        f"egress public network access is {seen}"
        if seen is not None
        else "egress is not restricted (the default is Enabled)"
    )
    return failed_unless_managed_network(
        resource,
        estate,
        evidence,
        isolated="the workspace's managed network governs egress",
        exposed=f"{exposed} and the workspace has no managed network",
    )
