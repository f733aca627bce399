"""A canonical dump of every index an `Estate` builds, for comparing index builds byte for byte.

Dicts are dumped as their items sorted by key (some are filled from sets, whose order changes
with the hash seed); lists in order, since lookups return them as they are, so a reordering is a
change too.

    python -m tests.estate_index --write     (only when an index is meant to change)
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks.estate_gen import generate
from scanner.estate import Estate, PrivateLink
from scanner.inventory import Inventory
from scanner.snapshot import read_demo, read_snapshot, write_snapshot

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "estate-index-digests.json"
GENERATED = 2_500


def _canon(value: Any) -> Any:
    if isinstance(value, dict):
        items = [[_canon(key), _canon(item)] for key, item in value.items()]
        return sorted(items, key=lambda pair: orjson.dumps(pair[0]))
    if isinstance(value, list | tuple):
        return [_canon(item) for item in value]
    if isinstance(value, PrivateLink):
        return [value.endpoint_id, value.status, list(value.group_ids)]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def dump(estate: Estate) -> dict[str, Any]:
    """Every index, resources named by id (the rows themselves are compared by the snapshot tests)."""
    out: dict[str, Any] = {"resources": [r.model_dump(mode="json", by_alias=True) for r in estate.resources]}
    for name, value in sorted(vars(estate).items()):
        if name in ("resources", "header", "_frozen"):
            continue
        out[name] = _canon(_ids(value))
    return out


def _ids(value: Any) -> Any:
    """Resources replaced by their ids, everything else kept."""
    if isinstance(value, dict):
        return {key: _ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ids(item) for item in value]
    if type(value).__name__ == "Resource":
        return value.id
    return value


def inventories(workdir: Path) -> dict[str, Inventory]:
    """The demo and a generated estate, both read back from snapshot files as a scan reads them."""
    path = workdir / "generated.jsonl"
    write_snapshot(generate(GENERATED, seed=7), path)
    return {"demo": read_demo(), f"generated-{GENERATED}": read_snapshot(path)}


def digests(workdir: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256(orjson.dumps(dump(Estate(inventory)))).hexdigest()
        for name, inventory in inventories(workdir).items()
    }


def main() -> None:
    if "--write" not in sys.argv:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_bytes(orjson.dumps(digests(Path(tmp)), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
