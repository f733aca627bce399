"""Client-side request budgets, so concurrent reads stay inside Azure's documented throttling limits.

Each budget is a token bucket per scope (a subscription, a vault), shared by every worker thread:
a request takes a token, and when the bucket is empty the caller sleeps until its reserved token
refills. The service still has the last word: a 429 is retried after its `Retry-After`.

Documented limits (Learn, 2024 onwards), of which the budgets take 80%: the rest is headroom for
other callers with the same identity and for replies that arrive out of order.
- ARM "Request limits and throttling": subscription reads, bucket 250, refill 25 per second,
  per subscription, principal and region. Budget 200, 20 per second per subscription (regions
  pooled, which only makes it stricter).
- Key Vault "Service limits": the lowest per-vault budget for key GETs is 250 transactions per
  10 seconds (HSM-backed RSA 4096); the subscription-wide limit is five times a vault's. Budget
  200, 20 per second per vault, and five times that per subscription.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Budget:
    """A token bucket's shape: `burst` requests at once, then `per_second`."""

    burst: int
    per_second: float

    def scaled(self, factor: int) -> Budget:
        return Budget(self.burst * factor, self.per_second * factor)


ARM_READS = Budget(200, 20.0)
VAULT_READS = Budget(200, 20.0)
VAULT_SUBSCRIPTION_FACTOR = 5


class TokenBucket:
    """Reservation-style bucket: taking a token may leave a debt that the caller waits out."""

    def __init__(self, budget: Budget, clock: Callable[[], float]) -> None:
        self._budget = budget
        self._clock = clock
        self._tokens = float(budget.burst)
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; seconds to wait before using it (0 when one was in the bucket)."""
        now = self._clock()
        budget = self._budget
        self._tokens = min(float(budget.burst), self._tokens + (now - self._last) * budget.per_second)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / budget.per_second

    def cap(self, remaining: int) -> None:
        """The service says only `remaining` requests are left: hold no more tokens than that."""
        now = self._clock()
        budget = self._budget
        self._tokens = min(float(budget.burst), self._tokens + (now - self._last) * budget.per_second)
        self._last = now
        self._tokens = min(self._tokens, float(remaining))


class Limits:
    """One bucket per scope key, created on first use; counts the waits for benchmarks."""

    def __init__(
        self,
        budget: Budget,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self.waits = 0
        self.waited_seconds = 0.0

    def _bucket(self, scope: str) -> TokenBucket:
        key = scope.lower()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.budget, self._clock)
        return bucket

    def cap(self, scope: str, remaining: int) -> None:
        with self._lock:
            self._bucket(scope).cap(remaining)

    def acquire(self, scope: str) -> None:
        """Block until one more request in `scope` fits the budget."""
        with self._lock:
            delay = self._bucket(scope).reserve()
            if delay > 0:
                self.waits += 1
                self.waited_seconds += delay
        if delay > 0:
            self._sleep(delay)


REMAINING_READS = "x-ms-ratelimit-remaining-subscription-reads"
"""ARM's count of reads left in the subscription's bucket, on every response (shared with other callers)."""
REMAINING_HEADERS = (
    REMAINING_READS,
    "x-ms-ratelimit-remaining-subscription-global-reads",
    "x-ms-ratelimit-remaining-tenant-reads",
    "x-ms-ratelimit-remaining-subscription-resource-requests",
    "x-ms-ratelimit-remaining-tenant-resource-requests",
)
"""Reads left: this principal's in the subscription, every principal's in it (the regional token
bucket ARM moved to in 2024, 15 times one principal's), this principal's at tenant scope. A reply
may carry any of them; the fewest left caps the budget. A resource provider with limits of its own
(Resource Graph, Compute, ...) says `...-resource-requests` instead, for the subscription or the tenant."""


class Gate:
    """What the retry policy calls around every attempt: `admit` before it, `observe` on its reply."""

    def admit(self, url: str) -> None:
        raise NotImplementedError

    def observe(self, url: str, headers: Mapping[str, str]) -> None:
        """A reply's headers; by default they say nothing about the budget."""


def subscription_of(url: str) -> str | None:
    match = _SUBSCRIPTION.search(url)
    return match.group(1) if match else None


class ArmGate(Gate):
    """ARM: one budget per subscription named in the URL (tenant-level URLs share one), and never
    more tokens than ARM says remain, so reads by other tools with the same identity count too."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def admit(self, url: str) -> None:
        self.limits.acquire(subscription_of(url) or "tenant")

    def observe(self, url: str, headers: Mapping[str, str]) -> None:
        said = [_count(headers.get(name)) for name in REMAINING_HEADERS]
        counts = [count for count in said if count is not None]
        if counts:
            self.limits.cap(subscription_of(url) or "tenant", min(counts))


def _count(value: str | None) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


class VaultGate(Gate):
    """Key Vault data plane: the vault's own budget, then its subscription's (five vaults' worth)."""

    def __init__(self, vaults: Limits, subscriptions: Limits, vault_id: str) -> None:
        self.vaults = vaults
        self.subscriptions = subscriptions
        self.vault_id = vault_id
        self.subscription = subscription_of(vault_id) or "unknown"

    def admit(self, url: str) -> None:
        self.vaults.acquire(self.vault_id)
        self.subscriptions.acquire(self.subscription)
