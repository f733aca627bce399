"""Per-deployment posture: each ML deployment judged with everything it depends on.

A deployment (Azure ML online deployment, AKS cluster, web app, function app) fails a pillar
when any failing finding sits on it or on a dependency (its endpoint, workspace, the
workspace's Key Vault / storage / registry, the vault holding its CMK, an AKS cluster it runs
on, its private endpoints, a web or function app's deployment slots). A failing dependency
therefore counts against every deployment that uses it, and the reason line says which
dependency and why. A slot is part of its app's posture, never a deployment row of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scanner import kinds, props
from scanner.bulk import collector_paused
from scanner.estate import Estate
from scanner.finding_index import FindingIndex, index_findings
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


class _Memo:
    """Work every deployment sharing a workspace or vault would otherwise repeat: each resource's CMK
    vault and each workspace's walk are resolved once, and equal `Dependency` rows are one object."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.cmk: dict[str, tuple[Resource, str | None] | None] = {}
        self.workspaces: dict[tuple[str, str], tuple[tuple[str, Dependency], ...]] = {}
        self.rows: dict[tuple[str, str, str | None], Dependency] = {}

    def cmk_of(self, resource: Resource) -> tuple[Resource, str | None] | None:
        key = resource.id_key
        if key not in self.cmk:
            self.cmk[key] = _cmk(resource, self.estate)
        return self.cmk[key]

    def row(self, role: str, resource_id: str, item: str | None = None) -> Dependency:
        key = (role, resource_id, item)
        found = self.rows.get(key)
        if found is None:
            found = self.rows[key] = Dependency(role=role, resource_id=resource_id, item=item)
        return found


class _Deps:
    """Collects (role, resource) pairs once each, in discovery order."""

    def __init__(self, estate: Estate, memo: _Memo | None = None) -> None:
        self.estate = estate
        self.memo = memo or _Memo(estate)
        self.items: dict[str, Dependency] = {}

    def add(self, role: str, resource_id: str | None, item: str | None = None) -> Resource | None:
        if not resource_id or resource_id.lower() in self.items:
            return self.estate.get(resource_id)
        self.items[resource_id.lower()] = self.memo.row(role, resource_id, item)
        found = self.estate.get(resource_id)
        if found is not None:
            self.add_surroundings(found, role)
        return found

    def add_surroundings(self, resource: Resource, role: str) -> None:
        """Private endpoints and CMK vaults of anything the deployment depends on."""
        for link in self.estate.private_links(resource):
            if link.endpoint_id and link.endpoint_id.lower() not in self.items:
                self.items[link.endpoint_id.lower()] = self.memo.row("private-endpoint", link.endpoint_id)
        cmk = self.memo.cmk_of(resource)
        if cmk is not None:
            self.add(f"cmk-vault ({role})", cmk[0].id, item=cmk[1])

    def add_workspace(self, workspace: Resource | None, role: str = "workspace") -> None:
        """A workspace and everything under it. Every deployment in a workspace repeats this walk, so it
        is done once per (workspace, role) and replayed when none of its rows is already collected:
        then every "already collected?" test inside it would answer as it did the first time."""
        if workspace is None:
            return
        key = (workspace.id_key, role)
        walked = self.memo.workspaces.get(key)
        if walked is None:
            alone = _Deps(self.estate, self.memo)
            alone.walk_workspace(workspace, role)
            walked = self.memo.workspaces[key] = tuple(alone.items.items())
        if self.items.keys().isdisjoint(item_key for item_key, _ in walked):
            self.items.update(walked)
        else:
            self.walk_workspace(workspace, role)

    def walk_workspace(self, workspace: Resource, role: str) -> None:
        self.add(role, workspace.id)
        for dep_role, dep_id in self.estate.workspace_dependencies(workspace).items():
            self.add(f"{role} {dep_role}", dep_id)
        hub = self.estate.get(props.text(workspace, "properties.hubResourceId"))
        if hub is not None and role == "workspace":
            # A hub-based project shares its hub's network, vault, storage and registry.
            self.add_workspace(hub, "hub")


def dependencies(deployment: Resource, kind: str, estate: Estate, memo: _Memo | None = None) -> tuple[Dependency, ...]:
    deps = _Deps(estate, memo)
    deps.items[deployment.id_key] = deps.memo.row("self", deployment.id)
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


_FAIL, _PASS, _UNKNOWN, _ERROR = Status.FAIL, Status.PASS, Status.UNKNOWN, Status.ERROR
_PILLAR_INDEX = {pillar: index for index, pillar in enumerate(POSTURE_PILLARS)}


@dataclass(slots=True)
class _Share:
    """What one dependency brings to one pillar: its failing fingerprints and their reason lines
    (phrased for the dependency's role), how many of its findings could not judge, how many passed."""

    failing: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    unknown: int = 0
    evaluated: int = 0


class _Judge:
    """Findings indexed once by resource; each dependency (role, resource, item) is tallied once per
    scan, however many deployments share it, so a deployment costs O(its dependencies)."""

    def __init__(self, by_resource: dict[str, list[Finding]]) -> None:
        self.by_resource = by_resource
        self.shares: dict[tuple[str, str, str | None], tuple[_Share, ...] | None] = {}
        self.verdicts: dict[tuple[str, str], PillarVerdict] = {}

    def share(self, dep: Dependency) -> tuple[_Share, ...] | None:
        """Per posture pillar, what `dep` contributes; None when no finding sits on it."""
        memo_key = (dep.role, dep.resource_id, dep.item)
        if memo_key in self.shares:
            return self.shares[memo_key]
        findings = self.by_resource.get(dep.resource_id.lower())
        if findings is None:
            self.shares[memo_key] = None
            return None
        shares = tuple(_Share() for _ in POSTURE_PILLARS)
        wanted = dep.item.lower() if dep.item else None
        where = "" if dep.role == "self" else f"its {dep.role} "
        for finding in findings:
            pillar = _PILLAR_INDEX.get(finding.pillar)
            if pillar is None:
                continue  # e.g. monitoring: not a posture pillar
            if wanted and finding.detail_key and finding.detail_key.lower() != wanted:
                continue  # a finding about another key in the same vault
            share = shares[pillar]
            status = finding.status
            if status == _FAIL and not finding.waived_by:
                share.failing.append(finding.fingerprint)
                named = f"{where}{finding.resource_name}: " if where else ""
                share.reasons.append(f"{named}{finding.title.rstrip('.')}: {finding.message}")
            elif status in (_UNKNOWN, _ERROR):
                share.unknown += 1
            elif status == _PASS:
                share.evaluated += 1
        self.shares[memo_key] = shares
        return shares

    def settled(self, pillar: str, status: str, why: str = "") -> PillarVerdict:
        """Passing and unknown verdicts repeat across deployments: one object each."""
        found = self.verdicts.get((pillar, why))
        if found is None:
            reasons = (why,) if why else ()
            found = self.verdicts[(pillar, why)] = PillarVerdict(pillar=pillar, status=status, reasons=reasons)  # type: ignore[arg-type]
        return found

    def pillars(self, deps: tuple[Dependency, ...]) -> tuple[PillarVerdict, ...]:
        contributions = [shares for dep in deps if (shares := self.share(dep)) is not None]
        out: list[PillarVerdict] = []
        for index, pillar in enumerate(POSTURE_PILLARS):
            failing: list[str] = []
            reasons: list[str] = []
            unknown = evaluated = 0
            for shares in contributions:
                share = shares[index]
                if share.failing:
                    failing += share.failing
                    reasons += share.reasons
                unknown += share.unknown
                evaluated += share.evaluated
            if failing:
                verdict = PillarVerdict(pillar=pillar, status="fail", failing=tuple(failing), reasons=tuple(reasons))
            elif unknown:
                verdict = self.settled(pillar, "unknown", f"{unknown} check(s) could not judge")
            elif not evaluated:
                verdict = self.settled(pillar, "unknown", "no check evaluated this pillar")
            else:
                verdict = self.settled(pillar, "pass")
            out.append(verdict)
        return tuple(out)


@collector_paused()  # builds many small acyclic objects beside every finding: no collector walks
def postures(estate: Estate, findings: Iterable[Finding] | FindingIndex) -> tuple[DeploymentPosture, ...]:
    indexed = findings if isinstance(findings, FindingIndex) else index_findings(findings, checks=False)
    judge = _Judge(indexed.resources())
    memo = _Memo(estate)
    out = []
    for kind in kinds.DEPLOYMENT_KINDS:
        for deployment in estate.of_kind(kind):
            if deployment.type_key == SLOT_TYPE:
                continue  # part of its site's posture, not a deployment of its own
            deps = dependencies(deployment, kind, estate, memo)
            out.append(
                DeploymentPosture(
                    deployment_id=deployment.id,
                    name=deployment.name,
                    kind=kind,
                    subscription_id=deployment.subscription_id,
                    dependencies=deps,
                    pillars=judge.pillars(deps),
                )
            )
    return tuple(out)
