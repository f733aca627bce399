"""Turn SDK exceptions into short, value-free reasons: a status and an error code, nothing quoted."""

from __future__ import annotations

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
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
    if isinstance(exc, AzureError):
        return f"unreachable ({type(exc).__name__})"
    return type(exc).__name__
