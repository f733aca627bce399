"""Classify setting values in memory, then drop them: only the name and the class survive.

Used where a value is read (app settings, connection strings, ML deployment environment
variables). Nothing here returns, logs or stores the value itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.inventory import AppSettingFact, SecretClass

REDACTED = "<redacted>"

_KV_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\("
    r"(SecretUri=https://[^)\s]+|VaultName=[^;)]+;\s*SecretName=[^;)]+(;\s*SecretVersion=[^;)]*)?)"
    r"\)$",
    re.IGNORECASE,
)

_VALUE_PATTERNS: tuple[tuple[SecretClass, re.Pattern[str]], ...] = (
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("account-key", re.compile(r"(AccountKey|SharedAccessKey|AccessKey)\s*=\s*[^;\s]{8,}", re.IGNORECASE)),
    ("sas-token", re.compile(r"(^|[?&;])sig=[A-Za-z0-9%+/=]{16,}", re.IGNORECASE)),
    ("password", re.compile(r"(Password|Pwd)\s*=\s*[^;\s]+", re.IGNORECASE)),
    ("connection-string", re.compile(r"(Server|Data Source|Endpoint|HostName)\s*=.+;", re.IGNORECASE)),
    (
        "token",
        re.compile(
            r"^(eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.|gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|xox[abp]-)"
        ),
    ),
)

_SECRET_NAME = re.compile(
    r"(password|passwd|pwd|secret|token|apikey|api_key|api-key|access_?key|account_?key|client_?secret|"
    r"connection_?string|connstr|private_?key|credential|sas)",
    re.IGNORECASE,
)

# Names whose values are identifiers or switches, never secrets, despite matching _SECRET_NAME.
_BENIGN_NAME = re.compile(r"(_?(name|uri|url|endpoint|id|enabled|version|path)$)|__accountName$", re.IGNORECASE)


def is_key_vault_reference(value: str) -> bool:
    """`@Microsoft.KeyVault(SecretUri=...)` or `@Microsoft.KeyVault(VaultName=...;SecretName=...)`."""
    return bool(_KV_REFERENCE.match(value.strip()))


def classify(name: str, value: Any) -> SecretClass:
    """What kind of secret a plaintext value looks like, or "none"."""
    if value is None or not isinstance(value, str | int | float):
        return "none"
    text = str(value).strip()
    if not text or text == REDACTED:
        return "none"
    for label, pattern in _VALUE_PATTERNS:
        if pattern.search(text):
            return label
    if _SECRET_NAME.search(name) and not _BENIGN_NAME.search(name) and len(text) >= 8:
        return "secret"
    return "none"


def fact(name: str, value: Any, source: str = "app_setting") -> AppSettingFact:
    """The fact kept about one setting. The value goes out of scope with the caller's frame."""
    reference = isinstance(value, str) and is_key_vault_reference(value)
    return AppSettingFact.model_validate(
        {
            "name": name,
            "source": source,
            "key_vault_reference": reference,
            "classification": "none" if reference else classify(name, value),
        }
    )


def facts_from_map(values: Mapping[str, Any] | None, source: str) -> tuple[AppSettingFact, ...]:
    if not isinstance(values, Mapping):
        return ()
    return tuple(fact(str(name), value, source) for name, value in values.items())


def redact_map(values: Any) -> Any:
    """The same keys with every value replaced, for rows that carry settings inline."""
    if not isinstance(values, Mapping):
        return values
    return {str(name): REDACTED for name in values}
