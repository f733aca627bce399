"""Collection benchmark: requests made versus the minimum, and Resource Graph throughput versus the quota.

Collects a generated estate from the local HTTPS Azure fake through the real SDK clients. The
fake announces a quota (default 15 queries per 5-second window, the documented example), so
the useful numbers are ratios: requests / minimum requests (1.00 is optimal) and achieved rows
per second / the most the quota allows (1.00 means the quota, not the scanner, is the limit).

    python -m benchmarks.bench_collect --resources 20000
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.azure import queries
from scanner.azure.collect import collect
from scanner.azure.progress import Progress
from scanner.azure.resource_graph import ResourceGraph
from scanner.azure.throttle import Quota
from scanner.inventory import Inventory, KeyMetadata, SnapshotHeader
from scanner.models import Resource
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.kql import parse

MIX: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("Microsoft.Storage/storageAccounts", 40, {"allowBlobPublicAccess": False, "minimumTlsVersion": "TLS1_2"}),
    ("Microsoft.Network/privateEndpoints", 25, {"privateLinkServiceConnections": []}),
    ("Microsoft.ContainerRegistry/registries", 10, {"adminUserEnabled": False}),
    ("Microsoft.CognitiveServices/accounts", 8, {"disableLocalAuth": True}),
    ("Microsoft.Web/sites", 6, {"httpsOnly": True}),
    ("Microsoft.ContainerService/managedClusters", 5, {"enableRBAC": True}),
    ("Microsoft.KeyVault/vaults", 3, {"enableRbacAuthorization": True}),
    ("Microsoft.MachineLearningServices/workspaces", 3, {"publicNetworkAccess": "Disabled"}),
)


def _generated(resources: int, seed: int) -> Inventory:
    """A plain estate of the documented types, for when `benchmarks/estate_gen.py` is not there."""
    rng = random.Random(seed)
    subs = [f"{i:08d}-0000-4000-8000-{seed:012d}" for i in range(10)]
    weights = [w for _, w, _ in MIX]
    rows: list[Resource] = []
    keys: list[KeyMetadata] = []
    for n in range(resources):
        provider, _, properties = rng.choices(MIX, weights)[0]
        sub = rng.choice(subs)
        name = f"r{n}"
        rid = f"/subscriptions/{sub}/resourceGroups/rg-{n % 50}/providers/{provider}/{name}"
        props = dict(properties)
        if provider.endswith("vaults"):
            uri = f"https://{name}.vault.azure.net/"
            props["vaultUri"] = uri
            keys.append(
                KeyMetadata(
                    vault_id=rid,
                    vault_uri=uri,
                    name="cmk",
                    kid=f"https://{name}.vault.azure.net/keys/cmk",
                    enabled=True,
                    key_type="RSA",
                    key_size=2048,
                )
            )
        rows.append(
            Resource.model_validate(
                {
                    "id": rid,
                    "name": name,
                    "type": provider.lower(),
                    "subscriptionId": sub,
                    "resourceGroup": f"rg-{n % 50}",
                    "properties": props,
                }
            )
        )
    header = SnapshotHeader(tool_version="bench", collected_at=datetime.now(UTC))
    return Inventory(header=header, resources=rows, keys=keys)


def _estate(resources: int, seed: int) -> Inventory:
    """The shared generator when it is there, else a plain one."""
    try:
        from benchmarks.estate_gen import generate  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _generated(resources, seed)
    inventory: Inventory = generate(resources, seed)
    return inventory


def minimum_requests(fake: AzureFake, subscriptions: int, keyvault: bool) -> Counter[str]:
    """Fewest calls any collector could make: ceil(rows/1000) per query (>= 1) plus per-resource reads."""
    tables = fake.estate.tables
    need: Counter[str] = Counter()
    for kql in (queries.SUBSCRIPTIONS, queries.resources(), queries.SITE_CONFIG, queries.SECURITY):
        rows = len(parse(kql).select(tables.get(parse(kql).table, [])))
        need["graph"] += max(1, math.ceil(rows / 1000)) * max(1, math.ceil(subscriptions / 1000))
    resources = tables["resources"]
    types = Counter(str(r["type"]).lower() for r in resources)
    priced = {
        str(r.get("subscriptionId", "")).lower()
        for r in tables["securityresources"]
        if str(r["type"]).lower() == "microsoft.security/pricings"
    }
    need["arm:contacts"] = subscriptions
    need["arm:pricings"] = sum(
        1 for r in tables["resourcecontainers"] if str(r["subscriptionId"]).lower() not in priced
    )
    need["arm:computes"] = types["microsoft.machinelearningservices/workspaces"]
    need["arm:publishing"] = need["arm:authsettings"] = types["microsoft.web/sites"]
    need["arm:tokens"] = types["microsoft.containerregistry/registries"]
    configured = {k.split("/config/")[0] for k in (str(r["id"]).lower() for r in tables["appserviceresources"])}
    need["arm:config"] = sum(
        1
        for r in resources
        if str(r["type"]).lower() == "microsoft.web/sites" and str(r["id"]).lower() not in configured
    )
    if keyvault:
        keys = sum(len(v) for v in fake.estate.keys.values())
        # Per vault one list page per 25 keys (at least one); per key get + rotation policy. Key Vault's
        # unauthenticated challenge requests are counted apart: the SDK caches them per host.
        vaults = types["microsoft.keyvault/vaults"]
        pages = sum(max(0, math.ceil(len(v) / 25) - 1) for v in fake.estate.keys.values())
        need["kv"] = vaults + pages + keys * 2
        need["arm:secrets"] = vaults
    return need


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quota", type=int, default=15, help="Resource Graph queries per window")
    parser.add_argument("--window", type=float, default=5.0, help="quota window in seconds")
    parser.add_argument("--no-keyvault", action="store_true")
    args = parser.parse_args()
    inventory = _estate(args.resources, args.seed)
    with tempfile.TemporaryDirectory() as tmp, AzureFake(inventory, quota=args.quota, window=args.window) as fake:
        subscriptions = len(fake.estate.tables["resourcecontainers"])
        opts = options(fake, Path(tmp), app_settings=False, diagnostics=False, keyvault=not args.no_keyvault)
        started = time.perf_counter()
        collected = collect(opts)
        elapsed = time.perf_counter() - started
        need = minimum_requests(fake, subscriptions, not args.no_keyvault)
        challenges = fake.counts["kv:challenge"]
        made = fake.total_requests - challenges
        graph_counts = fake.counts["graph"]
        # Resource Graph alone: the one big query, on a fresh quota window.
        time.sleep(args.window)
        graph = ResourceGraph(opts, opts.credential, Progress(quiet=True), Quota())
        sub_ids = list(collected.header.scope.subscriptions)
        started = time.perf_counter()
        rows, _ = graph.query(queries.resources(), sources=("resources",), subscriptions=sub_ids)
        graph_seconds = time.perf_counter() - started
        pages = graph.requests
        graph.close()
        over_quota = fake.over_quota
    # The most the quota allows: pages beyond one window's allowance wait a window each.
    quota_seconds = max(0, math.ceil(pages / args.quota) - 1) * args.window
    minimum = sum(need.values())
    print(
        f"estate: {args.resources} generated resources, {subscriptions} subscriptions, {len(collected.resources)} rows"
    )
    print(f"requests: {made} made / {minimum} minimum = {made / minimum:.2f}x (+{challenges} Key Vault challenges)")
    print(f"  resource graph: {graph_counts} / {need['graph']} = {graph_counts / need['graph']:.2f}x")
    print(f"quota: {over_quota} requests over the announced quota (must be 0)")
    print(
        f"collection: {len(collected.resources) / elapsed:,.0f} rows/s overall "
        "(fake on this machine; compare runs by ratio)"
    )
    print(
        f"resource graph: {len(rows)} rows in {pages} pages; time / quota-imposed minimum = "
        f"{graph_seconds / quota_seconds:.2f}x"
        if quota_seconds
        else f"resource graph: {len(rows)} rows in {pages} pages, inside one quota window (no pause needed)"
    )


if __name__ == "__main__":
    main()
