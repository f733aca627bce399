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

_TEXT: frozenset[type] = frozenset({str})
_TEXT_OR_NONE: frozenset[type] = frozenset({str, type(None)})
_OBJECT_OR_NONE: frozenset[type] = frozenset({dict, type(None)})
_INT_OR_NONE: frozenset[type] = frozenset({int, type(None)})
_BY_NAME = frozenset({"subscription_id", "resource_group"})
"""Field names validation accepts beside their aliases (which wins is validation's business)."""
_FIELD_OF = {"subscriptionId": "subscription_id", "resourceGroup": "resource_group"}
_FIELDS = frozenset(Resource.model_fields) - _BY_NAME | frozenset(_FIELD_OF)
"""Row keys that fill a field; every other key is ignored, as validation does (`extra="ignore"`)."""
_EXACT: dict[str, frozenset[type]] = {
    "id": _TEXT,
    "type": _TEXT,
    "name": _TEXT,
    "kind": _TEXT_OR_NONE,
    "location": _TEXT_OR_NONE,
    "subscriptionId": _TEXT_OR_NONE,
    "resourceGroup": _TEXT_OR_NONE,
    "source_file": _TEXT_OR_NONE,
    "source_address": _TEXT_OR_NONE,
    "tags": _OBJECT_OR_NONE,
    "identity": _OBJECT_OR_NONE,
    "sku": _OBJECT_OR_NONE,
    "source_line": _INT_OR_NONE,
}
"""The exact JSON types a row key may hold for validation to return it unchanged (`properties`: any)."""
_new = object.__new__
_set = object.__setattr__


def _template() -> dict[str, Any]:
    """A resource's fields and cached keys, in field order, as a key-sharing dict: CPython keeps an
    instance dict filled attribute by attribute in one order as values over the class's shared keys,
    and copies of it stay so. About 190 bytes a resource instead of 460, in fewer cache lines."""
    model = _new(Resource)
    for name in (*Resource.model_fields, "id_key", "type_key"):
        _set(model, name, None)
    return dict.copy(model.__dict__)


_TEMPLATE = _template()


def _plain(shape: tuple[str, ...], types: tuple[type, ...]) -> bool:
    """Whether a row with these keys holding values of these types is one validation returns as it is:
    `id` and `type` present, every field of its exact type, no field given by name instead of alias."""
    if "id" not in shape or "type" not in shape or not _BY_NAME.isdisjoint(shape):
        return False
    return all(kind in _EXACT.get(key, (kind,)) for key, kind in zip(shape, types, strict=True))


class RowBuilder:
    """Turns rows into `Resource`s; one builder per read, so its caches live as long as the read."""

    __slots__ = ("_field_sets", "_strings", "_type_keys")

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._type_keys: dict[str, str] = {}
        self._field_sets: dict[tuple[tuple[str, ...], tuple[type, ...]], set[str]] = {}
        """Per shape of row (its keys, the types of its values): the field set of its resources, or an
        empty set when validation must judge it. pydantic copies a model's field set before changing
        it (model_copy), so one set can serve many."""

    def build(self, row: dict[str, Any]) -> Resource:
        """The row as `Resource.model_validate(row)` gives it (or raises), `id_key` and `type_key` included."""
        # Rows come in few shapes (keys and the types of their values): each shape is judged once.
        shape = (tuple(row), tuple(map(type, row.values())))
        fields_set = self._field_sets.get(shape)
        if fields_set is None:
            keys = shape[0]
            plain = _plain(*shape)
            fields_set = self._field_sets[shape] = (
                {_FIELD_OF.get(k, k) for k in keys if k in _FIELDS} if plain else set()
            )
        get = row.get
        rid, rtype = get("id"), get("type")
        if not fields_set or not rid or not rtype or rid.isspace() or rtype.isspace():
            return Resource.model_validate(row)
        kind, location, subscription, group = get("kind"), get("location"), get("subscriptionId"), get("resourceGroup")
        share = self._strings.setdefault
        rtype = share(rtype, rtype)
        type_key = self._type_keys.get(rtype)
        if type_key is None:
            type_key = self._type_keys[rtype] = share(rtype.lower(), rtype.lower())
        values = _TEMPLATE.copy()  # split: its keys are shared by every resource built here
        values["id"] = rid
        values["name"] = get("name", "")
        values["type"] = rtype
        values["kind"] = kind and share(kind, kind)
        values["location"] = location and share(location, location)
        values["subscription_id"] = subscription and share(subscription, subscription)
        values["resource_group"] = group and share(group, group)
        values["tags"] = get("tags")
        values["identity"] = get("identity")
        values["sku"] = get("sku")
        values["properties"] = get("properties")
        values["source_file"] = get("source_file")
        values["source_line"] = get("source_line")
        values["source_address"] = get("source_address")
        values["id_key"] = rid.lower()
        values["type_key"] = type_key
        resource = _new(Resource)
        _set(resource, "__dict__", values)
        _set(resource, "__pydantic_fields_set__", fields_set)
        _set(resource, "__pydantic_extra__", None)
        _set(resource, "__pydantic_private__", None)
        return resource
