"""Everything a scan read, as data: the inventory, its records and its coverage.

The same inventory comes from a live collection, a snapshot file or the bundled demo; checks
never know which. Facts that need more than a Resource Graph row (key metadata, app-setting
classifications) are records of their own, so every check also runs offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, ConfigDict, Field

from scanner.models import Frozen, Resource, SourceCoverage

SNAPSHOT_SCHEMA: Final = "mlwarden-snapshot"
SNAPSHOT_SCHEMA_VERSION = 1

# Source names: what a collection read. A check that needs one that was not collected, or
# that has a gap covering the resource, reports `unknown` instead of guessing.
RESOURCES = "resources"
APPSERVICE_CONFIG = "appservice_config"
DEFENDER_PLANS = "defender_plans"
DEFENDER_ASSESSMENTS = "defender_assessments"
SECURITY_CONTACTS = "security_contacts"
ML_COMPUTES = "ml_computes"
PUBLISHING_CREDENTIALS = "publishing_credentials"
DIAGNOSTIC_SETTINGS = "diagnostic_settings"
KEY_METADATA = "key_metadata"
APP_SETTINGS = "app_settings"
KEYVAULT_SECRETS = "keyvault_secrets"
REGISTRY_TOKENS = "registry_tokens"
BLOB_CONTAINERS = "blob_containers"
RESOURCE_CHANGES = "resource_changes"
"""Resource Graph's `resourcechanges`: who changed what. Advisory (models.ADVISORY_SOURCES): its gaps never
make a scan incomplete."""

ALL_SOURCES = (
    RESOURCES,
    APPSERVICE_CONFIG,
    DEFENDER_PLANS,
    DEFENDER_ASSESSMENTS,
    SECURITY_CONTACTS,
    ML_COMPUTES,
    PUBLISHING_CREDENTIALS,
    DIAGNOSTIC_SETTINGS,
    KEY_METADATA,
    APP_SETTINGS,
    KEYVAULT_SECRETS,
    REGISTRY_TOKENS,
    BLOB_CONTAINERS,
)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def in_range(value: datetime) -> bool:
    """A time a collection or a change can have; one outside it breaks the change window's
    arithmetic (`collected_at` minus 14 days) and can only be a damaged or forged file."""
    return EARLIEST <= value < LATEST


def _instant(value: datetime) -> datetime:
    if not in_range(value):
        raise ValueError("must be between 1970 and 9000")
    return value


def _written(value: Any) -> Any:
    if not isinstance(value, (str, datetime)):  # pydantic would read 5 as 1970-01-01T00:00:05Z
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-11-01T09:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_written), AfterValidator(_instant)]
"""A point in time with its time zone: a naive time cannot be compared with one that has one."""


class LifetimeAction(Frozen):
    action: str
    """`Rotate` or `Notify`."""
    time_after_create: str | None = None
    time_before_expiry: str | None = None


class RotationPolicy(Frozen):
    lifetime_actions: tuple[LifetimeAction, ...] = ()
    expiry_time: str | None = None
    """ISO-8601 duration the rotated versions live for, e.g. `P2Y`."""


class KeyMetadata(Frozen):
    """A Key Vault key's metadata. Never key material: no modulus, no exponent, no secret."""

    vault_id: str
    """ARM id of the vault."""
    vault_uri: str
    name: str
    kid: str
    """Versionless key identifier, `https://{vault}.vault.azure.net/keys/{name}`."""
    enabled: bool | None = None
    expires: int | None = None
    """Unix seconds; None when the key has no expiry."""
    expires_at_deployment: str | None = None
    """A template's or plan's expiry known only at deployment (`dateTimeAdd(utcNow(), 'P90D')`, a Terraform
    `(known after apply)`): the expression, marker and all; `expires` is then None."""
    not_before: int | None = None
    created: int | None = None
    updated: int | None = None
    key_type: str | None = None
    key_size: int | None = None
    curve: str | None = None
    managed: bool = False
    rotation_policy: RotationPolicy | None = None
    rotation_policy_readable: bool = True
    """False when the policy could not be read (no `getrotationpolicy` permission, or a source without it)."""
    unread_reason: str | None = None
    """Why part of this key's metadata was not read (e.g. the ARM key listing carries no rotation policy)."""
    source: Literal["data-plane", "arm", "template"] = "data-plane"
    deploy_condition: str | None = Field(default=None, exclude=True)
    """A template key's `condition` known only at deployment (its vault's may differ): its findings say so.
    Not serialized: live keys never have one, and snapshots and index digests stay as they were."""


SecretClass = Literal[
    "none", "connection-string", "account-key", "sas-token", "password", "token", "private-key", "secret"
]


class AppSettingFact(Frozen):
    """What we keep of one app setting or connection string: never its value."""

    name: str
    source: Literal["app_setting", "connection_string", "environment_variable"] = "app_setting"
    key_vault_reference: bool = False
    classification: SecretClass = "none"


class AppSettingsFacts(Frozen):
    resource_id: str
    """The web app, function app or ML deployment the settings belong to."""
    settings: tuple[AppSettingFact, ...] = ()


class PropertyChange(Frozen):
    """One property of a change: `previous`/`new` are values, or only a secret class for secret-bearing paths."""

    path: str
    previous: Any = None
    new: Any = None
    change_type: str | None = None
    """`Insert`, `Update` or `Remove`."""


class ResourceChange(Frozen):
    """One row of Resource Graph's `resourcechanges`, as attribution needs it."""

    resource_id: str
    """The changed resource (`properties.targetResourceId`)."""
    change_type: str
    """`Create`, `Update` or `Delete`."""
    time: Instant
    changed_by: str | None = None
    changed_by_type: str | None = None
    client_type: str | None = None
    operation: str | None = None
    correlation_id: str | None = None
    properties: tuple[PropertyChange, ...] = ()


class SnapshotScope(Frozen):
    description: str = ""
    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)


class SnapshotHeader(Frozen):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    record: Literal["header"] = "header"
    schema_: Literal["mlwarden-snapshot"] = Field(default=SNAPSHOT_SCHEMA, alias="schema")
    schema_version: int = SNAPSHOT_SCHEMA_VERSION
    tool_version: str
    collected_at: Instant
    cloud: str = "public"
    inputs: Literal["azure", "template", "plan"] = "azure"
    """What was read: live Azure (or its snapshot), ARM templates, or a Terraform plan."""
    scope: SnapshotScope = SnapshotScope()
    sources: tuple[SourceCoverage, ...] = ()


@dataclass(slots=True, weakref_slot=True)
class Inventory:
    header: SnapshotHeader
    resources: list[Resource] = field(default_factory=list)
    keys: list[KeyMetadata] = field(default_factory=list)
    app_settings: list[AppSettingsFacts] = field(default_factory=list)
    changes: list[ResourceChange] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """Warnings about the input that leave a value unknown without stopping the scan (a template's
    broken expression in a property); the CLI prints each as `mlwarden: warning:`."""
