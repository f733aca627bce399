"""Key Vault key metadata: data plane first, ARM (Reader) as fallback, else a coverage gap.

A Managed HSM's keys are read the same way: the same `KeyClient` at its `hsmUri` (its challenge names
`https://managedhsm.azure.net`, so the token is asked for that audience), and ARM's
`managedHSMs/{h}/keys` as the fallback.

Only metadata leaves this module: enabled, dates, type and size, rotation policy. When the key
type and size need `get_key`, the public key numbers are read for their length and dropped.
ARM's key listing documents only `attributes` and `keyUri`: whatever it does not return is
recorded as not read (and a coverage gap naming the vault), never as absent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from azure.core.exceptions import AzureError, DecodeError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import ApiVersion, KeyClient, KeyProperties

from scanner import props
from scanner.azure import failures, token_expiry
from scanner.azure.arm import KEYVAULT_API, ArmClient
from scanner.azure.limits import VAULT_SUBSCRIPTION_FACTOR, Limits, VaultGate
from scanner.azure.options import CollectOptions
from scanner.azure.pipeline import FreshToken, JsonReply, SameHostRedirect, origin, same_origin
from scanner.azure.throttle import Quota, retry_policy
from scanner.estate import MANAGED_HSM_TYPE, key_store_uri
from scanner.inventory import KEY_METADATA, KeyMetadata, LifetimeAction, RotationPolicy
from scanner.models import Gap, Resource

KEY_WORKERS = 4
"""Concurrent key reads within one vault (each takes two requests), on top of the vault-level pool."""
MAX_KEY_PAGES = 10_000
"""More key-list pages than any vault holds (25 keys a page by default): a listing that never ends."""
NETWORK_RETRIES = 1
"""A vault host that does not answer is most often private (its name resolves to an address this
runner cannot reach): one more try, then ARM's key listing and a gap, not four timeouts."""


def _seconds(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _action(value: Any) -> str:
    """`Rotate` or `Notify` from the action's type, an enum or text in any case. For an action with
    no trigger the SDK (azure-keyvault-keys 4.x) hands over the action's model itself (`{'type': 'rotate'}`)."""
    value = getattr(value, "type", value)
    if isinstance(value, Mapping):
        value = value.get("type")
    text = str(getattr(value, "value", value) or "")
    return text[:1].upper() + text[1:].lower()


def _key_size(key: Any) -> int | None:
    """Modulus length in bits for RSA; the numbers themselves are not kept.

    The bit length of the number, not of its octets: RFC 7518 (6.3.1.1) notes that some libraries
    prefix a zero octet to `n`, which read as octets made a 2048-bit key 2056 bits."""
    modulus = getattr(key, "n", None)
    if not isinstance(modulus, bytes | bytearray) or not modulus:
        return None
    return int.from_bytes(modulus, "big").bit_length() or None


class KeyVaultReader:
    def __init__(self, options: CollectOptions, credential: Any, arm: ArmClient, quota: Quota) -> None:
        self._options = options
        self._credential = credential
        self._arm = arm
        self._quota = quota
        self.limits = Limits(options.vault_budget)
        """Per vault; `subscription_limits` pools five vaults' worth per subscription."""
        self.subscription_limits = Limits(options.vault_budget.scaled(VAULT_SUBSCRIPTION_FACTOR))
        self.requests = 0
        self._lock = threading.Lock()

    def read(self, vault: Resource) -> tuple[list[KeyMetadata], Gap | None]:
        """Keys of one vault, or the gap that explains why they could not be read; raises
        `HttpResponseError` when ARM's key listing answers 404 (the vault may have been deleted)."""
        uri = key_store_uri(vault)  # a Managed HSM's `hsmUri`: the same KeyClient reads its keys
        refused = "no vault URI"
        if uri:
            try:
                keys = self._served(vault, uri.rstrip("/"))
                return keys, _policy_gap(vault, keys)
            except (AzureError, ValueError) as exc:  # private or firewalled vault, or no data-plane permission
                refused = f"data plane {failures.reason(exc)}"
                if failures.timed_out(exc):
                    refused = "data plane did not answer in time (a private endpoint or firewall?)"
            except (TypeError, AttributeError, KeyError):  # the SDK choked on a reply not in the documented shape
                refused = "data plane malformed response"
        try:
            keys = self._arm_keys(vault, (uri or "").rstrip("/"), refused)
        except AzureError as exc:
            if isinstance(exc, HttpResponseError) and exc.status_code == 404:
                raise  # the vault itself may be gone: the caller asks ARM (`Reads._keys`)
            return [], Gap(source=KEY_METADATA, scope=vault.id, reason=f"keys not readable: {failures.reason(exc)}")
        if unread := _unattributed(keys):  # judged without them, a key would have no expiry: not judged
            return [], Gap(source=KEY_METADATA, scope=vault.id, reason=f"{_named(vault)}: {refused}; {unread}")
        missing = sorted({part for key in keys for part in _missing(key)})
        if not missing:
            return keys, None
        reason = f"{_named(vault)}: {refused}; ARM's key listing has no {' or '.join(missing)}"
        return keys, Gap(source=KEY_METADATA, scope=f"{vault.id}/keys", reason=reason)

    def _served(self, vault: Resource, uri: str) -> list[KeyMetadata]:
        """`_data_plane`, and once more at the API version the vault names when it refuses the SDK's
        (Azure Stack Hub and sovereign clouds lag: `The specified version (7.6) is not recognized.
        Consider using the latest supported version (7.1).`)."""
        try:
            return self._data_plane(vault, uri)
        except HttpResponseError as exc:
            version = served_version(exc)
            if version is None:
                raise
            return self._data_plane(vault, uri, version)

    def _client(self, vault: Resource, uri: str, api_version: str | None = None) -> KeyClient:
        options = self._options
        template = options.keyvault_url_template
        url = template.replace("{name}", vault.name) if template else uri
        return KeyClient(
            url,
            self._credential,
            **({"api_version": api_version} if api_version else {}),
            verify_challenge_resource=not options.overridden,
            per_call_policies=[FreshToken(self._credential), JsonReply()],
            redirect_policy=SameHostRedirect(),
            retry_policy=retry_policy(
                self._quota,
                options.retry_backoff,
                options.max_retries,
                VaultGate(self.limits, self.subscription_limits, vault.id),
                network_retries=NETWORK_RETRIES,
            ),
            **options.transport_kwargs(),
        )

    def _data_plane(self, vault: Resource, uri: str, api_version: str | None = None) -> list[KeyMetadata]:
        """List the keys, then read each key and its policy; a big vault's keys are read a few at a time.

        Results keep the listing's order whatever order the replies arrive in; any failure fails
        the whole vault (the caller falls back to ARM), as a serial read would. A key deleted
        between the listing and its read (404) is left out: there is nothing left to judge.
        """
        with self._client(vault, uri, api_version) as client:
            items = _listed(client, uri)
            read = partial(self._key, client, vault, uri)
            workers = min(KEY_WORKERS, self._options.max_concurrency, len(items))
            if workers > 1:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    out = list(pool.map(read, items))
            else:
                out = [read(item) for item in items]
        keys = [key for key in out if key is not None]
        with self._lock:
            self.requests += 1 + len(items) + len(keys)
        if unread := _unattributed(keys):  # the caller tries ARM's listing
            raise DecodeError(f"{unread} in the listing or the key")
        return keys

    def _key(self, client: KeyClient, vault: Resource, uri: str, item: KeyProperties) -> KeyMetadata | None:
        name = str(item.name)
        try:
            key = client.get_key(name)
        except ResourceNotFoundError:
            return None
        key_type = str(getattr(key.key_type, "value", key.key_type) or "") or None
        size, curve = _key_size(key.key), getattr(key.key, "crv", None)
        # The listing's attributes, or the key's own when the listing left them out (the same version's).
        attributes = item if item.enabled is not None else key.properties
        managed = bool(item.managed or key.properties.managed)  # a certificate's key, said in either reply
        del key
        try:
            policy, readable, why = self._policy(client, name)
        except ResourceNotFoundError:  # `KeyNotFound`: deleted since its GET, as above
            return None
        return KeyMetadata(
            vault_id=vault.id,
            vault_uri=uri + "/",
            name=name,
            kid=f"{uri}/keys/{name}",
            enabled=attributes.enabled,
            expires=_seconds(attributes.expires_on),
            not_before=_seconds(attributes.not_before),
            created=_seconds(attributes.created_on),
            updated=_seconds(attributes.updated_on),
            key_type=key_type,
            key_size=size,
            curve=str(getattr(curve, "value", curve)) if curve else None,
            managed=managed,
            rotation_policy=policy,
            rotation_policy_readable=readable,
            unread_reason=why,
        )

    @staticmethod
    def _policy(client: KeyClient, name: str) -> tuple[RotationPolicy | None, bool, str | None]:
        """The key's rotation policy, whether it was read, and why not.

        Key Vault answers a key that never had a policy with its default one (a Notify action), not
        404. A 404 naming the key (`KeyNotFound`) is a key deleted since it was read (raised); any
        other 404 is read as no policy, as the SDKs' first releases and some emulators answer. A
        refusal (403 `ForbiddenByRbac`, `ForbiddenByPolicy`: no `keys/getrotationpolicy`) or a
        failure leaves the policy unread, which the vault's coverage gap names."""
        try:
            policy = client.get_key_rotation_policy(name)
        except HttpResponseError as exc:
            if exc.status_code == 404 and "KeyNotFound" in failures.error_codes(exc):
                raise ResourceNotFoundError(response=exc.response) from None
            if exc.status_code == 404:
                return None, True, None
            return None, False, f"rotation policy {failures.reason(exc)}"
        actions = tuple(
            LifetimeAction(
                action=_action(action.action),
                time_after_create=action.time_after_create,
                time_before_expiry=action.time_before_expiry,
            )
            for action in policy.lifetime_actions or []
        )
        return RotationPolicy(lifetime_actions=actions, expiry_time=policy.expires_in), True, None

    def _arm_keys(self, vault: Resource, uri: str, refused: str) -> list[KeyMetadata]:
        """`GET vaults/{v}/keys` (Reader): attributes and URI; type, size and policy only if present."""
        self.requests += 1
        out: list[KeyMetadata] = []
        for item in self._arm.list(f"{vault.id}/keys", KEYVAULT_API):
            key = self._arm_key(vault, uri, item)
            missing = _missing(key)
            reason = f"{_named(vault)}: {refused}; ARM's key listing has no {' or '.join(missing)}"
            out.append(key.model_copy(update={"unread_reason": reason}) if missing else key)
        return out

    @staticmethod
    def _arm_key(vault: Resource, uri: str, item: dict[str, Any]) -> KeyMetadata:
        name = str(item.get("name") or "")
        policy = props.mapping(item, "properties.rotationPolicy")
        actions = tuple(
            LifetimeAction(
                action=_action(props.text(action, "action.type")),
                time_after_create=props.text(action, "trigger.timeAfterCreate"),
                time_before_expiry=props.text(action, "trigger.timeBeforeExpiry"),
            )
            for action in props.items(policy, "lifetimeActions")
        )
        expiry = props.text(policy, "attributes.expiryTime")
        return KeyMetadata(
            vault_id=vault.id,
            vault_uri=uri + "/",
            name=name,
            kid=f"{uri}/keys/{name}" if uri else _versionless(props.text(item, "properties.keyUri"), name),
            enabled=props.flag(item, "properties.attributes.enabled"),
            expires=_time(item, "exp"),
            not_before=_time(item, "nbf"),
            created=_time(item, "created"),
            updated=_time(item, "updated"),
            key_type=props.text(item, "properties.kty"),
            key_size=_int(props.get(item, "properties.keySize")),
            curve=props.text(item, "properties.curveName"),
            rotation_policy=RotationPolicy(lifetime_actions=actions, expiry_time=expiry) if policy else None,
            rotation_policy_readable=bool(policy),
            source="arm",
        )


_LATEST = re.compile(r"latest supported version \(([0-9][0-9.-]{0,20})\)")


def served_version(exc: HttpResponseError) -> str | None:
    """The API version a vault's 400 `BadParameter` says it serves, if this SDK speaks it."""
    if exc.status_code != 400 or exc.response is None:
        return None
    found = _LATEST.search(exc.response.text()[:4000])
    known = {str(version.value) for version in ApiVersion}
    return found.group(1) if found and found.group(1) in known else None


def _listed(client: KeyClient, home: str = "") -> list[KeyProperties]:
    """Every key the vault lists, page by page.

    Each `nextLink` is made absolute against the vault first: the SDK's pager appends a path-only
    link to the vault URL, which doubles the path of a vault below one (`https://host/vaults/v`).
    A link to the vault under another name (its own `vaultUri` host, `home`, when it is reached at
    another URL; a loopback host spelt otherwise) is read at the URL the vault is reached at.
    A link back to a page already read would page forever, and one to another host would take
    the vault's token there: neither is followed."""
    seen: set[str] = set()
    items: list[KeyProperties] = []
    link: str | None = None
    while True:
        pages = client.list_properties_of_keys().by_page(continuation_token=link)
        page = next(pages, None)
        if page is None:
            return items
        items.extend(page)
        following = getattr(pages, "continuation_token", None)
        if not following:
            return items
        link = _onto_vault(urljoin(client.vault_url + "/", str(following)), client.vault_url, home)
        if link in seen or len(seen) >= MAX_KEY_PAGES:
            raise DecodeError("key listing: nextLink repeated or never ends")
        if origin(link) != origin(client.vault_url):
            raise DecodeError("key listing: nextLink to another host")
        seen.add(link)


def _onto_vault(link: str, vault_url: str, home: str) -> str:
    """`link` at `vault_url` when it names the same vault another way (see `_listed`); else as it is."""
    if origin(link) == origin(vault_url):
        return link
    if not (same_origin(link, vault_url) or (home and origin(link) == origin(home))):
        return link
    parts, base = urlsplit(link), urlsplit(vault_url)
    prefix = base.path.rstrip("/")
    path = parts.path if not prefix or f"{parts.path}/".startswith(f"{prefix}/") else prefix + parts.path
    return urlunsplit(parts._replace(scheme=base.scheme, netloc=base.netloc, path=path))


def _policy_gap(vault: Resource, keys: list[KeyMetadata]) -> Gap | None:
    """The keys whose rotation policy the data plane refused, named: their rotation (MLW-KV-08) is
    `unknown`, and the scan says it is incomplete, as when ARM's listing stood in for the data plane."""
    unread = [key for key in keys if not key.rotation_policy_readable]
    if not unread:
        return None
    names = sorted(key.name for key in unread)
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    why = unread[0].unread_reason or "rotation policy not readable"
    reason = f"{_named(vault)}: {why} for key {', '.join(names[:3])}{more}"
    return Gap(source=KEY_METADATA, scope=f"{vault.id}/keys", reason=reason)


def _named(store: Resource) -> str:
    """`vault NAME` or `managed HSM NAME`, as coverage gaps name where keys were not read."""
    return f"{'managed HSM' if store.type_key == MANAGED_HSM_TYPE else 'vault'} {store.name}"


def _unattributed(keys: list[KeyMetadata]) -> str | None:
    """Keys whose `attributes` never came (Key Vault and ARM always send `enabled`), named; None if none."""
    names = sorted(key.name for key in keys if key.enabled is None)
    if not names:
        return None
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"no attributes (enabled, expiry) for key {', '.join(names[:3])}{more}"


def _missing(key: KeyMetadata) -> list[str]:
    return [
        part
        for part, seen in (("rotation policy", key.rotation_policy_readable), ("key type", key.key_type))
        if not seen
    ]


def _versionless(key_uri: str | None, name: str) -> str:
    """ARM's `keyUri` spells the port (`https://v.vault.azure.net:443/keys/k`); key references do not."""
    return (key_uri or name).replace(":443/", "/", 1)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(item: dict[str, Any], field: str) -> int | None:
    """A key attribute in unix seconds as the spec says, or as a fraction, digits or a date with a
    zone; absent or null is none. Any other value is no time: read as none, an expiry would be a
    false "no expiry", so the listing is malformed (the vault a gap)."""
    value = props.get(item, f"properties.attributes.{field}")
    if value is None:
        return None
    seconds = _int(value)
    if seconds is None and not isinstance(value, bool):
        seconds = token_expiry.as_seconds(value)
    if seconds is None:
        raise DecodeError(f"key {item.get('name')!s:.60}: '{field}' is not a time")
    return seconds
