"""Throttling shared by every client: pause before a quota runs out, and retry 429s azure-core would not.

Resource Graph announces its per-principal quota on every response
(`x-ms-user-quota-remaining`, `x-ms-user-quota-resets-after: hh:mm:ss`). `Quota` keeps the
latest announcement and makes the next request wait for the window to reset once the count
is spent. azure-core's `RetryPolicy` does not retry a 429 on POST without `Retry-After`;
`ThrottledRetryPolicy` does, with exponential back-off, for every method, and passes every
attempt through an optional `Gate` (a per-subscription or per-vault budget, `limits.py`).

azure-core also retries a POST only on 500/503/504 and never after a connection dropped
mid-reply. Every POST mlwarden sends is a read (a Resource Graph query, a `config/*/list`
action), so it is retried like a GET: on 408, 502, a reset connection or a read timeout too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import RetryPolicy

from scanner.azure.limits import Gate

MAX_RETRY_AFTER = 120.0
"""Longest `Retry-After` waited for; ARM's and Resource Graph's buckets refill in seconds, so a longer one
(an hourly quota spent) would hold the scan that long: the read fails instead and is a coverage gap."""
REMAINING = "x-ms-user-quota-remaining"
RESETS_AFTER = "x-ms-user-quota-resets-after"


def parse_resets_after(value: str | None) -> float | None:
    """`00:00:03` -> 3.0; None for anything else."""
    if not value:
        return None
    parts = value.strip().split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, seconds = (float(p) for p in parts)
    except ValueError:
        return None
    return max(0.0, hours * 3600 + minutes * 60 + seconds)


class Quota:
    """The last quota a service announced, shared by every thread that talks to it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._remaining: int | None = None
        self._resets_at = 0.0
        self.waits = 0
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Block until sending one more request stays inside the announced quota."""
        while True:
            with self._lock:
                now = self._clock()
                if self._remaining is None or now >= self._resets_at:
                    self._remaining = None
                    return
                if self._remaining > 0:
                    self._remaining -= 1
                    return
                delay = self._resets_at - now
                self.waits += 1
                self.waited_seconds += delay
            self._sleep(delay)

    def observe(self, headers: Any) -> None:
        """Record a response's announcement; a 429 without one leaves the retry back-off in charge."""
        remaining = headers.get(REMAINING)
        resets = parse_resets_after(headers.get(RESETS_AFTER))
        if remaining is None or resets is None or resets > MAX_RETRY_AFTER:  # beyond it, a 429 says so and fails
            return
        try:
            count = int(remaining)
        except ValueError:
            return
        with self._lock:
            self._remaining = max(0, count)
            self._resets_at = self._clock() + resets


class ThrottledRetryPolicy(RetryPolicy[Any, Any]):
    """azure-core's retry policy, plus the quota gate, the budget gate and 429 retries for every method."""

    def __init__(self, quota: Quota, gate: Gate | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.quota = quota
        self.gate = gate
        self._url = threading.local()
        """The URL this thread is sending, for the gate before a retry (`sleep` is not given it)."""

    def _admit(self) -> None:
        self.quota.acquire()
        url = getattr(self._url, "value", None)
        if self.gate is not None and url is not None:
            self.gate.admit(url)

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = super().configure_retries(options)
        settings["methods"] = frozenset({*settings["methods"], "POST"})  # reads only: see the module docstring
        return settings

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        self._url.value = str(request.http_request.url)
        self._admit()
        return super().send(request)

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        self.quota.observe(response.http_response.headers)
        if self.gate is not None:
            self.gate.observe(str(response.http_request.url), response.http_response.headers)
        wait = self.get_retry_after(response)
        if wait is not None and wait > MAX_RETRY_AFTER:  # not worth a CI job's hour: the caller records a gap
            return False
        if response.http_response.status_code == 429:
            return bool(settings["total"])
        return bool(super().is_retry(settings, response))

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        """The wait a reply asks for; one it spells in no HTTP form (`soon`) asks for none, so the
        back-off decides. azure-core raised ValueError, which ended the read (the whole collection
        when it was a Resource Graph query)."""
        try:
            return super().get_retry_after(response)
        except ValueError:
            return None

    def sleep(
        self, settings: dict[str, Any], transport: Any, response: PipelineResponse[Any, Any] | None = None
    ) -> None:
        super().sleep(settings, transport, response=response)
        self._admit()


def retry_policy(
    quota: Quota, backoff: float, retries: int, gate: Gate | None = None, *, network_retries: int = 3
) -> ThrottledRetryPolicy:
    """`network_retries`: attempts again after a failed connect or read (azure-core's default is 3 each);
    each may cost a whole connect or read timeout when the host never answers."""
    return ThrottledRetryPolicy(
        quota,
        gate,
        retry_total=retries,
        retry_status=retries,
        retry_connect=network_retries,
        retry_read=network_retries,
        retry_backoff_factor=backoff,
        retry_backoff_max=60,
    )
