"""One sign-in per run: the credential the collection, the change reads and the signature share.

Each SDK client's bearer policy asks the credential for a token when it is first used, and
mlwarden makes many clients (one per vault, one per subscription for Defender). azure-identity's
token-issuing credentials cache tokens, but the developer tools' credentials (az, azd,
PowerShell) start a process per request and nothing stops two threads that miss a cache at once
from both signing in. `SharedCredential` keeps the token of each audience and lets one thread
at a time fetch it, so a run signs in once per audience (ARM, Key Vault) until a token nears
its expiry or a service sends a claims challenge (a revoked token), which always fetches anew.
"""

from __future__ import annotations

import json
import threading
import time
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessTokenInfo, TokenRequestOptions

from scanner.azure.credentials import credential_for
from scanner.azure.options import CollectOptions
from scanner.azure.signin import TokenInfoCredential, token_info

REFRESH_MARGIN = 300
"""Seconds before expiry a cached token is no longer handed out (azure-core's bearer policy refreshes then too)."""

ANY_TENANT = frozenset({"common", "organizations"})
"""Authority path segments that name no directory: any account's own tenant answers them."""

_Key = tuple[tuple[str, ...], str | None, bool]


class SharedCredential(TokenInfoCredential):
    """A `TokenCredential` that hands out one token per audience (scopes, tenant, CAE) to every client."""

    def __init__(self, credential: Any, clock: Any = time.time) -> None:
        self.inner = credential
        self._clock = clock
        self._tokens: dict[_Key, AccessTokenInfo] = {}
        self._locks: dict[_Key, threading.Lock] = {}
        self._guard = threading.Lock()
        self.acquired = 0
        """Tokens fetched from the wrapped credential (cache misses), for tests and benchmarks."""

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        options = options or {}
        if str(options.get("tenant_id", "")).lower() in ANY_TENANT:
            # A challenge naming no directory (`.../common`): the credential's own is one it accepts.
            # azure-identity read it as another tenant and refused to sign in to it.
            options = options.copy()
            options.pop("tenant_id", None)
        key: _Key = (tuple(scopes), options.get("tenant_id"), bool(options.get("enable_cae")))
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # a second thread waits for the first one's token instead of signing in again
            cached = self._tokens.get(key)
            if cached is not None and not options.get("claims") and self._fresh(cached):
                return cached
            info = token_info(self.inner, scopes, options)
            with self._guard:
                self.acquired += 1
                self._tokens[key] = info
            return info

    def renew(self, refused: str) -> bool:
        """A service refused this token without a claims challenge (expired early, revoked, a skewed clock):
        fetch a token issued now for every audience that holds it. False when none does.

        The credentials keep caches of their own, which a plain request would answer from; a claims
        request (the CAE form: a token issued no earlier than now) goes to Entra ID."""
        with self._guard:
            keys = [key for key, info in self._tokens.items() if info.token == refused]
        for key in keys:
            scopes, tenant, cae = key
            options: TokenRequestOptions = {"enable_cae": cae, "claims": _issued_after(self._clock())}
            if tenant:
                options["tenant_id"] = tenant
            with self._locks[key]:
                cached = self._tokens.get(key)
                if cached is not None and cached.token != refused:
                    continue  # another thread renewed it meanwhile
                info = token_info(self.inner, scopes, options)
                with self._guard:
                    self.acquired += 1
                    self._tokens[key] = info
        return bool(keys)

    def _fresh(self, info: AccessTokenInfo) -> bool:
        now = self._clock()
        return info.expires_on - now > REFRESH_MARGIN and (info.refresh_on is None or now < info.refresh_on)


def _issued_after(now: float) -> str:
    return json.dumps({"access_token": {"nbf": {"essential": True, "value": str(int(now))}}}, separators=(",", ":"))


class SignIn:
    """The run's credential: built on first use from the options (or the injected one), closed once.

    A credential mlwarden built is closed by `close()`; an injected one (`options.credential`)
    belongs to its caller and is left open.
    """

    def __init__(self, options: CollectOptions) -> None:
        self.options = options
        self._shared: SharedCredential | None = None
        self._owned = False
        self._lock = threading.Lock()

    @property
    def credential(self) -> SharedCredential:
        with self._lock:
            if self._shared is None:
                built = credential_for(self.options)
                self._owned = self.options.credential is None
                self._shared = SharedCredential(built)
            return self._shared

    @property
    def acquired(self) -> int:
        return self._shared.acquired if self._shared is not None else 0

    def close(self) -> None:
        with self._lock:
            shared, self._shared = self._shared, None
        if shared is not None and self._owned:
            closer = getattr(shared.inner, "close", None)
            if callable(closer):
                closer()

    def __enter__(self) -> SignIn:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
