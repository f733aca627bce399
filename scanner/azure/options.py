"""What a live collection reads and how it reaches Azure: one immutable options object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scanner.azure.limits import ARM_READS, VAULT_READS, Budget

Cloud = Literal["public", "usgov", "china"]
REQUESTS_CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
SSL_CERT_ENV = "SSL_CERT_FILE"
CONNECT_TIMEOUT = 10.0
"""Seconds to connect (TCP and TLS): Azure's front doors answer in well under one; azure-core waits 300."""
READ_TIMEOUT = 60.0
"""Seconds between bytes of a reply once connected; azure-core waits 300."""
REPLY_FACTOR = 5
"""A whole reply may take this many read timeouts (300 s by default): a trickle of bytes ends there."""


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    arm: str
    authority: str
    scope: str


CLOUDS: dict[str, CloudEndpoints] = {
    "public": CloudEndpoints(
        "https://management.azure.com", "login.microsoftonline.com", "https://management.azure.com/.default"
    ),
    "usgov": CloudEndpoints(
        "https://management.usgovcloudapi.net",
        "login.microsoftonline.us",
        "https://management.usgovcloudapi.net/.default",
    ),
    "china": CloudEndpoints(
        "https://management.chinacloudapi.cn", "login.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"
    ),
}


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """Scope, endpoints and opt-in sources of one collection.

    An empty scope means every subscription the identity can read. Endpoint overrides exist
    for Azure Stack and the local test fake; when any is set, Key Vault's challenge resource
    check is relaxed because vault hosts no longer end in the cloud's vault suffix.
    """

    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    cloud: Cloud = "public"
    arm_endpoint: str | None = None
    authority_host: str | None = None
    credential_scope: str | None = None
    keyvault_url_template: str | None = None
    """Reach vault NAME's data plane at this URL (`{name}` is substituted), e.g. Azure Stack or a fake."""
    ca_bundle: Path | str | None = None
    app_settings: bool = False
    diagnostics: bool = False
    keyvault: bool = True
    quiet: bool = False
    max_concurrency: int = 8
    """Worker threads for per-subscription and per-resource reads; the budgets below bound their rate."""
    arm_budget: Budget = ARM_READS
    """ARM reads per subscription (80% of the documented bucket 250, refill 25/s)."""
    vault_budget: Budget = VAULT_READS
    """Key Vault data-plane reads per vault; five times this per subscription."""
    retry_backoff: float = 0.8
    """Seconds of the first back-off step when a service answers 429 or 5xx without Retry-After."""
    max_retries: int = 6
    connect_timeout: float = CONNECT_TIMEOUT
    """A host that never answers (a blackholed private endpoint) costs this, times the connect retries."""
    read_timeout: float = READ_TIMEOUT
    reply_timeout: float | None = None
    """Seconds one attempt may take from sending to the reply's last byte; `REPLY_FACTOR` read timeouts if None."""
    credential: Any = None
    """An azure-core `TokenCredential`; `DefaultAzureCredential` when None."""

    @property
    def endpoints(self) -> CloudEndpoints:
        return CLOUDS[self.cloud]

    @property
    def arm_url(self) -> str:
        return (self.arm_endpoint or self.endpoints.arm).rstrip("/")

    @property
    def scope(self) -> str:
        return self.credential_scope or self.endpoints.scope

    @property
    def overridden(self) -> bool:
        """True when any endpoint differs from the cloud's own (Azure Stack, tests)."""
        return bool(self.arm_endpoint or self.authority_host or self.keyvault_url_template)

    @property
    def trusted_ca(self) -> tuple[str, str] | None:
        """The CA file every request trusts and where it was named: `--ca-bundle`, else `SSL_CERT_FILE`.

        `requests` (under azure-core, azure-identity and MSAL) reads `REQUESTS_CA_BUNDLE` and
        `CURL_CA_BUNDLE` itself but ignores `SSL_CERT_FILE`, which Python and OpenSSL users set.
        """
        if self.ca_bundle:
            return str(self.ca_bundle), "--ca-bundle"
        if not any(os.environ.get(name) for name in REQUESTS_CA_ENV) and os.environ.get(SSL_CERT_ENV):
            return os.environ[SSL_CERT_ENV], SSL_CERT_ENV
        return None

    def trust_kwargs(self) -> dict[str, Any]:
        """The trusted CA alone, for a credential that keeps its own timeouts (managed identity's 2 s probe)."""
        trusted = self.trusted_ca
        return {"connection_verify": trusted[0]} if trusted else {}

    def transport_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every azure-core client and credential gets: a transport of its own that
        trusts the CA, keeps the timeouts and bounds each whole reply (`transport.py`)."""
        return {"transport": self.transport()}

    def transport(self, connect_timeout: float | None = None) -> Any:
        """A fresh `DeadlineTransport` with these timeouts (`connect_timeout` overrides the connect one)."""
        from scanner.azure.transport import DeadlineTransport

        reply = self.reply_timeout or self.read_timeout * REPLY_FACTOR
        connect = self.connect_timeout if connect_timeout is None else connect_timeout
        return DeadlineTransport(
            reply, **self.trust_kwargs(), connection_timeout=connect, read_timeout=self.read_timeout
        )
