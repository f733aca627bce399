"""Key Vault key metadata: data plane first, ARM (Reader) as fallback, else a coverage gap.

Only metadata leaves this module: enabled, dates, type and size, rotation policy. When the key
type and size need `get_key`, the public key numbers are read for their length and dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.keyvault.keys import KeyClient

from scanner import props
from scanner.azure import failures
from scanner.azure.arm import KEYVAULT_API, ArmClient
from scanner.azure.options import CollectOptions
from scanner.azure.throttle import Quota, retry_policy
from scanner.inventory import KEY_METADATA, KeyMetadata, LifetimeAction, RotationPolicy
from scanner.models import Gap, Resource


def _seconds(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _action(value: Any) -> str:
    text = str(getattr(value, "value", value) or "")
    return text[:1].upper() + text[1:].lower()


def _key_size(key: Any) -> int | None:
    """Modulus length in bits for RSA; the numbers themselves are not kept."""
    modulus = getattr(key, "n", None)
    return len(modulus) * 8 if isinstance(modulus, bytes | bytearray) and modulus else None


class KeyVaultReader:
    def __init__(self, options: CollectOptions, credential: Any, arm: ArmClient, quota: Quota) -> None:
        self._options = options
        self._credential = credential
        self._arm = arm
        self._quota = quota
        self.requests = 0

    def read(self, vault: Resource) -> tuple[list[KeyMetadata], Gap | None]:
        """Keys of one vault, or the gap that explains why they could not be read."""
        uri = props.text(vault, "properties.vaultUri")
        if uri:
            try:
                return self._data_plane(vault, uri.rstrip("/")), None
            except (AzureError, ValueError):
                pass  # private or firewalled vault, or no data-plane permission: try ARM
        try:
            return self._arm_keys(vault, (uri or "").rstrip("/")), None
        except AzureError as exc:
            return [], Gap(source=KEY_METADATA, scope=vault.id, reason=f"keys not readable: {failures.reason(exc)}")

    def _client(self, vault: Resource, uri: str) -> KeyClient:
        options = self._options
        template = options.keyvault_url_template
        url = template.format(name=vault.name) if template else uri
        return KeyClient(
            url,
            self._credential,
            verify_challenge_resource=not options.overridden,
            retry_policy=retry_policy(self._quota, options.retry_backoff, options.max_retries),
            **options.transport_kwargs(),
        )

    def _data_plane(self, vault: Resource, uri: str) -> list[KeyMetadata]:
        out: list[KeyMetadata] = []
        with self._client(vault, uri) as client:
            self.requests += 1
            for item in client.list_properties_of_keys():
                name = item.name
                self.requests += 2
                key = client.get_key(name)
                key_type = str(getattr(key.key_type, "value", key.key_type) or "") or None
                size, curve = _key_size(key.key), getattr(key.key, "crv", None)
                del key
                policy, readable = self._policy(client, name)
                out.append(
                    KeyMetadata(
                        vault_id=vault.id,
                        vault_uri=uri + "/",
                        name=name,
                        kid=f"{uri}/keys/{name}",
                        enabled=item.enabled,
                        expires=_seconds(item.expires_on),
                        not_before=_seconds(item.not_before),
                        created=_seconds(item.created_on),
                        updated=_seconds(item.updated_on),
                        key_type=key_type,
                        key_size=size,
                        curve=str(getattr(curve, "value", curve)) if curve else None,
                        managed=bool(item.managed),
                        rotation_policy=policy,
                        rotation_policy_readable=readable,
                    )
                )
        return out

    @staticmethod
    def _policy(client: KeyClient, name: str) -> tuple[RotationPolicy | None, bool]:
        try:
            policy = client.get_key_rotation_policy(name)
        except HttpResponseError as exc:
            if exc.status_code == 404:
                return None, True
            return None, False
        actions = tuple(
            LifetimeAction(
                action=_action(action.action),
                time_after_create=action.time_after_create,
                time_before_expiry=action.time_before_expiry,
            )
            for action in policy.lifetime_actions or []
        )
        return RotationPolicy(lifetime_actions=actions, expiry_time=policy.expires_in), True

    def _arm_keys(self, vault: Resource, uri: str) -> list[KeyMetadata]:
        """`GET vaults/{v}/keys`: attributes and rotation policy, readable with Reader."""
        self.requests += 1
        out: list[KeyMetadata] = []
        for item in self._arm.list(f"{vault.id}/keys", KEYVAULT_API):
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
            size = props.get(item, "properties.keySize")
            out.append(
                KeyMetadata(
                    vault_id=vault.id,
                    vault_uri=uri + "/",
                    name=name,
                    kid=f"{uri}/keys/{name}" if uri else str(props.get(item, "properties.keyUri") or name),
                    enabled=props.flag(item, "properties.attributes.enabled"),
                    expires=_int(props.get(item, "properties.attributes.exp")),
                    not_before=_int(props.get(item, "properties.attributes.nbf")),
                    created=_int(props.get(item, "properties.attributes.created")),
                    updated=_int(props.get(item, "properties.attributes.updated")),
                    key_type=props.text(item, "properties.kty"),
                    key_size=size if isinstance(size, int) else None,
                    curve=props.text(item, "properties.curveName"),
                    rotation_policy=RotationPolicy(
                        lifetime_actions=actions, expiry_time=props.text(policy, "attributes.expiryTime")
                    )
                    if policy
                    else None,
                    source="arm",
                )
            )
        return out


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
