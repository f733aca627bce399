"""Snapshot files: round trip, gzip, and one clear line for every kind of bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.inventory import AppSettingFact, AppSettingsFacts, Inventory, KeyMetadata
from scanner.snapshot import read_snapshot, write_snapshot
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
