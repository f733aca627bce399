"""The SDK clients' pipeline without the one policy that writes: ARM's automatic provider registration.

azure-mgmt-core puts `ARMAutoResourceProviderRegistrationPolicy` in every management client. On
a 409 `MissingSubscriptionRegistration` it POSTs `.../providers/{rp}/register` (a write a
read-only scanner must never send) and then polls every 10 s until the provider says
`Registered`, which a service that never says it would make endless. Without it, that 409 is
an ordinary refusal: a coverage gap for the scope that answered it.

`JsonReply` reads a JSON body labelled with a text content type (`text/plain`, as a hand-written
service or a proxy may send) as the JSON it is: azure-core hands the SDKs such a body as a
string, and their model deserializers then fail on a well-formed reply.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse, policies
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

from scanner.azure.options import CollectOptions
from scanner.azure.token_expiry import seconds


class JsonReply(policies.SansIOHTTPPolicy[Any, Any]):
    """Listed before `ContentDecodePolicy`, so it sees each reply after azure-core decoded it."""

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        decoded = response.context.get(policies.ContentDecodePolicy.CONTEXT_NAME)
        http = response.http_response
        mime = str(http.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not isinstance(decoded, str) or not mime.startswith("text/") or decoded.lstrip()[:1] not in ("{", "["):
            return
        try:
            body = json.loads(decoded)
        except ValueError:
            return  # text it is: the caller says the reply is malformed
        response.context[policies.ContentDecodePolicy.CONTEXT_NAME] = body
        http.headers["Content-Type"] = "application/json"  # the SDKs' deserializers read the header again


def json_token_reply(response: PipelineResponse[Any, Any]) -> None:
    """`raw_response_hook` for the credentials, before azure-identity or MSAL decode a token reply.

    A reply labelled `text/*` whose body is JSON is relabelled (azure-identity read the body as a
    string and failed on `content["expires_in"]` with a TypeError, which ended the sign-in), and
    its expiry spelt as seconds (`token_expiry.seconds`): both read only an integer."""
    http = response.http_response
    mime = str(http.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    try:
        body = json.loads(http.text())
    except ValueError:
        return
    if isinstance(body, dict) and (fixed := seconds(body)) is not None:
        data = json.dumps(fixed).encode()
        for holder in (http, getattr(http, "internal_response", None)):  # the copies `text()` and `body()` read
            if holder is not None and hasattr(holder, "_content"):
                holder._content = data
                for cached in ("_text", "_json"):  # azure-core's decoded copies of the old body
                    if hasattr(holder, cached):
                        setattr(holder, cached, None)
    if not mime.startswith("text/"):
        return
    http.headers["Content-Type"] = "application/json"
    with contextlib.suppress(AttributeError):  # a response type that reads it from the headers
        http.content_type = "application/json"  # the transport's copy, which azure-core's decoder reads


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port spelt out (ARM's links say `management.azure.com:443`)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else None)


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def same_origin(url: str, other: str) -> bool:
    """`origin` equal, with this machine's loopback names counted as one host: a local service (an
    emulator, a test double) that writes its links with `127.0.0.1` while it was reached as `localhost`."""
    first, second = origin(url), origin(other)
    if first == second:
        return True
    return first[0] == second[0] and first[2] == second[2] and {first[1], second[1]} <= LOOPBACK


def rebased(url: str, base: str) -> str:
    """`url` with the scheme, host and port of `base` (the path and query kept)."""
    return urlunsplit(urlsplit(url)._replace(scheme=urlsplit(base).scheme, netloc=urlsplit(base).netloc))


class SameHostRedirect(policies.RedirectPolicy[Any, Any]):
    """Follows a redirect on the same scheme, host and port only. azure-core followed one to any host
    and stripped the token on the way, so the other host's refusal read as "could not sign in"; a
    read-only scanner has nothing to send elsewhere. The 3xx is then the reply: `failures.reason`
    names where it pointed."""

    def get_redirect_location(self, response: PipelineResponse[Any, Any]) -> str | Literal[False] | None:
        location = super().get_redirect_location(response)
        if not location:
            return location
        sent = str(response.http_request.url)
        return location if origin(urljoin(sent, str(location))) == origin(sent) else False


_RENEWED = "mlwarden_renewed_token"


class FreshToken(policies.HTTPPolicy[Any, Any]):
    """Outermost: a 401 the bearer policy could not answer (a token expired early or revoked without
    a claims challenge; azure-core retries only claims challenges) gets one token issued now and one
    more try. Without it, every later request sent the same refused token: a gap per resource."""

    def __init__(self, credential: Any) -> None:
        super().__init__()
        self._credential = credential

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        response = self.next.send(request)
        sent = str(request.http_request.headers.get("Authorization") or "")
        renew = getattr(self._credential, "renew", None)
        if response.http_response.status_code != 401 or request.context.get(_RENEWED) or not callable(renew):
            return response
        try:
            renewed = sent.startswith("Bearer ") and renew(sent.removeprefix("Bearer ").strip())
        except Exception:  # no token to be had (a developer tool cannot take claims): the 401 stands
            return response
        if not renewed:
            return response
        request.context[_RENEWED] = True
        return self.next.send(request)


def read_only_policies(options: CollectOptions, credential: Any, retry: policies.RetryPolicy[Any, Any]) -> list[Any]:
    """The generated clients' default order (request id ... logging), less the registration policy."""
    return [
        FreshToken(credential),
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(sdk_moniker="mlwarden"),
        policies.ProxyPolicy(),
        JsonReply(),
        policies.ContentDecodePolicy(),
        SameHostRedirect(),
        retry,
        ARMChallengeAuthenticationPolicy(credential, options.scope),
        policies.CustomHookPolicy(),
        policies.NetworkTraceLoggingPolicy(),
        policies.DistributedTracingPolicy(),
        policies.SensitiveHeaderCleanupPolicy(),
        ARMHttpLoggingPolicy(),
    ]
