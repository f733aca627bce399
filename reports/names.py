"""Names people can tell apart, derived once from ARM ids and shared by every renderer.

ML deployments are typically called `main`, `blue` or `green` and slots `staging`, so a bare
resource name is ambiguous: `workspace/endpoint/deployment`, `site/slot` and `vault/key` are
not. Subscriptions read as their display name with the id beside it (ids are what auditors
search for, names what they recognise). Deployment membership comes from the postures, so a
finding on a shared Key Vault names every ML deployment it affects.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime

from scanner.models import DeploymentPosture, Finding, ScanResult

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def _segments(resource_id: str) -> list[str]:
    return list(filter(None, resource_id.split("/")))


def subscription_of(resource_id: str) -> str | None:
    parts = _segments(resource_id)
    return parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else None


def resource_group_of(resource_id: str) -> str | None:
    parts = _segments(resource_id)
    return parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else None


def path_name(resource_id: str) -> str:
    """`workspace/endpoint/deployment` from `.../providers/<ns>/workspaces/w/onlineEndpoints/e/deployments/d`.

    Every name after the last provider namespace, so child resources carry their parents. An id
    with no provider part (a subscription, a resource group) yields its last segment.
    """
    lowered = resource_id.lower()
    if lowered.endswith(("/providers", "/providers/")) or len(lowered) != len(resource_id):
        return _path_name_slow(resource_id)
    at = lowered.rfind("/providers/")
    if at < 0 and not lowered.startswith("providers/"):
        parts = _segments(resource_id)
        return parts[-1] if parts else resource_id
    rest = _segments(resource_id[at + len("/providers/") :] if at >= 0 else resource_id[len("providers/") :])
    names = rest[2::2]  # namespace, then type/name pairs
    if names:
        return "/".join(names)
    parts = _segments(resource_id)
    return parts[-1] if parts else resource_id


def _path_name_slow(resource_id: str) -> str:
    """The same, segment by segment: for the ids the fast path cannot cut by position."""
    parts = _segments(resource_id)
    lowered = [part.lower() for part in parts]
    if "providers" not in lowered:
        return parts[-1] if parts else resource_id
    start = len(lowered) - 1 - lowered[::-1].index("providers")
    typed = parts[start + 2 :]
    names = typed[1::2]
    return "/".join(names) if names else (parts[-1] if parts else resource_id)


def display_name(finding: Finding) -> str:
    """The finding's resource, unambiguous; a per-item finding (a key, a secret, a token) appends the item."""
    name = path_name(finding.resource_id) or finding.resource_name
    if finding.resource_type == "microsoft.resources/subscriptions":
        name = finding.resource_name or name
    if shows_detail(finding.detail_key):
        name = f"{name}/{finding.detail_key}"
    return name


def shows_detail(detail_key: str | None) -> bool:
    """Whether a name carries the finding's item: a key or secret name does, a GUID (an assignment) does not."""
    return bool(detail_key) and not _GUID.match(detail_key or "")


def subscription_label(subscription_id: str | None, names: Mapping[str, str]) -> str:
    """`Clinical Production (3f6c…-…)`: the display name when known, always with the id."""
    if not subscription_id:
        return ""
    name = names.get(subscription_id.lower())
    return f"{name} ({subscription_id})" if name else subscription_id


def framework_label(name: str, version: str) -> str:
    """Name and version without saying a word twice: `General Data Protection Regulation (EU) 2016/679`.

    Catalogs often give a citation as the version, and the citation can repeat the name's last
    word ("Regulation" + "Regulation (EU) 2016/679") or all of it.
    """
    if not version or version.lower() in name.lower():
        return name
    name_words, version_words = name.split(), version.split()
    for overlap in range(min(len(name_words), len(version_words)), 0, -1):
        if [w.lower() for w in name_words[-overlap:]] == [w.lower() for w in version_words[:overlap]]:
            return " ".join(name_words + version_words[overlap:])
    return f"{name}, {version}"


def when(moment: datetime | None) -> str:
    """A time to the second, in UTC, as auditors cite it."""
    if moment is None:
        return "unknown"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def deployment_name(posture: DeploymentPosture) -> str:
    return path_name(posture.deployment_id) or posture.name


class DeploymentIndex:
    """Which ML deployments each resource serves, from the postures' dependency lists."""

    def __init__(self, postures: tuple[DeploymentPosture, ...]) -> None:
        self._by_resource: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        self._known: dict[tuple[str, str], tuple[str, ...]] = {}
        """Answers so far: a resource has several findings, and one shared tuple serves them all."""
        for posture in postures:
            label = deployment_name(posture)
            for dependency in posture.dependencies:
                item = dependency.item.lower() if dependency.item else None
                self._by_resource[dependency.resource_id.lower()].append((label, item))

    def of(self, finding: Finding) -> tuple[str, ...]:
        """Sorted deployment names; an item-scoped dependency (one CMK) ignores findings on its vault's other items."""
        return self.of_key(finding.resource_id.lower(), finding.detail_key)

    def of_key(self, resource_id_lower: str, detail_key: str | None) -> tuple[str, ...]:
        """`of` for a resource id already lower-cased (a caller naming many findings keeps it per resource)."""
        detail = (detail_key or "").lower()
        key = (resource_id_lower, detail)
        known = self._known.get(key)
        if known is None:
            names = {
                label
                for label, item in self._by_resource.get(key[0], ())
                if item is None or not detail or item == detail
            }
            known = self._known[key] = tuple(sorted(names))
        return known


def deployment_index(result: ScanResult) -> DeploymentIndex:
    return DeploymentIndex(result.postures)


_ATTESTATION_KEYS = ("status", "attested_by", "role", "date", "expires", "statement", "evidence", "reference")


def _evidence_text(items: object) -> str:
    if not isinstance(items, list):
        return str(items)
    parts = []
    for item in items:
        if not isinstance(item, Mapping):
            parts.append(str(item))
        elif item.get("uri"):
            parts.append(str(item["uri"]))
        else:
            check = "verified" if item.get("verified") else "not verified"
            parts.append(f"{item.get('file')} (sha256 {str(item.get('sha256') or '')[:12]}…, {check})")
    return "; ".join(parts)


def attestation_fields(control: object, field: str = "attestation") -> dict[str, str]:
    """A control result's attestation as label -> text, in reading order; empty when it has none.

    Read by name so renderers stay a function of the ScanResult whatever else the model carries.
    """
    attestation = getattr(control, field, None)
    if attestation is None:
        return {}
    data = attestation.model_dump(mode="json") if hasattr(attestation, "model_dump") else attestation
    if not isinstance(data, Mapping):
        return {"attestation": str(data)}
    out = {}
    for key in _ATTESTATION_KEYS:
        value = data.get(key)
        if value not in (None, "", [], ()):
            out[key] = _evidence_text(value) if key == "evidence" else str(value)
    return out


def attestation_reference(control: object) -> str:
    """One line naming the attestation: `attestation: implemented, by D. Reyes (DPO), on 2026-10-01, expires ...`."""
    fields = attestation_fields(control)
    if not fields:
        return ""
    parts = [f"attestation: {fields.get('status', 'recorded')}"]
    if "attested_by" in fields:
        role = f" ({fields['role']})" if "role" in fields else ""
        parts.append(f"by {fields['attested_by']}{role}")
    if "date" in fields:
        parts.append(f"on {fields['date']}")
    if "expires" in fields:
        parts.append(f"expires {fields['expires']}")
    if "reference" in fields:
        parts.append(f"from {fields['reference']}")
    return ", ".join(parts)
