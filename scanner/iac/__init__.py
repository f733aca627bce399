"""Infrastructure as code: ARM/Bicep templates and Terraform plans judged by the same checks.

A template or plan becomes an ordinary `Inventory` of Resource Graph-shaped rows, so every
check, framework mapping, waiver, baseline and report works unchanged. Each row remembers the
file and line it came from; values that cannot be known before deployment are markers that turn
the checks reading them `unknown`; secret values are classified and dropped here, at the source.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from scanner import files
from scanner.errors import InputError
from scanner.iac import arm_template, located_json, redeclared
from scanner.iac.rows import SourceRow, build_inventory
from scanner.iac.terraform import plan_rows
from scanner.inventory import Inventory
from scanner.textsafe import printable

__all__ = ["read_plan", "read_templates"]


def _relative(path: Path) -> str:
    """The path as findings cite it: relative to the working directory when below it, forward slashes."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _template_files(path: Path) -> list[Path]:
    if path.is_dir():
        return _json_below(path)
    if path.is_file():
        _not_bicep(path, "build")
        return [path]
    raise InputError(f"--template {path}: {_not_there(path, 'neither a regular file nor a directory')}")


def _not_there(path: Path, otherwise: str) -> str:
    """Why a path that is not what it should be cannot be read: the system's reason (no such file,
    a symbolic link loop, a directory above it that cannot be searched), else `otherwise`."""
    try:
        path.stat()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return otherwise


def _json_below(root: Path) -> list[Path]:
    """Every `*.json` file below `root`, symbolic links to directories not followed (as `rglob`).
    A directory that cannot be listed is an error: `rglob` skipped it without a word, so the
    templates in it went unjudged while the scan passed."""

    def refuse(exc: OSError) -> None:
        raise InputError(
            f"--template {printable(str(exc.filename or root))}: cannot list the directory "
            f"({exc.strerror or type(exc).__name__}); the templates in it would go unjudged"
        )

    found = sorted(
        Path(directory, name)
        for directory, _, names in os.walk(root, onerror=refuse)
        for name in names
        if name.endswith(".json")
    )
    for file in found:  # a template that is no file would go unjudged as silently as an unlisted directory
        why = files.problem(file) or (None if file.exists() else "a symbolic link to nothing")
        if why is not None:
            raise InputError(f"--template {printable(str(file))}: {why}; it would go unjudged")
    return found


def _load_parameters(path: Path, parameter_files: list[Path]) -> dict[Path, dict[str, object]]:
    """Every `--parameters` file read once, before any template: the template itself, or another
    template, given as its parameters said only 'no template found' or 'parameter has no value'."""
    loaded: dict[Path, dict[str, object]] = {}
    for file in parameter_files:
        if not file.is_file():
            raise InputError(f"--parameters {file}: {_not_there(file, 'not a regular file')}")
        if path.is_file() and os.path.samefile(file, path):
            raise InputError(
                f"--parameters {file} is the --template file itself; give its parameters file "
                f"(such as {path.stem}.parameters.json), or no --parameters"
            )
        _not_bicep(file, "build-params")
        document = located_json.load(file, "ARM parameters file", comments=True)
        if arm_template.is_deployment_template(document):
            raise InputError(
                f"--parameters {file}: an ARM deployment template, not a parameters file "
                "(a parameters file gives each parameter a `value`); pass templates to --template"
            )
        loaded[file] = arm_template.parameter_values(document, file)
    return loaded


def _parameters_stem(file: Path) -> str:
    return file.name.split(".parameters", 1)[0].removesuffix(".json")


def _parameters_for(
    template: Path, declared: object, loaded: dict[Path, dict[str, object]], single: bool
) -> dict[str, object]:
    """A single template takes every parameters file; in a directory, `x.parameters*.json` goes with `x.json`.
    A parameter the template does not declare is refused, as ARM refuses it (a parameters file meant
    for another template would otherwise leave this one judged on its defaults)."""
    names = {str(n).lower() for n in declared} if isinstance(declared, dict) else set()
    values: dict[str, object] = {}
    for file, given in loaded.items():
        if single or _parameters_stem(file) == template.stem:
            if unknown := sorted(n for n in given if n.lower() not in names):
                raise InputError(f"{file}: parameter {unknown[0]!r} is not declared by the template {template}")
            values.update(given)
    return values


def _not_bicep(file: Path, command: str) -> None:
    """Bicep source is compiled by the Bicep CLI, not read here: say so rather than 'malformed JSON'."""
    if file.suffix.lower() in (".bicep", ".bicepparam"):
        raise InputError(f"{file}: Bicep source; compile it with `az bicep {command} --file {file}` and pass the JSON")


def _names_template_schema(file: Path) -> bool:
    """Whether a file that did not parse says it is a deployment template (then it is an error)."""
    try:
        with file.open("rb") as handle:
            head = handle.read(64 * 1024).lower()
    except OSError:
        return True
    return any(marker.encode() in head.replace(b"\x00", b"") for marker in arm_template.TEMPLATE_SCHEMA_MARKERS)


def read_templates(path: Path, parameter_files: list[Path] | None = None) -> Inventory:
    """Every deployment template at `path` (a file, or a directory scanned recursively)."""
    files = _template_files(path)
    loaded = _load_parameters(path, parameter_files or [])
    root = path if path.is_dir() else path.parent
    evaluated: list[tuple[Path, arm_template.Evaluated | InputError]] = []
    for file in files:
        if file in loaded:
            continue
        try:
            document = located_json.load(file, "ARM template", comments=True)
        except InputError:
            if path.is_file() or _names_template_schema(file):
                raise
            continue  # a directory's other JSON (JSONC configs, fixtures...) need not parse
        if not arm_template.is_deployment_template(document):
            if path.is_file():
                raise InputError(f"{file}: not an ARM deployment template (no deployment template `$schema`)")
            continue  # a directory holds parameters files, configs, ...: only templates are read
        parameters = _parameters_for(file, document.get("parameters"), loaded, path.is_file())
        try:
            evaluated.append((file, arm_template.evaluate(document, file, parameters, root)))
        except InputError as exc:
            if path.is_file():
                raise
            evaluated.append((file, exc))  # an error only if no other template links this file
    if not evaluated:
        raise InputError(f"--template {path}: no ARM deployment template found")
    stems = {file.stem for file, _ in evaluated}
    if path.is_dir() and (unused := [f for f in loaded if _parameters_stem(f) not in stems]):
        raise InputError(
            f"--parameters {unused[0]}: no template named {_parameters_stem(unused[0])}.json in {path} "
            "(x.parameters.json goes with x.json); it would be silently unused"
        )
    # A template another one links is judged with the parameters it is given there, not on its own.
    linked = {f for _, result in evaluated if isinstance(result, arm_template.Evaluated) for f in result.linked}
    rows: list[SourceRow] = []
    gaps = []
    notices: list[str] = []
    for file, result in evaluated:
        if file.resolve() in linked:
            continue
        if isinstance(result, InputError):
            raise result
        rows += [SourceRow(r.data, _relative(r.file or file), r.line, r.address) for r in result.rows]
        gaps += result.gaps
        notices += result.broken
    inventory = build_inventory(
        redeclared.merge(rows),
        origin="template",
        description=f"template {_relative(path)}",
        now=datetime.now(UTC),
        gaps=gaps,
    )
    inventory.notices = notices
    return inventory


def read_plan(path: Path) -> Inventory:
    """A Terraform plan as `terraform show -json plan.out` writes it."""
    document = located_json.load(path, "Terraform plan JSON")
    source = _relative(path)
    rows = [SourceRow(data, source, line, address) for data, line, address in plan_rows(document, path)]
    return build_inventory(rows, origin="plan", description=f"Terraform plan {source}", now=datetime.now(UTC))
