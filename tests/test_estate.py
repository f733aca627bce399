"""Estate relations: every lookup checks and the posture need, on realistic ids."""

from __future__ import annotations

import random
import re
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from scanner import estate as estate_module
from scanner import props
from scanner.estate import Estate, parent_id, vault_host, versionless_key_id
from scanner.models import Gap
from tests import estate_index
from tests.helpers import SUB, estate, resource, rid

WS = rid("Microsoft.MachineLearningServices/workspaces", "mlw-prod")
KV = rid("Microsoft.KeyVault/vaults", "kv-prod")
ST = rid("Microsoft.Storage/storageAccounts", "stprod")
ACR = rid("Microsoft.ContainerRegistry/registries", "acrprod")
AKS = rid("Microsoft.ContainerService/managedClusters", "aks-prod")


def _estate() -> Estate:
    workspace = resource(
        "Microsoft.MachineLearningServices/workspaces",
        "mlw-prod",
        {"keyVault": KV, "storageAccount": ST, "containerRegistry": ACR, "applicationInsights": None},
    )
    endpoint = resource(
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "ep",
        {"authMode": "AADToken", "compute": f"{WS}/computes/k8s"},
        id=f"{WS}/onlineEndpoints/ep",
    )
    deployment = resource(
        "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "blue",
        {"endpointComputeType": "Kubernetes"},
        id=f"{WS}/onlineEndpoints/ep/deployments/blue",
    )
    compute = resource(
        "Microsoft.MachineLearningServices/workspaces/computes",
        "k8s",
        {"computeType": "Kubernetes", "resourceId": AKS},
        id=f"{WS}/computes/k8s",
    )
    vault = resource(
        "Microsoft.KeyVault/vaults",
        "kv-prod",
        {
            "vaultUri": "https://kv-prod.vault.azure.net/",
            "privateEndpointConnections": [
                {
                    "properties": {
                        "privateEndpoint": {"id": rid("Microsoft.Network/privateEndpoints", "pe-kv")},
                        "privateLinkServiceConnectionState": {"status": "Approved"},
                    }
                }
            ],
        },
    )
    pe_storage = resource(
        "Microsoft.Network/privateEndpoints",
        "pe-st",
        {
            "privateLinkServiceConnections": [
                {
                    "properties": {
                        "privateLinkServiceId": ST.upper(),
                        "groupIds": ["blob"],
                        "privateLinkServiceConnectionState": {"status": "Approved"},
                    }
                }
            ],
            "manualPrivateLinkServiceConnections": [
                {
                    "properties": {
                        "privateLinkServiceId": ACR,
                        "privateLinkServiceConnectionState": {"status": "Pending"},
                    }
                }
            ],
        },
    )
    site = resource("Microsoft.Web/sites", "app1", kind="app,linux")
    config = resource("Microsoft.Web/sites/config", "app1/web", {"MinTlsVersion": "1.2"}, id=f"{site.id}/config/web")
    ftp = resource(
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
        "ftp",
        {"allow": False},
        id=f"{site.id}/basicPublishingCredentialsPolicies/ftp",
    )
    diag = resource(
        "Microsoft.Insights/diagnosticSettings",
        "to-law",
        {"logs": []},
        id=f"{KV}/providers/microsoft.insights/diagnosticSettings/to-law",
    )
    assessment = resource(
        "Microsoft.Security/assessments",
        "a1",
        {"resourceDetails": {"Source": "Azure", "Id": AKS}, "status": {"code": "Unhealthy"}},
        id=f"{AKS}/providers/Microsoft.Security/assessments/a1",
    )
    plan = resource(
        "Microsoft.Security/pricings",
        "Containers",
        {"pricingTier": "Standard"},
        id=f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/Containers",
    )
    cluster = resource("Microsoft.ContainerService/managedClusters", "aks-prod")
    storage = resource("Microsoft.Storage/storageAccounts", "stprod")
    registry = resource("Microsoft.ContainerRegistry/registries", "acrprod")
    return estate(
        [
            workspace,
            endpoint,
            deployment,
            compute,
            vault,
            pe_storage,
            site,
            config,
            ftp,
            diag,
            assessment,
            plan,
            cluster,
            storage,
            registry,
        ],
        gaps=[Gap(source="key_metadata", scope=KV, reason="vault unreachable")],
    )


def test_parent_ids_for_nested_and_extension_resources() -> None:
    assert parent_id(f"{WS}/onlineEndpoints/ep/deployments/blue") == f"{WS}/onlineEndpoints/ep"
    assert parent_id(f"{KV}/providers/microsoft.insights/diagnosticSettings/d") == KV
    assert parent_id(KV) is None


def test_ml_relations() -> None:
    est = _estate()
    deployment = est.get(f"{WS}/onlineEndpoints/ep/deployments/blue")
    assert deployment is not None
    workspace = est.workspace_of(deployment)
    assert workspace is not None and workspace.id == WS
    assert est.workspace_dependencies(workspace) == {"key-vault": KV, "storage": ST, "registry": ACR}
    cluster = est.get(AKS.upper())
    assert cluster is not None
    assert [c.name for c in est.aks_attachments(cluster)] == ["k8s"]
    assert [c.name for c in est.computes_of(workspace)] == ["k8s"]


def test_private_endpoint_links_from_both_sides() -> None:
    est = _estate()
    storage, registry, vault = est.get(ST), est.get(ACR), est.get(KV)
    assert storage and registry and vault
    assert est.has_approved_private_endpoint(storage)
    assert est.has_approved_private_endpoint(vault)
    assert not est.has_approved_private_endpoint(registry)
    assert [link.status for link in est.private_links(registry)] == ["Pending"]


def test_app_service_children_and_diagnostics() -> None:
    est = _estate()
    site = est.get(rid("Microsoft.Web/sites", "app1"))
    vault = est.get(KV)
    assert site and vault
    config = est.site_config(site)
    assert config is not None and config.name == "app1/web"
    assert set(est.publishing_policies(site)) == {"ftp"}
    assert [d.name for d in est.diagnostic_settings(vault)] == ["to-law"]


def test_deployment_slot_has_its_own_config_and_policies() -> None:
    site = resource("Microsoft.Web/sites", "app1", kind="app,linux")
    slot_id = f"{site.id}/slots/staging"
    slot = resource("Microsoft.Web/sites/slots", "app1/staging", kind="app,linux", id=slot_id)
    rows = [
        site,
        slot,
        resource("Microsoft.Web/sites/config", "app1/web", {"MinTlsVersion": "1.2"}, id=f"{site.id}/config/web"),
        resource(
            "Microsoft.Web/sites/slots/config", "app1/staging/web", {"MinTlsVersion": "1.0"}, id=f"{slot_id}/config/web"
        ),
        resource(
            "Microsoft.Web/sites/slots/config",
            "app1/staging/authsettingsV2",
            {"platform": {"enabled": False}},
            id=f"{slot_id}/config/authsettingsV2",
        ),
        resource(
            "Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies",
            "scm",
            {"allow": True},
            id=f"{slot_id}/basicPublishingCredentialsPolicies/scm",
        ),
    ]
    est = estate(rows)
    assert est.kind_of[slot.id_key] == "webapp"
    site_config, slot_config = est.site_config(site), est.site_config(slot)
    assert site_config is not None and site_config.properties == {"MinTlsVersion": "1.2"}
    assert slot_config is not None and slot_config.properties == {"MinTlsVersion": "1.0"}
    assert set(est.app_configs(slot)) == {"web", "authsettingsv2"}
    assert set(est.app_configs(site)) == {"web"}
    assert set(est.publishing_policies(slot)) == {"scm"} and est.publishing_policies(site) == {}
    assert est.children(site, "Microsoft.Web/sites/slots") == [slot]


def test_defender_indexes_and_synthesised_subscription() -> None:
    est = _estate()
    cluster = est.get(AKS)
    assert cluster
    assert [a.name for a in est.assessments_for(cluster)] == ["a1"]
    assert set(est.plans(SUB)) == {"containers"}
    assert est.kind_count(SUB, "aks") == 1
    assert [s.id for s in est.of_kind("subscription")] == [f"/subscriptions/{SUB}"]


def test_coverage_gaps_scope_by_prefix() -> None:
    est = _estate()
    assert est.gap("key_metadata", KV) is not None
    assert est.gap("key_metadata", KV + "x") is None  # a sibling vault whose name extends this one
    assert est.gap("ml_computes", KV) is None
    partial = estate([], collected=["resources"])
    gap = partial.gap("app_settings", KV)
    assert gap is not None and "not collected" in gap.reason


def test_versionless_key_ids() -> None:
    assert versionless_key_id("https://KV.vault.azure.net/keys/CMK/0123abc") == "https://kv.vault.azure.net/keys/cmk"
    assert versionless_key_id("https://kv.vault.azure.net:443/keys/cmk") == "https://kv.vault.azure.net/keys/cmk"


def test_slot_private_endpoint_names_the_site_with_a_sites_slot_group() -> None:
    site = resource("Microsoft.Web/sites", "app2", kind="app,linux")
    slot = resource("Microsoft.Web/sites/slots", "app2/staging", kind="app,linux", id=f"{site.id}/slots/staging")
    endpoint = resource(
        "Microsoft.Network/privateEndpoints",
        "pe-app2-staging",
        {
            "privateLinkServiceConnections": [
                {
                    "properties": {
                        "privateLinkServiceId": site.id,
                        "groupIds": ["sites-staging"],
                        "privateLinkServiceConnectionState": {"status": "Approved"},
                    }
                }
            ]
        },
    )
    est = estate([site, slot, endpoint])
    assert est.has_approved_private_endpoint(slot)
    assert not est.has_approved_private_endpoint(site)


def test_every_index_is_what_it_was_before_the_speed_work(tmp_path: Path) -> None:
    """Indexes of the demo and a generated estate, read from snapshots, against digests recorded
    from the index build before issue 11 (`python -m tests.estate_index --write` rewrites them)."""
    assert estate_index.digests(tmp_path) == orjson.loads(estate_index.GOLDEN.read_bytes())


def test_parent_ids_of_unusual_ids() -> None:
    base = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Web/sites/app"
    assert parent_id(base) is None and parent_id(base + "/") is None
    assert parent_id(base + "/config/web") == base
    assert parent_id(base + "/PROVIDERS/Microsoft.Security/assessments/a") == base
    assert parent_id(base.replace("/providers/", "/Providers/") + "/slots/s/") == base.replace(
        "/providers/", "/Providers/"
    )
    assert parent_id("/providers/providers/x/y/z") == "/providers/providers/x"  # the names overlap
    assert parent_id("/subscriptions/s/resourceGroups/r/providers/X.Y/ſites/a/b/c") == (
        "/subscriptions/s/resourceGroups/r/providers/X.Y/ſites/a"
    )
    assert parent_id("/subscriptions/s") is None and parent_id("") is None


# The index's fast paths against the general definitions they replace (urlsplit, a case-blind regex).
def _reference_parent(resource_id: str) -> str | None:
    parts = re.split("/providers/", resource_id.rstrip("/"), flags=re.IGNORECASE)
    if len(parts) < 2:
        return None
    if len(parts[-1].split("/")) > 3:
        return resource_id.rstrip("/").rsplit("/", 2)[0]
    return "/providers/".join(parts[:-1]) if len(parts) > 2 else None


def _reference_key_id(key_id: str) -> str:
    try:
        split = urlsplit(key_id.strip())
    except ValueError:
        return key_id.strip().lower()
    segments = [s for s in split.path.split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "keys":
        return f"https://{(split.hostname or '').lower()}/keys/{segments[1].lower()}"
    return key_id.strip().lower().rstrip("/")


def _reference_host(uri: str) -> str:
    try:
        return (urlsplit(uri.strip()).hostname or "").lower()
    except ValueError:
        return ""


ODD = [
    "/",
    "//",
    "?",
    "#",
    "@",
    ":443",
    "[",
    "]",
    "\t",
    "\n",
    "\r",
    " ",
    "\x01",
    "é",
    "ſ",
    "K",
    "İ",
    "%41",
    "\u3000",
    "",
]


def _mangled(rnd: random.Random, parts: list[str]) -> str:
    out = [part if rnd.random() < 0.8 else rnd.choice(ODD) + part for part in parts]
    return "".join(out) + (rnd.choice(ODD) if rnd.random() < 0.3 else "")


def test_fast_paths_agree_with_the_general_definitions() -> None:
    rnd = random.Random(11)
    for _ in range(40_000):
        scheme = rnd.choice(["https://", "HTTPS://", "http:", "x+y.z-://", "1a://", ""])
        host = rnd.choice(["kv.vault.azure.net", "KV-1.Vault.Azure.Net", "", "a..b", "h:1"])
        path = rnd.choice(["", "/", "/keys/k", "/KEYS/K/v1/", "/secrets/s", "/keys"])
        uri = _mangled(rnd, [scheme, host, path, rnd.choice(["", "?api=1", "#f", "?a#b"])])
        assert versionless_key_id(uri) == _reference_key_id(uri), repr(uri)
        assert vault_host(uri) == _reference_host(uri), repr(uri)
        segments = ["/subscriptions/s", "/resourceGroups/r", rnd.choice(["/providers/", "/PROVIDERS/", "/provİders/"])]
        segments += [
            rnd.choice(["Microsoft.Web/sites/app", "x.y/a", "providers"]),
            rnd.choice(["", "/c/d", "/providers/"]),
        ]
        segments += [rnd.choice(["", "/Providers/Microsoft.Security/assessments/a", "/e/f/g", "/"])]
        resource_id = _mangled(rnd, segments)
        expected = _reference_parent(resource_id)
        assert parent_id(resource_id) == expected, repr(resource_id)
        if resource_id.isascii():  # the index's own path: parents of lower-case ids
            assert estate_module._lower_parent(resource_id.lower()) == (expected and expected.lower())


def test_index_reads_agree_with_props() -> None:
    rnd = random.Random(5)
    names = ["properties", "Properties", "PROPERTIES", "id", "Id", "status", "groupIds", 3]
    leaves: list[object] = [None, "Approved", True, False, 0, 2.5, [], ["a", 1], {}]

    def value(depth: int) -> object:
        if depth == 0 or rnd.random() < 0.3:
            return rnd.choice(leaves)
        if rnd.random() < 0.2:
            return [value(depth - 1) for _ in range(rnd.randint(0, 2))]
        return {rnd.choice(names): value(depth - 1) for _ in range(rnd.randint(0, 4))}

    for _ in range(20_000):
        node = value(4)
        path = [rnd.choice(["properties", "id", "status", "groupIds"]) for _ in range(rnd.randint(1, 3))]
        assert estate_module._text(node, *path) == props.text(node, ".".join(path))
        assert estate_module._items(node, *path) == props.items(node, ".".join(path))
        assert estate_module.mapping_at(node, *path) == props.mapping(node, ".".join(path))


def test_the_index_files_children_under_the_general_parent() -> None:
    """The parent step inlined in the index loop against the general definition, on mangled ids."""
    rnd = random.Random(23)
    rows, seen = [], set()
    for number in range(3_000):
        segments = ["/subscriptions/s", "/resourceGroups/r", rnd.choice(["/providers/", "/PROVIDERS/", "/provİders/"])]
        segments += [
            rnd.choice(["Microsoft.Web/sites/app", "x.y/a", "providers"]),
            rnd.choice(["", "/c/d", "/providers/"]),
        ]
        segments += [rnd.choice(["", "/Providers/Microsoft.Security/assessments/a", "/e/f/g", "/"]), f"/n{number}"]
        resource_id = _mangled(rnd, segments)
        if resource_id.strip() and resource_id.lower() not in seen:
            seen.add(resource_id.lower())
            rows.append(resource("x.y/t", f"n{number}", id=resource_id))
    filed: dict[int, list[tuple[str, str]]] = {}
    for key, found in estate(rows)._children.items():
        for row in found:
            filed.setdefault(id(row), []).append(key)
    for row in rows:
        expected = _reference_parent(row.id)
        assert filed.get(id(row), []) == ([(expected.lower(), row.type_key)] if expected else []), repr(row.id)
