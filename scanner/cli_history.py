"""`mlwarden history`: list recorded scans and show what changed between two of them."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from scanner.argv import shown
from scanner.clickapp import WholeNumber
from scanner.clickapp import guard as _guard
from scanner.history import MAX_ID, FindingChange, HistoryDiff, ScanSummary, describe, diff, latest_two, scans
from scanner.models import Severity, Status
from scanner.textsafe import printable

FORMATS = ("text", "json")
_SEVERITY_LABELS = (("critical", "CRIT"), ("high", "HIGH"), ("medium", "MED"), ("low", "LOW"), ("info", "INFO"))


db_option = click.option(
    "--db",
    metavar="PATH|URL",
    envvar="MLWARDEN_HISTORY",
    required=True,
    help="The history `scan --history` records into: a SQLite file, or postgresql://user@host/db "
    "(password from PGPASSWORD/PGPASSFILE). Env: MLWARDEN_HISTORY.",
)


class ScanId(WholeNumber):
    """A scan id is a positive 64-bit integer; anything else is a usage error, not an overflow,
    said in those words rather than as `not in the range 1<=x<=9223372036854775807`."""

    name = "scan id"

    def __init__(self) -> None:
        super().__init__(1, MAX_ID)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            why = "is not a scan id (a positive whole number; see `mlwarden history list`)"
            self.fail(f"{shown(str(value))} {why}", param, ctx)


scan_id = ScanId()
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for machines.",
)


@click.group()
def history() -> None:
    """Recorded scans: what changed between scheduled runs, and posture over time."""


@history.command("list")
@db_option
@format_option
@_guard
def history_list(db: str, fmt: str) -> None:
    """Every recorded scan with its failing findings by severity and its control counts."""
    recorded = scans(db)
    if fmt == "json":
        document = {"format": "mlwarden-history", "version": 1, "scans": [s.to_json() for s in recorded]}
        click.echo(json.dumps(document, indent=2))
        return
    if not recorded:
        click.echo(f"no scans recorded in {describe(db)}")
        return
    labels = " ".join(f"{label:>5}" for _, label in _SEVERITY_LABELS)
    click.echo(
        f"{'ID':>4}  {'GENERATED (UTC)':<16}  {'ORIGIN':<8} {'RESOURCES':>9} {labels} "
        f"{'UNKNOWN':>7} {'ERROR':>5}  SCOPE"
    )
    for summary in recorded:
        failing = " ".join(f"{summary.failing_by_severity[key]:>5}" for key, _ in _SEVERITY_LABELS)
        click.echo(
            f"{summary.id:>4}  {_when(summary):<16}  {printable(summary.origin):<8} {summary.resource_count:>9} "
            f"{failing} {summary.status_counts['unknown']:>7} {summary.status_counts['error']:>5}  "
            f"{printable(summary.scope)}"
        )
        for fw_id, counts in summary.frameworks.items():
            click.echo(
                f"{'':>6}{printable(fw_id)}: {counts['fail']} failing, {counts['pass']} passing, "
                f"{counts['manual']} manual, {counts['not_assessed']} not assessed controls"
            )


@history.command("diff")
@db_option
@click.argument("older", type=scan_id, required=False)
@click.argument("newer", type=scan_id, required=False)
@format_option
@click.option(
    "--fail-on-new",
    type=click.Choice([*(s.value for s in Severity), "none"]),
    help="Exit 1 when a new failing finding at or above this severity appeared (waived or baselined ones aside); "
    "the levels of `scan --fail-on`, `none` never failing, so one variable can set both.",
)
@_guard
def history_diff(db: str, older: int | None, newer: int | None, fmt: str, fail_on_new: str | None) -> None:
    """What changed between two recorded scans (default: the latest and the previous of its scope).

    OLDER and NEWER are scan ids from `mlwarden history list`. With one id, that scan (as NEWER) is compared
    with the previous scan of the same scope; with none, the latest scan is. "Previous" goes by
    when scans ran (then by id), and skips scans of other scopes sharing the history; a scope not
    scanned before is compared with the most alike in subscriptions. Shows the failing
    findings that are new, fixed or still failing, and status changes; --fail-on-new turns it
    into a gate.
    """
    if newer is None:  # one id given is the newer scan's
        older, newer = latest_two(db, older)
    assert older is not None  # click fills OLDER before NEWER
    changes = diff(db, older, newer)
    if fmt == "json":
        click.echo(json.dumps(changes.to_json(), indent=2))
    else:
        click.echo(_render(changes))
    if _when_ran(changes.older) > _when_ran(changes.newer):
        click.echo(
            f"mlwarden: warning: scan {changes.older.id} ran after scan {changes.newer.id}: this diff runs backwards "
            "in time (what it calls new was fixed, and the other way round); give the older scan first",
            err=True,
        )
    if not changes.older.same_scope(changes.newer):
        click.echo(
            "mlwarden: warning: the two scans cover different scopes; findings outside the common scope show as "
            "new or fixed",
            err=True,
        )
    if fail_on_new not in (None, "none"):
        offending = changes.new_failing_at(Severity(fail_on_new))
        if offending:
            click.echo(f"mlwarden: {len(offending)} new failing finding(s) at or above {fail_on_new}", err=True)
            sys.exit(1)


def _when_ran(summary: ScanSummary) -> datetime:
    when = summary.generated_at
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _when(summary: ScanSummary) -> str:
    when = summary.generated_at
    return (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y-%m-%d %H:%M")


def _render(changes: HistoryDiff) -> str:
    older, newer = changes.older, changes.newer
    lines = [
        f"scan {older.id} ({_when(older)} UTC, {printable(older.scope)}) -> "
        f"scan {newer.id} ({_when(newer)} UTC, {printable(newer.scope)})",
        "failing by severity: "
        + ", ".join(
            f"{key} {older.failing_by_severity[key]} -> {newer.failing_by_severity[key]}" for key, _ in _SEVERITY_LABELS
        ),
    ]
    for fw_id in sorted(older.frameworks.keys() | newer.frameworks.keys()):
        before = older.frameworks.get(fw_id, {}).get("fail", "-")
        after = newer.frameworks.get(fw_id, {}).get("fail", "-")
        lines.append(f"{printable(fw_id)} failing controls: {before} -> {after}")
    lines.extend(_section("new failing", changes.new_failing, show_before=True))
    lines.extend(_section("fixed", changes.fixed))
    lines.extend(_section("status changes", changes.status_changes, show_before=True))
    lines.extend(_acceptance(changes.acceptance_changes))
    lines.append(f"still failing: {len(changes.still_failing)}")
    return "\n".join(lines)


def _section(title: str, items: tuple[FindingChange, ...], *, show_before: bool = False) -> list[str]:
    lines = [f"{title}: {len(items)}"]
    for change in items:
        subject = _subject(change)
        flags = "".join((" (waived)" if change.waived else "", " (baselined)" if change.baselined else ""))
        transition = f"  {_status(change.before)} -> {_status(change.after)}" if show_before else ""
        lines.append(f"  {change.severity.value:<8} {printable(change.check_id):<14} {subject}{transition}{flags}")
        if change.change is not None and change.after is Status.FAIL:
            lines.append(f"           {printable(change.change.summary())}")
    return lines


def _acceptance(items: tuple[FindingChange, ...]) -> list[str]:
    """Still failing, with a waiver or baseline added or taken away: the severity counts move while
    no status does, so each is named."""
    lines = [f"waiver or baseline changed: {len(items)}"]
    for change in items:
        subject = _subject(change)
        was, now = _accepted(change.waived_before, change.baselined_before), _accepted(change.waived, change.baselined)
        lines.append(f"  {change.severity.value:<8} {printable(change.check_id):<14} {subject}  {was} -> {now}")
    return lines


def _subject(change: FindingChange) -> str:
    return printable(change.resource_id) + (f" [{printable(change.detail_key)}]" if change.detail_key else "")


def _accepted(waived: bool, baselined: bool) -> str:
    return "waived" if waived else "baselined" if baselined else "open"


def _status(value: Status | None) -> str:
    return "pass/absent" if value is None else str(value)
