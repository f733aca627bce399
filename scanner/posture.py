"""Per-deployment posture: each ML deployment judged with everything it depends on.

A deployment (Azure ML online deployment, AKS cluster, web app, function app) fails a pillar
when any failing finding sits on it or on a dependency (its endpoint, workspace, the
workspace's Key Vault / storage / registry, the vault holding its CMK, an AKS cluster it runs
on, its private endpoints, a web or function app's deployment slots). A failing dependency
therefore counts against every deployment that uses it, and the reason line says which
dependency and why. A slot is part of its app's posture, never a deployment row of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from scanner import kinds, props
from scanner.estate import Estate
from scanner.models import Dependency, DeploymentPosture, Finding, PillarVerdict, Resource, Status

POSTURE_PILLARS = ("encryption", "private-network", "identity", "secrets")
SLOT_TYPE = "microsoft.web/sites/slots"


def _cmk(resource: Resource, estate: Estate) -> tuple[Resource, str | None] | None:
    """The vault holding the resource's customer-managed key, and the key's name."""
    key_id = estate.cmk_key_id(resource)
    vault = estate.vault_for_uri(key_id)
    if vault is None:
        vault = estate.get(props.text(resource, "properties.encryption.keyVaultProperties.keyVaultArmId"))
    if vault is None:
        return None
    key = estate.key(key_id)
    return vault, key.name if key else None


class _Deps:
    """Collects (role, resource) pairs once each, in discovery order."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.items: dict[str, Dependency] = {}

    def add(self, role: str, resource_id: str | None, item: str | None = None) -> Resource | None:
        if not resource_id or resource_id.lower() in self.items:
            return self.estate.get(resource_id)
        self.items[resource_id.lower()] = Dependency(role=role, resource_id=resource_id, item=item)
        found = self.estate.get(resource_id)
        if found is not None:
            self.add_surroundings(found, role)
        return found

    def add_surroundings(self, resource: Resource, role: str) -> None:
        """Private endpoints and CMK vaults of anything the deployment depends on."""
        for link in self.estate.private_links(resource):
            if link.endpoint_id and link.endpoint_id.lower() not in self.items:
                self.items[link.endpoint_id.lower()] = Dependency(role="private-endpoint", resource_id=link.endpoint_id)
        cmk = _cmk(resource, self.estate)
        if cmk is not None:
            self.add(f"cmk-vault ({role})", cmk[0].id, item=cmk[1])

    def add_workspace(self, workspace: Resource | None, role: str = "workspace") -> None:
        if workspace is None:
            return
        self.add(role, workspace.id)
        for dep_role, dep_id in self.estate.workspace_dependencies(workspace).items():
            self.add(f"{role} {dep_role}", dep_id)
        hub = self.estate.get(props.text(workspace, "properties.hubResourceId"))
        if hub is not None and role == "workspace":
            # A hub-based project shares its hub's network, vault, storage and registry.
            self.add_workspace(hub, "hub")


def dependencies(deployment: Resource, kind: str, estate: Estate) -> tuple[Dependency, ...]:
    deps = _Deps(estate)
    deps.items[deployment.id_key] = Dependency(role="self", resource_id=deployment.id)
    deps.add_surroundings(deployment, "self")
    if kind == kinds.ML_ONLINE_DEPLOYMENT:
        endpoint = estate.parent(deployment)
        if endpoint is not None:
            deps.add("endpoint", endpoint.id)
            compute = estate.get(props.text(endpoint, "properties.compute"))
            if compute is not None:
                deps.add("kubernetes compute", compute.id)
                deps.add("aks cluster", props.text(compute, "properties.resourceId"))
        deps.add_workspace(estate.workspace_of(deployment))
    elif kind == kinds.AKS:
        for compute in estate.aks_attachments(deployment):
            deps.add_workspace(estate.workspace_of(compute))
    elif kind in (kinds.WEB_APP, kinds.FUNCTION_APP):  # slots serve the same app and swap into production
        for slot in estate.children(deployment, SLOT_TYPE):
            deps.add("slot", slot.id)
    for identity_id in props.mapping(deployment, "identity.userAssignedIdentities"):
        deps.add("identity", identity_id)
    return tuple(deps.items.values())


def _pillar(pillar: str, deps: tuple[Dependency, ...], by_resource: dict[str, list[Finding]]) -> PillarVerdict:
    failing: list[str] = []
    reasons: list[str] = []
    evaluated = unknown = 0
    for dep in deps:
        for finding in by_resource.get(dep.resource_id.lower(), ()):
            if finding.pillar != pillar:
                continue
            if dep.item and finding.detail_key and finding.detail_key.lower() != dep.item.lower():
                continue  # a finding about another key in the same vault
            if finding.status is Status.FAIL and not finding.waived_by:
                failing.append(finding.fingerprint)
                where = "" if dep.role == "self" else f"its {dep.role} {finding.resource_name}: "
                reasons.append(f"{where}{finding.title.rstrip('.')}: {finding.message}")
            elif finding.status in (Status.UNKNOWN, Status.ERROR):
                unknown += 1
            elif finding.status is Status.PASS:
                evaluated += 1
    if failing:
        return PillarVerdict(pillar=pillar, status="fail", failing=tuple(failing), reasons=tuple(reasons))
    if unknown or not evaluated:
        why = f"{unknown} check(s) could not judge" if unknown else "no check evaluated this pillar"
        return PillarVerdict(pillar=pillar, status="unknown", reasons=(why,))
    return PillarVerdict(pillar=pillar, status="pass")


def postures(estate: Estate, findings: Iterable[Finding]) -> tuple[DeploymentPosture, ...]:
    by_resource: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_resource[finding.resource_id.lower()].append(finding)
    out = []
    for kind in kinds.DEPLOYMENT_KINDS:
        for deployment in estate.of_kind(kind):
            if deployment.type_key == SLOT_TYPE:
                continue  # part of its site's posture, not a deployment of its own
            deps = dependencies(deployment, kind, estate)
            out.append(
                DeploymentPosture(
                    deployment_id=deployment.id,
                    name=deployment.name,
                    kind=kind,
                    subscription_id=deployment.subscription_id,
                    dependencies=deps,
                    pillars=tuple(_pillar(p, deps, by_resource) for p in POSTURE_PILLARS),
                )
            )
    return tuple(out)
