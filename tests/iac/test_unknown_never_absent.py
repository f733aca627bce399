"""A value known only at deployment never reads as absent: replacing any one value of the example
template or plan by "known only at deployment" may make a verdict `unknown`, never turn it into a
fail it was not, nor a pass it was not, nor hide a fail as not applicable."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.engine import scan
from scanner.iac import arm_template, located_json
from scanner.iac.rows import SourceRow, build_inventory
from scanner.iac.terraform import plan_rows
from scanner.inventory import Inventory
from scanner.registry import load_checks
from scanner.unevaluated import marker

EXAMPLES = Path(__file__).parents[2] / "examples" / "iac"
DEPLOY = Path(__file__).parents[2] / "deploy" / "azure"
NOW = datetime(2026, 11, 28, tzinfo=UTC)
CHECKS = load_checks(plugins=False)
Verdicts = dict[tuple[str, str, str | None], tuple[str, str]]


def _verdicts(inventory: Inventory) -> Verdicts:
    result = scan(inventory, origin="template", checks=CHECKS, frameworks=[], now=NOW)
    return {(f.check_id, f.resource_id.lower(), f.detail_key): (str(f.status), f.message) for f in result.findings}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every object, list and scalar below `value` (its own path first)."""
    yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


def _compare(base: Verdicts, changed: Verdicts, what: str) -> list[str]:
    wrong = []
    for key, (status, message) in changed.items():
        before = base.get(key, (status, ""))[0]
        if status == before or status == "unknown":
            continue
        # A pass may become not applicable when the unknown value was another resource's link to this one
        # (a workspace's storage account known only at deployment): never a fail, never a pass from a fail.
        if status == "not_applicable" and before == "pass":
            continue
        # An expiry (or other presence) set at deployment is there, whatever its value.
        if status == "pass" and "set at deployment" in message:
            continue
        wrong.append(f"{what}: {key[0]} {key[2] or ''} {before} -> {status}: {message[:120]}")
    return wrong


def _template_rows(path: Path, parameters_file: Path | None) -> list[SourceRow]:
    document = located_json.load(path, "ARM template", comments=True)
    parameters = (
        arm_template.parameter_values(located_json.load(parameters_file, "parameters", comments=True), path)
        if parameters_file
        else {}
    )
    rows = arm_template.evaluate_template(document, path, parameters)
    return [SourceRow(row.data, path.name, row.line, row.address) for row in rows]


def _inventory(rows: list[SourceRow], origin: Any = "template") -> Inventory:
    return build_inventory(rows, origin=origin, description="mutated", now=NOW)


@pytest.mark.parametrize(
    ("template", "parameters", "least"),
    [
        (EXAMPLES / "ml-platform.json", EXAMPLES / "ml-platform.parameters.json", 80),
        (DEPLOY / "mlwarden-job.json", None, 20),
    ],
    ids=["ml-platform", "mlwarden-job"],
)
def test_any_template_value_known_only_at_deployment_is_never_absent(
    template: Path, parameters: Path | None, least: int
) -> None:
    rows = _template_rows(template, parameters)
    base = _verdicts(_inventory(rows))
    wrong: list[str] = []
    tried = 0
    for index, row in enumerate(rows):
        for top in ("properties", "sku", "identity", "kind"):
            for path in _paths(row.data.get(top)) if top in row.data else ():
                data = copy.deepcopy(row.data)
                _set(data, (top, *path), marker(f"reference('x').{'.'.join(map(str, (top, *path)))}"))
                mutated = SourceRow(data, row.file, row.line, row.address)
                changed = _verdicts(_inventory([*rows[:index], mutated, *rows[index + 1 :]]))
                wrong += _compare(base, changed, f"{row.data['type']} {'.'.join(map(str, (top, *path)))}")
                tried += 1
    assert tried > least
    assert not wrong, "\n".join(wrong)


def _unknown_at(path: tuple[Any, ...]) -> Any:
    """`after_unknown` for one attribute path: `{"a": [{"b": true}]}` for ("a", 0, "b")."""
    flag: Any = True
    for key in reversed(path):
        flag = [{}] * key + [flag] if isinstance(key, int) else {key: flag}
    return flag


def _merge(into: Any, flag: Any) -> Any:
    if isinstance(into, dict) and isinstance(flag, dict):
        return {**into, **{k: _merge(into.get(k), v) for k, v in flag.items()}}
    return flag


@pytest.mark.parametrize("plan", ["ml-platform.tfplan.json"])
def test_any_plan_value_known_after_apply_is_never_absent(plan: str, tmp_path: Path) -> None:
    document = json.loads((EXAMPLES / plan).read_text())
    path = tmp_path / plan

    def verdicts(doc: dict[str, Any]) -> Verdicts:
        path.write_text(json.dumps(doc))
        rows = [SourceRow(d, plan, line, a) for d, line, a in plan_rows(located_json.load(path, "plan"), path)]
        return _verdicts(_inventory(rows, "plan"))

    base = verdicts(document)
    wrong: list[str] = []
    tried = 0
    for index, change in enumerate(document["resource_changes"]):
        after = change["change"]["after"]
        for attribute in _paths(after):
            if not attribute or attribute[0] in ("name", "resource_group_name", "location"):
                continue  # what names the resource (its address names it then) is not a judged value
            doc = copy.deepcopy(document)
            target = doc["resource_changes"][index]["change"]
            _set(target["after"], attribute, None)  # Terraform writes null where after_unknown is true
            target["after_unknown"] = _merge(target.get("after_unknown") or {}, _unknown_at(attribute))
            wrong += _compare(base, verdicts(doc), f"{change['address']} {'.'.join(map(str, attribute))}")
            tried += 1
    assert tried > 40
    assert not wrong, "\n".join(wrong)
