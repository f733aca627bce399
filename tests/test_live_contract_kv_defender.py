"""Documented Defender for Cloud, Key Vault data-plane and token-endpoint contracts our fake did not serve
by default: a fake written from the REST docs (or the real service) may serve them. Each test names the
contract it follows and goes through the real SDK clients over HTTPS; the verdicts must be those the
documented shape means, or the scan must say what it could not read, never crash or pass on nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner import inventory as sources
from scanner.azure.collect import collect
from scanner.estate import Estate
from scanner.inventory import Inventory
from scanner.models import Finding, Resource
from scanner.registry import load_checks
from scanner.runner import run_checks
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.sample import SUB_A, SUB_B, sample_inventory

PRICING = "microsoft.security/pricings"


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
        yield server


def _findings(inventory: Inventory, prefix: str) -> dict[tuple[str, str], Finding]:
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    return {(f.check_id, f.resource_id.lower()): f for f in findings if f.check_id.startswith(prefix)}


def _gaps(inventory: Inventory) -> set[tuple[str, str, str]]:
    return {(c.name, g.scope.lower(), g.reason) for c in inventory.header.sources for g in c.gaps}


# -- Defender plans set on single resources -------------------------------------------------------------
# Pricings (api-version 2024-01-01, azure-rest-api-specs .../Microsoft.Security/stable/2024-01-01/examples/
# Pricings/GetResourcePricingByNameContainers_example.json, PutResourcePricingByNameContainersACR_example.json,
# ListResourcePricings_example.json): a plan can be set on one resource, an AKS cluster, a registry or a VM.
# Its id is `{resource}/providers/Microsoft.Security/pricings/{plan}`, its name the plan's (`Containers`),
# with `inherited` "False" when the resource overrides its subscription and "True" when it follows it.


def _with_plans(sub_tier: str, *overrides: tuple[str, str, str], coverage: str | None = None) -> Inventory:
    """The sample with SUB_B's Containers plan at `sub_tier` (and `resourcesCoverageStatus`), plus (resource
    type, tier, inherited) rows set on the first resource of each type."""
    inventory = sample_inventory()
    rows: list[Resource] = []
    for row in inventory.resources:
        if row.type_key == PRICING and row.subscription_id == SUB_B and row.name == "Containers":
            tiered = {**(row.properties or {}), "pricingTier": sub_tier}
            if coverage is not None:
                tiered["resourcesCoverageStatus"] = coverage
            row = Resource.model_validate({**row.raw(), "properties": tiered})
        rows.append(row)
    for type_key, tier, inherited in overrides:
        target = next(r for r in inventory.resources if r.type_key == type_key)
        properties: dict[str, Any] = {
            "pricingTier": tier,
            "freeTrialRemainingTime": "P26DT17H24M",
            "enablementTime": "2025-01-13T10:30:45.1234567Z",
            "inherited": inherited,
            "inheritedFrom": f"/subscriptions/{target.subscription_id}" if inherited == "True" else None,
            "extensions": [{"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"}],
        }
        rows.append(
            Resource.model_validate(
                {
                    "id": f"{target.id}/providers/Microsoft.Security/pricings/Containers",
                    "name": "Containers",
                    "type": PRICING,
                    "subscriptionId": target.subscription_id,
                    "resourceGroup": target.resource_group,
                    "properties": properties,
                }
            )
        )
    return Inventory(header=inventory.header, resources=rows, keys=inventory.keys, app_settings=inventory.app_settings)


AKS = "microsoft.containerservice/managedclusters"
CONTAINERS_B = ("MLW-DEF-01", f"/subscriptions/{SUB_B}")


def _containers_verdict(inventory: Inventory, tmp_path: Path, **wire: Any) -> Finding:
    with AzureFake(inventory, quota=100, window=1.0) as server:
        for name, value in wire.items():
            setattr(server.wire, name, value)
        collected = collect(options(server, tmp_path))
    assert not _gaps(collected)
    return _findings(collected, "MLW-DEF-01")[CONTAINERS_B]


def test_a_plan_turned_on_for_one_cluster_does_not_pass_a_subscription_that_has_it_off(tmp_path: Path) -> None:
    """The cluster's own Standard row stood for the subscription (the last row of a name won): Defender for
    Containers passed on a subscription whose plan is Free."""
    finding = _containers_verdict(_with_plans("Free", (AKS, "Standard", "False")), tmp_path)
    assert finding.status.value == "fail"
    assert finding.message == "Defender for Containers is off (Free tier)"


def test_a_plan_turned_off_for_one_cluster_fails_the_subscription_naming_it(tmp_path: Path) -> None:
    """Standard on the subscription, Free on the AKS cluster serving the model: the cluster is not protected."""
    finding = _containers_verdict(_with_plans("Standard", (AKS, "Free", "False")), tmp_path)
    assert finding.status.value == "fail"
    assert (
        finding.message
        == "Defender for Containers is on (Standard tier) but turned off for aks-infer by its own pricing"
    )
    off = {e.path: e.value for e in finding.evidence}["pricings/Containers.offForResources"]
    assert [str(v).rsplit("/", 1)[-1] for v in off] == ["aks-infer"]


def test_a_resource_that_follows_its_subscription_plan_changes_nothing(tmp_path: Path) -> None:
    finding = _containers_verdict(_with_plans("Standard", (AKS, "Standard", "True")), tmp_path)
    assert finding.status.value == "pass"
    assert finding.message == "Defender for Containers is on (Standard tier)"


def test_resource_plan_rows_alone_leave_the_subscription_plans_to_defender(tmp_path: Path) -> None:
    """Resource Graph held only a cluster's own pricing row for the subscription: it was taken as the
    subscription's plans, Defender was never asked, and every plan but that one was unknown."""
    inventory = _with_plans("Free", (AKS, "Standard", "False"))
    finding = _containers_verdict(inventory, tmp_path, graph_resource_pricings_only=True)
    assert finding.status.value == "fail" and finding.message == "Defender for Containers is off (Free tier)"


# `resourcesCoverageStatus` (2024-01-01, Pricing properties): "available for subscription-level only ... since
# the plan status can also be defined at the resource level, there might be misalignment between the
# subscription's plan status and the resource status": `FullyCovered`, `PartiallyCovered`, `NotCovered`.


@pytest.mark.parametrize("source", ["graph", "defender"])
@pytest.mark.parametrize(
    ("coverage", "verdict", "message"),
    [
        ("FullyCovered", "pass", "Defender for Containers is on (Standard tier)"),
        (
            "PartiallyCovered",
            "fail",
            "Defender for Containers is on (Standard tier) but Defender reports only some of the subscription's "
            "resources covered (resourcesCoverageStatus PartiallyCovered)",
        ),
        (
            "NotCovered",
            "fail",
            "Defender for Containers is on (Standard tier) but Defender reports none of the subscription's "
            "resources covered (resourcesCoverageStatus NotCovered)",
        ),
    ],
    ids=["full", "partial", "none"],
)
def test_a_standard_plan_that_covers_only_some_resources_fails(
    tmp_path: Path, source: str, coverage: str, verdict: str, message: str
) -> None:
    """The subscription's plan is Standard, but its own row says resources were opted out (the Defender
    reply names none of them): it passed as if every cluster and registry were protected."""
    inventory = _with_plans("Standard", coverage=coverage)
    with AzureFake(inventory, quota=100, window=1.0) as server:
        server.pricings_in_graph = source == "graph"
        collected = collect(options(server, tmp_path))
        assert server.counts["arm:pricings"] == (0 if source == "graph" else 2)
    assert not _gaps(collected)
    finding = _findings(collected, "MLW-DEF-01")[CONTAINERS_B]
    assert (finding.status.value, finding.message) == (verdict, message)
    assert {e.path: e.value for e in finding.evidence}["pricings/Containers.properties.resourcesCoverageStatus"] == (
        coverage
    )


# -- Defender not registered on a subscription --------------------------------------------------------
# ARM answers a read under a resource provider the subscription never registered with `MissingSubscription
# Registration` ("The subscription is not registered to use namespace 'Microsoft.Security'", Learn: azure-
# resource-manager/troubleshooting/error-register-resource-provider), 409 on most routes and 404 on some reads.


@pytest.mark.parametrize("status", [404, 409])
def test_defender_not_registered_is_a_plans_gap_and_never_registered(
    fake: AzureFake, tmp_path: Path, status: int
) -> None:
    fake.pricings_in_graph = False
    fake.faults.unregistered = {"pricings"}
    fake.faults.unregistered_status = status
    inventory = collect(options(fake, tmp_path))
    reasons = {(source, reason) for source, _, reason in _gaps(inventory)}
    assert reasons == {(sources.DEFENDER_PLANS, f"HTTP {status} MissingSubscriptionRegistration")}
    assert len(_gaps(inventory)) == 2  # one per subscription, nothing else
    assert not [path for _, _, path in fake.requests if path.lower().endswith("/register")]  # a write, never sent
    plans = {f"MLW-DEF-0{n}" for n in range(1, 7)}  # the plan checks: never judged on plans not read
    assert {f.status.value for f in _findings(inventory, "MLW-DEF-0").values() if f.check_id in plans} <= {
        "unknown",
        "not_applicable",
    }


# -- Key Vault: one vault refused ---------------------------------------------------------------------
# Key Vault's 403 (Learn: key-vault/general/rest-error-codes; troubleshooting network and RBAC access) is
# `{"error": {"code": "Forbidden", "message": ..., "innererror": {"code": "ForbiddenByFirewall" | ...}}}`;
# the firewall's message names the client address and the caller's appid and oid on lines of their own.


def _two_vaults() -> Inventory:
    """The sample and a second vault, kv-other, with one key of its own."""
    inventory = sample_inventory()
    first = next(r for r in inventory.resources if r.type_key == "microsoft.keyvault/vaults")
    other_id = first.id.rsplit("/", 1)[0] + "/kv-other"
    properties = {**(first.properties or {}), "vaultUri": "https://kv-other.vault.azure.net/"}
    other = Resource.model_validate({**first.raw(), "id": other_id, "name": "kv-other", "properties": properties})
    key = inventory.keys[0].model_copy(
        update={
            "vault_id": other_id,
            "vault_uri": "https://kv-other.vault.azure.net/",
            "kid": f"https://kv-other.vault.azure.net/keys/{inventory.keys[0].name}",
        }
    )
    return Inventory(
        header=inventory.header,
        resources=[*inventory.resources, other],
        keys=[*inventory.keys, key],
        app_settings=inventory.app_settings,
    )


@pytest.mark.parametrize(
    "code", ["ForbiddenByFirewall", "ForbiddenByConnection", "ForbiddenByPolicy", "ForbiddenByRbac"]
)
def test_one_vault_refused_is_a_gap_for_that_vault_only(tmp_path: Path, code: str) -> None:
    with AzureFake(_two_vaults(), quota=100, window=1.0) as server:
        server.faults.forbidden_vaults = {"kv-claims"}
        server.wire.kv_vault_refusal = code
        inventory = collect(options(server, tmp_path))
    gaps = _gaps(inventory)
    assert len(gaps) == 1
    ((source, scope, reason),) = gaps
    assert source == sources.KEY_METADATA and scope.endswith("/vaults/kv-claims/keys")
    unread = "ARM's key listing has no key type or rotation policy"
    assert reason == f"vault kv-claims: data plane HTTP 403 Forbidden/{code}; {unread}"
    assert "203.0.113.7" not in reason and "appid" not in reason  # the caller and its address stay out
    by_vault = {(k.vault_id.rsplit("/", 1)[-1], k.source) for k in inventory.keys}
    assert by_vault == {("kv-claims", "arm"), ("kv-other", "data-plane")}
    other = {k: f.status.value for k, f in _findings(inventory, "MLW-KV-08").items() if k[1].endswith("kv-other")}
    assert set(other.values()) == {"pass"}  # its key rotates: judged, not unknown


def test_a_vault_whose_name_does_not_resolve_is_read_from_arm_with_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    """A private vault seen from outside its network: its host name has no address (NXDOMAIN)."""
    inventory = collect(options(fake, tmp_path, keyvault_url_template="https://{name}.vault.nonexistent.invalid"))
    assert _gaps(inventory) == {
        (
            sources.KEY_METADATA,
            next(k.vault_id for k in inventory.keys).lower() + "/keys",
            "vault kv-claims: data plane unreachable: host name not found (DNS); "
            "ARM's key listing has no key type or rotation policy",
        )
    }
    assert {k.source for k in inventory.keys} == {"arm"} and fake.counts["arm:vault-keys"] == 1


# -- Key Vault: challenge spellings -----------------------------------------------------------------------
# azure-keyvault-keys' HttpChallenge reads `authorization` or `authorization_uri` and `resource` or `scope`,
# and the tenant as the first path segment of the authorization URL (Key Vault's claims challenge writes
# `{authority}/{tenant}/oauth2/authorize`, and some of its replies a leading `realm=""`).


@pytest.mark.parametrize("style", ["uri-resource", "authorization-scope", "authorize-path", "realm"])
def test_key_vault_challenge_spellings_read_the_same_keys(fake: AzureFake, tmp_path: Path, style: str) -> None:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as plain:
        wanted = sorted(k.model_dump_json() for k in collect(options(plain, tmp_path)).keys)
    fake.wire.kv_challenge = style
    inventory = collect(options(fake, tmp_path))
    assert not _gaps(inventory)
    assert sorted(k.model_dump_json() for k in inventory.keys) == wanted
    assert "https://vault.azure.net/.default" in fake.token_scopes


# -- Key Vault: rotation policy shapes ---------------------------------------------------------------------
# Key Rotation Policy (Learn: key-vault/keys/how-to-configure-key-rotation; REST Get Key Rotation Policy):
# `lifetimeActions[].trigger` is `timeAfterCreate` or `timeBeforeExpiry`, ISO 8601 durations (`P90D`, `P3M`,
# `P1Y`, hours as `PT720H`); `action.type` is `Rotate` or `Notify` (case-insensitive); `attributes.expiryTime`
# is optional.

POLICIES: dict[str, tuple[dict[str, Any], str]] = {
    "rotate-lower-months": (
        {
            "id": "https://kv-claims.vault.azure.net/keys/k/rotationpolicy",
            "lifetimeActions": [{"trigger": {"timeAfterCreate": "P3M"}, "action": {"type": "rotate"}}],
            "attributes": {"expiryTime": "P1Y", "created": 1700000000, "updated": 1700000000},
        },
        "pass",
    ),
    "rotate-before-expiry-hours": (
        {
            "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "PT720H"}, "action": {"type": "Rotate"}}],
            "attributes": {"expiryTime": "P90D"},
        },
        "pass",
    ),
    "rotate-without-attributes": (
        {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P18M"}, "action": {"type": "ROTATE"}}]},
        "pass",
    ),
    "notify-only": (
        {
            "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}}],
            "attributes": {"expiryTime": "P2Y"},
        },
        "fail",
    ),
    "no-actions": ({"id": "x", "lifetimeActions": None, "attributes": {}}, "fail"),
    # no trigger: nothing ever starts the rotation (the SDK then hands over the action's model, not its type)
    "rotate-without-trigger": ({"lifetimeActions": [{"action": {"type": "rotate"}}]}, "fail"),
}


@pytest.mark.parametrize("shape", sorted(POLICIES))
def test_rotation_policy_shapes_give_the_verdict_they_mean(fake: AzureFake, tmp_path: Path, shape: str) -> None:
    body, verdict = POLICIES[shape]
    fake.wire.kv_policy_body = body
    inventory = collect(options(fake, tmp_path))
    assert not _gaps(inventory)
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    statuses = {f.status.value for f in findings if f.check_id == "MLW-KV-08" and f.detail_key}
    assert statuses == {verdict}
    kept = {a.action for k in inventory.keys if k.rotation_policy for a in k.rotation_policy.lifetime_actions}
    assert kept <= {"Rotate", "Notify"}, kept  # the action's name, never the text of an SDK object


# -- Token endpoint: Entra ID's error replies ---------------------------------------------------------------
# Microsoft identity platform error responses (Learn: entra/identity-platform/reference-error-codes):
# `{"error", "error_description": "AADSTSnnnn: ...\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...",
# "error_codes": [n], "timestamp", "trace_id", "correlation_id", "error_uri"}`; `invalid_client` comes as 401
# (RFC 6749 5.2), and a throttled client gets 429 with `Retry-After`.

TRACE = (
    "\r\nTrace ID: 0000aaaa-1111-2222-3333-444455556666\r\nCorrelation ID: 7777bbbb-8888-9999-aaaa-bbbbccccdddd"
    "\r\nTimestamp: 2026-11-28 23:40:00Z"
)


def _entra_error(error: str, number: int, text: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{number}: {text}{TRACE}",
        "error_codes": [number],
        "timestamp": "2026-11-28 23:40:00Z",
        "trace_id": "0000aaaa-1111-2222-3333-444455556666",
        "correlation_id": "7777bbbb-8888-9999-aaaa-bbbbccccdddd",
        "error_uri": f"https://login.microsoftonline.com/error?code={number}",
    }


REFUSALS = {
    "secret-7000215": (
        "secret",
        401,
        _entra_error("invalid_client", 7000215, "Invalid client secret provided."),
        "EnvironmentCredential: Entra ID refused it (AADSTS7000215: invalid client secret)",
    ),
    "workload-700213": (
        "workload",
        400,
        _entra_error("invalid_client", 700213, "No matching federated identity record found for presented assertion."),
        "WorkloadIdentityCredential: Entra ID refused it "
        "(AADSTS700213: no federated identity credential matches the token's subject)",
    ),
    "workload-700024": (
        "workload",
        400,
        _entra_error("invalid_client", 700024, "Client assertion is not within its valid time range."),
        "WorkloadIdentityCredential: Entra ID refused it (AADSTS700024: client assertion outside its valid time range)",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_entra_error_replies_are_one_line_naming_the_code(fake: AzureFake, tmp_path: Path, case: str) -> None:
    from tests.test_live_signin import SECRET, _args, _env, _error_line, _run

    kind, status, error, said = REFUSALS[case]
    fake.faults.token_replies = [(status, error, {})]
    line = _error_line(_run(_env(tmp_path, kind), *_args(fake, tmp_path)))
    assert said in line
    assert "Trace ID" not in line and "\r" not in line and SECRET not in line
    assert fake.counts["token"] == 1  # a refusal is not asked again


@pytest.mark.parametrize("kind", ["secret", "workload"])
def test_a_throttled_token_request_is_asked_again_after_retry_after(fake: AzureFake, tmp_path: Path, kind: str) -> None:
    from tests.test_live_signin import _args, _env, _run

    throttled = _entra_error("temporarily_unavailable", 50196, "The server terminated an operation.")
    fake.faults.token_replies = [(429, throttled, {"Retry-After": "1"})]
    result = _run(_env(tmp_path, kind), *_args(fake, tmp_path))
    assert result.exit_code == 0, result.output
    assert fake.counts["token"] == 2


# -- Defender assessments when Resource Graph will not run the `securityresources` query ---------------------
# Assessments - List (2021-06-01, azure-rest-api-specs .../stable/2021-06-01/examples/Assessments/
# ListAssessments_example.json): `GET /subscriptions/{s}/providers/Microsoft.Security/assessments`, paged by
# `nextLink`; items `{id, name, type, properties: {resourceDetails, displayName, status: {code, cause,
# description}, additionalData}}` with no `metadata` unless expanded; the example writes `resourceDetails`
# keys as `source`/`id`, the live service as `Source`/`Id`.


def _assessed() -> Inventory:
    """The sample with three more assessments in SUB_A: Healthy, NotApplicable (with its cause) and an
    Unhealthy one without metadata, each on another resource."""
    inventory = sample_inventory()
    by_type = {r.type_key: r for r in inventory.resources}
    statuses = [
        ("microsoft.keyvault/vaults", {"code": "Healthy"}, {"severity": "Medium"}),
        (
            "microsoft.storage/storageaccounts",
            {
                "code": "NotApplicable",
                "cause": "OffByPolicy",
                "description": "The effective policy was evaluated to off",
            },
            {"severity": "Low"},
        ),
        ("microsoft.machinelearningservices/workspaces", {"code": "Unhealthy", "cause": "", "description": ""}, None),
    ]
    rows = list(inventory.resources)
    for number, (type_key, status, metadata) in enumerate(statuses):
        target = by_type[type_key]
        name = f"00000000-0000-4000-8000-00000000a5{number:02d}"
        properties: dict[str, Any] = {
            "displayName": f"assessment {number}",
            "status": status,
            "resourceDetails": {"Source": "Azure", "Id": target.id},
        }
        if metadata:
            properties["metadata"] = metadata
        rows.append(
            Resource.model_validate(
                {
                    "id": f"{target.id}/providers/Microsoft.Security/assessments/{name}",
                    "name": name,
                    "type": "microsoft.security/assessments",
                    "subscriptionId": target.subscription_id,
                    "resourceGroup": target.resource_group,
                    "properties": properties,
                }
            )
        )
    return Inventory(header=inventory.header, resources=rows, keys=inventory.keys, app_settings=inventory.app_settings)


def _assessment_verdicts(inventory: Inventory) -> dict[str, tuple[str, str]]:
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    return {f.resource_id.lower(): (f.status.value, f.message) for f in findings if f.check_id == "MLW-DEF-08"}


@pytest.mark.parametrize("details", ["pascal", "lower"])
def test_assessments_are_read_from_defender_when_the_security_table_is_refused(tmp_path: Path, details: str) -> None:
    """Every subscription's assessments were a gap (exit 3) wherever Resource Graph had no `securityresources`."""
    with AzureFake(_assessed(), quota=100, window=1.0) as plain:
        wanted = _assessment_verdicts(collect(options(plain, tmp_path)))
    assert sorted(v[0] for v in wanted.values()) == ["fail", "fail", "not_applicable", "pass"]
    with AzureFake(_assessed(), quota=100, window=1.0) as server:
        server.faults.graph_table_refused = {"securityresources": 400}
        server.wire.arm_page_size = 1  # one assessment a page, chained by nextLink
        server.wire.assessment_details_lower = details == "lower"
        inventory = collect(options(server, tmp_path))
        assert server.counts["arm:assessments"] == 4 + 1  # SUB_A's four pages, SUB_B's one
    assert not _gaps(inventory)
    assert _assessment_verdicts(inventory) == wanted


def test_assessments_neither_table_nor_list_serves_are_a_gap_naming_both(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.graph_table_refused = {"securityresources": 400}
    fake.faults.arm_routes_refused = {"assessments"}
    inventory = collect(options(fake, tmp_path))
    reason = (
        "Resource Graph securityresources query failed: HTTP 400 BadRequest; "
        "Defender's assessments list: HTTP 404 NoRoute"
    )
    assert _gaps(inventory) == {
        (sources.DEFENDER_ASSESSMENTS, f"/subscriptions/{sub}".lower(), reason) for sub in (SUB_A, SUB_B)
    }
