"""Per-deployment posture: each ML deployment judged with everything it depends on.

A deployment (Azure ML online deployment, AKS cluster, web app, function app) fails a pillar
when any failing finding sits on it or on a dependency (its endpoint, workspace, the
workspace's Key Vault / storage / registry, the vault holding its CMK, an AKS cluster it runs
on, its private endpoints, a web or function app's deployment slots). A failing dependency
therefore counts against every deployment that uses it, and the reason line says which
dependency and why. A slot is part of its app's posture, never a deployment row of its own.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from scanner import kinds
from scanner.bulk import collector_paused, to_end
from scanner.estate import Estate, mapping_at, text_at
from scanner.finding_index import POSTURE_PILLARS, FindingIndex, ResourceFindings, index_findings
from scanner.models import Dependency, DeploymentPosture, Finding, PillarVerdict, Resource, Status, trusted

__all__ = ["POSTURE_PILLARS", "DependencyPlan", "dependencies", "dependency_plan", "dependency_steps", "postures"]
SLOT_TYPE = "microsoft.web/sites/slots"
_DEPENDENCY_SET = {"role", "resource_id", "item"}
_FAILING_SET = {"pillar", "status", "failing", "reasons"}
_SETTLED_SET = {"pillar", "status", "reasons"}
_POSTURE_SET = {"deployment_id", "name", "kind", "subscription_id", "dependencies", "pillars"}
"""Field sets of the posture models built here from values of the right types (`models.trusted`): the
sets their keyword construction would record."""


def _cmk(resource: Resource, estate: Estate) -> tuple[Resource, str | None] | None:
    """The vault holding the resource's customer-managed key, and the key's name."""
    key_id = estate.cmk_key_id(resource)
    vault = estate.vault_for_uri(key_id)
    if vault is None:
        vault = estate.get(text_at(resource.properties, "encryption", "keyVaultProperties", "keyVaultArmId"))
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
        self.endpoints: dict[str, tuple[tuple[str, Dependency], ...]] = {}

    def endpoints_of(self, resource: Resource) -> tuple[tuple[str, Dependency], ...]:
        """(lower-case id, row) of each private endpoint connected to the resource."""
        found = self.endpoints.get(resource.id_key)
        if found is None:
            found = self.endpoints[resource.id_key] = tuple(
                (link.endpoint_id.lower(), self.row("private-endpoint", link.endpoint_id))
                for link in self.estate.private_links(resource)
                if link.endpoint_id
            )
        return found

    def cmk_of(self, resource: Resource) -> tuple[Resource, str | None] | None:
        key = resource.id_key
        if key not in self.cmk:
            self.cmk[key] = _cmk(resource, self.estate)
        return self.cmk[key]

    def row(self, role: str, resource_id: str, item: str | None = None) -> Dependency:
        key = (role, resource_id, item)
        found = self.rows.get(key)
        if found is None:
            values = {"role": role, "resource_id": resource_id, "item": item}
            found = self.rows[key] = trusted(Dependency, values, _DEPENDENCY_SET)
        return found


class _Deps:
    """Collects (role, resource) pairs once each, in discovery order."""

    def __init__(self, estate: Estate, memo: _Memo | None = None) -> None:
        self.estate = estate
        self.memo = memo or _Memo(estate)
        self.items: dict[str, Dependency] = {}

    def add(self, role: str, resource_id: str | None, item: str | None = None) -> Resource | None:
        if not resource_id:
            return None
        key = resource_id.lower()
        found = self.estate.by_id.get(key)
        if key in self.items:
            return found
        self.items[key] = self.memo.row(role, resource_id, item)
        if found is not None:
            self.add_surroundings(found, role)
        return found

    def add_surroundings(self, resource: Resource, role: str) -> None:
        """Private endpoints and CMK vaults of anything the deployment depends on."""
        items = self.items
        for endpoint_key, row in self.memo.endpoints_of(resource):
            if endpoint_key not in items:
                items[endpoint_key] = row
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
        hub = self.estate.get(text_at(workspace.properties, "hubResourceId"))
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
            compute = estate.get(text_at(endpoint.properties, "compute"))
            if compute is not None:
                deps.add("kubernetes compute", compute.id)
                deps.add("aks cluster", text_at(compute.properties, "resourceId"))
        deps.add_workspace(estate.workspace_of(deployment))
    elif kind == kinds.AKS:
        for compute in estate.aks_attachments(deployment):
            deps.add_workspace(estate.workspace_of(compute))
    elif kind in (kinds.WEB_APP, kinds.FUNCTION_APP):  # slots serve the same app and swap into production
        for slot in estate.children(deployment, SLOT_TYPE):
            deps.add("slot", slot.id)
    for identity_id in mapping_at(deployment.identity, "userAssignedIdentities"):
        deps.add("identity", identity_id)
    return tuple(deps.items.values())


_FAIL, _PASS, _UNKNOWN, _ERROR = Status.FAIL, Status.PASS, Status.UNKNOWN, Status.ERROR
_PILLAR_INDEX = {pillar: index for index, pillar in enumerate(POSTURE_PILLARS)}


_NO_FAILURES: tuple[list[str], ...] = ([], [], [], [])
"""The failures of a dependency with none: shared, so never appended to."""


@dataclass(slots=True)
class _Share:
    """What one dependency brings to each posture pillar (lists indexed like `POSTURE_PILLARS`): its
    failing fingerprints and their reason lines (phrased for the dependency's role), how many of its
    findings could not judge, how many passed."""

    unknown: list[int]
    evaluated: list[int]
    failing: tuple[list[str], ...] = _NO_FAILURES
    reasons: tuple[list[str], ...] = _NO_FAILURES


class _Judge:
    """Findings indexed once by resource; each dependency (role, resource, item) is tallied once per
    scan, however many deployments share it, so a deployment costs O(its dependencies)."""

    def __init__(self, by_resource: dict[str, ResourceFindings]) -> None:
        self.by_resource = by_resource
        self.shares: dict[int, tuple[Dependency, _Share | None]] = {}
        """By the identity of a dependency row (rows are shared, see `_Memo.row`), kept alive here."""
        self.verdicts: dict[tuple[str, str], PillarVerdict] = {}

    def share(self, dep: Dependency) -> _Share | None:
        """What `dep` contributes; None when no finding on a posture pillar sits on it."""
        known = self.shares.get(id(dep))
        if known is not None:
            return known[1]
        facts = self.by_resource.get(dep.resource_id.lower())
        if facts is None:
            self.shares[id(dep)] = (dep, None)
            return None
        if not facts.itemised:  # counts alone, never changed: shared, not copied
            share = _Share(facts.unknown, facts.passed)
            self.shares[id(dep)] = (dep, share)
            return share
        share = _Share(list(facts.unknown), list(facts.passed), ([], [], [], []), ([], [], [], []))
        wanted = dep.item.lower() if dep.item else None
        where = "" if dep.role == "self" else f"its {dep.role} "
        for finding in facts.itemised:
            fields = finding.__dict__  # a model's attribute goes through pydantic's `__getattr__` hook, slower
            detail = fields["detail_key"]
            if wanted and detail and detail.lower() != wanted:
                continue  # a finding about another key in the same vault
            pillar = _PILLAR_INDEX[fields["pillar"]]
            status = fields["status"]
            if status == _FAIL:
                if not fields["waived_by"]:
                    share.failing[pillar].append(fields["fingerprint"])
                    named = f"{where}{fields['resource_name']}: " if where else ""
                    share.reasons[pillar].append(f"{named}{fields['title'].rstrip('.')}: {fields['message']}")
            elif status in (_UNKNOWN, _ERROR):
                share.unknown[pillar] += 1
            elif status == _PASS:
                share.evaluated[pillar] += 1
        self.shares[id(dep)] = (dep, share)
        return share

    def settled(self, pillar: str, status: str, why: str = "") -> PillarVerdict:
        """Passing and unknown verdicts repeat across deployments: one object each."""
        found = self.verdicts.get((pillar, why))
        if found is None:
            values = {"pillar": pillar, "status": status, "failing": (), "reasons": (why,) if why else ()}
            found = self.verdicts[(pillar, why)] = trusted(PillarVerdict, values, _SETTLED_SET)
        return found

    def pillars(self, deps: tuple[Dependency, ...]) -> tuple[PillarVerdict, ...]:
        contributions = [share for dep in deps if (share := self.share(dep)) is not None]
        out: list[PillarVerdict] = []
        for index, pillar in enumerate(POSTURE_PILLARS):
            failing: list[str] = []
            reasons: list[str] = []
            unknown = evaluated = 0
            for share in contributions:
                if share.failing[index]:
                    failing += share.failing[index]
                    reasons += share.reasons[index]
                unknown += share.unknown[index]
                evaluated += share.evaluated[index]
            if failing:
                values = {"pillar": pillar, "status": "fail", "failing": tuple(failing), "reasons": tuple(reasons)}
                verdict = trusted(PillarVerdict, values, _FAILING_SET)
            elif unknown:
                verdict = self.settled(pillar, "unknown", f"{unknown} check(s) could not judge")
            elif not evaluated:
                verdict = self.settled(pillar, "unknown", "no check evaluated this pillar")
            else:
                verdict = self.settled(pillar, "pass")
            out.append(verdict)
        return tuple(out)


def _deployments(estate: Estate) -> Iterator[tuple[Resource, str]]:
    """Every deployment with its kind, in the order postures are listed."""
    for kind in kinds.DEPLOYMENT_KINDS:
        for deployment in estate.of_kind(kind):
            if deployment.type_key != SLOT_TYPE:  # a slot is part of its site's posture, not a deployment of its own
                yield deployment, kind


@dataclass(frozen=True, slots=True)
class DependencyPlan:
    """Every deployment's dependencies, worked out from the estate alone and in a form that pickles
    small: a sharded scan has its second process work them out once its checks are done, while
    this one merges and indexes the findings (`shards.run_sharded`'s `aside`), so postures are
    left only the judging. `rows` are the distinct (role, resource id, item) rows; `deployments`
    the places of each deployment's rows, deployments in `postures`' order."""

    rows: tuple[tuple[str, str, str | None], ...]
    deployments: tuple[tuple[int, ...], ...]

    def dependencies(self) -> list[tuple[Dependency, ...]]:
        """Each deployment's rows as `Dependency` objects, one object per distinct row (as `_Memo`
        shares them, which `_Judge` relies on to tally each once)."""
        made = [trusted(Dependency, {"role": r, "resource_id": i, "item": t}, _DEPENDENCY_SET) for r, i, t in self.rows]
        return [tuple(map(made.__getitem__, places)) for places in self.deployments]


def dependency_plan(estate: Estate) -> DependencyPlan:
    """`DependencyPlan` of the estate: the walk `postures` would otherwise make."""
    with collector_paused():
        return to_end(dependency_steps(estate))


_STEP = 64
"""Deployments walked between two pauses of `dependency_steps`."""


def dependency_steps(estate: Estate) -> Generator[None, None, DependencyPlan]:
    """`dependency_plan` walked a few deployments at a time, pausing (yielding) between them and
    returning the plan: the scanning process walks it so while it waits for a shard process to send
    the same plan, and stops at once when the plan arrives (see `shards.Aside`)."""
    memo = _Memo(estate)
    place: dict[int, int] = {}  # a row's place, by identity: rows are shared and the memo keeps them alive
    rows: list[tuple[str, str, str | None]] = []
    deployments: list[tuple[int, ...]] = []
    for number, (deployment, kind) in enumerate(_deployments(estate), 1):
        if not number % _STEP:
            yield
        places = []
        for dep in dependencies(deployment, kind, estate, memo):
            at = place.get(id(dep))
            if at is None:
                at = place[id(dep)] = len(rows)
                rows.append((dep.role, dep.resource_id, dep.item))
            places.append(at)
        deployments.append(tuple(places))
    return DependencyPlan(tuple(rows), tuple(deployments))


@collector_paused()  # builds many small acyclic objects beside every finding: no collector walks
def postures(
    estate: Estate, findings: Iterable[Finding] | FindingIndex, plan: DependencyPlan | None = None
) -> tuple[DeploymentPosture, ...]:
    """Each deployment's posture; `plan`, when given, is `dependency_plan(estate)` worked out earlier."""
    indexed = findings if isinstance(findings, FindingIndex) else index_findings(findings, checks=False)
    judge = _Judge(indexed.resources())
    memo = _Memo(estate)
    deployments = list(_deployments(estate))
    planned = plan.dependencies() if plan is not None else None
    if planned is not None and len(planned) != len(deployments):
        raise ValueError("the dependency plan is of another estate")
    out = []
    for number, (deployment, kind) in enumerate(deployments):
        deps = planned[number] if planned is not None else dependencies(deployment, kind, estate, memo)
        values = {
            "deployment_id": deployment.id,
            "name": deployment.name,
            "kind": kind,
            "subscription_id": deployment.subscription_id,
            "dependencies": deps,
            "pillars": judge.pillars(deps),
        }
        out.append(trusted(DeploymentPosture, values, _POSTURE_SET))
    return tuple(out)
