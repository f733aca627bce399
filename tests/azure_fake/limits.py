"""Server-side throttling for the fake: ARM's per-subscription and Key Vault's per-vault buckets.

A strict token bucket per scope: a request that finds no token is refused with 429 and a
`Retry-After` (whole seconds, at least 1), as ARM and Key Vault answer. Refusals are counted, so
a test can prove the scanner's own budgets kept it inside the service's.
"""

from __future__ import annotations

import math
import threading
import time

EPSILON = 1e-6
"""Floating-point slack: a client that waited exactly for its token is not refused for 1e-12."""


class ServerBuckets:
    def __init__(self, burst: int, per_second: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}
        self.refused = 0

    def admit(self, scope: str) -> float | None:
        """None when admitted; else the seconds until a token is back (for `Retry-After`)."""
        key = scope.lower()
        with self._lock:
            now = time.monotonic()
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
            if tokens + EPSILON >= 1.0:
                self._state[key] = (max(0.0, tokens - 1.0), now)
                return None
            self._state[key] = (tokens, now)
            self.refused += 1
            return (1.0 - tokens) / self.per_second

    def remaining(self, scope: str) -> int:
        """Whole tokens left in `scope`'s bucket now (what ARM announces in a header)."""
        with self._lock:
            now = time.monotonic()
            tokens, last = self._state.get(scope.lower(), (float(self.burst), now))
            return int(min(float(self.burst), tokens + (now - last) * self.per_second) + EPSILON)

    def spend(self, scope: str, count: int) -> None:
        """Another caller with the same identity used `count` requests of this bucket."""
        with self._lock:
            now = time.monotonic()
            tokens, last = self._state.get(scope.lower(), (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
            self._state[scope.lower()] = (max(0.0, tokens - count), now)


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
