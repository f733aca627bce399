"""The `mlwarden` command line.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or input
error; 3 scan incomplete (a source or scope could not be read; --allow-partial makes that a
warning); 4 internal error (a bug: please report it). Errors are one line on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import click

from scanner import __version__, cli_evidence
from scanner.coverage import incomplete_warning
from scanner.errors import InputError, MlwardenError
from scanner.models import ADVISORY_SOURCES, ScanResult, Severity

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
FAIL_ON_CHOICES = ("critical", "high", "medium", "low", "none")


def _fail(message: str, code: int) -> None:
    click.echo(f"mlwarden: error: {message}", err=True)
    sys.exit(code)


def _guard(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every failure into one line on stderr and a documented exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MlwardenError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            _fail(f"internal error: {type(exc).__name__} (this is a bug in mlwarden; please report it)", EXIT_INTERNAL)
        raise AssertionError("unreachable")

    return wrapper


def _split_formats(values: Sequence[str]) -> list[str]:
    from reports import RENDERERS

    formats: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.strip().lower()
            if not name:
                continue
            if name not in RENDERERS:
                raise InputError(f"unknown format {name!r} (choose from {', '.join(sorted(RENDERERS))})")
            if name not in formats:
                formats.append(name)
    return formats


def _load_checks() -> dict[str, Any]:
    from scanner.registry import load_checks

    return load_checks()


def _frameworks(selected: Sequence[str], extra_files: Sequence[Path], checks: dict[str, Any]) -> list[Any]:
    from frameworks.catalog import load_all
    from scanner.registry import TAGS

    catalog = load_all(check_ids=set(checks), tags=TAGS, extra=list(extra_files))
    if not selected:
        return [fw for fw in catalog.values() if fw.status == "in-force"]
    out = []
    for name in selected:
        for item in name.split(","):
            key = item.strip()
            if key not in catalog:
                raise InputError(f"unknown framework {key!r} (choose from {', '.join(sorted(catalog))})")
            out.append(catalog[key])
    return out


def _render(result: ScanResult, formats: Sequence[str], options: Any) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Every format in memory, once: --out and the evidence pack get the same bytes. Also returns
    what the reports had to leave out (e.g. SARIF beyond GitHub's limits), for stderr."""
    from reports import FILENAMES
    from reports.options import render

    reports = [(fmt, render(fmt, result, options)) for fmt in formats]
    notices = [notice for _, report in reports for notice in report.notices]
    return [(FILENAMES[fmt], report.data) for fmt, report in reports], notices


def _write_reports(rendered: Sequence[tuple[str, bytes]], out: Path) -> list[Path]:
    """Write each rendered report atomically: no half reports."""
    from scanner.atomic import write_bytes

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    for name, data in rendered:
        write_bytes(out / name, data)
    return [out / name for name, _ in rendered]


def azure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `scan` (live) and `collect`."""
    options = [
        click.option("--subscription", "subscriptions", multiple=True, help="Subscription id (repeatable)."),
        click.option("--management-group", "management_groups", multiple=True, help="Management group (repeatable)."),
        click.option("--resource-group", "resource_groups", multiple=True, help="Only these resource groups."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only resources with this tag."),
        click.option("--cloud", type=click.Choice(["public", "usgov", "china"]), default="public", show_default=True),
        click.option("--arm-endpoint", help="Override the ARM endpoint (Azure Stack, tests)."),
        click.option("--authority-host", help="Override the Entra ID authority host."),
        click.option("--credential-scope", help="Override the ARM token scope."),
        click.option("--ca-bundle", type=click.Path(dir_okay=False, path_type=Path), help="Extra CA bundle to trust."),
        click.option(
            "--app-settings", is_flag=True, help="Read app settings to classify secrets (needs more than Reader)."
        ),
        click.option("--diagnostics", is_flag=True, help="Read diagnostic settings (one call per resource)."),
        click.option("--no-keyvault", is_flag=True, help="Do not read Key Vault key metadata."),
        click.option(
            "--changes-since",
            metavar="DURATION",
            help="Attribute failures to Azure changes this far back (e.g. 7d, 72h; default and maximum 14d).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress output."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parse_tags(items: Sequence[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--tag {item!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def _narrow_offline(inventory: Any, params: dict[str, Any], description: str) -> tuple[Any, str]:
    """Apply the scope filters to a snapshot or the demo, as the live collector does in its queries."""
    from scanner.scope import narrow, subscription_level

    if params["management_groups"]:
        raise InputError("--management-group needs a live scan: a snapshot does not record management groups")
    narrowed = narrow(
        inventory,
        subscriptions=params["subscriptions"],
        resource_groups=params["resource_groups"],
        tags=_parse_tags(params["tags"]),
    )
    if narrowed is inventory:
        return inventory, description
    if all(subscription_level(r) for r in narrowed.resources):
        raise InputError("the scope filters match no resource in this inventory")
    return narrowed, f"{description} narrowed to {narrowed.header.scope.description.split(' narrowed to ', 1)[-1]}"


def _collect(params: dict[str, Any], checks: dict[str, Any]) -> Any:
    from scanner.azure.collect import collect
    from scanner.azure.options import CollectOptions
    from scanner.changes import WINDOW, parse_since

    tags = _parse_tags(params["tags"])
    since = parse_since(params["changes_since"]) if params.get("changes_since") else WINDOW
    options = CollectOptions(
        subscriptions=tuple(params["subscriptions"]),
        management_groups=tuple(params["management_groups"]),
        resource_groups=tuple(params["resource_groups"]),
        tags=tags,
        cloud=params["cloud"],
        arm_endpoint=params["arm_endpoint"],
        authority_host=params["authority_host"],
        credential_scope=params["credential_scope"],
        ca_bundle=params["ca_bundle"],
        app_settings=params["app_settings"],
        diagnostics=params["diagnostics"],
        keyvault=not params["no_keyvault"],
        quiet=params["quiet"],
    )
    inventory = collect(options)
    return _with_changes(inventory, options, since, checks)


def _with_changes(inventory: Any, options: Any, since: Any, checks: dict[str, Any]) -> Any:
    """Who changed it: after the checks, one paged `resourcechanges` read for the failing resources only."""
    from scanner.azure.changes import read_changes
    from scanner.changes import with_changes
    from scanner.engine import failing_resources

    failing = failing_resources(inventory, checks)
    found, coverage = read_changes(options, failing, since, inventory.header.scope.subscriptions)
    return with_changes(inventory, found, coverage)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlwarden")
def cli() -> None:
    """Audit ML deployments on Azure (AKS, App Service, Azure ML, Functions) and map findings to
    GDPR, HIPAA and more."""


@cli.command()
@click.option("--demo", is_flag=True, help="Scan the bundled demo estate (no Azure account needed).")
@click.option("--snapshot", type=click.Path(path_type=Path), help="Scan a snapshot written by `mlwarden collect`.")
@click.option(
    "--template",
    type=click.Path(path_type=Path),
    help="Scan ARM/Bicep-built templates before deployment: a template file or a directory (recursive).",
)
@click.option(
    "--parameters",
    "parameter_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="ARM parameters file for --template (repeatable; in a directory, x.parameters.json goes with x.json).",
)
@click.option(
    "--terraform-plan",
    type=click.Path(path_type=Path),
    help="Scan a Terraform plan before apply: the JSON of `terraform show -json plan.out`.",
)
@click.option("--framework", "frameworks", multiple=True, help="Framework id (repeatable; default: all in force).")
@click.option(
    "--framework-file",
    "framework_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra framework catalog YAML (repeatable).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    help="Report format(s): json, html, sarif, junit, markdown, csv, compliance-csv, pdf.",
)
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="PDF paper size.")
@click.option(
    "--pdf-detail",
    type=click.Choice(["summary", "full"]),
    default="summary",
    show_default=True,
    help="PDF: leave out (summary) or append (full) the per-resource evidence.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Directory for the reports (default formats: json, html).")
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default="high", show_default=True)
@click.option("--allow-partial", is_flag=True, help="An incomplete scan exits 0/1 instead of 3.")
@click.option(
    "--sarif-include",
    multiple=True,
    type=click.Choice(["unknown", "waived", "baselined"]),
    help="Also put in the SARIF: unknown (coverage gaps, check errors) as notes, waived, baselined (repeatable).",
)
@click.option("--sarif-category", metavar="NAME", help="SARIF runs[].automationDetails.id, exactly as given.")
@click.option("--waivers", "waivers_file", type=click.Path(path_type=Path), help="Waivers YAML (accepted risk).")
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path), help="Fail only on findings not in it.")
@click.option("--write-baseline", type=click.Path(path_type=Path), help="Accept every current failing finding.")
@click.option(
    "--history",
    "history_db",
    metavar="PATH|URL",
    envvar="MLWARDEN_HISTORY",
    help="Record the scan in this history: a SQLite file or postgresql://user@host/db (env: MLWARDEN_HISTORY).",
)
@click.option(
    "--check-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds one check may spend on one resource before it becomes an error (0: no limit).",
)
@azure_options
@cli_evidence.scan_options
@_guard
def scan(
    demo: bool,
    snapshot: Path | None,
    template: Path | None,
    parameter_files: tuple[Path, ...],
    terraform_plan: Path | None,
    frameworks: tuple[str, ...],
    framework_files: tuple[Path, ...],
    formats: tuple[str, ...],
    out: Path | None,
    fail_on: str,
    allow_partial: bool,
    sarif_include: tuple[str, ...],
    sarif_category: str | None,
    waivers_file: Path | None,
    baseline_file: Path | None,
    write_baseline: Path | None,
    history_db: str | None,
    check_timeout: float,
    paper: Literal["a4", "letter"],
    pdf_detail: Literal["summary", "full"],
    **azure: Any,
) -> None:
    """Scan the demo estate, a snapshot, or (with neither) live Azure."""
    from reports.terminal import summary
    from scanner.engine import check_errors, exceeds_threshold
    from scanner.engine import scan as run_scan
    from scanner.snapshot import read_demo, read_snapshot

    extras = cli_evidence.ScanExtras.take(azure)
    if sum(1 for given in (demo, snapshot, template, terraform_plan) if given) > 1:
        raise InputError("--demo, --snapshot, --template and --terraform-plan are mutually exclusive")
    if parameter_files and template is None:
        raise InputError("--parameters goes with --template")
    chosen = _split_formats(formats) if formats else (["json", "html"] if out or extras.pack_dir else [])
    if len(chosen) > 1 and out is None and extras.pack_dir is None:
        raise InputError("several formats need --out DIR")
    from reports import unavailable

    if (missing := unavailable(chosen)) is not None:
        raise InputError(missing)
    from scanner import policy

    checks = _load_checks()
    selected = _frameworks(frameworks, framework_files, checks)
    waivers = policy.load_waivers(waivers_file, set(checks)) if waivers_file else []
    baseline = policy.load_baseline(baseline_file) if baseline_file else frozenset()
    attestations = extras.attestations(framework_files, checks)
    if history_db is not None:
        from scanner.history import check as check_history

        check_history(history_db)
    started = time.perf_counter()
    origin: Literal["demo", "snapshot", "azure", "template", "plan"]
    if template is not None or terraform_plan is not None:
        from scanner.iac import read_plan, read_templates

        inventory = read_templates(template, list(parameter_files)) if template else read_plan(terraform_plan)  # type: ignore[arg-type]
        inventory, description = _narrow_offline(inventory, azure, inventory.header.scope.description)
        origin = "template" if template else "plan"
    elif demo:
        inventory, description = _narrow_offline(read_demo(), azure, "bundled demo estate")
        origin = "demo"
    elif snapshot is not None:
        inventory, description = _narrow_offline(read_snapshot(snapshot), azure, f"snapshot {snapshot.name}")
        origin = "snapshot"
    else:
        inventory, origin, description = _collect(azure, checks), "azure", ""
    threshold = None if fail_on == "none" else Severity(fail_on)
    result = run_scan(
        inventory,
        origin=origin,
        checks=checks,
        frameworks=selected,
        fail_on=threshold,
        waivers=waivers,
        baseline=baseline,
        description=description,
        load_seconds=time.perf_counter() - started,
        attestations=attestations,
        check_timeout=check_timeout or None,
    )
    from reports.options import RenderOptions

    options = RenderOptions(frozenset(sarif_include), sarif_category, paper=paper, pdf_detail=pdf_detail)
    rendered, notices = _render(result, chosen, options)
    inputs = {"waivers": waivers_file, "baseline": baseline_file}
    pack = extras.stage_pack(result, inventory, rendered, inputs, azure, framework_files)
    if out is not None:
        written = _write_reports(rendered, out)
        if not azure.get("quiet"):
            click.echo(summary(result), err=False)
            for path in written:
                click.echo(f"wrote {path}")
    elif len(chosen) == 1:
        sys.stdout.buffer.write(rendered[0][1])
        sys.stdout.flush()
    elif not azure.get("quiet"):
        click.echo(summary(result))
    cli_evidence.publish(pack, bool(azure.get("quiet")))
    for notice in notices:
        click.echo(f"mlwarden: note: {notice}", err=True)
    for line in policy.announcements(result.waivers):
        click.echo(line, err=True)
    cli_evidence.announce(result)
    if history_db is not None:
        from scanner.history import describe, record

        scan_id = record(result, history_db)
        click.echo(f"recorded scan {scan_id} in {describe(history_db)}", err=True)
    if write_baseline is not None:
        count = policy.write_baseline(result, write_baseline)
        click.echo(f"wrote baseline {write_baseline} ({count} accepted finding(s))", err=True)
    if incomplete := incomplete_warning(result.gaps):
        click.echo(incomplete, err=True)
    if errored := check_errors(result):
        click.echo(f"mlwarden: warning: scan incomplete: {errored}", err=True)
    if (incomplete or errored) and not allow_partial:
        sys.exit(EXIT_INCOMPLETE)
    sys.exit(EXIT_FINDINGS if exceeds_threshold(result, threshold) else EXIT_OK)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Snapshot file (.jsonl or .jsonl.gz).")
@click.option("--allow-partial", is_flag=True, help="Exit 0 even when some scopes could not be read.")
@azure_options
@_guard
def collect(out: Path, allow_partial: bool, **azure: Any) -> None:
    """Read live Azure and write a snapshot that `scan --snapshot` reads back to the same result."""
    from scanner.snapshot import write_snapshot

    inventory = _collect(azure, _load_checks())
    write_snapshot(inventory, out)
    # As for `scan`: gaps of advisory sources (change attribution) neither warn nor change the exit code.
    gaps = [gap for source in inventory.header.sources if source.name not in ADVISORY_SOURCES for gap in source.gaps]
    if not azure.get("quiet"):
        click.echo(f"wrote {out}: {len(inventory.resources)} resources, {len(gaps)} coverage gap(s)")
    if incomplete := incomplete_warning(gaps):
        click.echo(incomplete, err=True)
        if not allow_partial:
            sys.exit(EXIT_INCOMPLETE)


@cli.group()
def checks() -> None:
    """The check catalog."""


@checks.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_guard
def checks_list(fmt: str) -> None:
    """Every registered check (built-in and plugins)."""
    registered = _load_checks()
    metas = sorted((c.meta for c in registered.values()), key=lambda m: m.id)
    if fmt == "json":
        click.echo(json.dumps([m.model_dump(mode="json") for m in metas], indent=2))
        return
    click.echo(f"{'ID':<14} {'SEVERITY':<9} {'PILLAR':<16} {'KINDS':<34} TITLE")
    for meta in metas:
        click.echo(f"{meta.id:<14} {meta.severity.value:<9} {meta.pillar:<16} {','.join(meta.kinds):<34} {meta.title}")
    click.echo(f"{len(metas)} checks")


@checks.command("show")
@click.argument("check_id")
@_guard
def checks_show(check_id: str) -> None:
    """One check's metadata, rationale and remediation."""
    registered = _load_checks()
    found = {k.lower(): v for k, v in registered.items()}.get(check_id.lower())
    if found is None:
        raise InputError(f"unknown check {check_id!r}")
    click.echo(json.dumps(found.meta.model_dump(mode="json"), indent=2))


@cli.group()
def frameworks() -> None:
    """Compliance frameworks (control catalogs)."""


@frameworks.command("list")
@click.option("--framework-file", "framework_files", multiple=True, type=click.Path(path_type=Path))
@_guard
def frameworks_list(framework_files: tuple[Path, ...]) -> None:
    """Every framework catalog, built-in and added."""
    from frameworks.catalog import load_all
    from scanner.registry import TAGS

    catalog = load_all(check_ids=set(_load_checks()), tags=TAGS, extra=list(framework_files))
    for fw in sorted(catalog.values(), key=lambda f: f.id):
        manual = sum(1 for c in fw.controls if not c.mappings)
        click.echo(f"{fw.id:<22} {len(fw.controls):>3} controls ({manual} manual)  {fw.status:<9} {fw.name}")


@frameworks.command("show")
@click.argument("framework_id")
@click.option("--framework-file", "framework_files", multiple=True, type=click.Path(path_type=Path))
@_guard
def frameworks_show(framework_id: str, framework_files: tuple[Path, ...]) -> None:
    """A framework's controls and what maps to each."""
    (fw,) = _frameworks([framework_id], framework_files, _load_checks())
    click.echo(f"{fw.name} ({fw.id}, {fw.version}, {fw.status})")
    for control in fw.controls:
        level = f" [{control.level}]" if control.level else ""
        if control.mappings:
            mapped = "; ".join(
                f"{m.strength}: " + ", ".join([*(f"tag:{t}" for t in m.tags), *m.checks]) for m in control.mappings
            )
        else:
            mapped = "manual: " + (control.manual_evidence or "")
        click.echo(f"  {control.id:<24} {control.title}{level}\n      {mapped}")


def _register_history() -> None:
    from scanner.cli_history import history

    cli.add_command(history)
    cli_evidence.register(cli)


_register_history()


def _quiet_sdk_logging() -> None:
    """The Azure SDKs log warnings (e.g. each credential that failed) through the root logger's
    last-resort handler; our own one-line error already says what went wrong."""
    import logging

    for name in ("azure", "msal", "urllib3"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def main() -> None:
    _quiet_sdk_logging()
    cli(prog_name="mlwarden")
