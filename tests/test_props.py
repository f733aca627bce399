"""The property reader every check uses: case-insensitive, never raises on odd shapes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner import props
from tests.helpers import resource

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def test_reads_paths_case_insensitively() -> None:
    row = resource(
        "Microsoft.Storage/storageAccounts",
        "st1",
        {"encryption": {"keySource": "Microsoft.Keyvault", "keyvaultproperties": {"keyvaulturi": "https://kv"}}},
    )
    assert props.get(row, "properties.Encryption.KeyVaultProperties.KeyVaultUri") == "https://kv"
    assert props.equals(row, "properties.encryption.keySource", "microsoft.keyvault")


def test_absent_null_and_wrong_shapes_yield_default() -> None:
    row = resource("Microsoft.Web/sites", "app", {"siteConfig": None, "hostNames": "not-a-list"})
    assert props.get(row, "properties.siteConfig.minTlsVersion") is None
    assert props.get(row, "properties.missing", "dflt") == "dflt"
    assert props.items(row, "properties.hostNames") == []
    assert props.mapping(row, "properties.hostNames") == {}
    assert props.get(row, "nosuchfield.x") is None


def test_list_indexes_and_text_of_booleans() -> None:
    row = resource(
        "Microsoft.ContainerService/managedClusters", "aks", {"agentPoolProfiles": [{"enableNodePublicIP": True}]}
    )
    assert props.get(row, "properties.agentPoolProfiles.0.enableNodePublicIP") is True
    assert props.get(row, "properties.agentPoolProfiles.5.enableNodePublicIP") is None
    assert props.text(row, "properties.agentPoolProfiles.0.enableNodePublicIP") == "true"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("True", True), ("false", False), (None, None), ("yes", None), (1, None)],
)
def test_flag_accepts_defender_string_booleans(value: Any, expected: bool | None) -> None:
    assert props.flag({"x": value}, "x") is expected


def test_identity_type_is_a_comma_separated_set() -> None:
    row = resource("Microsoft.Web/sites", "app", identity={"type": "SystemAssigned, UserAssigned"})
    assert props.identity_types(row) == {"systemassigned", "userassigned"}
    assert props.has_managed_identity(row)
    assert not props.has_managed_identity(resource("Microsoft.Web/sites", "b", identity={"type": "None"}))
    assert not props.has_managed_identity(resource("Microsoft.Web/sites", "c"))


def test_evidence_records_paths_and_values_and_truncates() -> None:
    row = resource("Microsoft.Web/sites", "app", {"httpsOnly": False, "big": "x" * 1000})
    evidence = props.read(row, "properties.httpsOnly", "properties.absent", "properties.big")
    assert [(e.path, e.value) for e in evidence[:2]] == [("properties.httpsOnly", False), ("properties.absent", None)]
    assert len(evidence[2].value) < 400


@given(JSON, st.text(max_size=30))
def test_never_raises_on_arbitrary_json(node: Any, path: str) -> None:
    props.get(node, path or "x")
    props.items(node, path or "x")
    props.text(node, path or "x")
    props.identity_types(node if isinstance(node, dict) else {})
    list(props.walk_strings(node))
