"""A token reply's expiry as whole seconds, the only spelling azure-identity and MSAL read.

Entra ID's v2 endpoint sends `expires_in` as a number; its v1 endpoint, ADFS, App Service's older
managed identity API and hand-written services also send `expires_on` as a date
(`2026-11-28T14:03:00Z`, `11/28/2026 2:03:00 PM +00:00`, an HTTP date) or seconds with a
fraction (`"3599.0"`). azure-identity's `int(...)` raised ValueError on each, and the scan ended as
"could not sign in" with a token in hand; MSAL needs `expires_in` and failed on a reply with only
`expires_on`.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

_FORMATS = ("%m/%d/%Y %I:%M:%S %p %z", "%m/%d/%Y %H:%M:%S %z")
"""App Service's 2017-09-01 managed identity API, in 12- and 24-hour form."""


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) else None


def _date(value: Any) -> int | None:
    text = str(value).strip()
    for parse in (
        lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")),
        parsedate_to_datetime,
        *(lambda t, f=form: datetime.strptime(t, f) for form in _FORMATS),
    ):
        try:
            when = parse(text)
        except (ValueError, TypeError, IndexError):
            continue
        if when.tzinfo is not None:  # a date without a zone says no instant
            return int(when.timestamp())
    return None


def as_seconds(value: Any) -> int | None:
    """Unix seconds from a number, digits (a fraction allowed) or a date with a zone; None otherwise."""
    return _number(value) or _date(value)


OPTIONAL = ("ext_expires_in", "refresh_in")
"""Durations MSAL's token cache (under azure-identity's credentials too) reads as numbers: `refresh_in`
with `now + refresh_in` (a string, as the v1 endpoint and proxies spell every field, was a TypeError and
"could not sign in"), `ext_expires_in` with `int(...)` (a fraction was a ValueError)."""


def seconds(body: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
    """The reply with `expires_in`/`expires_on` (and `OPTIONAL`) as integers where it spelt them otherwise, and an
    `expires_in` worked out from `expires_on` when only that came (MSAL reads `expires_in` alone);
    None when nothing needed changing. An `expires_on` no form reads is left out when `expires_in`
    says enough."""
    if "access_token" not in body:
        return None  # an error reply: azure-identity names it as it is
    changed = dict(body)
    for name, read in (("expires_in", _number), ("expires_on", as_seconds)):
        value = body.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            continue
        if isinstance(value, str) and value.strip().isdigit():
            continue  # the integer string both libraries read
        number = read(value)
        if number is not None:
            changed[name] = number
        elif name == "expires_on" and "expires_in" in changed:
            del changed[name]
    for name in OPTIONAL:
        value = body.get(name)
        if name not in body or (isinstance(value, int) and not isinstance(value, bool)):
            continue
        number = _number(value)
        if number is None:
            del changed[name]  # optional: without it the libraries use `expires_in`
        else:
            changed[name] = number
    ends = _number(changed.get("expires_on"))
    if "expires_in" not in changed and ends is not None:
        changed["expires_in"] = max(0, ends - int(time.time() if now is None else now))
    return changed if changed != body else None
