"""Links a template or plan leaves to deployment: a workspace's storage account or a CMK key that is
a parameter without a value, a `(known after apply)` id. A check that applies only to what ML uses
cannot call a resource "not used by ML" while such a link may point at it: the evidence these
return carries the link's marker, so that not-applicable becomes `unknown` naming it."""

from __future__ import annotations

from scanner import kinds, props, unevaluated
from scanner.estate import Estate, vault_host
from scanner.models import Evidence

_STORAGE_LINK = "properties.storageAccount"


def _template(estate: Estate) -> bool:
    return estate.header.inputs != "azure"


def storage_link(estate: Estate) -> tuple[Evidence, ...]:
    """A workspace whose storage account is known only at deployment: it may be any account here."""
    if not _template(estate):
        return ()
    for workspace in estate.by_kind.get(kinds.ML_WORKSPACE, ()):
        value = props.get(workspace, _STORAGE_LINK)
        if unevaluated.find(value) is not None:
            return (Evidence(path=f"{workspace.name}.{_STORAGE_LINK}", value=value),)
    return ()


def cmk_link(estate: Estate, vault_id: str, vault_uri: str | None, ml_only: bool) -> tuple[Evidence, ...]:
    """A resource whose customer-managed key is known only at deployment and may be a key of this
    vault (its vault is unknown too, or is this one); `ml_only`: ML workspaces and what ML uses."""
    if not _template(estate):
        return ()
    here = vault_host(vault_uri or "")
    for kind in _CMK_KINDS:
        for resource in estate.by_kind.get(kind, ()):
            if ml_only and kind != kinds.ML_WORKSPACE and not estate.ml_users(resource):
                continue
            key_id = estate.cmk_key_id(resource)
            if key_id is None or unevaluated.PREFIX not in key_id:
                continue
            if key_id.startswith("https://") and here and vault_host(key_id) != here:
                continue  # the vault is known, and another one: only the key's name is unknown
            named = props.text(resource, _WORKSPACE_VAULT)
            if named and unevaluated.find(named) is None and named.lower() != vault_id.lower():
                continue
            marker = key_id[key_id.index(unevaluated.PREFIX) :]
            return (Evidence(path=f"{resource.name}.customerManagedKey", value=marker.split(">", 1)[0] + ">"),)
    return ()


_WORKSPACE_VAULT = "properties.encryption.keyVaultProperties.keyVaultArmId"
_CMK_KINDS = (kinds.ML_WORKSPACE, kinds.STORAGE, kinds.REGISTRY, kinds.AKS, kinds.COGNITIVE)
