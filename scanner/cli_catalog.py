"""`mlwarden checks` and `mlwarden frameworks`: the catalogs, readable by people and machines.

A check is shown with the framework controls it evidences, and a framework with the checks
behind each control (tag mappings expanded to check ids), so an auditor can follow the link
either way without reading YAML or source.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from frameworks.catalog import Control, Framework
from scanner.clickapp import Location
from scanner.clickapp import guard as _guard
from scanner.errors import InputError
from scanner.models import CheckMeta, Severity
from scanner.registry import PILLARS
from scanner.textsafe import printable


def _metas() -> list[CheckMeta]:
    from scanner.registry import load_checks

    return sorted((c.meta for c in load_checks().values()), key=lambda m: m.id)


def _catalog(metas: Sequence[CheckMeta], extra: Sequence[Path]) -> dict[str, Framework]:
    from frameworks.catalog import load_all
    from scanner.registry import TAGS

    return load_all(check_ids={m.id for m in metas}, tags=TAGS, extra=list(extra))


def checks_behind(control: Control, metas: Iterable[CheckMeta]) -> list[str]:
    """Every check id a control's mappings name, directly or through a tag."""
    metas = list(metas)
    ids: dict[str, None] = {}
    for mapping in control.mappings:
        wanted = set(mapping.tags)
        ids.update(dict.fromkeys(m.id for m in metas if wanted & set(m.tags)))
        ids.update(dict.fromkeys(mapping.checks))
    return sorted(ids)


def controls_evidenced(meta: CheckMeta, catalog: dict[str, Framework]) -> list[tuple[Framework, Control, str]]:
    """(framework, control, how) for every control the check evidences; `how` names the route."""
    out: list[tuple[Framework, Control, str]] = []
    for framework in sorted(catalog.values(), key=lambda f: f.id):
        for control in framework.controls:
            routes: list[str] = []
            for mapping in control.mappings:
                if meta.id.upper() in (c.upper() for c in mapping.checks):
                    routes.append(f"{mapping.strength}, by id")
                routes += [f"{mapping.strength}, via tag:{t}" for t in mapping.tags if t in meta.tags]
            if routes:
                out.append((framework, control, "; ".join(dict.fromkeys(routes))))
    return out


framework_file_option = click.option(
    "--framework-file",
    "framework_files",
    multiple=True,
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="Add a framework catalog of your own (YAML; repeatable).",
)


@click.group(short_help="The check catalog: list, filter and explain checks.")
def checks() -> None:
    """The check catalog: what each check looks at, why, and how to fix it."""


@checks.command("list", short_help="List checks, optionally filtered by tag, kind, pillar or severity.")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    help="Only checks with this tag, e.g. private-network (repeatable: any of them; `checks tags` lists them).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="KIND",
    help="Only checks on this resource kind, e.g. aks or storage (repeatable: any of them).",
)
@click.option(
    "--pillar",
    "pillars",
    multiple=True,
    metavar="PILLAR",
    help=f"Only checks of this pillar: {', '.join(PILLARS[:-1])} or {PILLARS[-1]} (repeatable: any of them).",
)
@click.option(
    "--severity",
    type=click.Choice([s.value for s in Severity]),
    help="Only checks of this severity or above (high: high and critical).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for machines.",
)
@_guard
def checks_list(
    tags: tuple[str, ...], kinds: tuple[str, ...], pillars: tuple[str, ...], severity: str | None, fmt: str
) -> None:
    """Every registered check (built-in and plugins), filtered by --tag, --kind, --pillar and --severity."""
    from scanner.kinds import ALL_KINDS
    from scanner.registry import TAGS

    _known("--tag", tags, TAGS)
    _known("--kind", kinds, ALL_KINDS)
    _known("--pillar", pillars, PILLARS)
    floor = Severity(severity).rank if severity else None
    metas = [
        m
        for m in _metas()
        if (not tags or set(tags) & set(m.tags))
        and (not kinds or set(kinds) & set(m.kinds))
        and (not pillars or m.pillar in pillars)
        and (floor is None or m.severity.rank >= floor)
    ]
    if fmt == "json":
        click.echo(json.dumps([m.model_dump(mode="json") for m in metas], indent=2))
        return
    click.echo(f"{'ID':<14} {'SEVERITY':<9} {'PILLAR':<16} {'KINDS':<34} TITLE")
    for meta in metas:
        click.echo(
            printable(
                f"{meta.id:<14} {meta.severity.value:<9} {meta.pillar:<16} {','.join(meta.kinds):<34} {meta.title}"
            )
        )
    click.echo(f"{len(metas)} checks")


def _known(option: str, given: Iterable[str], known: Iterable[str]) -> None:
    known = sorted(known)
    for value in given:
        if value not in known:
            raise InputError(f"{option} {value!r}: unknown (choose from {', '.join(known)})")


@checks.command("tags", short_help="Every check tag and the checks behind it.")
@_guard
def checks_tags() -> None:
    """Every tag that frameworks map to, with the checks carrying it (`checks list --tag` filters by one)."""
    from scanner.registry import TAGS

    metas = _metas()
    for tag in sorted(TAGS):
        ids = [m.id for m in metas if tag in m.tags]
        click.echo(f"{tag:<26} {len(ids):>3}  {printable(', '.join(ids)) or '-'}")


@checks.command("show", short_help="One check: rationale, remediation and the controls it evidences.")
@click.argument("check_id", metavar="CHECK_ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for machines.",
)
@framework_file_option
@_guard
def checks_show(check_id: str, fmt: str, framework_files: tuple[Path, ...]) -> None:
    """One check by id (CHECK_ID, case-insensitive): what it reads, why, how to fix, what it evidences."""
    metas = _metas()
    meta = {m.id.lower(): m for m in metas}.get(check_id.lower())
    if meta is None:
        raise InputError(f"unknown check {check_id!r} (see `mlwarden checks list`)")
    evidenced = controls_evidenced(meta, _catalog(metas, framework_files))
    if fmt == "json":
        document: dict[str, Any] = meta.model_dump(mode="json")
        document["controls"] = [
            {"framework": fw.id, "control": c.id, "title": c.title, "mapping": how} for fw, c, how in evidenced
        ]
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(_check_text(meta, evidenced))


def _check_text(meta: CheckMeta, evidenced: list[tuple[Framework, Control, str]]) -> str:
    remediation = meta.remediation
    lines = [
        f"{meta.id}  {meta.title}",
        f"  severity  {meta.severity.value}",
        f"  pillar    {meta.pillar}",
        f"  kinds     {', '.join(meta.kinds)}",
        f"  tags      {', '.join(meta.tags) or '-'}",
    ]
    if meta.needs:
        lines.append(f"  needs     {', '.join(meta.needs)} (collected beyond the resource row)")
    lines += ["", "Why", f"  {meta.rationale}", "", "Fix", f"  {remediation.text}"]
    if remediation.az_cli:
        lines.append(f"  az: {remediation.az_cli}")
    lines += [f"  Azure Policy: {policy}" for policy in remediation.azure_policy]
    if meta.references:
        lines += ["", "References", *(f"  {ref}" for ref in meta.references)]
    lines += ["", f"Evidences {len(evidenced)} control(s)"]
    lines += [f"  {fw.id} {c.id}  {c.title}  ({how})" for fw, c, how in evidenced]
    return "\n".join(printable(line) for line in lines)


@click.group(short_help="Compliance frameworks: list them, show controls and the checks behind each.")
def frameworks() -> None:
    """Compliance frameworks (control catalogs) and the checks that evidence their controls."""


@frameworks.command("list", short_help="Every framework catalog, built-in and added.")
@framework_file_option
@_guard
def frameworks_list(framework_files: tuple[Path, ...]) -> None:
    """Every framework catalog, built-in and added with --framework-file."""
    catalog = _catalog(_metas(), framework_files)
    for fw in sorted(catalog.values(), key=lambda f: f.id):
        manual = sum(1 for c in fw.controls if not c.mappings)
        click.echo(printable(f"{fw.id:<22} {len(fw.controls):>3} controls ({manual} manual)  {fw.status:<9} {fw.name}"))


@frameworks.command("show", short_help="A framework's controls and the checks behind each.")
@click.argument("framework_id", metavar="FRAMEWORK_ID")
@framework_file_option
@_guard
def frameworks_show(framework_id: str, framework_files: tuple[Path, ...]) -> None:
    """FRAMEWORK_ID's controls, each with its mappings and the check ids they expand to."""
    metas = _metas()
    catalog = _catalog(metas, framework_files)
    fw = catalog.get(framework_id)
    if fw is None:
        raise InputError(f"unknown framework {framework_id!r} (choose from {', '.join(sorted(catalog))})")
    lines = [f"{fw.name} ({fw.id}, {fw.version}, {fw.status})"]
    for control in fw.controls:
        level = f" [{control.level}]" if control.level else ""
        lines.append(f"  {control.id:<24} {control.title}{level}")
        if not control.mappings:
            lines.append("      manual: " + (control.manual_evidence or ""))
            continue
        for mapping in control.mappings:
            mapped = ", ".join([*(f"tag:{t}" for t in mapping.tags), *mapping.checks])
            lines.append(f"      {mapping.strength}: {mapped}")
        behind = checks_behind(control, metas)
        lines.append(f"      checks: {', '.join(behind) if behind else 'none registered'}")
    click.echo("\n".join(printable(line) for line in lines))
