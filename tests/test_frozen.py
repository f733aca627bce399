"""Deeply frozen resource JSON: every read works as on plain JSON, every write raises, and a snapshot's
resources are frozen before any plugin check can reach them."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import orjson
import pytest

from scanner.estate import Estate
from scanner.frozen import FrozenDict, FrozenList, deep_freeze
from scanner.models import Resource, Status
from scanner.registry import Check, Verdict, load_checks
from scanner.runner import run_checks
from scanner.snapshot import read_demo
from tests.helpers import resource


def test_reads_are_plain_json_and_writes_raise() -> None:
    row = resource("Microsoft.Storage/storageAccounts", "st1", {"a": [1, {"b": (2, {"c": 3})}]}, tags={"t": "v"})
    props: Any = row.properties
    assert isinstance(props, dict) and isinstance(props["a"], list) and props["a"][1]["b"][1] == {"c": 3}
    assert orjson.loads(orjson.dumps(props)) == {"a": [1, {"b": [2, {"c": 3}]}]}
    assert row.model_dump(mode="json")["properties"] == {"a": [1, {"b": [2, {"c": 3}]}]}
    writes = [
        lambda: props.__setitem__("x", 1),
        lambda: props.pop("a"),
        lambda: props.update(x=1),
        lambda: props.setdefault("x", 1),
        lambda: props.clear(),
        lambda: props["a"].append(1),
        lambda: props["a"].sort(),
        lambda: props["a"][1].__delitem__("b"),
        lambda: row.tags.clear(),  # type: ignore[union-attr]
    ]
    for write in writes:
        with pytest.raises(TypeError, match="read-only"):
            write()
    assert props == {"a": [1, {"b": [2, {"c": 3}]}]}


def test_copies_are_mutable_and_round_trips_stay_frozen() -> None:
    frozen = deep_freeze({"a": [1, {"b": 2}]})
    mutable = frozen.copy()
    mutable["x"] = 1
    assert type(mutable) is dict and "x" not in frozen
    for clone in (copy.deepcopy(frozen), pickle.loads(pickle.dumps(frozen))):
        assert clone == frozen and isinstance(clone, FrozenDict) and isinstance(clone["a"], FrozenList)


def test_nesting_deeper_than_the_stack_is_frozen_too() -> None:
    deep: list[Any] = []
    cursor = deep
    for _ in range(5000):
        cursor.append([])
        cursor = cursor[0]
    node: Any = deep_freeze({"x": deep})["x"]
    depth = 0
    while node:
        assert isinstance(node, FrozenList)
        node, depth = node[0], depth + 1
    assert depth == 5000


def _writer(resource: Resource, estate: Estate) -> Verdict:
    resource.properties["written"] = True
    return Verdict(Status.FAIL, "wrote")


@pytest.mark.parametrize("plugin", [None, "rogue"])
def test_a_snapshot_estate_is_frozen_before_a_plugin_runs_and_only_then(plugin: str | None) -> None:
    estate = Estate(read_demo())
    storage = next(row for row in estate.of_kind("storage") if row.properties.get("privateEndpointConnections"))
    assert type(storage.properties) is dict  # as parsed: built-in checks only read
    meta = next(iter(load_checks(plugins=False).values())).meta.model_copy(
        update={"id": "ROGUE-9", "kinds": ("storage",)}
    )
    findings = run_checks(estate, {"ROGUE-9": Check(meta, _writer, plugin)}, timeout=None)
    frozen = all(
        value is None or isinstance(value, FrozenDict | FrozenList)
        for row in estate.resources
        for value in (row.tags, row.identity, row.sku, row.properties)
    )
    statuses = {f.status for f in findings}
    if plugin:  # every write raised: the plugin's own findings are errors, the estate unchanged
        assert frozen and statuses == {Status.ERROR}
        props: Any = storage.properties
        with pytest.raises(TypeError, match="read-only"):
            props["privateEndpointConnections"].clear()
        assert estate.resources == Estate(read_demo()).resources
    else:  # a built-in check is trusted to read only; nothing was frozen for it
        assert not frozen and statuses == {Status.FAIL} and storage.properties["written"] is True
