"""Blob containers of the storage accounts ML resources use: one ARM list per account, Reader.

Resource Graph's `resources` table holds no containers. Their public access level comes from a
control-plane list (no keys, no data):
`GET {account}/blobServices/default/containers?api-version=2023-05-01`. Only accounts an ML
resource names in its properties (a workspace's storageAccount, a registry's storage) are
listed, so the request count grows with ML storage, not with every account in scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.azure.arm import ArmClient, as_row
from scanner.estate import referenced_ids
from scanner.models import Resource

STORAGE_API = "2023-05-01"
STORAGE = "microsoft.storage/storageaccounts"
CONTAINER_TYPE = "microsoft.storage/storageaccounts/blobservices/containers"
_ML_PREFIX = "microsoft.machinelearningservices/"


def ml_storage(resources: Iterable[Resource]) -> set[str]:
    """Lower-case ids of the blob-capable storage accounts some ML resource references."""
    rows = list(resources)
    used: set[str] = set()
    for row in rows:
        if row.type_key.startswith(_ML_PREFIX):
            used |= referenced_ids(row.properties)
    return {
        row.id_key
        for row in rows
        if row.type_key == STORAGE and row.id_key in used and (row.kind or "").lower() != "filestorage"
    }


def read(arm: ArmClient, account: Resource, rows: list[Resource]) -> None:
    """Append the account's containers (name, publicAccess and the rest of ARM's properties)."""
    items = arm.list(f"{account.id}/blobServices/default/containers", STORAGE_API)
    rows.extend(as_row(item, CONTAINER_TYPE) for item in items)
