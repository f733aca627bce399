"""Collection benchmark: requests per route, concurrency achieved, and serial / concurrent wall time.

Collects a generated estate from the local HTTPS Azure fake through the real SDK clients, twice:
with one worker (serial) and with the default pool. Counts come from the fake's own request log,
per route (`graph`, `arm:<read>`, `kv:<read>`), next to the fewest requests any collector could
make. Every reply waits `--latency` seconds (a stand-in for the service's own latency, which a
local fake does not have); the fake enforces ARM's per-subscription and Key Vault's per-vault
buckets, and `throttled` must stay 0. Ratios, not absolute times, are the result:
serial / concurrent wall time, and mean in-flight requests (busy time / wall time).

    python -m benchmarks.bench_collect --resources 5000
    python -m benchmarks.bench_collect --resources 20000 --no-serial
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.azure import queries
from scanner.azure.collect import collect
from scanner.azure.containers import ml_storage
from scanner.azure.keyvault import KEY_WORKERS
from scanner.azure.options import CollectOptions
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
    apps = types["microsoft.web/sites"] + types["microsoft.web/sites/slots"]  # a slot has its own settings
    need["arm:publishing"] = need["arm:authsettings"] = apps
    need["arm:tokens"] = types["microsoft.containerregistry/registries"]
    need["arm:containers"] = len(ml_storage(Resource.model_validate(r) for r in resources))
    configured = {k.split("/config/")[0] for k in (str(r["id"]).lower() for r in tables["appserviceresources"])}
    need["arm:config"] = sum(
        1
        for r in resources
        if str(r["type"]).lower() in ("microsoft.web/sites", "microsoft.web/sites/slots")
        and str(r["id"]).lower() not in configured
    )
    if keyvault:
        keys = sum(len(v) for v in fake.estate.keys.values())
        # Per vault one list page per 25 keys (at least one); per key get + rotation policy. Key Vault's
        # unauthenticated challenge requests are counted apart: the SDK caches them per host.
        vaults = types["microsoft.keyvault/vaults"]
        pages = sum(max(0, math.ceil(len(v) / 25) - 1) for v in fake.estate.keys.values())
        need["kv:list"] = vaults + pages
        need["kv:get"] = need["kv:policy"] = keys
        need["arm:secrets"] = vaults
    return need


@dataclass
class Run:
    seconds: float
    counts: Counter[str]
    max_in_flight: int
    busy_seconds: float
    rows: int
    over_quota: int

    @property
    def requests(self) -> int:
        return sum(n for route, n in self.counts.items() if route not in SKIP and not route.startswith("graph:"))

    @property
    def mean_in_flight(self) -> float:
        return self.busy_seconds / self.seconds if self.seconds else 0.0


SKIP = {"token", "openid"}


def _run(inventory: Inventory, args: argparse.Namespace, workers: int) -> Run:
    """One collection against a fresh fake (fresh quota window and buckets)."""
    with tempfile.TemporaryDirectory() as tmp, AzureFake(inventory, quota=args.quota, window=args.window) as fake:
        fake.faults.delay = args.latency
        opts = options(
            fake,
            Path(tmp),
            app_settings=False,
            diagnostics=False,
            keyvault=not args.no_keyvault,
            max_concurrency=workers,
        )
        started = time.perf_counter()
        collected = collect(opts)
        seconds = time.perf_counter() - started
        return Run(
            seconds,
            Counter(fake.counts),
            fake.max_in_flight,
            fake.busy_seconds,
            len(collected.resources),
            fake.over_quota,
        )


def _need(inventory: Inventory, args: argparse.Namespace) -> Counter[str]:
    with AzureFake(inventory) as fake:
        return minimum_requests(fake, len(fake.estate.tables["resourcecontainers"]), not args.no_keyvault)


def _table(run: Run, need: Counter[str], serial: Run | None) -> None:
    routes = sorted({r for r in run.counts if r not in SKIP and not r.startswith("graph:")} | set(need))
    print(f"  {'route':<22}{'requests':>10}{'minimum':>10}" + (f"{'serial':>10}" if serial else ""))
    for route in routes:
        minimum = need.get(route)
        line = f"  {route:<22}{run.counts.get(route, 0):>10}{minimum if minimum is not None else '-':>10}"
        if serial:
            line += f"{serial.counts.get(route, 0):>10}"
        print(line)
    print(f"  {'total':<22}{run.requests:>10}{sum(need.values()):>10}" + (f"{serial.requests:>10}" if serial else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=CollectOptions().max_concurrency)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds every fake reply waits")
    parser.add_argument("--quota", type=int, default=15, help="Resource Graph queries per window")
    parser.add_argument("--window", type=float, default=5.0, help="quota window in seconds")
    parser.add_argument("--no-keyvault", action="store_true")
    parser.add_argument("--no-serial", action="store_true", help="skip the one-worker run")
    args = parser.parse_args()
    inventory = _estate(args.resources, args.seed)
    need = _need(inventory, args)
    concurrent = _run(inventory, args, args.workers)
    serial = None if args.no_serial else _run(inventory, args, 1)
    print(
        f"estate: {args.resources} generated resources, {concurrent.rows} rows collected; "
        f"{args.latency * 1000:.0f} ms per reply; {args.workers} workers"
    )
    print("requests per route (fake's log; kv:challenge is Key Vault's unauthenticated first call per host):")
    _table(concurrent, need, serial)
    throttled = concurrent.counts["arm:throttled"] + concurrent.counts["kv:throttled"]
    print(f"throttled by the fake's ARM / Key Vault buckets: {throttled} (must be 0)")
    print(f"over the Resource Graph quota: {concurrent.over_quota} (must be 0)")
    print(
        f"concurrency: mean {concurrent.mean_in_flight:.1f} requests in flight, "
        f"peak {concurrent.max_in_flight} ({args.workers} workers, each vault's keys read {KEY_WORKERS} at a time)"
    )
    if serial is not None:
        print(
            f"wall time serial / concurrent = {serial.seconds / concurrent.seconds:.2f}x "
            f"(serial mean in flight {serial.mean_in_flight:.1f}, peak {serial.max_in_flight})"
        )


if __name__ == "__main__":
    main()
