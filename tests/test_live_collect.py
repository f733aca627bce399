"""Live collection through the real SDK clients against the local HTTPS Azure fake."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from frameworks.catalog import load_all
from scanner import inventory as sources
from scanner.azure import queries
from scanner.azure.collect import collect
from scanner.engine import scan
from scanner.errors import InputError
from scanner.estate import Estate
from scanner.inventory import Inventory
from scanner.models import Gap
from scanner.registry import TAGS, load_checks
from scanner.runner import run_checks
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.sample import STAGING_SLOT, SUB_A, SUB_B, sample_inventory, with_staging_slot


def _demo() -> Inventory:
    try:
        from scanner.snapshot import read_demo

        return read_demo()
    except InputError:
        pytest.skip("the bundled demo estate (scanner/data/demo-estate.jsonl) is not there yet")


def _sample_with_gaps() -> Inventory:
    """The sample as an auditor would see it from a Reader with a few refusals."""
    inventory = sample_inventory()
    vault = next(r.id for r in inventory.resources if r.type_key == "microsoft.keyvault/vaults")
    workspace = next(r.id for r in inventory.resources if r.type_key == "microsoft.machinelearningservices/workspaces")
    gaps = {
        sources.KEY_METADATA: Gap(source=sources.KEY_METADATA, scope=vault, reason="HTTP 403"),
        sources.ML_COMPUTES: Gap(source=sources.ML_COMPUTES, scope=workspace, reason="HTTP 403"),
    }
    inventory.resources[:] = [r for r in inventory.resources if not r.type_key.endswith("/computes")]
    inventory.keys.clear()
    coverage = tuple(
        c.model_copy(update={"gaps": (gaps[c.name],)}) if c.name in gaps else c for c in inventory.header.sources
    )
    inventory.header = inventory.header.model_copy(update={"sources": coverage})
    return inventory


def _sample_with_slot() -> Inventory:
    return with_staging_slot(sample_inventory())


def _collected(inventory: Inventory) -> set[str]:
    return {c.name for c in inventory.header.sources if c.collected}


def controls_and_postures(inventory: Inventory) -> tuple[object, object]:
    """Control results of every built-in framework, and each deployment's pillar verdicts."""
    checks = load_checks(plugins=False)
    frameworks = list(load_all(check_ids=set(checks), tags=TAGS).values())
    result = scan(inventory, origin="snapshot", checks=checks, frameworks=frameworks)
    controls = sorted((fw.id, c.control_id, c.status, len(c.failing)) for fw in result.frameworks for c in fw.controls)
    postures = sorted((p.deployment_id.lower(), v.pillar, v.status) for p in result.postures for v in p.pillars)
    return controls, postures


def findings(inventory: Inventory) -> set[tuple[str, str, str, str | None]]:
    result = run_checks(Estate(inventory), load_checks(plugins=False))
    return {(f.check_id, f.resource_id.lower(), f.status.value, f.detail_key) for f in result}


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=4, window=1.0) as server:
        yield server


@pytest.mark.parametrize(
    "source", [sample_inventory, _sample_with_gaps, _sample_with_slot, _demo], ids=["sample", "gaps", "slot", "demo"]
)
def test_collected_estate_scans_to_the_same_findings(source: Callable[[], Inventory], tmp_path: Path) -> None:
    original = source()
    read = _collected(original)
    opted = {
        "app_settings": sources.APP_SETTINGS in read,
        "diagnostics": sources.DIAGNOSTIC_SETTINGS in read,
        "keyvault": sources.KEY_METADATA in read,
    }
    with AzureFake(original, quota=15, window=1.0) as server:
        collected = collect(options(server, tmp_path, **opted))
        assert server.over_quota == 0 and server.counts["unknown"] == 0
    wanted_gaps = {(g.source, g.scope.lower()) for c in original.header.sources for g in c.gaps}
    got_gaps = {(g.source, g.scope.lower()) for c in collected.header.sources for g in c.gaps}
    assert got_gaps == wanted_gaps
    assert findings(collected) == findings(original)
    assert controls_and_postures(collected) == controls_and_postures(original)
    wanted = {(f.resource_id.lower(), s) for f in original.app_settings for s in f.settings}
    assert {(f.resource_id.lower(), s) for f in collected.app_settings for s in f.settings} == wanted
    assert {k.kid.lower() for k in collected.keys} == {k.kid.lower() for k in original.keys}


def test_sends_the_documented_queries_paged_at_1000(fake: AzureFake, tmp_path: Path) -> None:
    collect(options(fake, tmp_path))
    sent = [body["query"] for body in fake.graph_bodies]
    assert sent == [queries.SUBSCRIPTIONS, queries.resources(), queries.SITE_CONFIG, queries.SECURITY]
    assert all(body["options"]["$top"] == 1000 for body in fake.graph_bodies)
    assert fake.graph_bodies[0].get("subscriptions") is None  # default scope: the whole tenant
    assert sorted(fake.graph_bodies[1]["subscriptions"]) == sorted([SUB_A, SUB_B])
    assert fake.counts["unknown"] == 0 and fake.counts["unauthorized"] == 0


def test_request_count_is_the_minimum_for_the_sample(fake: AzureFake, tmp_path: Path) -> None:
    inventory = collect(options(fake, tmp_path))
    # 4 queries; 2 contact lists (plans came from Resource Graph); per workspace 1 compute list; per site
    # 1 publishing list + 2 setting lists; 8 diagnostic lists; Key Vault 1 list + 3 keys x (get + policy).
    assert fake.counts["graph"] == 4
    assert fake.counts["arm:pricings"] == 0
    assert fake.counts["arm:config"] == 0
    assert fake.counts["arm:computes"] == 1 and fake.counts["arm:publishing"] == 2
    assert fake.counts["kv:list"] == 1 and fake.counts["kv:get"] == 3 and fake.counts["kv:policy"] == 3
    assert fake.counts["arm:secrets"] == 1 and fake.counts["arm:tokens"] == 1
    assert fake.counts["arm:authsettings"] == 2
    assert fake.counts["arm:containers"] == 1  # the workspace's storage account only
    # + per site 1 authsettingsV2, per vault 1 secret list, per registry 1 token list, 1 Key Vault challenge,
    # per storage account an ML resource uses 1 container list, per site 1 GET (its authsettingsV2 answered
    # 404: the site's own GET tells "none" from "deleted since Resource Graph listed it")
    assert fake.counts["arm:resource"] == 2
    assert fake.total_requests == 4 + 2 + 1 + 2 + 4 + 8 + 2 + 1 + 1 + 1 + 1 + 6 + 1 + 2
    assert all(coverage.collected and not coverage.gaps for coverage in inventory.header.sources)


def test_page_boundaries_lose_no_rows(tmp_path: Path) -> None:
    with AzureFake(sample_inventory(), quota=50, window=1.0, page_cap=3) as server:
        inventory = collect(options(server, tmp_path))
        pages = server.counts["graph:resources"]
    assert pages == 4  # 10 resource rows at 3 a page
    assert len({r.id_key for r in inventory.resources}) == len(inventory.resources)
    assert findings(inventory) == findings(sample_inventory())


def test_falls_back_to_arm_for_config_and_plans(fake: AzureFake, tmp_path: Path) -> None:
    fake.appservice_config_in_graph = False
    fake.pricings_in_graph = False
    inventory = collect(options(fake, tmp_path))
    assert fake.counts["arm:config"] == 2 and fake.counts["arm:pricings"] == 2
    assert findings(inventory) == findings(sample_inventory())


def _verdicts(inventory: Inventory, check_id: str) -> dict[str | None, str]:
    return {key: status for check, _, status, key in findings(inventory) if check == check_id}


@pytest.mark.parametrize("refusal", ["forbidden", "unreachable"])
def test_vault_data_plane_refused_falls_back_to_arm_without_inventing(
    fake: AzureFake, tmp_path: Path, refusal: str
) -> None:
    if refusal == "forbidden":
        fake.faults.forbidden_vaults = {"kv-claims"}
        opts = options(fake, tmp_path)
    else:  # nothing listens on port 9: the vault is private or firewalled
        opts = options(fake, tmp_path, keyvault_url_template="https://localhost:9/kv/{name}")
    inventory = collect(opts)
    assert fake.counts["arm:vault-keys"] == 1
    assert {k.source for k in inventory.keys} == {"arm"}
    by_name = {k.name: k for k in inventory.keys}
    original = {k.name: k for k in sample_inventory().keys}
    for name, key in by_name.items():
        # What ARM's listing documents (attributes, keyUri) is kept...
        assert (key.enabled, key.expires, key.created) == (
            original[name].enabled,
            original[name].expires,
            original[name].created,
        )
        assert key.kid == original[name].kid  # keyUri's ":443" does not break CMK matching
        # ...and nothing it does not carry is invented.
        assert key.rotation_policy is None and key.rotation_policy_readable is False
        assert key.key_type is None and key.key_size is None
        assert key.unread_reason is not None and key.unread_reason.startswith("vault kv-claims: data plane ")
    vault = next(r for r in inventory.resources if r.name == "kv-claims")
    [gap] = {c.name: c for c in inventory.header.sources}[sources.KEY_METADATA].gaps
    assert gap.scope == f"{vault.id}/keys" and "kv-claims" in gap.reason
    assert ("403" if refusal == "forbidden" else "unreachable") in gap.reason
    assert "rotation policy" in gap.reason and "key type" in gap.reason
    # Rotation and HSM backing become unknown, never pass or fail; expiry (in the attributes) is still judged.
    rotation = _verdicts(inventory, "MLW-KV-08")
    assert rotation == {"cmk-storage": "unknown", "legacy-wrap": "unknown", "signing": "unknown"}
    assert _verdicts(inventory, "MLW-KV-11")["cmk-storage"] == "unknown"
    assert _verdicts(inventory, "MLW-KV-07") == _verdicts(sample_inventory(), "MLW-KV-07")
    message = next(
        f.message for f in run_checks(Estate(inventory), load_checks(plugins=False)) if f.check_id == "MLW-KV-08"
    )
    assert "vault kv-claims" in message


def test_arm_key_fields_are_used_when_arm_returns_them(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_vaults = {"kv-claims"}
    fake.arm_key_fields = True  # the spec's model allows kty, keySize, rotationPolicy
    inventory = collect(options(fake, tmp_path))
    by_name = {k.name: k for k in inventory.keys}
    assert by_name["cmk-storage"].key_size == 3072 and by_name["cmk-storage"].unread_reason is None
    assert by_name["cmk-storage"].rotation_policy is not None
    assert by_name["cmk-storage"].rotation_policy.lifetime_actions[0].action == "Rotate"
    # legacy-wrap's policy is not readable anywhere: still unknown, still a gap naming the vault.
    assert by_name["legacy-wrap"].rotation_policy_readable is False
    # signing has no policy at all, but ARM's silence cannot tell "none" from "not returned": unknown.
    assert _verdicts(inventory, "MLW-KV-08") == {"cmk-storage": "pass", "legacy-wrap": "unknown", "signing": "unknown"}
    [gap] = {c.name: c for c in inventory.header.sources}[sources.KEY_METADATA].gaps
    assert "kv-claims" in gap.reason and "rotation policy" in gap.reason and "key type" not in gap.reason


def test_vault_unreadable_everywhere_is_a_scoped_gap(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_vaults = {"kv-claims"}
    fake.faults.forbidden_vaults_arm = {"kv-claims"}
    inventory = collect(options(fake, tmp_path))
    coverage = {c.name: c for c in inventory.header.sources}[sources.KEY_METADATA]
    assert [g.scope for g in coverage.gaps] == [next(r.id for r in inventory.resources if r.name == "kv-claims")]
    assert "403" in coverage.gaps[0].reason


def test_opt_in_sources_are_not_read_by_default(fake: AzureFake, tmp_path: Path) -> None:
    inventory = collect(options(fake, tmp_path, app_settings=False, diagnostics=False, keyvault=False))
    names = {c.name for c in inventory.header.sources}
    assert sources.APP_SETTINGS not in names and sources.DIAGNOSTIC_SETTINGS not in names
    assert sources.KEY_METADATA not in names
    assert fake.counts["arm:appsettings"] == fake.counts["arm:diagnostics"] == fake.counts["kv:list"] == 0


def test_scope_filters_reach_the_query(fake: AzureFake, tmp_path: Path) -> None:
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_B,), resource_groups=("rg-web",)))
    assert fake.graph_bodies[0]["subscriptions"] == [SUB_B]
    assert "where resourceGroup in~ ('rg-web')" in fake.graph_bodies[1]["query"]
    kinds = {r.type_key for r in inventory.resources if r.type_key in queries.RESOURCE_TYPES}
    assert kinds == {"microsoft.web/sites"}
    assert inventory.header.scope.subscriptions == (SUB_B,)


def test_subscriptions_are_batched_at_1000(fake: AzureFake, tmp_path: Path) -> None:
    from scanner.azure.progress import Progress
    from scanner.azure.resource_graph import ResourceGraph
    from scanner.azure.throttle import Quota

    opts = options(fake, tmp_path)
    many = [SUB_A, *(f"{n:08d}-0000-4000-8000-000000000000" for n in range(1000))]
    graph = ResourceGraph(opts, opts.credential, Progress(quiet=True), Quota())
    rows, gaps = graph.query(queries.resources(), sources=("resources",), subscriptions=many)
    graph.close()
    assert [len(body["subscriptions"]) for body in fake.graph_bodies] == [1000, 1]
    assert len(rows) == 7 and not gaps  # SUB_A's resources, found in the first batch


def test_management_group_scope_allows_partial_scopes(fake: AzureFake, tmp_path: Path) -> None:
    inventory = collect(options(fake, tmp_path, management_groups=("mg-health",)))
    first = fake.graph_bodies[0]
    assert first["managementGroups"] == ["mg-health"] and first["options"]["allowPartialScopes"] is True
    assert sorted(fake.graph_bodies[1]["subscriptions"]) == sorted([SUB_A, SUB_B])
    assert inventory.header.scope.management_groups == ("mg-health",)


def test_token_scopes_follow_the_cloud_and_overrides(fake: AzureFake, tmp_path: Path) -> None:
    collect(options(fake, tmp_path, credential_scope="https://management.core.windows.net//.default"))
    assert set(fake.token_scopes) == {
        "https://management.core.windows.net//.default",
        "https://vault.azure.net/.default",
    }


def test_sovereign_cloud_endpoints() -> None:
    from scanner.azure.options import CollectOptions

    gov = CollectOptions(cloud="usgov")
    assert gov.arm_url == "https://management.usgovcloudapi.net"
    assert gov.scope == "https://management.usgovcloudapi.net/.default"
    assert not gov.overridden
    assert CollectOptions(cloud="china", arm_endpoint="https://arm.stack.local/").arm_url == "https://arm.stack.local"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_a_terminal_and_never_when_quiet(fake: AzureFake, tmp_path: Path) -> None:
    from scanner.azure.progress import Progress

    terminal = _Terminal()  # a terminal stream: the live display, events printed above it
    fake.faults.forbidden_subscription = SUB_B
    collect(options(fake, tmp_path), Progress(terminal))
    text = terminal.getvalue()
    assert "resources" in text and "ARM reads" in text
    assert f"mlwarden: subscription {SUB_A} done" in text
    assert f"mlwarden: coverage gap in resources at /subscriptions/{SUB_B}" in text
    assert "mlwarden: collected " in text
    quiet = _Terminal()
    collect(options(fake, tmp_path), Progress(quiet, quiet=True))
    assert quiet.getvalue() == ""


def test_child_metadata_lets_token_and_secret_checks_judge(fake: AzureFake, tmp_path: Path) -> None:
    inventory = collect(options(fake, tmp_path))
    children = {r.type_key for r in inventory.resources}
    assert {"microsoft.keyvault/vaults/secrets", "microsoft.containerregistry/registries/tokens"} <= children
    secret = next(r for r in inventory.resources if r.type_key == "microsoft.keyvault/vaults/secrets")
    assert "value" not in {k.lower() for k in secret.properties}
    judged = {(check, status) for check, resource, status, _ in findings(inventory) if resource.endswith("/acrclaims")}
    assert not any(status == "unknown" for _, status in judged)


def test_unreadable_rotation_policy_is_recorded_not_guessed(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.policy_refused = {"legacy-wrap"}
    inventory = collect(options(fake, tmp_path))
    legacy = next(k for k in inventory.keys if k.name == "legacy-wrap")
    assert legacy.rotation_policy is None and legacy.rotation_policy_readable is False
    assert legacy.key_type == "RSA" and legacy.key_size == 2048
    [gap] = {c.name: c for c in inventory.header.sources}[sources.KEY_METADATA].gaps
    assert gap.scope.endswith("/kv-claims/keys") and "legacy-wrap" in gap.reason


def test_query_drift_is_a_400_and_a_source_error(fake: AzureFake, tmp_path: Path) -> None:
    from scanner.azure.progress import Progress
    from scanner.azure.resource_graph import ResourceGraph
    from scanner.azure.throttle import Quota
    from scanner.errors import SourceError

    opts = options(fake, tmp_path)
    graph = ResourceGraph(opts, opts.credential, Progress(quiet=True), Quota())
    with pytest.raises(SourceError, match="HTTP 400 BadRequest"):
        graph.query("resources | summarize count() by type", sources=("resources",), subscriptions=[SUB_A])
    graph.close()


# -- deployment slots ------------------------------------------------------------------------------


def test_slots_are_collected_with_their_own_records(tmp_path: Path) -> None:
    with AzureFake(_sample_with_slot(), quota=15, window=1.0) as server:
        inventory = collect(options(server, tmp_path))
        assert server.counts["unknown"] == 0 and server.counts["arm:config"] == 0
    slot = STAGING_SLOT.lower()
    rows = {r.id_key: r for r in inventory.resources}
    assert rows[slot].type_key == "microsoft.web/sites/slots" and rows[slot].kind == "app,linux,container"
    children = {key.removeprefix(slot): row.type_key for key, row in rows.items() if key.startswith(slot + "/")}
    assert children == {
        "/config/web": "microsoft.web/sites/slots/config",  # from appserviceresources
        "/config/authsettingsv2": "microsoft.web/sites/slots/config",
        "/basicpublishingcredentialspolicies/ftp": "microsoft.web/sites/slots/basicpublishingcredentialspolicies",
        "/basicpublishingcredentialspolicies/scm": "microsoft.web/sites/slots/basicpublishingcredentialspolicies",
    }
    facts = {f.resource_id.lower(): f for f in inventory.app_settings}[slot]
    assert {(s.name, s.classification) for s in facts.settings} == {
        ("API_TOKEN", "none"),
        ("STAGING_DB_PASSWORD", "password"),
    }
    judged = {(check, status) for check, resource, status, _ in findings(inventory) if resource == slot}
    failing = {check for check, status in judged if status == "fail"}
    assert {"MLW-APP-02", "MLW-APP-05", "MLW-CFG-01", "MLW-CFG-05", "MLW-CFG-06"} <= failing
    assert ("MLW-APP-01", "pass") in judged and not any(status == "unknown" for _, status in judged)
    # A slot is part of its app's posture (it swaps into production), not a deployment row of its own.
    result = scan(inventory, origin="snapshot", checks=load_checks(plugins=False), frameworks=[])
    postures = {p.deployment_id.lower(): p for p in result.postures}
    assert slot not in postures
    app = postures[slot.rsplit("/slots/", 1)[0]]
    assert ("slot", STAGING_SLOT) in {(d.role, d.resource_id) for d in app.dependencies}
    encryption = next(v for v in app.pillars if v.pillar == "encryption")
    assert (
        "its slot app-intake/staging: App requires TLS 1.2 or later: minimum TLS version is 1.0" in encryption.reasons
    )


def _request_counts(inventory: Inventory, tmp_path: Path, **opts: bool) -> Counter[str]:
    with AzureFake(inventory, quota=15, window=1.0) as server:
        for name, value in opts.items():
            setattr(server, name, value)
        collect(options(server, tmp_path))
        assert server.counts["unknown"] == 0
        return Counter({route: n for route, n in server.counts.items() if route != "token" and n})


def test_a_slot_costs_exactly_the_per_slot_reads(tmp_path: Path) -> None:
    # Same queries (a slot is one more row of the same pages); per slot: publishing policies,
    # authsettingsV2, app settings + connection strings (opt-in) and diagnostic settings, like its site.
    extra = _request_counts(_sample_with_slot(), tmp_path) - _request_counts(sample_inventory(), tmp_path)
    per_slot = {"arm:publishing": 1, "arm:authsettings": 1, "arm:appsettings": 1, "arm:connectionstrings": 1}
    assert extra == Counter({**per_slot, "arm:diagnostics": 1})


def test_slot_config_falls_back_to_arm_like_a_sites(tmp_path: Path) -> None:
    no_graph = {"appservice_config_in_graph": False}
    extra = _request_counts(_sample_with_slot(), tmp_path, **no_graph) - _request_counts(
        sample_inventory(), tmp_path, **no_graph
    )
    assert extra["arm:config"] == 1
