"""Classify setting values in memory, then drop them: only the name and the class survive.

Used where a value is read (app settings, connection strings, ML deployment environment
variables). Nothing here returns, logs or stores the value itself.

A value is a secret when it *carries a credential* (an account or shared access key, a SAS
signature, a password, a client secret, a private key, a bearer or API token), not because it
has the shape of a connection string: `InstrumentationKey=...;IngestionEndpoint=...`,
`Authentication=Active Directory Managed Identity`, `Endpoint=sb://...;Authentication=ManagedIdentity`
and identity-based `X__accountName` settings carry none. Structured values (connection strings,
URLs, JSON) are judged by what they carry; only opaque values are judged by their setting name.

Linear time by construction: values and names come from the estate and may be megabytes long.
The only patterns are splits on one character class, zero-width camel-case boundaries, and
searches whose every attempt starts at a literal (`://`, `bearer`) or at the start of a run (a
lookbehind) and then consumes adjacent runs of disjoint character classes: no nested or
overlapping quantifiers, so each character is looked at a bounded number of times. Everything
else is `str` methods and dictionary lookups over the resulting tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from scanner.inventory import AppSettingFact, SecretClass

REDACTED = "<redacted>"

_KV_REFERENCE = re.compile(
    r"@Microsoft\.KeyVault\("
    r"(SecretUri=https://[^)\s]+|VaultName=[^;)]+;\s*SecretName=[^;)]+(;\s*SecretVersion=[^;)]*)?)"
    r"\)",
    re.IGNORECASE,
)

# Keys of `key=value` pairs (lower-cased, without spaces, `_` and `-`) whose value is a credential.
_CREDENTIAL_KEYS: Mapping[str, SecretClass] = {
    "accountkey": "account-key",
    "sharedaccesskey": "account-key",
    "accesskey": "account-key",
    "key": "account-key",
    "primarykey": "account-key",
    "secondarykey": "account-key",
    "masterkey": "account-key",
    "subscriptionkey": "account-key",
    "sharedaccesssignature": "sas-token",
    "sig": "sas-token",
    "password": "password",
    "pwd": "password",
    "passwd": "password",
    "secret": "secret",
    "clientsecret": "secret",
    "apikey": "token",
    "token": "token",
    "accesstoken": "token",
    "code": "token",
}
# Shortest value that counts per class: a one-letter password is still a password.
_MIN_LENGTH: Mapping[SecretClass, int] = {"password": 1, "sas-token": 16}
_DEFAULT_MIN_LENGTH = 8


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Keys that make a value a structured connection string, judged only by what it carries.
_CONNECTION_KEYS = _word_set(
    "server datasource database initialcatalog endpoint accountendpoint accountname "
    "defaultendpointsprotocol endpointsuffix blobendpoint queueendpoint tableendpoint fileendpoint "
    "hostname host port authentication authtype instrumentationkey ingestionendpoint liveendpoint "
    "applicationid entitypath userid uid username user encrypt trustservercertificate connectiontimeout "
    "sslmode ssl abortconnect version clientid tenantid dbname usedevelopmentstorage sharedaccesskeyname "
    "id transportmode"
)

_PRIORITY: tuple[SecretClass, ...] = (
    "private-key",
    "account-key",
    "sas-token",
    "password",
    "connection-string",
    "secret",
    "token",
)

_SEGMENTS = re.compile(r"[;,&?\r\n]+")
_WHITESPACE = re.compile(r"\s+")
# `scheme://user:password@`: the user-info run stops at the first `/`, so runs never overlap.
_USERINFO = re.compile(r"://([^/?#;,\s@]*)@")
# A match may only start where a run of token characters starts (the lookbehind), and each
# alternative runs over that run once: a JWT (header and payload are base64url JSON) or a
# well-known API token prefix (GitHub, OpenAI, Slack, Hugging Face).
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_-])"
    r"(?:eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+"
    r"|(?:gh[pousr]_|github_pat_|sk-|xox[abp]-|hf_)[A-Za-z0-9_-]{20,})"
)
# `Bearer <token>` / `Basic <credentials>`: two adjacent runs of disjoint classes, nothing after.
_AUTH_SCHEME = re.compile(r"(?<![A-Za-z])(?:bearer|basic)[ \t]+([A-Za-z0-9+/=._~-]{16,})", re.IGNORECASE)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_PASSWORD_WORDS = ("password", "passwd", "pwd", "passphrase")
_SECRET_WORDS = ("secret", "secrets", "token", "tokens", "credential", "credentials", "apikey")
_BENIGN_LAST_WORD = _word_set(
    "enabled enable disabled disable required version type mode kind length count size min max minimum "
    "maximum days hours minutes seconds ttl timeout expiry expiration expires lifetime interval policy "
    "policies rotation reset audience issuer scope scopes algorithm header prefix suffix location region "
    "format provider vault keyvault host hostname server port user username login email account file dir "
    "folder parallelism level store label alias"
)
_BENIGN_LAST_SUFFIXES = ("uri", "uris", "url", "urls", "name", "names", "endpoint", "endpoints", "id", "ids", "path")
_BENIGN_FIRST_WORD = _word_set("enable disable use is allow require show max min")
# What precedes "key" when the key is an identifier, not a credential.
_BENIGN_KEY_OWNERS = _word_set(
    "instrumentation public partition sort routing cache idempotency lookup row foreign ssh dedup"
)
# The last `__` segment of an identity-based connection (Functions, Azure SDK configuration).
_IDENTITY_SETTINGS = _word_set(
    "accountname serviceuri blobserviceuri queueserviceuri tableserviceuri fileserviceuri "
    "fullyqualifiednamespace credential clientid tenantid accountendpoint endpoint subscriptionid "
    "managedidentityresourceid"
)
_NOT_SECRET_VALUES = _word_set(
    "true false yes no on off enabled disabled none null managedidentity workloadidentity systemassigned "
    "userassigned azurecli default"
)


def is_key_vault_reference(value: str) -> bool:
    """`@Microsoft.KeyVault(SecretUri=...)` or `@Microsoft.KeyVault(VaultName=...;SecretName=...)`."""
    return bool(_KV_REFERENCE.fullmatch(value.strip()))


def classify(name: str, value: Any) -> SecretClass:
    """What kind of credential a plaintext value carries, or "none"."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return "none"
    text = str(value).strip()
    if not text or text == REDACTED or is_key_vault_reference(text):
        return "none"
    return _classify(str(name), text, depth=0)


def _classify(name: str, text: str, depth: int) -> SecretClass:
    parsed = _json(text) if depth < 3 else None
    if parsed is not None:
        return _best(_json_classes(parsed, name, depth + 1))
    carried = _best(_carried(text))
    if carried != "none" or _structured(text):
        return carried
    return _by_name(name, text)


def _best(found: Iterator[SecretClass]) -> SecretClass:
    classes = set(found)
    return next((label for label in _PRIORITY if label in classes), "none")


def _carried(text: str) -> Iterator[SecretClass]:
    """Every credential class the value itself carries, whatever its setting is called."""
    if _has_private_key(text):
        yield "private-key"
    yield from _credential_pairs(text)
    if _url_with_password(text):
        yield "connection-string"
    if _has_token(text):
        yield "token"


def _has_private_key(text: str) -> bool:
    """A PEM `-----BEGIN ... PRIVATE KEY-----` line (RSA, EC, OpenSSH, encrypted, PGP blocks)."""
    start = text.find("-----BEGIN ")
    while start >= 0:
        label_start = start + len("-----BEGIN ")
        end = text.find("-----", label_start)
        if end < 0:
            return False
        if "PRIVATE KEY" in text[label_start:end]:
            return True
        start = text.find("-----BEGIN ", end)
    return False


def _pairs(text: str) -> Iterator[tuple[str, str]]:
    """`key=value` pairs split on `;`, `,`, `&`, `?` and newlines, then on whitespace (libpq style)."""
    for splitter in (_SEGMENTS, _WHITESPACE):
        for segment in splitter.split(text):
            key, equals, value = segment.partition("=")
            if equals:
                yield _norm(key), value.strip()


def _norm(key: str) -> str:
    return key.strip().lower().replace(" ", "").replace("_", "").replace("-", "")


def _credential_pairs(text: str) -> Iterator[SecretClass]:
    if "=" not in text:
        return
    for key, value in _pairs(text):
        label = _CREDENTIAL_KEYS.get(key)
        if label is not None and _real(value, _MIN_LENGTH.get(label, _DEFAULT_MIN_LENGTH)):
            yield label


def _real(value: str, min_length: int) -> bool:
    """A value, not a placeholder (`<password>`, `{key}`, `${VAR}`, `%VAR%`, `$(VAR)`, `****`)."""
    value = value.strip().strip("'\"")
    if len(value) < min_length or value == REDACTED or not value.strip("*"):
        return False
    wrapped = (value[0], value[-1]) in {("<", ">"), ("{", "}"), ("%", "%"), ("[", "]")}
    return not wrapped and not (value.startswith(("${", "$(")) and value.endswith(("}", ")")))


def _url_with_password(text: str) -> bool:
    """`scheme://user:password@host` (PostgreSQL, MySQL, MongoDB/Cosmos, Redis, AMQP URIs)."""
    return any(_real(m.group(1).partition(":")[2], 1) for m in _USERINFO.finditer(text))


def _has_token(text: str) -> bool:
    """A JWT, a `Bearer`/`Basic` authorization value or a well-known API token format."""
    if _TOKEN.search(text):
        return True
    # Prose such as "Basic authentication-required" is letters and hyphens; credentials are not.
    return any(not m.group(1).replace("-", "").isalpha() for m in _AUTH_SCHEME.finditer(text))


def _structured(text: str) -> bool:
    """A URL or connection string: the name says nothing its content does not."""
    if "://" in text:
        return True
    return "=" in text and any(key in _CONNECTION_KEYS for key, _value in _pairs(text))


def _json(text: str) -> Any:
    if not (text[0] == "{" and text[-1] == "}"):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _json_classes(node: Any, name: str, depth: int) -> Iterator[SecretClass]:
    """Members of a JSON value (e.g. an `AZURE_CREDENTIALS` service principal) judged like settings."""
    stack: list[tuple[str, Any, int]] = [(name, node, 0)]
    while stack:
        key, item, level = stack.pop()
        if isinstance(item, dict) and level < 8:
            stack.extend((str(k), v, level + 1) for k, v in item.items())
        elif isinstance(item, list) and level < 8:
            stack.extend((key, v, level + 1) for v in item)
        elif isinstance(item, str) and item.strip():
            yield _classify(key, item.strip(), depth)


def _words(name: str) -> str:
    """The name's words, lower-case and space-padded: `AzureOpenAI_API_KEY` -> ` azure open ai api key `."""
    return " " + _NON_ALNUM.sub(" ", _CAMEL.sub(" ", name).lower()).strip() + " "


def _plausible(text: str) -> bool:
    """Could this opaque value be a credential at all (not a switch, number, keyword or path)?"""
    if len(text) < _DEFAULT_MIN_LENGTH or text.lower() in _NOT_SECRET_VALUES:
        return False
    if text.replace(".", "", 1).replace("-", "", 1).isdigit():
        return False
    is_path = text.startswith(("/", "~/", "./")) or (text[1:3] in {":\\", ":/"} and text[0].isalpha())
    return not is_path and _real(text, _DEFAULT_MIN_LENGTH)


def _by_name(name: str, text: str) -> SecretClass:
    """An opaque value under a setting name that says it is a password, secret, token or key.

    Word tests are substring tests on the space-padded words: `"password "` finds any word
    ending in password, `" sas "` the word sas itself.
    """
    if not _plausible(text):
        return "none"
    identity = name.rpartition("__")
    if identity[1] and _norm(identity[2]) in _IDENTITY_SETTINGS:
        return "none"
    spaced = _words(name)
    tail = spaced.rsplit(" ", 3)[-3:-1]  # the last two words (or one)
    first = spaced[1 : spaced.find(" ", 1)]
    if not first or first in _BENIGN_FIRST_WORD:
        return "none"
    last = tail[-1]
    if last in _BENIGN_LAST_WORD or last.endswith(_BENIGN_LAST_SUFFIXES):
        return "none"
    if any(f"{word} " in spaced for word in _PASSWORD_WORDS):
        return "password"
    if any(f"{word} " in spaced for word in _SECRET_WORDS) or " sas " in spaced or _names_a_key(tail):
        return "secret"
    return "none"


def names_a_secret(name: str) -> bool:
    """Whether a setting's name alone says it holds a credential: for a value not known yet (a
    template's value set only at deployment), which may turn out a plaintext secret."""
    return _by_name(name, "opaque-value-set-at-deployment") != "none"


_NAMED_WITHOUT_SECRET = _word_set(
    "applicationinsightsconnectionstring appinsightsinstrumentationkey azureclientid azuretenantid azuresubscriptionid"
)


def named_without_secret(name: str) -> bool:
    """Whether a setting's name alone says its value carries no credential, whatever the value turns
    out to be: an identity-based connection (`X__accountName`, `X__credential`), the managed
    identity's `AZURE_CLIENT_ID`, or Application Insights' connection string (its key is no secret)."""
    prefix, separator, suffix = name.rpartition("__")
    if separator and prefix and _norm(suffix) in _IDENTITY_SETTINGS:
        return True
    return _norm(name) in _NAMED_WITHOUT_SECRET


def _names_a_key(tail: list[str]) -> bool:
    """`..._KEY`, `...Key`, `APIKEY`: a key unless it is an instrumentation, public, partition ... key."""
    last = tail[-1]
    if last in {"key", "keys"}:
        return len(tail) == 1 or tail[0] not in _BENIGN_KEY_OWNERS
    stem = last.removesuffix("keys").removesuffix("key")
    return stem != last and stem not in _BENIGN_KEY_OWNERS


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
