"""The canonical JSON report: the ScanResult dump, and the JSON Schema published beside it.

Consumers parse this file, so it is the model's own dump with sorted keys (stable bytes for
diffs and signatures) and a schema generated from the same model, committed so that a change
to the model shows up as a reviewed schema change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from scanner.models import SCAN_RESULT_SCHEMA_VERSION, ScanResult

SCHEMA_PATH = Path(__file__).parent / "schema" / "scan-result.schema.json"
SCHEMA_ID = f"urn:mlwarden:scan-result:{SCAN_RESULT_SCHEMA_VERSION}"

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def render(result: ScanResult) -> bytes:
    """The whole result, every finding included: this is the machine-readable record of the scan."""
    return orjson.dumps(result.model_dump(mode="json"), option=_OPTIONS)


def schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of what `render` writes."""
    generated = ScanResult.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
    }


def schema_bytes() -> bytes:
    return orjson.dumps(schema(), option=_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    """`python -m reports.json_report --schema` rewrites the committed schema file."""
    parser = argparse.ArgumentParser(prog="python -m reports.json_report")
    parser.add_argument("--schema", action="store_true", help=f"regenerate {SCHEMA_PATH.name}")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="where to write the schema")
    args = parser.parse_args(argv)
    if not args.schema:
        parser.print_help(sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_suffix(".tmp")
    temporary.write_bytes(schema_bytes())
    temporary.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
