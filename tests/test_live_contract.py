"""Documented Azure contracts our fake did not exercise by default: a fake written only from the REST
docs (or the real service) may serve them, and the collection must read the same estate or say what
it could not read, never crash or pass on nothing.

Each test names the contract it follows; all go through the real SDK clients over HTTPS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import inventory as sources
from scanner.azure.collect import NOT_FOUND, collect
from scanner.errors import SourceError
from scanner.inventory import Inventory
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import collected_shape, options, reference
from tests.azure_fake.sample import SUB_A, SUB_B, sample_inventory


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
        yield server


def _ids(rows: list[str], type_key: str | None = None) -> set[str]:
    parsed = [json.loads(row) for row in rows]
    return {r["id"].lower() for r in parsed if type_key is None or r["type"].lower() == type_key}


# -- subscriptions: `resourcecontainers` is not the only way to list them ------------------------------
# Subscriptions - Get / List (learn.microsoft.com/rest/api/resources/subscriptions/get, api-version
# 2022-12-01): `{id, subscriptionId, tenantId, displayName, state, subscriptionPolicies, tags}`.


@pytest.mark.parametrize("status", [400, 404])
def test_subscription_table_refused_lists_subscriptions_from_arm(fake: AzureFake, tmp_path: Path, status: int) -> None:
    """A Resource Graph that serves `resources` but not `resourcecontainers` (400 unknown table): the
    whole scan ended with "Resource Graph resourcecontainers query failed". ARM's list says the same."""
    fake.faults.graph_table_refused = {"resourcecontainers": status}
    rows, keys, facts, gaps = reference(tmp_path)
    inventory = collect(options(fake, tmp_path))
    got_rows, got_keys, got_facts, got_gaps = collected_shape(inventory)
    assert (got_keys, got_facts, got_gaps) == (keys, facts, gaps)
    assert _ids(got_rows) == _ids(rows)
    subs = [r for r in inventory.resources if r.type_key == "microsoft.resources/subscriptions"]
    assert {r.subscription_id for r in subs} == {SUB_A, SUB_B}
    assert all(r.properties and r.properties.get("state") == "Enabled" for r in subs)
    assert fake.counts["arm:subscriptions"] == 1


def test_named_subscriptions_are_confirmed_one_by_one_and_a_missing_one_is_a_gap(
    fake: AzureFake, tmp_path: Path
) -> None:
    fake.faults.graph_table_refused = {"resourcecontainers": 400}
    missing = "00000000-0000-4000-8000-00000000dead"
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_A, missing)))
    assert inventory.header.scope.subscriptions == (SUB_A,)
    gaps = {(c.name, g.scope, g.reason) for c in inventory.header.sources for g in c.gaps}
    assert (sources.RESOURCES, f"/subscriptions/{missing}", NOT_FOUND) in gaps
    assert {r.subscription_id for r in inventory.resources} == {SUB_A}
    assert fake.counts["arm:subscription"] == 2


def test_a_subscription_arm_cannot_confirm_is_still_scanned(fake: AzureFake, tmp_path: Path) -> None:
    """Neither `resourcecontainers` nor Subscriptions - Get served: the named subscription is scanned
    (the `resources` query's own refusal would make it a gap), not dropped as if it did not exist."""
    fake.faults.graph_table_refused = {"resourcecontainers": 400}
    fake.faults.arm_routes_refused = {"subscription"}
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_B,)))
    assert inventory.header.scope.subscriptions == (SUB_B,)
    assert [r for r in inventory.resources if r.subscription_id == SUB_B and "/resourcegroups/" in r.id_key]


def test_no_way_to_list_subscriptions_is_one_error(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.graph_table_refused = {"resourcecontainers": 400}
    fake.faults.arm_routes_refused = {"subscriptions"}
    with pytest.raises(SourceError, match="neither Resource Graph nor ARM listed the subscriptions"):
        collect(options(fake, tmp_path))


def _same(fake: AzureFake, tmp_path: Path) -> Inventory:
    inventory = collect(options(fake, tmp_path))
    assert collected_shape(inventory) == reference(tmp_path)
    assert fake.counts["unknown"] == 0 and fake.counts["kv:unknown"] == 0
    return inventory


# -- nextLink: the same service under another name ------------------------------------------------------
# ARM writes `nextLink` as an absolute URL on its own host (`https://management.azure.com:443/...?
# api-version=...&$skiptoken=...`, learn.microsoft.com/azure/azure-resource-manager/management/
# azure-resource-manager-rest-api, "Async / paging"); Key Vault writes it on the vault's own host
# (`https://{vault}.vault.azure.net:443/keys?api-version=...&$skiptoken=...&maxresults=...`).


@pytest.mark.parametrize("host", ["cloud", "loopback"])
def test_arm_next_link_naming_the_endpoint_another_way_is_followed_there(
    fake: AzureFake, tmp_path: Path, host: str
) -> None:
    """Behind `--arm-endpoint` (a gateway, an emulator), the service writes its links with the cloud's host
    or its loopback address: every paged list was a gap ("nextLink to another host")."""
    fake.wire.arm_page_size = 1
    fake.wire.arm_next_link = "elsewhere"
    fake.wire.arm_next_host = (
        "https://management.azure.com:443" if host == "cloud" else fake.url.replace("://localhost:", "://127.0.0.1:")
    )
    _same(fake, tmp_path)  # every item of every list, and no gap


@pytest.mark.parametrize("link", ["home", "loopback"])
def test_key_list_next_link_naming_the_vault_another_way_is_followed_there(
    fake: AzureFake, tmp_path: Path, link: str
) -> None:
    """A vault reached at another URL than its `vaultUri` (a proxy, `--keyvault-url-template`) links its
    pages with its own host: the vault fell back to ARM with a gap for every key's rotation policy."""
    fake.wire.kv_page_size = 1
    fake.wire.kv_next_link = link
    _same(fake, tmp_path)
    assert fake.counts["kv:list"] == 3 and fake.counts["arm:vault-keys"] == 0


# -- Key Vault: a key never given a rotation policy ----------------------------------------------------
# Key Vault answers `GET /keys/{name}/rotationpolicy` for such a key with its default policy, not 404
# (Azure/azure-sdk-for-js#17746: "the service will return the default rotation policy"; no `id`, one
# `Notify` action `timeBeforeExpiry: P30D`, `attributes: {}`).


def _verdicts(inventory: Inventory, prefix: str) -> dict[tuple[str, str], str]:
    from scanner.estate import Estate
    from scanner.registry import load_checks
    from scanner.runner import run_checks

    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    return {(f.check_id, f.resource_id.lower()): f.status.value for f in findings if f.check_id.startswith(prefix)}


def test_default_rotation_policy_gives_the_verdicts_of_no_policy(fake: AzureFake, tmp_path: Path) -> None:
    without = [k.name for keys in fake.estate.keys.values() for k in keys if k.rotation_policy is None]
    assert without, "the sample must hold a key without a rotation policy"
    with AzureFake(sample_inventory(), quota=100, window=1.0) as plain:
        wanted = _verdicts(collect(options(plain, tmp_path)), "MLW-KV")
    fake.wire.kv_default_policy = True
    inventory = collect(options(fake, tmp_path))
    assert not any(c.gaps for c in inventory.header.sources if c.name == sources.KEY_METADATA)
    assert all(k.rotation_policy_readable for k in inventory.keys)
    assert _verdicts(inventory, "MLW-KV") == wanted
    assert "fail" in {wanted[key] for key in wanted if key[0] == "MLW-KV-08"}


# -- Resource Graph: rows outside the subscriptions asked for -----------------------------------------
# The request's `subscriptions` bounds the query (learn.microsoft.com/rest/api/azureresourcegraph/
# resourcegraph/resources/resources: "Azure subscriptions against which to execute the query").


def test_graph_rows_of_subscriptions_not_asked_for_are_left_out(fake: AzureFake, tmp_path: Path) -> None:
    """A service that ignored the scope sent every subscription's rows: another team's resources were
    judged and reported as if they were in scope (and could fail the gate)."""
    with AzureFake(sample_inventory(), quota=100, window=1.0) as plain:
        wanted = collected_shape(collect(options(plain, tmp_path, subscriptions=(SUB_A,))))
    fake.wire.graph_unscoped = True
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_A,)))
    assert collected_shape(inventory) == wanted
    assert {r.subscription_id for r in inventory.resources} == {SUB_A}


# -- Resource Graph: paging by `$top`/`$skip` alone ------------------------------------------------------
# QueryRequestOptions (api-version 2021-03-01 and later): `$top`, `$skip` ("the number of rows to skip
# from the beginning of the results"), `$skipToken`; the reply's `resultTruncated` says rows were left out.


@pytest.mark.parametrize("signal", ["truncated", "total"])
def test_graph_without_tokens_is_paged_by_skip(fake: AzureFake, tmp_path: Path, signal: str) -> None:
    """A service that caps each page and says there is more (`resultTruncated: "true"`, or a `totalRecords`
    above the rows sent) but gives no `$skipToken`: the scan ended with "result truncated and no paging
    token". The documented `$skip` reads the rest."""
    fake.wire.graph_page_size = 2
    fake.wire.graph_skip_honoured = True
    if signal == "truncated":
        fake.wire.graph_truncate_without_token = True
    else:
        fake.wire.graph_token_key = "nextToken"  # a token under a name no client reads: only the count says more
    _same(fake, tmp_path)
    skips = [b["options"].get("$skip") for b in fake.graph_bodies if "resources |" in b["query"]]
    assert skips[:3] == [None, 2, 4] and not any(b["options"].get("$skipToken") for b in fake.graph_bodies)


# -- ARM: a child list answering 404 under a resource that exists ------------------------------------
# ARM lists an existing resource's children as `{"value": []}` when there are none (e.g. Registries -
# Tokens List, Vaults - Secrets List); 404 means the parent is gone, or the list is not served.


def test_a_child_list_not_served_is_a_gap_not_none(fake: AzureFake, tmp_path: Path) -> None:
    """The registry's tokens and the vaults' secrets answer 404 while the resources exist: read as none,
    MLW-ACR-09 passed ("no repository-scoped tokens") on a registry whose enabled token fails it."""
    with AzureFake(sample_inventory(), quota=100, window=1.0) as plain:
        wanted = _verdicts(collect(options(plain, tmp_path)), "MLW-ACR-09")
    assert wanted and set(wanted.values()) == {"fail"}
    fake.faults.arm_routes_refused = {"tokens", "secrets"}
    inventory = collect(options(fake, tmp_path))
    gaps = {(c.name, g.scope.lower()) for c in inventory.header.sources for g in c.gaps}
    registries = {r.id_key for r in inventory.resources if r.type_key == "microsoft.containerregistry/registries"}
    vaults = {r.id_key for r in inventory.resources if r.type_key == "microsoft.keyvault/vaults"}
    assert gaps == {(sources.REGISTRY_TOKENS, r) for r in registries} | {(sources.KEYVAULT_SECRETS, v) for v in vaults}
    reasons = {g.reason for c in inventory.header.sources for g in c.gaps}
    assert reasons == {"HTTP 404 NoRoute for a resource that exists (this list is not served here)"}
    assert set(_verdicts(inventory, "MLW-ACR-09").values()) == {"unknown"}


# -- api-versions: a service that serves only the newest ---------------------------------------------
# azure-mgmt-resourcegraph 8.0.1 sends 2021-03-01; the REST reference documents 2024-04-01 (same body
# and reply). ARM refuses an api-version it does not serve with 400 `InvalidApiVersionParameter`,
# "The supported versions are '...'".


def test_graph_served_only_at_the_newest_api_version(fake: AzureFake, tmp_path: Path) -> None:
    """Every query was refused: the scan ended at the first one ("resourcecontainers query failed")."""
    fake.wire.graph_api_version = "2024-04-01"
    _same(fake, tmp_path)
    assert fake.graph_versions[0] == "2021-03-01" and set(fake.graph_versions[1:]) == {"2024-04-01"}


def test_defender_plans_served_only_at_another_api_version(fake: AzureFake, tmp_path: Path) -> None:
    """azure-mgmt-security asks for pricings at 2024-01-01; a service serving only 2023-01-01 refused it,
    and every subscription's Defender plans were a gap."""
    fake.pricings_in_graph = False
    with AzureFake(sample_inventory(), quota=100, window=1.0) as plain:
        plain.pricings_in_graph = False
        wanted = collected_shape(collect(options(plain, tmp_path)))
    fake.wire.arm_api_versions = {"pricings": "2023-01-01"}
    assert collected_shape(collect(options(fake, tmp_path))) == wanted
    assert fake.counts["arm:pricings"] == 2 * 2  # each subscription: refused once, then read


# -- Resource Graph: a KQL without the operators the queries use ----------------------------------------
# A table name alone is a complete query (learn.microsoft.com/azure/governance/resource-graph/concepts/
# query-language: "Resources" returns every column of every row in scope); paging needs only `id`.


def _ids_and_verdicts(inventory: Inventory) -> tuple[set[str], dict[tuple[str, str], str]]:
    return {r.id_key for r in inventory.resources}, _verdicts(inventory, "MLW-")


@pytest.mark.parametrize("groups", [(), ("rg-ml",)], ids=["all", "one-group"])
def test_queries_refused_as_bad_requests_are_asked_again_as_whole_tables(
    fake: AzureFake, tmp_path: Path, groups: tuple[str, ...]
) -> None:
    """Every query was refused (`in~`, `=~`, `endswith` unknown there): the scan ended at the first one."""
    with AzureFake(sample_inventory(), quota=100, window=1.0) as plain:
        wanted = _ids_and_verdicts(collect(options(plain, tmp_path, resource_groups=groups)))
    fake.wire.graph_where_refused = True
    inventory = collect(options(fake, tmp_path, resource_groups=groups))
    assert _ids_and_verdicts(inventory) == wanted
    assert not any(c.gaps for c in inventory.header.sources)
    whole = [b["query"] for b in fake.graph_bodies if "|" not in b["query"]]
    assert sorted(set(whole)) == ["appserviceresources", "resourcecontainers", "resources", "securityresources"]
    if groups:  # nothing outside the group was read again, listed or asked for its settings
        others = [p for _, _, p in fake.requests if "/resourcegroups/" in p.lower() and "/rg-ml/" not in p.lower()]
        assert others == []
