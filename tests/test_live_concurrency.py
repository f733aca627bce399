"""Concurrent per-resource reads: same snapshot as a serial collection, inside the services' budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.estate_gen import generate
from scanner.azure.collect import collect
from scanner.azure.limits import ArmGate, Budget, Limits, TokenBucket, VaultGate, subscription_of
from scanner.inventory import Inventory
from scanner.snapshot import encode_records
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import options
from tests.azure_fake.limits import ServerBuckets
from tests.azure_fake.sample import SUB_A, SUB_B, sample_inventory, with_staging_slot


def _snapshot(inventory: Inventory) -> bytes:
    """The snapshot bytes `collect --out` writes, with the collection time pinned."""
    inventory.header = inventory.header.model_copy(update={"collected_at": datetime(2000, 1, 1, tzinfo=UTC)})
    return b"".join(encode_records(inventory))


def test_concurrent_collection_writes_the_serial_snapshot(tmp_path: Path) -> None:
    """Replies finish in random order (jitter); the snapshot is byte-identical to a one-worker run."""
    estate = generate(400, seed=3)
    with AzureFake(estate) as fake:
        fake.faults.jitter = 0.004
        serial = _snapshot(collect(options(fake, tmp_path, max_concurrency=1)))
        assert fake.max_in_flight == 1
        fake.max_in_flight = 0
        concurrent = _snapshot(collect(options(fake, tmp_path, max_concurrency=8)))
        achieved = fake.max_in_flight
    assert achieved > 1  # reads really overlapped
    assert concurrent == serial
    assert b'"record":"key"' in serial.replace(b" ", b"")  # vault keys, site config, computes all took part
    assert b"microsoft.machinelearningservices/workspaces/computes" in serial


def test_budgets_keep_reads_inside_the_services_limits(tmp_path: Path) -> None:
    """The fake's ARM and vault buckets tiny; budgets inside them (like the defaults, 80%) are never refused.
    The server's bursts leave room for requests the client admitted on time but a busy machine
    delivered together (a burst of 4 was once exceeded by one read under a load of 10)."""
    with AzureFake(with_staging_slot(sample_inventory())) as fake:
        fake.arm_limits = ServerBuckets(8, 50.0)
        fake.vault_limits = ServerBuckets(6, 50.0)
        inventory = collect(
            options(fake, tmp_path, max_concurrency=8, arm_budget=Budget(2, 40.0), vault_budget=Budget(1, 40.0))
        )
        assert fake.counts["arm:throttled"] == 0
        assert fake.counts["kv:throttled"] == 0
    assert not any(c.gaps for c in inventory.header.sources)
    assert inventory.keys


def test_refusals_beyond_the_budget_are_retried_after_retry_after(tmp_path: Path) -> None:
    """A service stricter than the budget answers 429 + Retry-After: retried, nothing lost, no gap.

    The fake announces no reads-left header here (the client would pace itself by it) and refills 5
    reads a second: the collection's 36 ARM reads would have to spread over 6.6 s to meet no
    refusal, 27 times what they take on an idle machine. At 100 a second with the header, whether
    any read was refused depended on the machine's speed, and on a loaded CI runner none was."""
    with AzureFake(sample_inventory()) as fake:
        expected = collect(options(fake, tmp_path, max_concurrency=1))
        fake.wire.arm_remaining_header = "x-fake-reads-left-unannounced"
        fake.arm_limits = ServerBuckets(3, 5.0)
        throttled = collect(options(fake, tmp_path, max_concurrency=8, arm_budget=Budget(1000, 1000.0)))
        assert fake.counts["arm:throttled"] > 0
    assert not any(c.gaps for c in throttled.header.sources)
    assert _snapshot(throttled) == _snapshot(expected)


def test_token_bucket_spends_the_burst_then_paces_at_the_refill_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(Budget(3, 10.0), lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert round(bucket.reserve(), 6) == 0.1  # the 4th waits one refill
    assert round(bucket.reserve(), 6) == 0.2  # the 5th queues behind it
    now[0] = 10.0  # a long pause refills to the burst, never beyond
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() > 0


def test_gates_key_budgets_by_subscription_and_vault() -> None:
    slept: list[float] = []
    limits = Limits(Budget(1, 1.0), clock=lambda: 0.0, sleep=slept.append)
    gate = ArmGate(limits)
    gate.admit("https://management.azure.com/subscriptions/S1/resourceGroups/rg/providers/x?api-version=1")
    gate.admit("https://management.azure.com/subscriptions/s2/providers/Microsoft.Security/pricings")
    assert slept == []  # two subscriptions, two buckets
    gate.admit("https://management.azure.com/SUBSCRIPTIONS/s1/providers/y")
    assert slept == [1.0] and limits.waits == 1  # same subscription, any casing
    vaults, subscriptions = Limits(Budget(1, 1.0), lambda: 0.0, slept.append), Limits(Budget(5, 5.0), lambda: 0.0)
    vault = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
    VaultGate(vaults, subscriptions, vault).admit("https://kv1.vault.azure.net/keys")
    assert vaults.waits == 0 and subscription_of(vault) == "s1"


@pytest.mark.parametrize(
    "header",
    ["subscription-reads", "subscription-global-reads", "subscription-resource-requests", "tenant-resource-requests"],
)
def test_reads_left_by_other_callers_are_respected(tmp_path: Path, header: str) -> None:
    """Another tool with the same identity spent most of the bucket: ARM's remaining-reads header caps ours
    (this principal's count, or every principal's in the subscription since ARM's 2024 token buckets)."""
    with AzureFake(sample_inventory()) as fake:
        fake.wire.arm_remaining_header = f"x-ms-ratelimit-remaining-{header}"
        fake.arm_limits = ServerBuckets(5, 20.0)
        for subscription in (SUB_A, SUB_B):
            fake.arm_limits.spend(subscription, 4)
        inventory = collect(options(fake, tmp_path, max_concurrency=1, arm_budget=Budget(5, 20.0)))
        assert fake.counts["arm:throttled"] == 0  # our budget alone would have sent 5 at once
    assert not any(c.gaps for c in inventory.header.sources)


def test_remaining_reads_header_caps_the_budget() -> None:
    slept: list[float] = []
    limits = Limits(Budget(5, 5.0), clock=lambda: 0.0, sleep=slept.append)
    gate = ArmGate(limits)
    url = "https://management.azure.com/subscriptions/s1/providers/Microsoft.Security/securityContacts"
    gate.observe(url, {"x-ms-ratelimit-remaining-subscription-reads": "1"})
    gate.observe(url, {"x-ms-ratelimit-remaining-subscription-reads": "not a number"})  # ignored
    gate.observe(url, {"x-ms-ratelimit-remaining-subscription-global-reads": "3"})  # more left: the 1 stands
    gate.admit(url)
    assert slept == []
    gate.admit(url)
    assert slept == [0.2]  # one token was left, the next waits a refill
