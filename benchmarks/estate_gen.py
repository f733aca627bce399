"""A large, realistic estate for benchmarks: the demo's shapes replicated across many subscriptions.

Each copy is the full demo (hardened production, sloppy research, every relation between them)
under a fresh name prefix and two fresh subscriptions, so indexes, private links, CMK lookups and
Defender joins scale the way a real tenant's would. The same arguments always give the same estate.

    python -m benchmarks.estate_gen 100000 out.jsonl.gz
"""

from __future__ import annotations

import argparse
import random
import uuid
from pathlib import Path
from typing import Any

from scanner.inventory import Inventory, SnapshotHeader, SnapshotScope
from scanner.models import Resource
from scanner.snapshot import write_snapshot
from tests.fixtures.demo_estate import COLLECTED_AT, TOOL_VERSION, coverage, draft_estate
from tests.fixtures.draft import Tenant

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _subscription(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _prefix(rng: random.Random, copy: int) -> str:
    """Short, lower-case alphanumeric (storage and registry names allow nothing else), unique per copy."""
    digits = ""
    number = copy
    while True:
        number, rest = divmod(number, len(_ALPHABET))
        digits = _ALPHABET[rest] + digits
        if not number:
            break
    return f"{rng.choice(_ALPHABET[:26])}{digits}"


def generate(n_resources: int, seed: int = 0) -> Inventory:
    """An inventory of exactly `n_resources` resource records (plus their key and setting facts).

    Whole copies of the demo are added until the count is reached; the last copy is cut short,
    which leaves some of its references dangling, as partial scopes do in real collections.
    """
    if n_resources < 1:
        raise ValueError("n_resources must be at least 1")
    rng = random.Random(seed)
    resources: list[Resource] = []
    keys = []
    settings = []
    subscriptions: list[str] = []
    copy = 0
    while len(resources) < n_resources:
        tenant = Tenant(
            prefix=_prefix(rng, copy),
            production=_subscription(rng),
            research=_subscription(rng),
            org=f"Larkspur Health region {copy}",
        )
        draft = draft_estate(tenant)
        resources.extend(draft.resources()[: n_resources - len(resources)])
        keys.extend(draft.keys)
        settings.extend(draft.settings)
        subscriptions.extend((tenant.production, tenant.research))
        copy += 1
    kept = {r.id_key for r in resources}
    keys = [k for k in keys if k.vault_id.lower() in kept]
    settings = [s for s in settings if s.resource_id.lower() in kept]
    header = SnapshotHeader(
        tool_version=TOOL_VERSION,
        collected_at=COLLECTED_AT,
        scope=SnapshotScope(
            description=f"generated: {copy} copies of the demo estate (seed {seed})",
            subscriptions=tuple(subscriptions),
        ),
        sources=coverage(resources, len(keys), len(settings)),
    )
    return Inventory(header=header, resources=resources, keys=keys, app_settings=settings)


_UNRELATED: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "Microsoft.Compute/virtualMachines",
        {"hardwareProfile": {"vmSize": "Standard_D2s_v5"}, "provisioningState": "Succeeded"},
    ),
    ("Microsoft.Compute/disks", {"diskSizeGB": 128, "encryption": {"type": "EncryptionAtRestWithPlatformKey"}}),
    (
        "Microsoft.Network/networkInterfaces",
        {"ipConfigurations": [{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4"}}]},
    ),
    (
        "Microsoft.Network/networkSecurityGroups",
        {"securityRules": [{"name": "allow-https", "properties": {"access": "Allow", "destinationPortRange": "443"}}]},
    ),
    ("Microsoft.Network/publicIPAddresses", {"publicIPAllocationMethod": "Static", "ipAddress": "20.1.2.3"}),
    ("Microsoft.Sql/servers/databases", {"collation": "SQL_Latin1_General_CP1_CI_AS", "maxSizeBytes": 34359738368}),
    ("Microsoft.Insights/components", {"Application_Type": "web", "RetentionInDays": 90}),
    ("Microsoft.OperationalInsights/workspaces", {"retentionInDays": 30, "sku": {"name": "PerGB2018"}}),
)


def generate_realistic(n_resources: int, seed: int = 0, ml_share: float = 0.2) -> Inventory:
    """`n_resources` rows of which about `ml_share` are the demo's ML shapes and the rest unrelated
    infrastructure no check reads (VMs, disks, NICs, NSGs, ...): what a real tenant looks like."""
    base = generate(max(1, int(n_resources * ml_share)), seed)
    rng = random.Random(seed + 1)
    subscriptions = base.header.scope.subscriptions
    unrelated = []
    for index in range(n_resources - len(base.resources)):
        provider_type, properties = _UNRELATED[index % len(_UNRELATED)]
        subscription = subscriptions[index % len(subscriptions)]
        group = f"rg-infra-{index % 97:02d}"
        name = f"{provider_type.rsplit('/', 1)[-1].lower()[:12]}-{index:07d}"
        unrelated.append(
            Resource.model_validate(
                {
                    "id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider_type}/{name}",
                    "name": name,
                    "type": provider_type.lower(),
                    "location": rng.choice(("westeurope", "northeurope", "eastus2")),
                    "subscriptionId": subscription,
                    "resourceGroup": group,
                    "tags": {"cost-center": f"cc-{index % 13}", "owner": "platform"},
                    "properties": properties,
                }
            )
        )
    resources = [*base.resources, *unrelated]
    header = base.header.model_copy(
        update={
            "scope": SnapshotScope(
                description=f"generated: {len(base.resources)} demo-shaped, {len(unrelated)} unrelated (seed {seed})",
                subscriptions=subscriptions,
            ),
            "sources": coverage(resources, len(base.keys), len(base.app_settings)),
        }
    )
    return Inventory(header=header, resources=resources, keys=base.keys, app_settings=base.app_settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("resources", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_snapshot(generate(args.resources, args.seed), args.out)


if __name__ == "__main__":
    main()
