"""Framework catalogs: the control model and a loader that rejects a bad file with one clear line.

Catalogs are data (`frameworks/*.yaml`, plus user files). A control names what evidences it by
check tag and/or check id; a control nothing maps to is manual and says what an auditor must
collect. Every problem in a file surfaces as `InputError("<file>:<line>: <what>")`, never a
traceback, because catalogs are hand-edited by people who are not reading our source.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from frameworks.citations import contradicting_citation
from scanner import safe_yaml
from scanner.errors import InputError
from scanner.safe_yaml import LocatedDict, LocatedError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers_as_text(cls, data: Any) -> Any:
        """`version: 2022` is the text it spells; a float (`1.10`, read as 1.1), a date or a boolean
        is not, and is refused with a hint to quote it."""
        if not isinstance(data, dict):
            return data
        return {k: str(v) if type(v) is int and k != "line" else v for k, v in data.items()}


class ControlMapping(_Frozen):
    """Checks (by tag or id) whose findings evidence a control, and how strongly."""

    tags: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    strength: Literal["direct", "supporting"]
    rationale: str = ""


class Control(_Frozen):
    """One provision of a framework; no mappings means an auditor evidences it by hand."""

    id: str
    title: str
    description: str = ""
    kind: str | None = None
    level: Literal["required", "addressable"] | None = None
    parent: str | None = None
    mappings: tuple[ControlMapping, ...] = ()
    manual_evidence: str | None = None
    line: int = 0


class Framework(_Frozen):
    """A whole catalog, as loaded from one file."""

    id: str
    name: str
    version: str
    publisher: str = ""
    url: str = ""
    status: Literal["in-force", "proposed"] = "in-force"
    description: str = ""
    controls: tuple[Control, ...]
    source: str = ""


_FRAMEWORK_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")  # selectable as `--framework a,b`
_LOADER_FIELDS = {"line", "source"}  # set by the loader, never by a catalog author


def _keys(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """(allowed, required) YAML keys for a model, straight from its fields so they cannot drift."""
    allowed = set(model.model_fields) - _LOADER_FIELDS
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    return allowed, required


def _shown(value: Any) -> str:
    """A YAML value as its author would write it, not as Python spells it (`datetime.date(...)`)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, datetime):
        return f"a date and time, {value.isoformat(sep=' ')}"
    if isinstance(value, date):
        return f"a date, {value.isoformat()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return repr(value)


_QUOTE_HINT = "; put it in quotes as written (YAML reads 1.10 as the number 1.1, yes as true, 2026-01-01 as a date)"
"""Text YAML read as something else: `version: 1.10` is the number 1.1 and `id: 164.310` is 164.31,
so a number is never taken as the text it no longer spells."""


def _suggest(word: str, choices: Collection[str]) -> str:
    same = [c for c in choices if c.casefold() == word.casefold()]  # `mlw-kv-08`: difflib sees no likeness
    close = same or difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Reader:
    """Validates one parsed file; every complaint ends the load with file and line."""

    def __init__(self, source: str, check_ids: Collection[str], tags: Collection[str]) -> None:
        self.source = source
        self.check_ids = frozenset(check_ids)
        self.tags = frozenset(tags)

    def fail(self, line: int, message: str) -> NoReturn:
        raise InputError(f"{self.source}:{line}: {_one_line(message)}")

    def mapping(self, value: Any, line: int, what: str, model: type[BaseModel]) -> LocatedDict:
        if not isinstance(value, LocatedDict):
            self.fail(line, f"{what} must be a mapping of keys to values, not {safe_yaml.kind_name(value)}")
        allowed, required = _keys(model)
        for key in value:
            if key not in allowed:
                self.fail(
                    value.line_of(key), f"unknown key {safe_yaml.key_name(key)} in {what}{_suggest(key, allowed)}"
                )
        missing = sorted(required - set(value))
        if missing:
            self.fail(value.line, f"{what} is missing {', '.join(repr(k) for k in missing)}")
        return value

    def sequence(self, owner: LocatedDict, key: str, what: str) -> list[Any]:
        value = owner.get(key, [])
        if not isinstance(value, list):
            self.fail(owner.line_of(key), f"{what} must be a list")
        return value

    def framework(self, raw: Any) -> tuple[Framework, int]:
        """The validated framework and the line its id sits on."""
        top = self.mapping(raw, 1, "the framework", Framework)
        controls = self.sequence(top, "controls", "'controls'")
        if not controls:
            self.fail(top.line_of("controls"), "'controls' must list at least one control")
        raw_controls = [
            self.mapping(item, top.line_of("controls"), f"controls[{index}]", Control)
            for index, item in enumerate(controls)
        ]
        for index, control in enumerate(raw_controls):
            for number, item in enumerate(self.sequence(control, "mappings", "'mappings'")):
                self.mapping(item, control.line_of("mappings"), f"controls[{index}].mappings[{number}]", ControlMapping)
        data = dict(top, source=self.source, controls=[dict(c, line=c.line) for c in raw_controls])
        try:
            framework = Framework.model_validate(data)
        except ValidationError as exc:
            self.type_error(exc, top)
        if not _FRAMEWORK_ID.fullmatch(framework.id):
            self.fail(
                top.line_of("id"), f"framework id {framework.id!r}: use lower-case letters, digits, '.', '_' or '-'"
            )
        self.check_controls(framework, raw_controls)
        return framework, top.line_of("id")

    def type_error(self, exc: ValidationError, top: LocatedDict) -> NoReturn:
        error = exc.errors()[0]
        node: Any = top
        line = top.line
        for part in error["loc"]:
            if isinstance(node, LocatedDict) and isinstance(part, str) and part in node:
                line, node = node.line_of(part), node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
                line = node.line if isinstance(node, LocatedDict) else line
            else:
                break
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        given = _shown(error.get("input"))
        given = given if len(given) <= 60 else given[:57] + "..."
        hint = (
            _QUOTE_HINT if error["type"] == "string_type" and not isinstance(error.get("input"), (list, dict)) else ""
        )
        self.fail(line, f"{where or 'the framework'}: {error['msg']} (got {given}){hint}")

    def check_controls(self, framework: Framework, raw: Sequence[LocatedDict]) -> None:
        first_line: dict[str, int] = {}
        for control in framework.controls:
            if not control.id.strip() or not control.title.strip():
                self.fail(control.line, "a control needs a non-empty id and title")
            if control.id in first_line:
                self.fail(control.line, f"duplicate control id {control.id!r} (first at line {first_line[control.id]})")
            first_line[control.id] = control.line
        parents = {c.id: c.parent for c in framework.controls}
        for control, node in zip(framework.controls, raw, strict=True):
            self.check_control(control, node, parents)

    def check_control(self, control: Control, node: LocatedDict, parents: dict[str, str | None]) -> None:
        label = f"control {control.id!r}"
        if cited := contradicting_citation(control.id, control.title):
            self.fail(node.line_of("title"), f"{label}: title cites {cited!r}, which contradicts the id")
        if control.parent is not None:
            if control.parent not in parents:
                hint = _suggest(control.parent, parents)
                self.fail(node.line_of("parent"), f"{label}: parent {control.parent!r} is not in this file{hint}")
            seen = {control.id}
            ancestor: str | None = control.parent
            while ancestor is not None:
                if ancestor in seen:
                    self.fail(node.line_of("parent"), f"{label}: parent chain loops back through {ancestor!r}")
                seen.add(ancestor)
                ancestor = parents.get(ancestor)
        if not control.mappings and not (control.manual_evidence or "").strip():
            self.fail(node.line, f"{label}: give 'mappings' or, for a manual control, 'manual_evidence'")
        for mapping, raw in zip(control.mappings, node.get("mappings", []), strict=True):
            self.check_mapping(label, mapping, raw)

    def check_mapping(self, label: str, mapping: ControlMapping, node: LocatedDict) -> None:
        if not mapping.tags and not mapping.checks:
            self.fail(node.line, f"{label}: a mapping must name at least one tag or check id")
        for tag in mapping.tags:
            if tag not in self.tags:
                self.fail(node.line_of("tags"), f"{label}: unknown tag {tag!r}{_suggest(tag, self.tags)}")
        for check_id in mapping.checks:
            if check_id not in self.check_ids:
                hint = _suggest(check_id, self.check_ids)
                self.fail(node.line_of("checks"), f"{label}: unknown check id {check_id!r}{hint}")


def _load(path: Path, check_ids: Collection[str], tags: Collection[str]) -> tuple[Framework, int]:
    reader = _Reader(str(path), check_ids, tags)
    try:
        raw = safe_yaml.load_file(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read framework file: {_one_line(exc.strerror or str(exc))}") from None
    except LocatedError as exc:
        reader.fail(exc.line, exc.message)
    return reader.framework(raw)


def load_file(path: Path, *, check_ids: Collection[str], tags: Collection[str]) -> Framework:
    """Load and validate one catalog; `check_ids` and `tags` are what mappings may reference."""
    return _load(path, check_ids, tags)[0]


def builtin_paths() -> list[Path]:
    """The catalogs shipped inside this package, sorted by file name."""
    package = resources.files("frameworks")
    return sorted(Path(str(entry)) for entry in package.iterdir() if entry.name.endswith(".yaml"))


def load_all(*, check_ids: Collection[str], tags: Collection[str], extra: Sequence[Path] = ()) -> dict[str, Framework]:
    """Built-in catalogs plus user files, by framework id; no file may reuse an id already loaded."""
    loaded: dict[str, Framework] = {}
    for path in [*builtin_paths(), *extra]:
        framework, id_line = _load(path, check_ids, tags)
        if framework.id in loaded:
            raise InputError(
                f"{path}:{id_line}: framework id {framework.id!r} is already used by {loaded[framework.id].source}"
            )
        loaded[framework.id] = framework
    return loaded
