"""A credential chain that remembers why each credential failed, in words safe to print.

azure-identity's chains join the credentials' own messages, which vary by version, run to
several lines and may quote service responses. Here each failure is reduced to a short cause
(not configured, token file missing, authority unreachable, an AADSTS code) so the CLI can say
in one line what was tried and why it failed, without a secret, token or assertion.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
from azure.identity import CredentialUnavailableError

from scanner.azure.failures import timed_out
from scanner.textsafe import printable

AADSTS = re.compile(r"AADSTS(\d{4,7})")
OAUTH_ERRORS = ("invalid_client", "unauthorized_client", "invalid_grant", "invalid_request", "invalid_scope")
HOST = re.compile(r"host='([^']{1,253})'(?:, port=(\d{1,5}))?")
UNREACHABLE = ("Unable to connect", "Connection refused", "Failed to establish a new connection", "timed out")
MEANINGS = {
    "700016": "application not found in the directory",
    "7000215": "invalid client secret",
    "7000222": "client secret expired",
    "700024": "client assertion outside its valid time range",
    "70021": "no federated identity credential matches the token's issuer and subject",
    "700211": "no federated identity credential matches the token's issuer",
    "700213": "no federated identity credential matches the token's subject",
    "90002": "tenant not found",
    "90033": "a transient error at Entra ID; try again",
    "900023": "tenant id is not valid",
    "50034": "user account not found",
    "53003": "blocked by Conditional Access",
    "500011": "resource principal not found in the tenant (wrong cloud or scope?)",
}
UNAVAILABLE = (
    # (fragment of azure-identity's message, what we say) -- first match wins
    ("environment variables are not fully configured", "not configured (no AZURE_CLIENT_ID/AZURE_TENANT_ID/secret)"),
    ("azure cli not found", "az is not installed"),
    ("please run 'az login'", "az is not signed in (run az login)"),
    ("az login", "az is not signed in (run az login)"),
    ("powershell", "Azure PowerShell is not installed or not signed in"),
    ("azure developer cli", "azd is not installed or not signed in"),
    ("azd auth login", "azd is not signed in"),
    ("imds", "no managed identity endpoint (not running in Azure?)"),
    ("managed identity", "no managed identity available"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def cause(exc: BaseException, timeouts: str = "") -> str:
    """A short, secret-free reason for one credential's failure; `timeouts` names the options that
    bound a request that got no answer (`--connect-timeout 10 s, --read-timeout 60 s`)."""
    links = _chain(exc)
    text = " ".join(str(getattr(link, "message", None) or link) for link in links)
    if code := AADSTS.search(text):
        meaning = MEANINGS.get(code.group(1))
        return f"Entra ID refused it (AADSTS{code.group(1)}{': ' + meaning if meaning else ''})"
    if any(isinstance(link, FileNotFoundError) for link in links) or "No such file or directory" in text:
        return "federated token file not found (AZURE_FEDERATED_TOKEN_FILE)"
    if any(timed_out(link) for link in links):  # a managed identity endpoint or an authority that never replied
        where = HOST.search(text)
        host = f"{where.group(1)}{':' + where.group(2) if where.group(2) else ''}" if where else "its endpoint"
        return printable(f"{host} did not answer in time{f' ({timeouts})' if timeouts else ''}")
    network = any(isinstance(link, ServiceRequestError | ServiceResponseError | ConnectionError) for link in links)
    if network or any(words in text for words in UNREACHABLE):
        where = HOST.search(text)
        host = f" {where.group(1)}{':' + where.group(2) if where.group(2) else ''}" if where else ""
        return f"could not reach the authority{printable(host)} (network)"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):  # a token was issued but Azure refused it (wrong tenant, cloud or scope)
        code = getattr(getattr(exc, "error", None), "code", None)
        said = f"HTTP {status}{' ' + printable(str(code)) if code else ''}"
        if status >= 500 or status == 429:  # not a refusal: the service could not answer now
            return f"the service did not answer ({said}); try again later"
        return f"Azure refused the token ({said})"
    lowered = text.lower()
    if isinstance(exc, CredentialUnavailableError):
        for fragment, said in UNAVAILABLE:
            if fragment in lowered:
                return said
        return "unavailable"
    for name in OAUTH_ERRORS:
        if name in lowered:
            return f"Entra ID refused it ({name})"
    return f"failed ({type(exc).__name__})"


class SignInFailed(ClientAuthenticationError):
    """No credential in the chain produced a token; `attempts` says which were tried and why each failed."""

    def __init__(self, authority: str, attempts: Sequence[tuple[str, str]]) -> None:
        self.authority = authority
        self.attempts = tuple(attempts)
        super().__init__(message=self.summary())

    def summary(self) -> str:
        tried = "; ".join(f"{name}: {why}" for name, why in self.attempts) or "no credential is enabled"
        return f"could not sign in to Azure at {self.authority}: {tried}"


class TokenInfoCredential:
    """A credential written against `get_token_info`, with the older `get_token` that SDK clients
    still call made from it (one place for how the keywords map onto token request options)."""

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        raise NotImplementedError

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        options: TokenRequestOptions = {"enable_cae": enable_cae}
        if claims:
            options["claims"] = claims
        if tenant_id:
            options["tenant_id"] = tenant_id
        info = self.get_token_info(*scopes, options=options)
        return AccessToken(info.token, info.expires_on)


class SignInChain(TokenInfoCredential):
    """Try each credential in order; a configured credential that fails ends the chain, like azure-identity's."""

    def __init__(
        self,
        authority: str,
        credentials: Sequence[tuple[str, Any]],
        unavailable: Sequence[tuple[str, str]] = (),
        timeouts: str = "",
    ) -> None:
        self.authority = authority
        self.timeouts = timeouts
        self._credentials = list(credentials)
        self._unavailable = list(unavailable)
        self._chosen: tuple[str, Any] | None = None
        self._lock = threading.Lock()

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        options = options or {}
        if self._chosen is not None:
            name, credential = self._chosen
            try:
                return token_info(credential, scopes, options)
            except Exception as exc:  # e.g. a refresh refused mid-scan
                raise SignInFailed(self.authority, [(name, cause(exc, self.timeouts))]) from None
        attempts = list(self._unavailable)
        for name, credential in self._credentials:
            try:
                info = token_info(credential, scopes, options)
            except CredentialUnavailableError as exc:
                attempts.append((name, cause(exc, self.timeouts)))
                continue
            except Exception as exc:  # configured but failed: stop here, as azure-identity's chains do
                attempts.append((name, cause(exc, self.timeouts)))
                break
            with self._lock:
                self._chosen = (name, credential)
            return info
        raise SignInFailed(self.authority, attempts)

    def close(self) -> None:
        for _, credential in self._credentials:
            closer = getattr(credential, "close", None)
            if callable(closer):
                closer()


def token_info(credential: Any, scopes: Sequence[str], options: TokenRequestOptions) -> AccessTokenInfo:
    if hasattr(credential, "get_token_info"):
        info: AccessTokenInfo = credential.get_token_info(*scopes, options=options)
        return info
    token: AccessToken = credential.get_token(*scopes, **options)
    return AccessTokenInfo(token.token, token.expires_on)
