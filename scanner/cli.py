"""The `mlwarden` command line.

Exit codes (listed by `mlwarden --help`, see `scanner.clickapp`): 0 nothing at or above
--fail-on; 1 findings at or above it; 2 usage or input error; 3 scan incomplete; 4 internal
error (a bug); 141 stdout closed early. Errors are one line on stderr.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

import click

from scanner import __version__, argv, bulk, cli_evidence, sigterm, stdout
from scanner.azure.options import CONNECT_TIMEOUT, READ_TIMEOUT
from scanner.clickapp import (
    EXIT_CODES_HELP,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    FormatList,
    Location,
    MlwardenGroup,
    Seconds,
    error_line,
    flatten_formats,
    guard,
    jobs,
    timeout_options,
)
from scanner.coverage import incomplete_warning
from scanner.errors import InputError
from scanner.models import ADVISORY_SOURCES, Severity
from scanner.textsafe import printable

if TYPE_CHECKING:
    from scanner.azure.changes import Attach

P = ParamSpec("P")
R = TypeVar("R")

FAIL_ON_CHOICES = ("critical", "high", "medium", "low", "info", "none")
REPORT_BASENAME = "mlwarden-report"
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def _to_stdout(report: IO[bytes]) -> None:
    with report:
        shutil.copyfileobj(report, sys.stdout.buffer, 1 << 20)
    sys.stdout.flush()


def _warn(message: str) -> None:
    click.echo(f"mlwarden: warning: {printable(message)}", err=True)


MAX_NOTICES = 10
"""Input warnings printed one a line; the rest are counted (a copy loop can repeat one 800 times)."""


def _notices(notices: Sequence[str]) -> None:
    for notice in notices[:MAX_NOTICES]:
        _warn(notice)
    if len(notices) > MAX_NOTICES:
        _warn(f"...and {len(notices) - MAX_NOTICES} more values left unknown for the same reason")


_guard = guard


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


def _report_name(fmt: str) -> str:
    from reports import FILENAMES
    from reports.options import GZIP_SUFFIX, base_format

    base = base_format(fmt)
    name = FILENAMES.get(base, f"{REPORT_BASENAME}.{base}")
    return name + GZIP_SUFFIX if fmt.endswith(GZIP_SUFFIX) else name


def azure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `scan` (live) and `collect`."""
    options = [
        click.option(
            "--subscription",
            "subscriptions",
            multiple=True,
            metavar="ID",
            help="Only this subscription (repeatable; default: every subscription the identity can read).",
        ),
        click.option(
            "--management-group",
            "management_groups",
            multiple=True,
            metavar="ID",
            help="Every subscription under this management group (repeatable; live scans only).",
        ),
        click.option(
            "--resource-group",
            "resource_groups",
            multiple=True,
            metavar="NAME",
            help="Only resources in this resource group (repeatable: any of them).",
        ),
        click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="KEY=VALUE",
            help="Only resources with this tag, value case-insensitive (repeatable: every one must match).",
        ),
        click.option(
            "--cloud",
            type=click.Choice(["public", "usgov", "china"]),
            default="public",
            show_default=True,
            help="Azure cloud: public, US Government or China.",
        ),
        click.option(
            "--arm-endpoint",
            type=argv.HttpsUrl(),
            metavar="URL",
            help="Override the ARM endpoint (Azure Stack, tests).",
        ),
        click.option(
            "--authority-host",
            type=argv.HttpsUrl(bare_host=True),
            metavar="URL",
            help="Override the Entra ID authority host (sign-in).",
        ),
        click.option(
            "--credential-scope",
            metavar="SCOPE",
            help="Override the scope of the ARM access token (Azure Stack, or a cloud whose ARM audience differs).",
        ),
        click.option(
            "--keyvault-url",
            "keyvault_url",
            type=argv.VaultUrlTemplate(),
            metavar="TEMPLATE",
            help="Reach each key vault's and Managed HSM's data plane at this URL, {name} replaced by its name, "
            "instead of its vaultUri (Azure Stack Hub, a private DNS name, a local fake).",
        ),
        click.option(
            "--ca-bundle",
            type=Location(dir_okay=False, path_type=Path, reads="file"),
            metavar="FILE",
            help="The CA certificates (PEM) to trust in place of the default store, e.g. a TLS-inspecting proxy's.",
        ),
        click.option(
            "--app-settings",
            is_flag=True,
            help="Also read app settings and connection strings to classify secrets (values are dropped; "
            "needs more than Reader: Microsoft.Web/sites/config/list/action).",
        ),
        click.option(
            "--diagnostics",
            is_flag=True,
            help="Also read each resource's diagnostic settings (one ARM call per resource); without it the "
            "logging checks (e.g. MLW-KV-10) are unknown.",
        ),
        click.option(
            "--no-keyvault",
            is_flag=True,
            help="Skip the per-vault reads of key and secret metadata (checks that need them are unknown).",
        ),
        click.option(
            "--changes-since",
            metavar="DURATION",
            help="Attribute failures to Azure changes this far back (e.g. 7d, 72h; default and maximum 14d).",
        ),
        *timeout_options(
            CONNECT_TIMEOUT, READ_TIMEOUT, then="; a vault that never answers is a coverage gap after this"
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            help="Print no summary, progress or 'wrote' lines; errors, warnings and notes still go to stderr.",
        ),
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
        if key.lower() in {k.lower() for k in tags}:
            # Every --tag must match and a resource holds one value per tag: a second value would
            # silently replace the first (or match nothing), so it is refused.
            raise InputError(f"--tag {item!r}: tag {key!r} given twice (every --tag must match)")
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


def _collect(params: dict[str, Any]) -> Attach:
    """What adds who changed the failing resources (`Attach`) to the inventory collected now."""
    from scanner.azure.changes import Attach
    from scanner.azure.collect import collect
    from scanner.azure.options import CollectOptions
    from scanner.changes import WINDOW, parse_since

    tags = _parse_tags(params["tags"])
    since = parse_since(params["changes_since"]) if params.get("changes_since") is not None else WINDOW
    options = CollectOptions(
        subscriptions=tuple(params["subscriptions"]),
        management_groups=tuple(params["management_groups"]),
        resource_groups=tuple(params["resource_groups"]),
        tags=tags,
        cloud=params["cloud"],
        arm_endpoint=params["arm_endpoint"],
        authority_host=params["authority_host"],
        credential_scope=params["credential_scope"],
        keyvault_url_template=params["keyvault_url"],
        ca_bundle=params["ca_bundle"],
        app_settings=params["app_settings"],
        diagnostics=params["diagnostics"],
        keyvault=not params["no_keyvault"],
        quiet=params["quiet"],
        connect_timeout=params["connect_timeout"],
        read_timeout=params["read_timeout"],
    )
    sign_in = cli_evidence.sign_in_for(options)  # one credential for the collection, changes and a signature
    return Attach(collect(options, sign_in=sign_in), options, since, sign_in)


@click.group(cls=MlwardenGroup, context_settings=CONTEXT, invoke_without_command=True, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, "--version", "-V", prog_name="mlwarden", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Audit ML deployments on Azure (AKS, App Service, Azure ML, Functions) and map findings to
    GDPR, HIPAA and more.

    Start with `mlwarden scan --demo` (no Azure account needed), then `mlwarden scan --help`.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


SCAN_EXAMPLES = """\b
Examples:
  mlwarden scan --demo --out out/                       # HTML and JSON reports of the demo estate
  mlwarden scan --demo --format sarif --out out/ --fail-on critical
  mlwarden scan --snapshot estate.jsonl.gz --waivers waivers.yaml --baseline baseline.json
  mlwarden scan --template infra/ --format sarif --out out/   # before deployment
  mlwarden scan --subscription ID --out out/            # live Azure (az login, or any Azure credential)"""


@cli.command(
    short_help="Scan the demo estate, a snapshot, a template or plan, or live Azure; write reports; exit by --fail-on.",
    epilog=SCAN_EXAMPLES,
)
@click.option("--demo", is_flag=True, help="Scan the bundled demo estate (no Azure account needed).")
@click.option(
    "--snapshot",
    type=Location(path_type=Path, dir_okay=False, allow_dash=True, reads="stream"),
    metavar="FILE",
    help="Scan a snapshot written by `mlwarden collect` (.jsonl or .jsonl.gz; - reads stdin).",
)
@click.option(
    "--template",
    type=Location(path_type=Path, reads="tree"),
    metavar="PATH",
    help="Scan ARM templates (also `az bicep build` output) before deployment: a file, or a directory "
    "searched recursively.",
)
@click.option(
    "--parameters",
    "parameter_files",
    multiple=True,
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="ARM parameters file for --template (repeatable; with a directory, x.parameters.json goes with x.json).",
)
@click.option(
    "--terraform-plan",
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="Scan a Terraform plan before apply: the JSON of `terraform show -json plan.out`.",
)
@click.option(
    "--framework",
    "frameworks",
    multiple=True,
    metavar="ID",
    help="Framework to evaluate (repeatable or comma-separated; default: every catalog in force; "
    "see `mlwarden frameworks list`).",
)
@click.option(
    "--framework-file",
    "framework_files",
    multiple=True,
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="Add a framework catalog of your own (YAML, as in the README's 'Adding a framework'; repeatable).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=FormatList(),
    help="Report format (repeatable or comma-separated; FMT.gz, e.g. json.gz, gzips any but pdf). With --out "
    f"each is written to DIR/{REPORT_BASENAME}.<ext>[.gz] (compliance-csv: DIR/mlwarden-compliance.csv); "
    "without --out one format goes to stdout.",
)
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="PDF paper size.")
@click.option(
    "--pdf-detail",
    type=click.Choice(["summary", "full"]),
    default="summary",
    show_default=True,
    help="PDF: leave out (summary) or append (full) the per-resource evidence.",
)
@click.option(
    "--out",
    type=Location(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write the reports into DIR (default formats: json and html); they land only if the scan succeeds.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a failing finding at or above this severity is not waived or baselined; "
    "`none` never fails on findings.",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="A scan with coverage gaps or check errors exits 0/1 instead of 3 (they stay in the report).",
)
@click.option(
    "--sarif-include",
    multiple=True,
    type=click.Choice(["unknown", "waived", "baselined"]),
    help="Also put in the SARIF (repeatable): unknown (coverage gaps, check errors) as notes, waived as "
    "suppressed results, baselined as unchanged ones; by default it holds only the other failing findings.",
)
@click.option("--sarif-category", metavar="NAME", help="SARIF runs[].automationDetails.id, exactly as given.")
@click.option(
    "--waivers",
    "waivers_file",
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="Waivers YAML: accepted risk per check and resource pattern, with owner and expiry "
    "(example: examples/waivers.yaml).",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="A baseline from --write-baseline: only findings not in it count for --fail-on.",
)
@click.option(
    "--write-baseline",
    type=Location(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write a baseline accepting every failing finding of this scan.",
)
@click.option(
    "--history",
    "history_db",
    metavar="PATH|URL",
    envvar="MLWARDEN_HISTORY",
    help="Record the scan in this history: a SQLite file or postgresql://user@host/db (env: MLWARDEN_HISTORY).",
)
@click.option(
    "--check",
    "check_patterns",
    multiple=True,
    metavar="PATTERN",
    help="Run only these checks: an id, a glob such as MLW-KV-*, or tag:NAME (repeatable or comma-separated).",
)
@click.option(
    "--skip-check",
    "skip_patterns",
    multiple=True,
    metavar="PATTERN",
    help="Do not run these checks (same patterns as --check). Controls they map to are not assessed.",
)
@click.option(
    "--min-severity",
    type=click.Choice(["critical", "high", "medium", "low", "info"]),
    help="Leave out findings below this severity (by each finding's own severity).",
)
@click.option(
    "--check-timeout",
    type=Seconds(min=0, max=86400, least=0.1),
    metavar="SECONDS",
    default=30.0,
    show_default=True,
    help="Seconds one check may spend on one resource before it becomes an error (0: no limit; else 0.1 to 86400).",
)
@click.option(
    "--jobs",
    default="auto",
    show_default=True,
    metavar="N|auto",
    callback=lambda _ctx, _param, value: jobs(value),
    help="Processes that run the checks and render the reports: auto uses every free core (usable, "
    "within the cgroup CPU quota, not busy with other work right now; for the checks, once the estate "
    "is large enough to pay); a number is taken as given.",
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
    formats: tuple[tuple[str, ...], ...],
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
    jobs: int | str,
    check_patterns: tuple[str, ...],
    skip_patterns: tuple[str, ...],
    min_severity: str | None,
    paper: Literal["a4", "letter"],
    pdf_detail: Literal["summary", "full"],
    **azure: Any,
) -> None:
    """Scan the demo estate (--demo), a snapshot (--snapshot FILE), ARM templates (--template PATH)
    or a Terraform plan (--terraform-plan FILE); with none of them, live Azure.

    Prints a summary, writes reports (--out DIR) and exits by --fail-on (exit codes: `mlwarden
    --help`). A scan that fails writes nothing: reports, baseline and history record land
    together or not at all. --subscription, --resource-group and --tag also narrow a scan of the
    demo, a snapshot, a template or a plan; the other live options apply to live Azure only.
    """
    from reports.terminal import summary
    from scanner import policy
    from scanner.engine import check_errors, exceeds_threshold
    from scanner.engine import scan as run_scan
    from scanner.outputs import CommitStep, Outputs, StagedFile, reserved

    extras = cli_evidence.ScanExtras.take(azure)
    if azure.get("changes_since") is not None:  # a live option, but a typo must not pass silently in any mode
        from scanner.changes import parse_since

        parse_since(azure["changes_since"])
    if sum(1 for given in (demo, snapshot, template, terraform_plan) if given) > 1:
        raise InputError("--demo, --snapshot, --template and --terraform-plan are mutually exclusive")
    if parameter_files and template is None:
        raise InputError("--parameters goes with --template")
    chosen = flatten_formats(formats) or (["json", "html"] if out or extras.pack_dir else [])
    if len(chosen) > 1 and out is None and extras.pack_dir is None:
        raise InputError("several formats need --out DIR")
    if len(chosen) == 1 and out is None and stdout.closed():
        raise InputError(f"stdout is closed: nowhere to write the {chosen[0]} report (use --out DIR)")
    from reports import unavailable

    if (missing := unavailable(chosen)) is not None:
        raise InputError(missing)
    from scanner.selection import select

    catalog = _load_checks()
    checks, _ = select(catalog, check_patterns, skip_patterns, min_severity)
    selected = _frameworks(frameworks, framework_files, catalog)
    waivers = policy.load_waivers(waivers_file, set(catalog)) if waivers_file else []
    baseline = policy.load_baseline(baseline_file) if baseline_file else None
    attestations = extras.attestations(framework_files, catalog)
    outputs = Outputs(
        out=out,
        report_names=tuple(_report_name(fmt) for fmt in chosen) if out else (),
        baseline=write_baseline,
        history=history_db,
        digests=extras.pack_dir is not None,  # only an evidence pack lists the reports' SHA-256
        pack=extras.pack_dir,
        inputs=tuple(
            (option, path)
            for option, paths in (
                ("--snapshot", [snapshot] if snapshot is not None and str(snapshot) != "-" else []),
                ("--waivers", [waivers_file]),
                ("--baseline", [baseline_file]),
                ("--attestations", [extras.attestations_file]),
                ("--framework-file", framework_files),
                ("--template", [template]),
                ("--parameters", parameter_files),
                ("--terraform-plan", [terraform_plan]),
            )
            for path in paths
            if path is not None
        ),
    )
    with reserved(outputs):
        started = time.perf_counter()
        inventory, origin, description, attach = _load_source(
            demo, snapshot, template, parameter_files, terraform_plan, azure
        )
        threshold = None if fail_on == "none" else Severity(fail_on)
        with stdout.to_stderr():  # a plugin check's print must not land in a report sent to stdout
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
                jobs=jobs,
                catalog=catalog,
                min_severity=min_severity,
                after_checks=attach,  # live: who changed the failing resources, read once the checks have run (once)
            )
        inventory = attach.inventory if attach is not None else inventory  # the evidence pack's snapshot has them
        # Every format written once, as a stream into staging: --out, stdout and the evidence
        # pack all get those bytes.
        from reports.options import RenderOptions, write
        from scanner.bulk import collector_paused

        options = RenderOptions(
            frozenset(sarif_include), sarif_category, paper=paper, pdf_detail=pdf_detail, allow_partial=allow_partial
        )
        names = [_report_name(fmt) for fmt in chosen]
        # Reports that land elsewhere need no stdout: closed, it just hears nothing (as with -q).
        shows_summary = not (len(chosen) == 1 and out is None) and not azure.get("quiet") and not stdout.closed()

        def tell() -> str:
            """The summary: written by whichever process is free first, printed once every report is staged."""
            return summary(result, reports=[out / name for name in names] if out is not None else [])

        with collector_paused():  # the views reports build are acyclic: no need to walk the whole heap
            staged, said = outputs.stage_reports(
                [(name, partial(write, fmt, result, options=options)) for name, fmt in zip(names, chosen, strict=True)],
                tell if shows_summary else None,
                jobs=jobs,
            )
        rendered: list[StagedFile] = [report.file for report in staged]
        notices = [notice for report in staged for notice in report.value]
        # Opened now: staging is gone once the outputs are committed.
        to_stdout = rendered[0].path.open("rb") if len(chosen) == 1 and out is None else None
        accepted = 0
        if write_baseline is not None:
            data, accepted = policy.render_baseline(result)
            outputs.stage_baseline(data)
        inputs = {"waivers": waivers_file, "baseline": baseline_file}
        pack = extras.stage_pack(result, inventory, rendered, inputs, azure, framework_files)
        recorded: list[int] = []
        steps: list[CommitStep] = []
        if pack is not None:
            steps.append(CommitStep(pack.commit, undo=pack.withdraw, abandon=pack.discard))
        if to_stdout is not None:  # before the history: a report stdout could not take is no recorded scan
            steps.append(CommitStep(partial(_to_stdout, to_stdout)))
        if history_db is not None:
            from scanner.history import record

            steps.append(CommitStep(lambda: recorded.append(record(result, history_db))))
        if said is not None:
            # Before the commit, which may wait on a shared history; the files it points to are
            # confirmed by the "wrote" lines once they have landed.
            click.echo(said)
        written = outputs.commit(steps)
    if to_stdout is None and not azure.get("quiet") and not stdout.closed():
        for path in written:
            if path != write_baseline:
                click.echo(f"wrote {printable(path)}")
    cli_evidence.published(pack, bool(azure.get("quiet")))
    for notice in notices:
        click.echo(f"mlwarden: note: {printable(notice)}", err=True)
    for line in policy.announcements(result.waivers):
        click.echo(line, err=True)
    cli_evidence.announce(result)
    if recorded and history_db is not None and not azure.get("quiet"):
        from scanner.history import describe

        click.echo(f"recorded scan {recorded[0]} in {printable(describe(history_db))}", err=True)
    if write_baseline is not None and not azure.get("quiet"):
        click.echo(f"wrote baseline {printable(write_baseline)} ({accepted} accepted finding(s))", err=True)
    if incomplete := incomplete_warning(result.gaps):
        click.echo(incomplete, err=True)
    errored = check_errors(result) if result.status_counts()["error"] else ""  # the tally is cached: no pass
    if errored:
        _warn(f"scan incomplete: {errored}")
    bulk.said_all()
    if (incomplete or errored) and not allow_partial:
        sys.exit(EXIT_INCOMPLETE)
    sys.exit(EXIT_FINDINGS if threshold is not None and exceeds_threshold(result, threshold) else EXIT_OK)


Origin = Literal["demo", "snapshot", "azure", "template", "plan"]


def _load_source(
    demo: bool,
    snapshot: Path | None,
    template: Path | None,
    parameter_files: Sequence[Path],
    terraform_plan: Path | None,
    azure: dict[str, Any],
) -> tuple[Any, Origin, str, Attach | None]:
    """The inventory a scan judges, where it came from, how to describe it, and (live) what adds
    who changed the resources that fail (`Attach`, else None)."""
    from scanner.snapshot import read_demo, read_snapshot

    if template is not None or terraform_plan is not None:
        from scanner.iac import read_plan, read_templates

        inventory = read_templates(template, list(parameter_files)) if template else read_plan(terraform_plan)  # type: ignore[arg-type]
        _notices(inventory.notices)
        inventory, description = _narrow_offline(inventory, azure, inventory.header.scope.description)
        return inventory, "template" if template else "plan", description, None
    if demo:
        inventory, description = _narrow_offline(read_demo(), azure, "bundled demo estate")
        return inventory, "demo", description, None
    if snapshot is not None:
        inventory, description = _narrow_offline(read_snapshot(snapshot), azure, f"snapshot {snapshot.name}")
        return inventory, "snapshot", description, None
    attach = _collect(azure)
    return attach.inventory, "azure", "", attach


@cli.command(short_help="Read live Azure into a snapshot file that `scan --snapshot` reads back.")
@click.option(
    "--out",
    type=Location(path_type=Path, dir_okay=False),
    required=True,
    metavar="FILE",
    help="Snapshot file to write (.jsonl, or .jsonl.gz to compress).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 instead of 3 when some sources or scopes could not be read (the gaps stay in the snapshot).",
)
@azure_options
@_guard
def collect(out: Path, allow_partial: bool, **azure: Any) -> None:
    """Read live Azure and write a snapshot that `scan --snapshot` reads back to the same result.

    Signs in as `scan` does (any Azure credential: az login, a managed or workload identity, a
    service principal) and reads every subscription the identity can read unless --subscription
    or --management-group narrows it. Example: `mlwarden collect --out estate.jsonl.gz`, then
    `mlwarden scan --snapshot estate.jsonl.gz --out out/`.
    """
    from scanner.outputs import check_file_destination
    from scanner.snapshot import write_snapshot

    check_file_destination(out, "--out")
    from scanner.engine import failing_resources

    checks = _load_checks()  # before the collection: a broken plugin says so at once
    attach = _collect(azure)
    inventory = attach(failing_resources(attach.inventory, checks))  # the checks run only to name the failing
    try:
        write_snapshot(inventory, out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write: {exc.strerror or type(exc).__name__}") from None
    # As for `scan`: gaps of advisory sources (change attribution) neither warn nor change the exit code.
    gaps = [gap for source in inventory.header.sources if source.name not in ADVISORY_SOURCES for gap in source.gaps]
    if not azure.get("quiet") and not stdout.closed():
        click.echo(f"wrote {printable(out)}: {len(inventory.resources)} resources, {len(gaps)} coverage gap(s)")
    if incomplete := incomplete_warning(gaps):
        click.echo(incomplete, err=True)
        if not allow_partial:
            sys.exit(EXIT_INCOMPLETE)


def _register_subcommands() -> None:
    from scanner.cli_catalog import checks, frameworks
    from scanner.cli_history import history

    for group in (checks, frameworks, history):
        cli.add_command(group)
    cli_evidence.register(cli)


_register_subcommands()


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
    stdout.install()
    bulk.set_resident(True)  # one scan per process: bulk data stays out of the cycle collector's walks
    sigterm.install()
    try:
        argv.check_utf8(sys.argv[1:])
        argv.check_option_values(cli, sys.argv[1:])
    except InputError as exc:
        click.echo(error_line(str(exc)), err=True)
        sys.exit(exc.exit_code)
    try:
        cli(prog_name="mlwarden")
    except InputError as exc:  # stdout failing while click prints help or usage, outside any command
        click.echo(error_line(str(exc)), err=True)
        sys.exit(exc.exit_code)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            bulk.leave(done.code)  # a finished scan exits here, leaving its memory to the OS
        raise
