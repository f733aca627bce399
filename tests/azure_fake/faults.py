"""Faults a test can arm on the fake before (or during) a collection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    graph_429: int = 0
    """The next N Resource Graph requests get 429 with quota headers."""
    graph_429_retry_after: bool = True
    graph_5xx: int = 0
    """The next N Resource Graph requests get 503."""
    graph_502: int = 0
    """The next N Resource Graph requests get 502 (a gateway in front of the service)."""
    graph_reset: int = 0
    """The next N Resource Graph requests are read, then the connection is closed with no reply."""
    graph_fail_paged: int | None = None
    """Every Resource Graph request that carries a `$skipToken` gets this status: a partial result, then failure."""
    arm_5xx: int = 0
    """The next N ARM GETs get 500."""
    arm_429: int = 0
    """The next N ARM requests of `arm_429_method` get 429 without Retry-After (unless `wire.retry_after` is `date`)."""
    arm_429_method: str = "GET"
    graph_malformed: str | None = None
    """On the next page: `json` (not JSON), `no-data` (no `data` key), `truncated` (body cut short) or
    `bad-row` (a row without an id)."""
    tenant_limit_hit: bool = False
    """Resource Graph says the tenant scope was capped (`x-ms-tenant-subscription-limit-hit: true`)."""
    token_5xx: int = 0
    """The next N token requests get 503 (Entra ID having a bad moment)."""
    token_replies: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    """The next token requests get these replies (status, body, headers), one each, in order: Entra ID's
    error replies (`invalid_client` with an AADSTS code, 429 with `Retry-After`)."""
    token_refused: bool = False
    """The token endpoint refuses the client (as Entra ID does for an unknown or disabled app)."""
    forbidden_subscription: str | None = None
    """Resource Graph and ARM answer 403 for anything touching this subscription."""
    vanished_subscription: str | None = None
    """Deleted after it was listed: a Resource Graph query naming it gets 400 `BadRequest` with the detail code
    `SubscriptionNotFound` (a query at tenant scope still lists it, as an index that has not caught up)."""
    graph_forbidden: int | None = None
    """Every Resource Graph request gets this status (403: no scope readable; 401: token refused)."""
    graph_table_refused: dict[str, int] = field(default_factory=dict)
    """Resource Graph answers this status to every query of the named table (`securityresources`: 400)."""
    arm_routes_refused: set[str] = field(default_factory=set)
    """ARM routes (`subscription`, `subscriptions`, ...) answered 404 `NoRoute`: a service that does not serve them."""
    unregistered: set[str] = field(default_factory=set)
    """Routes (`graph`, `pricings`) that answer 409 MissingSubscriptionRegistration (a provider never registered)."""
    unregistered_status: int = 409
    """The status those routes answer it with (ARM reads also meet it as 404)."""
    forbidden_vaults: set[str] = field(default_factory=set)
    """Key Vault data plane answers 403 for these vault names (the scanner should fall back to ARM)."""
    forbidden_vaults_arm: set[str] = field(default_factory=set)
    """ARM `vaults/{v}/keys` answers 403 for these vault names."""
    policy_refused: set[str] = field(default_factory=set)
    """Key Vault answers 403 to the rotation-policy read of these keys (no `keys/getrotationpolicy`)."""
    forbidden_app_settings: bool = False
    arm_refused: dict[str, int] = field(default_factory=dict)
    """Resource id (lower case) -> the status its own ARM GET answers (404: deleted since Resource Graph indexed it)."""
    gone: set[str] = field(default_factory=set)
    """Resource ids (lower case) deleted after Resource Graph listed them: still in its rows, but their own
    GET, every ARM read below them and their vault's data plane answer 404 `ResourceNotFound`."""
    kv_claims: int = 0
    """The next N Key Vault requests with a valid token answer a CAE claims challenge (token revoked)."""
    expire_token: int = 0
    """The next N ARM requests answer a CAE claims challenge (token revoked or expired)."""
    token_spent: int = 0
    """The next N Resource Graph or ARM requests find their (valid) token revoked without a claims challenge:
    401 `ExpiredAuthenticationToken`, `error="invalid_token"`, and the token stays refused."""
    kv_busy: int = 0
    """The next N Key Vault requests with a valid token get 429 (`Retry-After` as `wire.retry_after` spells it)
    or, every other one, 503, with the `x-ms-keyvault-*` headers the service sends."""
    kv_token_spent: int = 0
    """The same for the next N Key Vault requests that carry a valid token."""
    changes_refused: int | None = None
    """Resource Graph answers this status (403, 400) to `resourcechanges` queries."""
    delay: float = 0.0
    """Seconds every response waits before being sent."""
    jitter: float = 0.0
    """Up to this many more seconds, at random per response, so replies finish out of order."""
