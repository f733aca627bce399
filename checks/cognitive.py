"""Cognitive Services account checks (MLW-AI-*): Azure OpenAI, AI Services (Foundry) and other kinds.

ML applications call these accounts for models and embeddings, often with prompts holding
personal data, so the same rules apply as to the workspace: no keys, no public network path,
a managed identity, and a customer-managed key. Every rule applies to every account kind, except
where the account's own `properties.capabilities` list shows its kind lacks the feature (network
rules, customer-managed keys): Azure Policy skips those accounts, and so do these checks.
"""

from __future__ import annotations

from checks._shared import any_identity, closed_to_public, identity_verdict, link_states, private_endpoint_verdict
from scanner import kinds, props
from scanner.estate import Estate
from scanner.models import Evidence, Resource
from scanner.registry import Verdict, check, failed, not_applicable, passed

_COGNITIVE = (kinds.COGNITIVE,)
_CAPABILITIES = "properties.capabilities"


def lacks_capability(resource: Resource, capability: str) -> Evidence | None:
    """Evidence of the account's capability names when the service lists them and `capability` is not
    among them (the kind cannot have the feature); None when it is listed or no list was returned (a
    template, an older row), so the rule applies."""
    names = [props.text(item, "name") for item in props.items(resource, _CAPABILITIES)]
    if not names or any((name or "").lower() == capability.lower() for name in names):
        return None
    return Evidence(path=f"{_CAPABILITIES}[*].name", value=names)


_DOCS = "https://learn.microsoft.com/azure/ai-services"


@check(
    id="MLW-AI-01",
    title="Cognitive Services account has key access disabled",
    kinds=_COGNITIVE,
    severity="high",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "Account keys grant full data-plane access, never expire on their own and cannot be tied to "
        "a caller. disableLocalAuth true forces Entra ID. Absent means keys are enabled (the service "
        "default) and fails."
    ),
    remediation="Disable local (key) authentication and grant callers a Cognitive Services RBAC role.",
    az_cli="az resource update -g <rg> -n <account> --resource-type Microsoft.CognitiveServices/accounts "
    "--set properties.disableLocalAuth=true",
    azure_policy=("71ef260a-8f18-47b7-abcb-62d0673d94dc",),
    references=(f"{_DOCS}/disable-local-auth",),
)
def cognitive_local_auth(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.disableLocalAuth")
    if props.flag(resource, "properties.disableLocalAuth") is True:
        return passed("key access is disabled; callers must use Entra ID", *evidence)
    return failed("account keys can be used to call the service", *evidence)


@check(
    id="MLW-AI-02",
    title="Cognitive Services account restricts network access",
    kinds=_COGNITIVE,
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "The account must not accept calls from any network: publicNetworkAccess Disabled passes, and "
        "so does a firewall with networkAcls.defaultAction Deny (only listed networks get in), as PSRule "
        "Azure.AI.PublicAccess scores it. Azure Policy 037eea7a reads defaultAction only (so it flags a "
        "Disabled account without a Deny rule) and only judges accounts whose capabilities include "
        "VirtualNetworks: an open account whose listed capabilities lack it cannot have network rules and "
        "is not applicable, as in the policy. Divergence: Checkov CKV_AZURE_134 passes only Disabled. "
        "publicNetworkAccess SecuredByPerimeter passes: a network security perimeter's access rules "
        "replace networkAcls and deny by default. Both absent means open to all networks and fails."
    ),
    remediation="Disable public network access (use private endpoints) or set the firewall default action to Deny.",
    az_cli="az cognitiveservices account update -g <rg> -n <account> --custom-domain <name> "
    "--public-network-access Disabled",
    azure_policy=("037eea7a-bd0a-46c5-9a66-03aea78705d3",),
    references=(f"{_DOCS}/cognitive-services-virtual-networks",),
)
def cognitive_network_access(resource: Resource, estate: Estate) -> Verdict:
    acl = "properties.networkAcls.defaultAction"
    evidence = props.read(resource, "properties.publicNetworkAccess", acl)
    rules = len(props.items(resource, "properties.networkAcls.ipRules")) + len(
        props.items(resource, "properties.networkAcls.virtualNetworkRules")
    )
    denies = f"the firewall denies by default and allows {rules} listed network rule(s)"
    if closed := closed_to_public(resource, acl, denies, *evidence):
        return closed
    if (listed := lacks_capability(resource, "VirtualNetworks")) is not None:
        return not_applicable("the account's kind cannot have network rules (no VirtualNetworks capability)", listed)
    return failed("the account accepts calls from all networks", *evidence)


@check(
    id="MLW-AI-03",
    title="Cognitive Services account is reached through an approved private endpoint",
    kinds=_COGNITIVE,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private endpoint keeps prompts and completions on the private network. The account's own "
        "connection list and private endpoint rows in the scan both count; only an Approved "
        "connection passes. PSRule's Azure.AI.PrivateEndpoints tests publicNetworkAccess instead. An account "
        "whose listed capabilities lack VirtualNetworks cannot take part in private networking and is not "
        "applicable, as Azure Policy cddd188c (Cognitive Services should use private link) skips it and as "
        "MLW-AI-02 does; d6759c02 has no such filter, so this is a deliberate divergence from it."
    ),
    remediation="Create a private endpoint (group id account) for the account.",
    az_cli="az network private-endpoint create -g <rg> -n <pe> --vnet-name <vnet> --subnet <subnet> "
    "--private-connection-resource-id <account-id> --group-id account --connection-name <conn>",
    azure_policy=("d6759c02-b87f-42b7-892e-71b3f471d782",),
    references=(f"{_DOCS}/cognitive-services-virtual-networks",),
)
def cognitive_private_endpoint(resource: Resource, estate: Estate) -> Verdict:
    links = estate.private_links(resource)
    if not any(link.approved for link in links) and (listed := lacks_capability(resource, "VirtualNetworks")):
        return not_applicable(
            "the account's kind cannot have private endpoints (no VirtualNetworks capability)", listed
        )
    return private_endpoint_verdict("the account", links, link_states(links), per_connection=True)


@check(
    id="MLW-AI-04",
    title="Cognitive Services account has a managed identity",
    kinds=_COGNITIVE,
    severity="medium",
    tags=("managed-identity",),
    pillar="identity",
    rationale=(
        "The account reaches its customer-managed key and data sources (e.g. Azure OpenAI on your "
        "data) with its managed identity. identity.type absent or None fails. PSRule checks this "
        "only for kind TextAnalytics; Azure Policy fe3fd216 and mlwarden check every kind."
    ),
    remediation="Assign a system- or user-assigned managed identity to the account.",
    az_cli="az cognitiveservices account identity assign -g <rg> -n <account>",
    azure_policy=("fe3fd216-4f83-4fc1-8984-2bbec80a3418",),
    references=(f"{_DOCS}/openai/how-to/managed-identity",),
)
def cognitive_managed_identity(resource: Resource, estate: Estate) -> Verdict:
    return identity_verdict(resource, "the account", assigned=any_identity)


@check(
    id="MLW-AI-05",
    title="Cognitive Services account encrypts data with a customer-managed key",
    kinds=_COGNITIVE,
    severity="medium",
    tags=("encryption-at-rest", "key-lifecycle"),
    pillar="encryption",
    rationale=(
        "Stored data (fine-tuning files, uploaded documents, stored completions) is encrypted with a "
        "key the organisation controls when encryption.keySource is Microsoft.KeyVault (compared "
        "case-insensitively). Absent or Microsoft.CognitiveServices means Microsoft-managed keys and fails. "
        "As in Azure Policy 67121cc7, an account whose listed capabilities lack CustomerManagedKey cannot "
        "use one and is not applicable."
    ),
    remediation="Configure a customer-managed key from Key Vault for the account.",
    az_cli="az cognitiveservices account update -g <rg> -n <account> --encryption "
    '\'{"keySource":"Microsoft.KeyVault","keyVaultProperties":{...}}\'',
    azure_policy=("67121cc7-ff39-4ab8-b7e3-95b84dab487d",),
    references=(f"{_DOCS}/encryption/cognitive-services-encryption-keys-portal",),
)
def cognitive_cmk(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(
        resource, "properties.encryption.keySource", "properties.encryption.keyVaultProperties.keyName"
    )
    if props.equals(resource, "properties.encryption.keySource", "Microsoft.KeyVault"):
        return passed("data at rest is encrypted with a customer-managed key", *evidence)
    if (listed := lacks_capability(resource, "CustomerManagedKey")) is not None:
        return not_applicable("the account's kind cannot use a customer-managed key (no such capability)", listed)
    return failed("data at rest is encrypted with Microsoft-managed keys", *evidence)
