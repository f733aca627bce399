"""Turn SDK exceptions into short, value-free reasons: a status and an error code, nothing quoted."""

from __future__ import annotations

import requests
import urllib3
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
)

from scanner.azure.options import CollectOptions

TIMEOUTS = (TimeoutError, requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)
"""The socket's own, and what requests and urllib3 (azure-core's transport) raise for a connect or read timeout."""


def timed_out(exc: BaseException) -> bool:
    """True when the host did not answer within the connect or read timeout (not a refusal or a reset).

    requests reports a TLS handshake that never completes as a read timeout; both end here.
    """
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        if isinstance(current, urllib3.exceptions.NewConnectionError):  # refused or no such host: an answer
            return False  # (urllib3 2 derives it from its connect timeout for backward compatibility)
        if isinstance(current, TIMEOUTS):
            return True
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    return False


def no_answer(options: CollectOptions) -> str:
    """What a timeout means, and the options that set it."""
    return (
        f"did not answer in time (--connect-timeout {options.connect_timeout:g} s, "
        f"--read-timeout {options.read_timeout:g} s)"
    )


def reason(exc: BaseException) -> str:
    """`HTTP 403 AuthorizationFailed`, `unreachable (ServiceRequestError)`: safe to log and store."""
    if isinstance(exc, DecodeError) and (exc.status_code or 200) < 300:  # a 200 not in the documented shape
        return "malformed response"
    if isinstance(exc, DeserializationError):  # an SDK could not read a reply into its model
        return "malformed response"
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = getattr(exc.error, "code", None) if exc.error is not None else None
        return f"HTTP {exc.status_code} {code}" if code else f"HTTP {exc.status_code}"
    if isinstance(exc, ClientAuthenticationError):
        return f"authentication failed ({type(exc).__name__})"
    if isinstance(exc, AzureError) and timed_out(exc):
        return "no answer in time (timed out)"
    if isinstance(exc, AzureError):
        return f"unreachable ({type(exc).__name__})"
    return type(exc).__name__
