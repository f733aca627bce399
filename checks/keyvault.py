"""Key Vault checks: deletion protection, RBAC, network exposure, audit logs and key lifecycle.

The vault holds the secrets and customer-managed keys every ML deployment depends on, so a
weakness here is a weakness of each deployment that points at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from checks._deploy_links import cmk_link
from checks._shared import (
    closed_to_public,
    default_action,
    enabled_logs,
    link_endpoints,
    no_diagnostic_settings,
    per_child,
    private_endpoint_verdict,
    public_access_verdict,
)
from scanner import inventory, kinds, props, unevaluated
from scanner.estate import MANAGED_HSM_TYPE, Estate
from scanner.inventory import KeyMetadata
from scanner.models import Evidence, Resource
from scanner.registry import Verdict, check, failed, not_applicable, passed, unknown

_DOCS = "https://learn.microsoft.com/azure/key-vault"
HSM_KEY_TYPES = frozenset({"rsa-hsm", "ec-hsm", "oct-hsm"})
AUDIT_CATEGORY = "auditevent"
AUDIT_GROUPS = frozenset({"audit", "alllogs"})

_KEY_STORES = (kinds.KEY_VAULT, kinds.MANAGED_HSM)
"""What holds customer-managed keys: a vault or a Managed HSM. The key checks judge an HSM's keys as
they judge a vault's, and the store checks whose rule carries over (purge protection, soft delete,
network exposure, private link, audit logs) judge the HSM's own settings, whose ARM paths are the
vault's (`Microsoft.KeyVault/managedHSMs` REST spec 2023-07-01). Not the access model (MLW-KV-03: an
HSM has only its local RBAC), secrets (MLW-KV-09: it holds none) or access policies (MLW-KV-12)."""


def _store(resource: Resource) -> str:
    return "Managed HSM" if resource.type_key == MANAGED_HSM_TYPE else "vault"


def _is_hsm(resource: Resource) -> bool:
    return resource.type_key == MANAGED_HSM_TYPE


@check(
    id="MLW-KV-01",
    title="Key vault or Managed HSM has purge protection enabled",
    kinds=_KEY_STORES,
    severity="high",
    tags=("backup-recovery", "key-lifecycle"),
    pillar="secrets",
    rationale=(
        "Without purge protection anyone with purge rights (or an attacker holding them) can destroy a "
        "deleted vault, and with it every customer-managed key: data encrypted under those keys becomes "
        "unreadable for good. Vaults holding CMKs must have it. Absent is scored as a fail (as Azure Policy "
        "does): the property is only present once someone turns protection on, and it cannot be turned off. "
        "A Managed HSM is judged the same way, on the same property: its REST spec documents true as the "
        "default, but Azure Policy c39ba22d fails it unless it is true, the azurerm provider sends false "
        "unless told otherwise, and a live HSM reports it either way, so an unset value fails there too."
    ),
    remediation=(
        "Enable purge protection on the vault or Managed HSM (it cannot be disabled afterwards; for an HSM: "
        "az keyvault update-hsm --hsm-name <hsm> --enable-purge-protection true)."
    ),
    az_cli="az keyvault update -g <rg> -n <vault> --enable-purge-protection true",
    azure_policy=("0b60c0b2-2dc2-4e1c-b5c9-abbed971de53", "c39ba22d-4428-4149-b981-70acb31fc383"),
    references=(f"{_DOCS}/general/soft-delete-overview#purge-protection", f"{_DOCS}/managed-hsm/recovery"),
)
def vault_purge_protection(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.enablePurgeProtection")
    if props.flag(resource, "properties.enablePurgeProtection") is True:
        return passed("purge protection is enabled", *evidence)
    if props.get(resource, "properties.enablePurgeProtection") is None:
        if _is_hsm(resource):  # the REST spec's default is true, Azure Policy and azurerm's is not: set it
            return failed("purge protection is not set (Azure Policy c39ba22d requires it true)", *evidence)
        return failed("purge protection is not set (off by default)", *evidence)
    return failed("purge protection is disabled", *evidence)


@check(
    id="MLW-KV-02",
    title="Key vault or Managed HSM has soft delete enabled",
    kinds=_KEY_STORES,
    severity="medium",
    tags=("backup-recovery", "key-lifecycle"),
    pillar="secrets",
    rationale=(
        "Soft delete keeps a deleted vault, key or secret recoverable for its retention period, so an "
        "accidental or malicious delete does not lose the keys that decrypt training data and models. "
        "Divergence: Azure Policy fails an absent enableSoftDelete, Checkov passes it. mlwarden passes it, "
        "because soft delete is on by default for every vault created since September 2019; only an "
        "explicit false fails. A Managed HSM passes: soft delete is always on for an HSM and cannot be "
        "disabled (its REST spec: enabled by default and immutable), so the HSM does meet the control and "
        "is counted for it rather than left out as not applicable; a row reporting false still fails."
    ),
    remediation="Enable soft delete on the vault.",
    az_cli="az keyvault update -g <rg> -n <vault> --enable-soft-delete true",
    azure_policy=("1e66c121-a66a-4b1f-9b83-0fd99bf0fc2d",),
    references=(f"{_DOCS}/general/soft-delete-overview",),
)
def vault_soft_delete(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.enableSoftDelete", "properties.softDeleteRetentionInDays")
    value = props.flag(resource, "properties.enableSoftDelete")
    if value is False:
        return failed("soft delete is disabled", *evidence)
    if _is_hsm(resource):  # the verdict does not rest on a retention known only where the HSM is deployed
        shown = [e for e in evidence if unevaluated.find(e.value) is None]
        return passed("soft delete is always on for a Managed HSM and cannot be disabled", *shown)
    if value is None:
        return passed("soft delete is not reported; it is on by default for vaults since 2019", *evidence)
    return passed("soft delete is enabled", *evidence)


@check(
    id="MLW-KV-03",
    title="Key vault uses the Azure RBAC permission model",
    kinds=(kinds.KEY_VAULT,),
    severity="medium",
    tags=("access-control",),
    pillar="identity",
    rationale=(
        "With Azure RBAC, data-plane access to keys and secrets is granted through Entra ID role "
        "assignments that are audited, reviewable and can be time-bound (PIM); vault access policies are "
        "a separate, coarser list outside that governance. Absent enableRbacAuthorization means the "
        "access-policy model, so it fails."
    ),
    remediation="Switch the vault to the Azure RBAC permission model after granting equivalent roles.",
    az_cli="az keyvault update -g <rg> -n <vault> --enable-rbac-authorization true",
    azure_policy=("12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5",),
    references=(f"{_DOCS}/general/rbac-guide",),
)
def vault_rbac(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, "properties.enableRbacAuthorization")
    if props.flag(resource, "properties.enableRbacAuthorization") is True:
        return passed("the vault uses Azure RBAC", *evidence)
    return failed("the vault uses access policies, not Azure RBAC", *evidence)


@check(
    id="MLW-KV-04",
    title="Key vault or Managed HSM disables public network access",
    kinds=_KEY_STORES,
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A vault reachable from the internet exposes its secrets and keys to credential-stuffing and to "
        "any leaked token. Divergence: an absent publicNetworkAccess means the service default, Enabled; "
        "mlwarden fails it as Azure Policy does (Checkov's negative checks would pass it). Checkov "
        "CKV_AZURE_189 also passes a vault whose networkAcls list ipRules; mlwarden does not, since listed "
        "addresses are still public ones (MLW-KV-05 credits the firewall). "
        "SecuredByPerimeter fails too, as in the policy (notEquals Disabled): the perimeter's access rules "
        "may still admit public address ranges; MLW-KV-05 credits it as a default-deny firewall. A Managed "
        "HSM is judged on the same property (its REST spec's default is Enabled too). No Azure Policy "
        "definition tests an HSM's publicNetworkAccess: 19ea9d63, named 'Azure Key Vault Managed HSM should "
        "disable public network access', tests networkAcls.defaultAction and is cited by MLW-KV-05."
    ),
    remediation=(
        "Disable public network access and reach the vault or Managed HSM through a private endpoint "
        "(for an HSM: az keyvault update-hsm --hsm-name <hsm> --public-network-access Disabled)."
    ),
    az_cli="az keyvault update -g <rg> -n <vault> --public-network-access Disabled",
    azure_policy=("405c5871-3e91-4644-8a63-58e19d68ff5b",),
    references=(f"{_DOCS}/general/network-security",),
)
def vault_public_network_access(resource: Resource, estate: Estate) -> Verdict:
    return public_access_verdict(resource)


@check(
    id="MLW-KV-05",
    title="Key vault or Managed HSM firewall denies by default or public access is disabled",
    kinds=_KEY_STORES,
    severity="high",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A vault that stays publicly reachable should at least only accept listed networks. Passes when "
        "public network access is Disabled or networkAcls.defaultAction is Deny, and when publicNetworkAccess "
        "is SecuredByPerimeter (a network security perimeter's rules replace the firewall and deny by "
        "default). Absent networkAcls means the default action Allow, so it fails. Azure Policy 55615ac9 "
        "(v3) reads defaultAction only; its display name still counts public access Disabled. A Managed "
        "HSM is judged on the same paths; its Azure Policy 19ea9d63 ('... should disable public network "
        "access') likewise reads networkAcls.defaultAction only."
    ),
    remediation=(
        "Set the vault's or Managed HSM's firewall default action to Deny and allow only the networks that need it."
    ),
    az_cli="az keyvault update -g <rg> -n <vault> --default-action Deny",
    azure_policy=("55615ac9-af46-4a59-874e-391cc3dfb490", "19ea9d63-adee-4431-a95e-1913c6c1c75f"),
    references=(f"{_DOCS}/general/network-security",),
)
def vault_firewall(resource: Resource, estate: Estate) -> Verdict:
    acl = "properties.networkAcls.defaultAction"
    evidence = props.read(resource, "properties.publicNetworkAccess", acl)
    if closed := closed_to_public(resource, acl, "the firewall denies by default", *evidence):
        return closed
    action = default_action(resource, acl)
    return failed(f"public network access is open and the firewall default action is {action}", *evidence)


@check(
    id="MLW-KV-06",
    title="Key vault or Managed HSM is reached through an approved private endpoint",
    kinds=_KEY_STORES,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A private endpoint keeps secret and key traffic on the virtual network. Counts approved "
        "connections from the vault's own list and from private endpoint resources in the estate; "
        "pending or rejected connections do not count. A Managed HSM's connections are counted the same "
        "way (its private link group id is `managedhsm`)."
    ),
    remediation=(
        "Create a private endpoint (group id `vault`, or `managedhsm` for a Managed HSM) for the vault or "
        "HSM and approve the connection."
    ),
    az_cli=(
        "az network private-endpoint create -g <rg> -n <pe> --vnet-name <vnet> --subnet <subnet> "
        "--private-connection-resource-id <vault-id> --group-id vault --connection-name <name>"
    ),
    azure_policy=("a6abeaec-4d90-4a02-805f-6b26c4d3fbe9", "59fee2f4-d439-4f1b-9b9a-982e1474bfd8"),
    references=(f"{_DOCS}/general/private-link-service", f"{_DOCS}/managed-hsm/private-link"),
)
def vault_private_endpoint(resource: Resource, estate: Estate) -> Verdict:
    links = estate.private_links(resource)
    return private_endpoint_verdict(f"the {_store(resource)}", links, link_endpoints(links))


def _key_evidence(key: KeyMetadata, *fields: str) -> tuple[Evidence, ...]:
    return tuple(Evidence(path=f"keys/{key.name}.{name}", value=getattr(key, name)) for name in fields)


def _per_live_key(
    vault: Resource, estate: Estate, judge: Callable[[KeyMetadata, Estate], Verdict]
) -> Iterator[Verdict]:
    """`judge` on each of the vault's keys by name; disabled keys, or none, are not applicable."""
    keys = estate.keys_in(vault)
    if not keys:
        yield not_applicable(f"the {_store(vault)} has no keys")
        return
    for key in sorted(keys, key=lambda k: k.name.lower()):
        if key.enabled is False:
            yield not_applicable(
                f"key {key.name} is disabled and cannot be used", *_key_evidence(key, "enabled"), detail_key=key.name
            )
        else:
            yield judge(key, estate)


def _expiry(key: KeyMetadata, estate: Estate) -> Verdict:
    if key.expires is None and key.expires_at_deployment is not None:
        return _expiry_at_deployment(f"key {key.name}", f"keys/{key.name}.expires", key.expires_at_deployment)
    evidence = _key_evidence(key, "expires")
    if key.expires is None:
        return failed(f"key {key.name} has no expiration date", *evidence, detail_key=key.name)
    return passed(f"key {key.name} has an expiration date", *evidence, detail_key=key.name)


def _expiry_at_deployment(what: str, path: str, value: str) -> Verdict:
    """An expiry a template or plan sets to a value known only at deployment: the date is not known,
    that there is one is (the check asks no more); one that may come out null is unknown."""
    name = what.split(" ", 1)[1]
    expression = unevaluated.set_at_deployment(value)
    if expression is None:
        return unknown(
            f"whether {what} gets an expiration date is decided at deployment: [{unevaluated.find(value)}]",
            Evidence(path=path, value=value),
            detail_key=name,
        )
    return passed(
        f"{what} has an expiration date, set at deployment: [{expression}]",
        Evidence(path=f"{path} (set at deployment)", value=expression),
        detail_key=name,
    )


@check(
    id="MLW-KV-07",
    title="Key Vault keys have an expiration date",
    kinds=_KEY_STORES,
    severity="medium",
    tags=("key-lifecycle",),
    pillar="secrets",
    rationale=(
        "A key without an expiry can stay in use forever, so a compromised or weak key is never forced out. "
        "One verdict per key. Disabled keys are not applicable: they cannot encrypt or decrypt, and "
        "re-enabling one shows up on the next scan. Read from key metadata (ARM or data plane), never key "
        "material; a vault whose keys could not be listed is a coverage gap. A Managed HSM's keys are judged "
        "the same way, on the HSM (Azure Policy's Managed HSM definitions test them there). Divergence: Checkov "
        "CKV_AZURE_40 passes a template key whose rotationPolicy.attributes.expiryTime is set; mlwarden does "
        "not, since that expiry applies only to versions rotated later (Key Vault's rotation docs) and the "
        "key's current version, what Azure Policy 152b15f7 tests, still has none."
    ),
    remediation="Set an expiration date on each key, or a rotation policy whose versions expire.",
    az_cli="az keyvault key set-attributes --vault-name <vault> -n <key> --expires <YYYY-MM-DDThh:mm:ssZ>",
    azure_policy=("152b15f7-8e1f-4c1f-ab71-8c010ba5dbc0", "1d478a74-21ba-4b9f-9d8f-8e6fced0eec5"),
    references=(f"{_DOCS}/keys/about-keys",),
    needs=(inventory.KEY_METADATA,),
)
def key_expiry(resource: Resource, estate: Estate) -> Iterator[Verdict]:
    return _per_live_key(resource, estate, _expiry)


def _rotation(key: KeyMetadata, estate: Estate) -> Verdict:
    name = key.name
    if key.managed:
        return not_applicable(
            f"key {name} backs a certificate and rotates with it", *_key_evidence(key, "managed"), detail_key=name
        )
    if not key.rotation_policy_readable:
        why = key.unread_reason or "needs keys/getrotationpolicy"
        return unknown(
            f"the rotation policy of key {name} could not be read ({why})",
            *_key_evidence(key, "rotation_policy_readable"),
            detail_key=name,
        )
    lifetime = key.rotation_policy.lifetime_actions if key.rotation_policy else ()
    evidence = Evidence(
        path=f"keys/{name}.rotation_policy.lifetime_actions[*].action", value=[a.action for a in lifetime]
    )
    rotates = [a for a in lifetime if a.action.lower() == "rotate"]
    if any(a.time_after_create or a.time_before_expiry for a in rotates):
        return passed(f"key {name} rotates automatically", evidence, detail_key=name)
    if key.rotation_policy is None:
        return failed(f"key {name} has no rotation policy", evidence, detail_key=name)
    if rotates:  # nothing ever starts it
        return failed(f"key {name}'s rotation policy has a Rotate action with no trigger", evidence, detail_key=name)
    return failed(f"key {name}'s rotation policy has no Rotate action", evidence, detail_key=name)


@check(
    id="MLW-KV-08",
    title="Key Vault keys rotate automatically",
    kinds=_KEY_STORES,
    severity="medium",
    tags=("key-lifecycle",),
    pillar="secrets",
    rationale=(
        "A rotation policy with a Rotate action renews a key on schedule, limiting how much data one key "
        "version protects. A policy with only Notify actions (the service default) does not rotate, nor does a "
        "Rotate action with no trigger (neither time after creation nor before expiry). One "
        "verdict per key; disabled keys and keys backing certificates (rotated by certificate renewal) are "
        "not applicable; a key whose policy could not be read (no getrotationpolicy permission) is unknown. "
        "Managed HSM keys are judged on their HSM."
    ),
    remediation="Add a rotation policy with a Rotate lifetime action (e.g. 90 days after creation).",
    az_cli="az keyvault key rotation-policy update --vault-name <vault> -n <key> --value @policy.json",
    azure_policy=("d8cf8476-a2ec-4916-896e-992351803c44",),
    references=(f"{_DOCS}/keys/how-to-configure-key-rotation",),
    needs=(inventory.KEY_METADATA,),
)
def key_rotation(resource: Resource, estate: Estate) -> Iterator[Verdict]:
    return _per_live_key(resource, estate, _rotation)


SECRET_TYPE = "microsoft.keyvault/vaults/secrets"


@check(
    id="MLW-KV-09",
    title="Key Vault secrets have an expiration date",
    kinds=(kinds.KEY_VAULT,),
    severity="low",
    tags=("key-lifecycle", "secrets-in-vault"),
    pillar="secrets",
    rationale=(
        "A secret without an expiry (a storage key, a database password) is never forced to rotate. The "
        "data lives in secret metadata (ARM GET vaults/{v}/secrets: properties.attributes.exp, never "
        "values). One verdict per secret (disabled secrets are not applicable); a vault with no secrets is "
        "not applicable; when secret metadata was not collected the check is unknown (a coverage gap)."
    ),
    remediation="Set an expiration date on each secret and rotate it before it expires.",
    az_cli="az keyvault secret set-attributes --vault-name <vault> -n <secret> --expires <YYYY-MM-DDThh:mm:ssZ>",
    azure_policy=("98728c90-32c7-4049-8429-847dc0f4fe37",),
    references=(f"{_DOCS}/secrets/about-secrets",),
    needs=(inventory.KEYVAULT_SECRETS,),
)
def secret_expiry(resource: Resource, estate: Estate) -> Iterator[Verdict]:
    empty = not_applicable("the vault holds no secrets", Evidence(path="secrets", value=[]))
    return per_child(resource, estate, SECRET_TYPE, empty, _secret_expiry)


def _secret_expiry(name: str, secret: Resource) -> Verdict:
    expires = props.get(secret, "properties.attributes.exp")
    evidence = Evidence(path=f"secrets/{name}.properties.attributes.exp", value=expires)
    if props.flag(secret, "properties.attributes.enabled") is False:
        return not_applicable(f"secret {name} is disabled and cannot be read", evidence, detail_key=name)
    if unevaluated.find(expires) is not None:
        if expires == props.get(secret, "properties.attributes"):  # the whole object is known only at deployment
            expires = unevaluated.marker(f"tryGet({unevaluated.find(expires)}, 'exp')")
        return _expiry_at_deployment(f"secret {name}", evidence.path, expires)
    if expires is None:
        return failed(f"secret {name} has no expiration date", evidence, detail_key=name)
    return passed(f"secret {name} has an expiration date", evidence, detail_key=name)


def _audit_logging(setting: Resource) -> bool:
    """An enabled AuditEvent category or audit/allLogs group; the destination is not judged."""
    return any(
        (props.text(log, "category") or "").lower() == AUDIT_CATEGORY
        or (props.text(log, "categoryGroup") or "").lower() in AUDIT_GROUPS
        for log in enabled_logs(setting)
    )


@check(
    id="MLW-KV-10",
    title="Key vault or Managed HSM sends audit logs to a diagnostic destination",
    kinds=_KEY_STORES,
    severity="medium",
    tags=("logging",),
    pillar="monitoring",
    rationale=(
        "AuditEvent logs record every access to keys and secrets: without them a breach investigation "
        "(GDPR Art. 33, HIPAA 164.312(b)) cannot tell who read what. Passes when a diagnostic setting "
        "enables the AuditEvent category or the audit/allLogs category group (Azure Policy cf820ca0 counts "
        "any enabled category). Divergence: cf820ca0 also fails a storage-account retention policy that is "
        "on with fewer than 365 days; mlwarden does not judge retention, which diagnostic settings no longer "
        "apply (storage lifecycle rules replace it). A Managed HSM logs the same AuditEvent category and is "
        "judged the same way (Azure Policy a2a5b911 for HSMs)."
    ),
    remediation=(
        "Add a diagnostic setting on the vault or Managed HSM that sends the audit category group to Log "
        "Analytics or storage."
    ),
    az_cli=(
        "az monitor diagnostic-settings create -n audit --resource <vault-id> --workspace <law-id> "
        '--logs \'[{"categoryGroup":"audit","enabled":true}]\''
    ),
    azure_policy=("cf820ca0-f99e-4f3e-84fb-66e913812d21", "a2a5b911-5617-447e-a49e-59dbe0e0434b"),
    references=(f"{_DOCS}/general/logging", f"{_DOCS}/managed-hsm/logging"),
    needs=(inventory.DIAGNOSTIC_SETTINGS,),
)
def vault_audit_logs(resource: Resource, estate: Estate) -> Verdict:
    settings = estate.diagnostic_settings(resource)
    evidence = tuple(
        Evidence(path=f"diagnosticSettings/{s.name}.properties.logs", value=props.get(s, "properties.logs"))
        for s in settings
    )
    if not settings:
        return no_diagnostic_settings(
            resource,
            f"the {_store(resource)} has no diagnostic settings",
            Evidence(path="diagnosticSettings", value=[]),
        )
    auditing = [s.name for s in settings if _audit_logging(s)]
    if auditing:
        return passed(f"audit logs are sent by diagnostic setting {auditing[0]}", *evidence)
    return failed("no diagnostic setting enables the AuditEvent category or the audit group", *evidence)


@check(
    id="MLW-KV-11",
    title="Customer-managed keys are backed by an HSM",
    kinds=_KEY_STORES,
    severity="low",
    tags=("encryption-at-rest", "key-lifecycle"),
    pillar="encryption",
    rationale=(
        "A key used as a customer-managed key protects a whole service's data at rest; an HSM-backed key "
        "(RSA-HSM, EC-HSM) never leaves FIPS 140 validated hardware. Judges the keys of this vault that "
        "some scanned resource (storage, Cognitive Services, ML workspace, registry, AKS KMS) names as its "
        "CMK, in a vault or a Managed HSM; other keys are not applicable. Disabled keys are not applicable; a "
        "key whose type was not collected is unknown, and so are the keys of an HSM that could not be read."
    ),
    remediation="Create an RSA-HSM key (Premium vault or Managed HSM) and point the service's CMK at it.",
    az_cli="az keyvault key create --vault-name <vault> -n <key> --kty RSA-HSM --size 3072",
    azure_policy=("587c79fe-dd04-4a5e-9d0b-f89598c7261b",),
    references=(f"{_DOCS}/keys/about-keys#hsm-protected-keys",),
    needs=(inventory.KEY_METADATA,),
)
def cmk_key_hsm(resource: Resource, estate: Estate) -> Iterator[Verdict]:
    return _per_live_key(resource, estate, _cmk_hsm)


def _cmk_hsm(key: KeyMetadata, estate: Estate) -> Verdict:
    name = key.name
    consumers = [user.id for user in estate.cmk_users(key.kid)]
    evidence = (*_key_evidence(key, "key_type"), Evidence(path=f"keys/{name}.usedAsCmkBy", value=consumers))
    if not consumers:  # unknown instead when a customer-managed key known only at deployment may be this one
        link = cmk_link(estate, key.vault_id, key.vault_uri, ml_only=False)
        return not_applicable(f"key {name} is not used as a customer-managed key", *evidence, *link, detail_key=name)
    if key.key_type is None:
        why = f" ({key.unread_reason})" if key.unread_reason else ""
        return unknown(f"the type of CMK key {name} was not collected{why}", *evidence, detail_key=name)
    if key.key_type.lower() in HSM_KEY_TYPES:
        return passed(f"CMK key {name} is HSM-backed ({key.key_type})", *evidence, detail_key=name)
    return failed(f"CMK key {name} is software-protected ({key.key_type})", *evidence, detail_key=name)


_PURGING = frozenset({"purge", "all"})


def _ml_data_keys_users(vault: Resource, estate: Estate) -> list[str]:
    """Resources that encrypt ML data with a key in this vault: ML workspaces themselves, and
    resources an ML resource uses (its storage, registry, AKS cluster, ...)."""
    return sorted(
        user.id
        for user in estate.cmk_users_in(vault)
        if estate.kind_of.get(user.id_key) == kinds.ML_WORKSPACE or estate.ml_users(user)
    )


def _ml_cmk_link(vault: Resource, estate: Estate) -> tuple[Evidence, ...]:
    return cmk_link(estate, vault.id, props.text(vault, "properties.vaultUri"), ml_only=True)


def _purge_grants(vault: Resource) -> list[str]:
    """`objectId (keys: purge; secrets: all)` for each access policy that can purge keys or secrets."""
    grants = []
    for policy in props.items(vault, "properties.accessPolicies"):
        rights = []
        for kind in ("keys", "secrets"):
            granted = sorted({str(p).lower() for p in props.items(policy, f"permissions.{kind}")} & _PURGING)
            if granted:
                rights.append(f"{kind}: {', '.join(granted)}")
        if rights:
            grants.append(f"{props.text(policy, 'objectId') or 'unknown principal'} ({'; '.join(rights)})")
    return grants


@check(
    id="MLW-KV-12",
    title="Key vault access policies grant no purge on keys or secrets that encrypt ML data",
    kinds=(kinds.KEY_VAULT,),
    severity="high",
    tags=("access-control", "backup-recovery", "key-lifecycle"),
    pillar="secrets",
    rationale=(
        "Purging a deleted customer-managed key destroys every copy of it, leaving the ML data, models "
        "and registries encrypted under it unreadable for good; purge (or all) is an everyday grant in "
        "access policies copied from templates. Judged on vaults holding a key that encrypts ML data (an "
        "ML workspace's CMK, or the CMK of storage, a registry or a cluster an ML resource uses); other "
        "vaults are not applicable. Fails when any access policy's permissions.keys or .secrets holds "
        "purge or all, naming the principals' object ids; no access policies passes. Vaults in the Azure "
        "RBAC permission model ignore access policies and are not applicable here (role assignments are "
        "not read; MLW-KV-03 judges the model). Purge protection (MLW-KV-01) blocks purges while it lasts "
        "but does not make the grant least privilege."
    ),
    remediation="Remove purge (and all) from the vault's access policies; keep purge for a break-glass procedure.",
    az_cli=(
        "az keyvault set-policy -n <vault> --object-id <principal> --key-permissions get wrapKey unwrapKey "
        "--secret-permissions get list"
    ),
    references=(f"{_DOCS}/general/assign-access-policy", f"{_DOCS}/general/soft-delete-overview"),
)
def vault_purge_grants(resource: Resource, estate: Estate) -> Verdict:
    users = _ml_data_keys_users(resource, estate)
    evidence = (
        *props.read(resource, "properties.enableRbacAuthorization"),
        Evidence(path="keysEncryptMlDataFor", value=users),
    )
    if props.flag(resource, "properties.enableRbacAuthorization") is True:
        return not_applicable(
            "the vault uses Azure RBAC, so access policies grant nothing (role assignments are not read)", *evidence
        )
    if not users:  # unknown instead when an ML customer-managed key known only at deployment may be here
        return not_applicable("no key in this vault encrypts ML data", *evidence, *_ml_cmk_link(resource, estate))
    grants = _purge_grants(resource)
    policies = props.items(resource, "properties.accessPolicies")
    evidence = (*evidence, Evidence(path="properties.accessPolicies[*].permissions (purge)", value=grants))
    if isinstance(props.get(resource, "properties.accessPolicies"), str):  # a template's value known only at deployment
        evidence = (*evidence, *props.read(resource, "properties.accessPolicies"))
    if grants:
        blocked = (
            " (purge protection blocks it for now)" if props.flag(resource, "properties.enablePurgeProtection") else ""
        )
        return failed(f"access policies let principals purge keys or secrets{blocked}: {', '.join(grants)}", *evidence)
    return passed(f"no access policy grants purge on keys or secrets ({len(policies)} policies)", *evidence)
