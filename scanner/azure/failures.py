"""Turn SDK exceptions into short, value-free reasons: a status and the service's error code.

azure-core reads an error's code only from `{"error": {"code": ...}}`. Services and the
proxies in front of them also answer `{"odata.error": ...}` (older data-plane services),
`{"code": ...}` at the top level (some resource providers), an OAuth `{"error": "..."}`, plain
text, an HTML page or nothing at all. `service_error` names each: the code (and Key Vault's more
telling inner code), else a short message that holds no token-like run, else the body's kind.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ServiceResponseTimeoutError,
)
from pydantic import ValidationError

from scanner.azure.options import CollectOptions
from scanner.secrets import classify
from scanner.textsafe import printable

TIMEOUTS = (TimeoutError, requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, ServiceResponseTimeoutError)
"""The socket's own, what requests and urllib3 (azure-core's transport) raise for a connect or read timeout,
and azure-core's for a reply not complete in time (`transport.py`)."""


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


def _links(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (azure-core's `inner_exception`, then causes), at most 10."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    return seen


def network(exc: BaseException) -> str:
    """Why a host gave no HTTP answer, in plain words, not the transport's exception class."""
    if timed_out(exc):
        return "no answer in time (timed out)"
    links = _links(exc)
    text = " ".join(str(link) for link in links).lower()
    if any(isinstance(link, ssl.SSLCertVerificationError) for link in links) or "certificate verify failed" in text:
        return "its TLS certificate is not trusted (see --ca-bundle)"
    if any(isinstance(link, ssl.SSLError) for link in links):
        return "the TLS handshake failed"
    if any(isinstance(link, socket.gaierror) for link in links) or "name or service not known" in text:
        return "host name not found (DNS)"
    if any(isinstance(link, ConnectionRefusedError) for link in links) or "connection refused" in text:
        return "connection refused"
    if any(isinstance(link, ConnectionResetError | http.client.RemoteDisconnected) for link in links):
        return "the connection was closed before a reply"
    return "could not connect"


def bounds(options: CollectOptions) -> str:
    """The options that bound a request's wait, as the user would set them."""
    return f"--connect-timeout {options.connect_timeout:g} s, --read-timeout {options.read_timeout:g} s"


def no_answer(options: CollectOptions) -> str:
    """What a timeout means, and the options that set it."""
    return f"did not answer in time ({bounds(options)})"


MAX_ERROR_BODY = 65_536
"""Bytes of an error body read for its code; an error page larger than this is named by its kind."""
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,79}")
_RUN = re.compile(r"\S{25,}")
"""A run this long without a space may be a token, a key or a signature: a message holding one is not quoted."""


def _code(value: Any) -> str | None:
    return value if isinstance(value, str) and _CODE.fullmatch(value) else None


def _message(value: Any) -> str | None:
    if isinstance(value, dict):  # OData: {"lang": "en-US", "value": "..."}
        value = value.get("value")
    if not isinstance(value, str) or not value.strip():
        return None
    line = " ".join(value.split())
    if _RUN.search(line) or classify("message", line) != "none":  # it may carry a token, key or password
        return None
    return printable(line[:100].rstrip() + ("..." if len(line) > 100 else ""))


def _lowered(node: Any) -> dict[str, Any] | None:
    return {str(k).lower(): v for k, v in node.items()} if isinstance(node, dict) else None


def _codes(node: dict[str, Any]) -> list[str]:
    """The error's code, then its inner error's (Key Vault) and its details' (Resource Graph), distinct."""
    found = [node.get("code")]
    inner = _lowered(node.get("innererror"))
    if inner is not None:
        found.append(inner.get("code"))
    details = node.get("details")
    if isinstance(details, list):
        found.extend(detail.get("code") for detail in details[:20] if isinstance(detail, dict))
    return list(dict.fromkeys(code for code in map(_code, found) if code))


def _json_error(body: Any) -> str | None:
    """The codes (or, lacking one, the message) of any error shape Azure services send."""
    lowered = _lowered(body)
    if lowered is None:
        return None
    inner = lowered.get("error", lowered.get("odata.error"))
    if isinstance(inner, str):  # OAuth: {"error": "invalid_client", "error_description": ...}
        return _code(inner) or _message(lowered.get("error_description"))
    node = _lowered(inner) or lowered
    codes = _codes(node)
    return "/".join(codes[:2]) if codes else _message(node.get("message"))


def _body(response: Any) -> bytes | None:
    try:
        data = response.body() if callable(getattr(response, "body", None)) else response.content
    except Exception:  # a reply that cannot be read again (streamed, closed)
        return None
    return bytes(data) if isinstance(data, bytes | bytearray) else None


def error_codes(exc: HttpResponseError) -> list[str]:
    """Every code an error reply names (`["BadRequest", "ResponsePayloadTooLarge"]`), for callers that act on one."""
    return error_codes_of(exc.response) if exc.response is not None else []


def error_codes_of(response: Any) -> list[str]:
    data = _body(response)
    if not data or len(data) > MAX_ERROR_BODY:
        return []
    try:
        body = json.loads(data.decode("utf-8", "replace").lstrip("\ufeff"))
    except ValueError:
        return []
    lowered = _lowered(body) or {}
    node = _lowered(lowered.get("error", lowered.get("odata.error"))) or lowered
    return _codes(node)


def service_error(response: Any) -> str:
    """What an error reply says, for `HTTP 403 <this>`: the codes, a short message, or the body's kind.

    No message is quoted from a reply to a read of secret-bearing settings (`config/appsettings/list`
    and the like): one that echoed a value would carry it into every report."""
    url = str(getattr(getattr(response, "request", None), "url", "")).lower()
    if "/config/" in url:
        codes = error_codes_of(response)
        return "/".join(codes[:2]) if codes else "(no error code)"
    data = _body(response)
    header = _code(str(getattr(response, "headers", {}).get("x-ms-error-code") or ""))
    if data is None:
        return header or ""
    if not data.strip():
        return header or "(empty body)"
    if len(data) > MAX_ERROR_BODY:
        return "(a body too large to read for its code)"
    text = data.decode("utf-8", "replace").lstrip("\ufeff").strip()
    try:
        said = _json_error(json.loads(text))
    except ValueError:
        said = None
        if text[:1] not in "{[":
            if "<html" in text[:512].lower() or text[:1] == "<":
                return "(an HTML page, not an Azure error: a proxy or gateway?)"
            return header or f"({_message(text) or 'a plain-text body'})"
    return said or header or "(no error code)"


def redirected(response: Any) -> str | None:
    """Where a redirect pointed, by host only (its path and query may carry anything): not followed,
    since the request's token is for the host it was sent to (`pipeline.SameHostRedirect`)."""
    location = str(getattr(response, "headers", {}).get("Location") or "")
    if not location:
        return None
    sent = str(getattr(getattr(response, "request", None), "url", ""))
    try:
        host = urlsplit(urljoin(sent, location)).netloc.rsplit("@", 1)[-1]
    except ValueError:
        host = ""
    return f"redirect to {printable(host[:100]) or 'an unreadable location'} not followed"


def reason(exc: BaseException) -> str:
    """`HTTP 403 AuthorizationFailed`, `unreachable: connection refused`: safe to log and store."""
    if isinstance(exc, DecodeError) and (exc.status_code or 200) < 300:  # a 200 not in the documented shape
        # mlwarden raises DecodeError without a response, with a message of its own that names the shape
        return f"malformed response ({printable(exc.message)})" if exc.response is None else "malformed response"
    if isinstance(exc, DeserializationError):  # an SDK could not read a reply into its model
        return "malformed response"
    if isinstance(exc, ValidationError):  # an item without a resource's envelope: where and what, no value
        error = exc.errors()[0]
        return f"malformed response ({'.'.join(str(p) for p in error['loc']) or 'item'}: {error['type']})"
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        if 300 <= exc.status_code < 400 and (moved := redirected(exc.response)):
            return f"HTTP {exc.status_code} {moved}"
        said = service_error(exc.response) if exc.response is not None else ""
        if not said:
            code = getattr(exc.error, "code", None) if exc.error is not None else None
            said = _code(code) or ""
        return f"HTTP {exc.status_code} {said}".rstrip()
    if isinstance(exc, ClientAuthenticationError):
        return f"authentication failed ({type(exc).__name__})"
    if isinstance(exc, AzureError):
        said = network(exc)
        return said if timed_out(exc) else f"unreachable: {said}"
    return type(exc).__name__
