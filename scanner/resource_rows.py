"""Build `Resource`s from snapshot rows in bulk, at a fraction of pydantic validation's cost.

Validating a row whose fields already have their exact JSON types returns the same values, so
such rows skip validation: `RowBuilder` checks exactly what validation enforces (each field's
type, `id` and `type` not blank, aliases) and fills the model's slots itself. A row with anything
else (a number where text belongs, a field name instead of its alias, a blank id) goes through
`Resource.model_validate`, so it gets validation's result or validation's error.

Rows built here share repeated strings (type, location, subscription, resource group, kind) and
one field set per shape of row: most of what a resource weighs that is not its own data. Their
JSON is frozen later, by `Estate.freeze`, before the runner lets a plugin check see the estate:
a scan with only built-in checks does not pay for it.
"""

from __future__ import annotations

from typing import Any

from scanner.models import Resource

_TEXT_OR_NONE = frozenset({str, type(None)})
_OBJECT_OR_NONE = frozenset({dict, type(None)})
_INT_OR_NONE = frozenset({int, type(None)})
_BY_NAME = frozenset({"subscription_id", "resource_group"})
"""Field names validation accepts beside their aliases (which wins is validation's business)."""
_FIELD_OF = {"subscriptionId": "subscription_id", "resourceGroup": "resource_group"}
_FIELDS = frozenset(Resource.model_fields) - _BY_NAME | frozenset(_FIELD_OF)
"""Row keys that fill a field; every other key is ignored, as validation does (`extra="ignore"`)."""
_new = object.__new__
_set = object.__setattr__


class RowBuilder:
    """Turns rows into `Resource`s; one builder per read, so its caches live as long as the read."""

    __slots__ = ("_field_sets", "_strings", "_type_keys")

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._type_keys: dict[str, str] = {}
        self._field_sets: dict[tuple[str, ...], set[str]] = {}

    def build(self, row: dict[str, Any]) -> Resource:
        """The row as `Resource.model_validate(row)` gives it (or raises), `id_key` and `type_key` included."""
        get = row.get
        rid, rtype, name = get("id"), get("type"), get("name", "")
        kind, location, subscription, group = get("kind"), get("location"), get("subscriptionId"), get("resourceGroup")
        source_file, source_line, source_address = get("source_file"), get("source_line"), get("source_address")
        tags, identity, sku = get("tags"), get("identity"), get("sku")
        if (
            type(rid) is not str
            or type(rtype) is not str
            or type(name) is not str
            or type(kind) not in _TEXT_OR_NONE
            or type(location) not in _TEXT_OR_NONE
            or type(subscription) not in _TEXT_OR_NONE
            or type(group) not in _TEXT_OR_NONE
            or type(source_file) not in _TEXT_OR_NONE
            or type(source_address) not in _TEXT_OR_NONE
            or type(tags) not in _OBJECT_OR_NONE
            or type(identity) not in _OBJECT_OR_NONE
            or type(sku) not in _OBJECT_OR_NONE
            or type(source_line) not in _INT_OR_NONE
            or not rid.strip()
            or not rtype.strip()
            or not _BY_NAME.isdisjoint(row)
        ):
            return Resource.model_validate(row)
        share = self._strings.setdefault
        rtype = share(rtype, rtype)
        type_key = self._type_keys.get(rtype)
        if type_key is None:
            type_key = self._type_keys[rtype] = share(rtype.lower(), rtype.lower())
        shape = tuple(row)
        fields_set = self._field_sets.get(shape)
        if fields_set is None:
            # pydantic copies a model's field set before changing it (model_copy), so one set can serve many
            fields_set = self._field_sets[shape] = {_FIELD_OF.get(key, key) for key in shape if key in _FIELDS}
        resource = _new(Resource)
        _set(
            resource,
            "__dict__",
            {
                "id": rid,
                "name": name,
                "type": rtype,
                "kind": kind and share(kind, kind),
                "location": location and share(location, location),
                "subscription_id": subscription and share(subscription, subscription),
                "resource_group": group and share(group, group),
                "tags": tags,
                "identity": identity,
                "sku": sku,
                "properties": get("properties"),
                "source_file": source_file,
                "source_line": source_line,
                "source_address": source_address,
                "id_key": rid.lower(),
                "type_key": type_key,
            },
        )
        _set(resource, "__pydantic_fields_set__", fields_set)
        _set(resource, "__pydantic_extra__", None)
        _set(resource, "__pydantic_private__", None)
        return resource
