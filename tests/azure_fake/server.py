"""A local HTTPS Azure: token endpoint, Resource Graph, ARM GETs, Defender, Key Vault data plane.

Certificates come from `trustme`; clients trust the CA via `connection_verify`. Every route is
counted, Resource Graph enforces a per-principal quota window and announces it in headers,
and `Faults` injects throttling, errors, 403 scopes, malformed pages and revoked tokens.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import random
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from azure.keyvault.keys._shared import http_challenge_cache

from scanner.azure.options import CLOUDS
from scanner.inventory import Inventory
from tests.azure_fake.estate import FakeEstate
from tests.azure_fake.faults import Faults
from tests.azure_fake.limits import ServerBuckets
from tests.azure_fake.signing import SigningKeys
from tests.azure_fake.wire import Wire

TENANT = "72f988bf-0000-4000-8000-00000000fa4e"
CLIENT_ID = "6b0a4f2e-0000-4000-8000-00000000c11e"
CLAIMS = base64.b64encode(b'{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}').decode()
KV_PREFIX = "/kv/"
CLOUD_HOSTS = tuple(host for cloud in CLOUDS.values() for host in (cloud.authority, cloud.arm.removeprefix("https://")))
"""The real clouds' authority and ARM hosts: the certificate covers them, so a test can route one cloud here."""


class AzureFake:
    """Start with `with AzureFake(inventory) as fake:`; point the scanner at `fake.url`."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        quota: int = 15,
        window: float = 5.0,
        page_cap: int = 1000,
        host: str = "127.0.0.1",
    ):
        self.estate = FakeEstate(inventory)
        self.faults = Faults()
        self.wire = Wire()
        self.signing_keys = SigningKeys()
        self.quota, self.window, self.page_cap = quota, window, page_cap
        self.counts: Counter[str] = Counter()
        self.graph_bodies: list[dict[str, Any]] = []
        self.graph_versions: list[str] = []
        """The api-version of each Resource Graph request, in order."""
        self.token_scopes: list[str] = []
        self.requests: list[tuple[str, str, str]] = []
        """Every request as (Host header, method, path), the token endpoint included."""
        self.bearers: list[str] = []
        """The path of every request that carried an `Authorization` header (a token, or an attempt at one)."""
        self.over_quota = 0
        self.appservice_config_in_graph = True
        self.pricings_in_graph = True
        self.arm_key_fields = False
        """Serve kty, keySize and rotationPolicy in ARM's key listing (the spec allows them; the example has none)."""
        self.arm_limits: ServerBuckets | None = ServerBuckets(250, 25.0)
        """ARM reads per subscription, as documented (bucket 250, refill 25/s); None turns it off."""
        self.vault_limits: ServerBuckets | None = ServerBuckets(250, 25.0)
        """Key Vault data-plane requests per vault (the lowest documented GET budget, 250 per 10 s)."""
        self.in_flight = 0
        self.max_in_flight = 0
        """The most API requests (token endpoint excluded) the fake was serving at once."""
        self.busy_seconds = 0.0
        """Summed time spent serving API requests: divided by wall time, the mean concurrency."""
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._audiences: dict[str, tuple[str, ...]] = {}
        self._window_start = 0.0
        self._window_used = 0
        self._blocked_until = 0.0
        self._dir = tempfile.TemporaryDirectory(prefix="azure-fake-")
        ca = trustme.CA()
        cert = ca.issue_cert(
            "localhost", "127.0.0.1", "::1", *CLOUD_HOSTS, "*.vault.azure.net", "*.managedhsm.azure.net"
        )
        self.ca_path = Path(self._dir.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        server = _Server6 if ":" in host else ThreadingHTTPServer  # `::1`: the fake on IPv6 loopback
        self._server = server((host, 0), _handler(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        named = f"[{host}]" if ":" in host else "localhost"
        self.url = f"https://{named}:{self._server.server_address[1]}"
        self.keyvault_template = self.url + KV_PREFIX + "{name}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AzureFake:
        # azure-keyvault caches each vault host's challenge for the process, keyed by host:port. A
        # new fake may reuse an earlier one's port, and a cached challenge would skip its 401 round
        # trip: request counts then depended on which port the system handed out.
        http_challenge_cache.clear()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    @property
    def total_requests(self) -> int:
        """HTTP requests the scanner made to Azure APIs (not the token endpoint, not per-table sub-counts)."""
        return sum(n for route, n in self.counts.items() if route != "token" and not route.startswith("graph:"))

    # -- quota ---------------------------------------------------------------------------
    def quota_gate(self) -> tuple[bool, dict[str, str]]:
        """Count one Resource Graph request against the window; False when it is over quota."""
        with self._lock:
            now = time.monotonic()
            if now < self._blocked_until:
                self.over_quota += 1
                return False, _quota_headers(0, self._blocked_until - now)
            if now >= self._window_start + self.window:
                self._window_start, self._window_used = now, 0
            end = self._window_start + self.window
            if self._window_used >= self.quota:
                self.over_quota += 1
                return False, _quota_headers(0, end - now)
            self._window_used += 1
            return True, _quota_headers(self.quota - self._window_used, end - now)

    def block(self, seconds: float) -> dict[str, str]:
        with self._lock:
            self._blocked_until = time.monotonic() + seconds
        return _quota_headers(0, seconds)

    def issue_token(self, scopes: tuple[str, ...] = ()) -> str:
        with self._lock:
            token = f"fake-token-{len(self._tokens) + 1}"
            self._tokens.add(token)
            self._audiences[token] = scopes
        return token

    def token_for(self, header: str | None, scope: str) -> bool:
        """A valid token issued for `scope`: a Managed HSM refuses a token for Key Vault's audience."""
        return self.token_valid(header) and scope in self._audiences.get(str(header)[7:], ())

    def revoke(self, header: str) -> None:
        with self._lock:
            self._tokens.discard(header.removeprefix("Bearer "))

    def token_valid(self, header: str | None) -> bool:
        return header is not None and header.startswith("Bearer ") and header[7:] in self._tokens

    def take(self, name: str) -> bool:
        """Consume one armed count-fault."""
        with self._lock:
            value = getattr(self.faults, name)
            if value > 0:
                setattr(self.faults, name, value - 1)
                return True
        return False


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _quota_headers(remaining: int, resets: float) -> dict[str, str]:
    seconds = max(1, math.ceil(resets))
    return {
        "x-ms-user-quota-remaining": str(remaining),
        "x-ms-user-quota-resets-after": time.strftime("%H:%M:%S", time.gmtime(seconds)),
    }


def _handler(fake: AzureFake) -> type[BaseHTTPRequestHandler]:
    from tests.azure_fake.routes import Router

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _started: float | None = None
        """When the API request being served arrived; None once it is answered (or not counted)."""

        def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
            return

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: without this, Nagle's algorithm and the client's
            # delayed ACK hold every reply ~40 ms, a latency of the fake that real Azure does not add.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def reply(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
        ) -> None:
            if fake.faults.delay:
                time.sleep(fake.faults.delay)
            if fake.faults.jitter:  # responses finish out of order, as they do over a real network
                time.sleep(random.uniform(0, fake.faults.jitter))
            self._finished()  # before the client can read the reply and send its next request
            data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
            if fake.wire.bom and data:  # a UTF-8 byte order mark first, as some .NET and PowerShell services write
                data = b"\xef\xbb\xbf" + data
            packed = fake.wire.gzip and data and "gzip" in str(self.headers.get("Accept-Encoding", ""))
            if packed:  # as Azure's front doors compress a reply the client said it can read
                data = gzip.compress(data)
                with fake._lock:
                    fake.counts["gzip"] += 1
            self.send_response(status)
            content_type = (headers or {}).pop("Content-Type", fake.wire.content_type)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if packed:
                self.send_header("Content-Encoding", "gzip")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            drip = fake.wire.drip_path
            if drip and drip in self.path and status < 300:
                return self._trickle(data)
            self.wfile.write(data)

        def _trickle(self, data: bytes) -> None:
            """`wire.drip_path`: the body a byte at a time, each sooner than any read timeout, for
            `wire.drip_for` seconds, then the rest (a proxy or server trickling a reply)."""
            wire = fake.wire
            ends = time.monotonic() + wire.drip_for
            try:
                while data and time.monotonic() < ends:
                    self.wfile.write(data[:1])
                    self.wfile.flush()
                    data = data[1:]
                    time.sleep(wire.drip_seconds)
                self.wfile.write(data)
            except OSError:  # the client gave up and closed the connection
                self.close_connection = True

        def drop(self) -> None:
            """Close the connection without a reply, as a reset mid-request looks to the client."""
            self._finished()
            self.close_connection = True

        def _finished(self) -> None:
            started = getattr(self, "_started", None)
            if started is None:
                return
            self._started = None
            with fake._lock:
                fake.in_flight -= 1
                fake.busy_seconds += time.perf_counter() - started

        def _serve(self, method: str) -> None:
            body = self._body()
            self._started = None
            if not self.path.endswith("/oauth2/v2.0/token"):
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                self._started = time.perf_counter()
            try:
                Router(fake, self).route(method, body)
            finally:
                self._finished()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
