"""Snapshot files: round trip, gzip, and one clear line for every kind of bad input."""

from __future__ import annotations

import copy
import gc
import gzip
import pickle
import weakref
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from scanner import bulk, snapshot
from scanner.errors import InputError
from scanner.estate import Estate
from scanner.inventory import AppSettingFact, AppSettingsFacts, Inventory, KeyMetadata
from scanner.models import Resource
from scanner.resource_rows import RowBuilder
from scanner.snapshot import encode_records, read_demo, read_snapshot, write_snapshot
from tests.helpers import estate, resource, rid


def _inventory() -> Inventory:
    est = estate([resource("Microsoft.KeyVault/vaults", "kv1", {"vaultUri": "https://kv1.vault.azure.net/"})])
    return Inventory(
        header=est.header,
        resources=[r for r in est.resources if r.type_key != "microsoft.resources/subscriptions"],
        keys=[
            KeyMetadata(
                vault_id=rid("Microsoft.KeyVault/vaults", "kv1"),
                vault_uri="https://kv1.vault.azure.net/",
                name="cmk",
                kid="https://kv1.vault.azure.net/keys/cmk",
                enabled=True,
                key_type="RSA-HSM",
            )
        ],
        app_settings=[
            AppSettingsFacts(
                resource_id=rid("Microsoft.Web/sites", "app"),
                settings=(AppSettingFact(name="DB", classification="password"),),
            )
        ],
    )


@pytest.mark.parametrize("name", ["snap.jsonl", "snap.jsonl.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    inventory = _inventory()
    path = tmp_path / name
    write_snapshot(inventory, path)
    back = read_snapshot(path)
    assert back.resources == inventory.resources
    assert back.keys == inventory.keys
    assert back.app_settings == inventory.app_settings
    assert back.header == inventory.header
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"


def _lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "good.jsonl"
    write_snapshot(_inventory(), path)
    return path.read_text().splitlines()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda lines: [*lines[:1], "{not json", *lines[1:]], "line 2: not valid JSON"),
        (lambda lines: [*lines, "[1, 2]"], "line 5: expected a JSON object"),
        (
            lambda lines: [*lines, '{"record": "resource", "data": {"name": "x"}}'],
            "line 5: invalid resource record: id",
        ),
        (lambda lines: [*lines, '{"record": "resource"}'], "line 5: record 'resource' has no 'data' object"),
        (lambda lines: [*lines, '{"record": "alien", "data": {}}'], "line 5: unknown record type 'alien'"),
        (lambda lines: [*lines, lines[1]], "line 5: duplicate resource id"),
        (lambda lines: lines[1:], "line 1: not an mlwarden snapshot"),
        (lambda lines: [lines[0].replace('"schema_version":1', '"schema_version":99'), *lines[1:]], "version 99"),
        (lambda lines: [], "empty file"),
    ],
)
def test_bad_snapshots_fail_with_file_and_line(tmp_path: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    lines = mutate(_lines(tmp_path))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    with pytest.raises(InputError) as info:
        read_snapshot(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_truncated_gzip_is_an_input_error(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl.gz"
    write_snapshot(_inventory(), good)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(InputError, match="unreadable or truncated"):
        read_snapshot(cut)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        read_snapshot(tmp_path / "nope.jsonl")


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    inventory = _inventory()
    inventory.resources.append(object())  # type: ignore[arg-type]  # breaks encoding mid-write
    path = tmp_path / "out.jsonl.gz"
    with pytest.raises(AttributeError):
        write_snapshot(inventory, path)
    assert list(tmp_path.iterdir()) == []


def test_gzip_and_plain_are_equivalent(tmp_path: Path) -> None:
    plain, zipped = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz"
    inventory = _inventory()
    write_snapshot(inventory, plain)
    write_snapshot(inventory, zipped)
    assert gzip.decompress(zipped.read_bytes()) == plain.read_bytes()


def _demo_rows() -> list[dict[str, Any]]:
    rows = [orjson.loads(line) for line in encode_records(read_demo())]
    return [row["data"] for row in rows if row.get("record") == "resource"]


ODD_ROWS: list[dict[str, Any]] = [
    {"id": "/a", "type": "t"},
    {"id": "/A/B", "type": "Microsoft.Web/sites", "name": "b", "kind": None, "tags": None, "extra": [1, 2]},
    {"id": "/a", "type": "t", "subscription_id": "by-name", "resource_group": "rg"},
    {"id": "/a", "type": "t", "subscriptionId": "alias", "subscription_id": "by-name"},
    {"id": "/a", "type": "t", "source_line": "7"},
    {"id": "/a", "type": "t", "source_line": 7.0},
    {"id": "/a", "type": "t", "source_line": True},
    {"id": "/a", "type": "t", "properties": [1, {"b": None}], "sku": {}, "identity": {"type": "None"}},
    {"id": "/İD", "type": "T", "location": "westeurope", "resourceGroup": "RG"},
]
BAD_ROWS: list[dict[str, Any]] = [
    {"type": "t"},
    {"id": " \t", "type": "t"},
    {"id": "/a", "type": ""},
    {"id": 7, "type": "t"},
    {"id": "/a", "type": "t", "name": None},
    {"id": "/a", "type": "t", "location": 3},
    {"id": "/a", "type": "t", "tags": ["x"]},
    {"id": "/a", "type": "t", "source_line": "seven"},
    {"id": "/a", "type": "t", "subscriptionId": {"x": 1}},
]


@pytest.mark.parametrize("row", [*_demo_rows(), *ODD_ROWS], ids=lambda row: str(row.get("id"))[-40:])
def test_rows_read_in_bulk_are_what_validation_makes(row: dict[str, Any]) -> None:
    built, validated = RowBuilder().build(dict(row)), Resource.model_validate(row)
    assert built == validated
    assert built.model_dump(by_alias=True) == validated.model_dump(by_alias=True)
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set
    assert (built.id_key, built.type_key) == (validated.id.lower(), validated.type.lower())


@pytest.mark.parametrize("row", BAD_ROWS, ids=str)
def test_malformed_rows_fail_as_validation_fails(row: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as validated:
        Resource.model_validate(row)
    with pytest.raises(ValidationError) as built:
        RowBuilder().build(row)
    assert built.value.errors(include_context=False) == validated.value.errors(include_context=False)


def test_repeated_text_is_shared_and_keys_follow_a_copy() -> None:
    builder = RowBuilder()
    first, second = (
        builder.build({"id": f"/s/{n}", "type": "Microsoft.Storage/storageAccounts", "location": f"west{'europe'}"})
        for n in "ab"
    )
    assert first.type is second.type and first.type_key is second.type_key and first.location is second.location
    moved = first.model_copy(update={"id": "/S/C", "type": "X", "kind": "k"})
    assert (moved.id_key, moved.type_key) == ("/s/c", "x") and first.id_key == "/s/a"
    assert first.model_fields_set == second.model_fields_set == {"id", "type", "location"}  # the shared set is intact
    assert pickle.loads(pickle.dumps(first)) == first == copy.deepcopy(first)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_line_numbers_survive_blank_lines_crlf_and_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(snapshot, "_CHUNK", chunk)
    header, *records = _lines(tmp_path)
    text = "\r\n".join([header, "", "   ", records[0], "\t", *records[1:]]) + "\r\n\n\n"
    good = tmp_path / "crlf.jsonl"
    good.write_bytes(text.encode())
    back = read_snapshot(good)
    assert back.resources == _inventory().resources and len(back.keys) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes((text + "\n" * 5000 + "  {broken\n").encode())
    with pytest.raises(InputError, match=rf"line {text.count(chr(10)) + 5001}: not valid JSON"):
        read_snapshot(bad)


class _Cycle:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_bulk_data_stays_out_of_the_collector_only_while_it_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.jsonl"
    write_snapshot(_inventory(), path)
    monkeypatch.setattr(bulk, "_resident", True)
    gc.collect()
    before = bulk._holders
    cycle = _Cycle()
    alive = weakref.ref(cycle)
    inventory = read_snapshot(path)
    est = Estate(inventory)
    assert bulk._holders == before + 2 and gc.get_freeze_count() > 0
    del cycle, est
    gc.collect()
    assert bulk._holders == before + 1 and alive() is not None  # frozen: out of the collector's reach
    del inventory
    assert bulk._holders == before
    if before == 0:  # released: cycles made meanwhile are collected again
        gc.collect()
        assert gc.get_freeze_count() == 0 and alive() is None


def test_bulk_data_is_not_frozen_outside_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "snap.jsonl"
    write_snapshot(_inventory(), path)
    before = (bulk._holders, gc.get_freeze_count())
    inventory = read_snapshot(path)
    assert (bulk._holders, gc.get_freeze_count()) == before and Estate(inventory).resources
