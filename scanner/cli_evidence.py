"""CLI wiring for the audit deliverable: `scan --attestations/--evidence-pack/--sign-key`,
`mlwarden attestations template` and `mlwarden verify`.

Kept out of scanner/cli.py so the scan command only gains a decorator and a few calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner import argv
from scanner.azure.options import CONNECT_TIMEOUT, READ_TIMEOUT
from scanner.clickapp import Location, timeout_options
from scanner.clickapp import guard as _guard
from scanner.errors import InputError
from scanner.models import Attestation, ScanResult
from scanner.textsafe import printable

if TYPE_CHECKING:
    from scanner.azure.options import CollectOptions
    from scanner.azure.session import SignIn
    from scanner.evidence import StagedPack
    from scanner.inventory import Inventory
    from scanner.outputs import StagedFile
    from scanner.signing import KeyRef


def scan_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options `scan` gains for auditors; their values reach the command in its keyword arguments."""
    options = [
        click.option(
            "--attestations",
            "attestations_file",
            type=Location(dir_okay=False, path_type=Path, reads="file"),
            metavar="FILE",
            help="Attestations YAML for manual controls (see `mlwarden attestations template`).",
        ),
        click.option(
            "--evidence-pack",
            "evidence_pack",
            type=Location(file_okay=False, path_type=Path),
            metavar="DIR",
            help="Also write the snapshot, reports, inputs and a digest manifest to this new (or empty) directory.",
        ),
        click.option(
            "--sign-key",
            "sign_key",
            metavar="KEY_URL",
            help="Sign the evidence pack manifest with this Key Vault key, given by its URL "
            "https://VAULT.vault.azure.net/keys/NAME, optionally with /VERSION (needs --evidence-pack).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


SIGN_IN = "mlwarden.sign_in"


def sign_in_for(options: CollectOptions) -> SignIn:
    """The command's one credential: a live collection, its change reads and a manifest signature share it
    (and the tokens it holds), and the command's end closes it, however the command ends."""
    from scanner.azure.session import SignIn

    ctx = click.get_current_context()
    found: SignIn | None = ctx.meta.get(SIGN_IN)
    if found is None:
        found = ctx.meta[SIGN_IN] = SignIn(options)
        ctx.call_on_close(found.close)
    return found


def _transport(params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The credential and CA trust a live scan would use, built from the same options and environment
    (the live scan's own credential when this command collected)."""
    from scanner.azure.options import CollectOptions

    options = CollectOptions(
        cloud=params.get("cloud") or "public",
        arm_endpoint=params.get("arm_endpoint"),
        authority_host=params.get("authority_host"),
        credential_scope=params.get("credential_scope"),
        ca_bundle=params.get("ca_bundle"),
        connect_timeout=params.get("connect_timeout") or CONNECT_TIMEOUT,
        read_timeout=params.get("read_timeout") or READ_TIMEOUT,
    )
    return sign_in_for(options).credential, options.transport_kwargs()


@dataclass(frozen=True, slots=True)
class ScanExtras:
    """The auditor options of one scan, taken out of the command's keyword arguments."""

    attestations_file: Path | None = None
    pack_dir: Path | None = None
    sign_key: KeyRef | None = None

    @classmethod
    def take(cls, params: dict[str, Any]) -> ScanExtras:
        pack_dir, key_url = params.pop("evidence_pack", None), params.pop("sign_key", None)
        if key_url is not None and pack_dir is None:
            raise InputError("--sign-key signs an evidence pack: add --evidence-pack DIR")
        if pack_dir is not None:
            from scanner.evidence import check_target

            check_target(pack_dir)
        sign_key = None
        if key_url is not None:  # only then: signing loads the Azure SDK and cryptography (30 ms)
            from scanner.signing import KeyRef

            sign_key = KeyRef.parse(key_url)
        return cls(attestations_file=params.pop("attestations_file", None), pack_dir=pack_dir, sign_key=sign_key)

    def attestations(self, framework_files: Sequence[Path], checks: Mapping[str, Any]) -> dict[Any, Attestation]:
        """Load and validate the attestations file against every known framework (not only the selected)."""
        if self.attestations_file is None:
            return {}
        from frameworks.catalog import load_all
        from scanner.attestations import load
        from scanner.registry import TAGS

        catalog = load_all(check_ids=set(checks), tags=TAGS, extra=list(framework_files))
        return load(self.attestations_file, catalog)

    def stage_pack(
        self,
        result: ScanResult,
        inventory: Inventory,
        reports: Sequence[StagedFile],
        inputs: Mapping[str, Path | None],
        params: Mapping[str, Any],
        framework_files: Sequence[Path] = (),
    ) -> StagedPack | None:
        """Build (and sign) the evidence pack before any report is written, so a refused signature writes nothing."""
        if self.pack_dir is None:
            return None
        from scanner import evidence, signing

        signer = None
        if self.sign_key is not None:
            key = self.sign_key
            credential, transport = _transport(params)
            signer = lambda body: signing.sign(body, key, credential, transport)  # noqa: E731
        roles = {**inputs, "attestations": self.attestations_file}
        used = {f"{role}{path.suffix}": path for role, path in roles.items() if path is not None}
        for index, path in enumerate(framework_files, start=1):
            used[f"frameworks/{index}-{path.name}"] = path  # the catalogs a rescan needs
        return evidence.stage(self.pack_dir, result, inventory, reports, used, signer)


def publish(pack: StagedPack | None, quiet: bool) -> None:
    """Move a staged pack into place once the reports are written, and say what it holds."""
    if pack is None:
        return
    pack.commit()
    published(pack, quiet)


def published(pack: StagedPack | None, quiet: bool) -> None:
    """Say what a committed pack holds."""
    if pack is not None and not quiet:
        signed = f", manifest signed with {pack.kid}" if pack.kid else ", unsigned"
        click.echo(f"wrote evidence pack {pack.target} ({pack.files} files{signed})", err=True)


def announce(result: ScanResult) -> None:
    """Say on stderr which attestations expired: the controls they covered count as unattested again."""
    for framework in result.frameworks:
        for control in framework.controls:
            expired = control.expired_attestation
            if expired is not None:
                click.echo(
                    f"mlwarden: warning: attestation for {printable(framework.id)} {printable(control.control_id)} "
                    f"({printable(expired.reference)}) expired {expired.expires.isoformat()}; the control is "
                    f"{control.status} again",
                    err=True,
                )


@click.group("attestations")
def attestations() -> None:
    """Attestations: statements and evidence for controls no check can judge."""


@attestations.command("template")
@click.option(
    "--framework",
    "framework_id",
    required=True,
    metavar="ID",
    help="The framework whose manual controls to list, e.g. hipaa-security-rule (see `mlwarden frameworks list`).",
)
@click.option(
    "--framework-file",
    "framework_files",
    multiple=True,
    type=Location(path_type=Path, dir_okay=False, reads="file"),
    metavar="FILE",
    help="Add a framework catalog of your own (YAML; repeatable).",
)
@_guard
def template_command(framework_id: str, framework_files: tuple[Path, ...]) -> None:
    """Print a starting attestations file with one entry per manual control and its evidence request.

    Redirect it to a file, fill in the controls you can vouch for and delete the rest: a blank
    entry refuses to load. Then: `mlwarden scan --attestations FILE ...`.
    """
    from scanner import __version__
    from scanner.attestations import template
    from scanner.cli import _frameworks, _load_checks

    selected = _frameworks([framework_id], framework_files, _load_checks())
    if len(selected) != 1:
        raise InputError("--framework: name exactly one framework for a template")
    (framework,) = selected
    click.echo(template(framework, datetime.now(UTC).date(), __version__), nl=False)


def _timeouts(func: Callable[..., Any]) -> Callable[..., Any]:
    """The live scan's timeouts for verify's one online call, the key fetch of --key."""
    for option in reversed(timeout_options(CONNECT_TIMEOUT, READ_TIMEOUT, when="with --key; ")):
        func = option(func)
    return func


@click.command("verify")
@click.argument("directory", type=Location(path_type=Path, reads="dir"), metavar="DIR")
@click.option(
    "--key", "key_url", metavar="KEY_URL", help="Require a signature by this Key Vault key (fetched to compare)."
)
@click.option(
    "--cloud",
    type=click.Choice(["public", "usgov", "china"]),
    default="public",
    show_default=True,
    help="Azure cloud of the signing key's vault (with --key).",
)
@click.option(
    "--authority-host",
    type=argv.HttpsUrl(bare_host=True),
    metavar="URL",
    help="Override the Entra ID authority host (with --key).",
)
@click.option(
    "--ca-bundle",
    type=Location(dir_okay=False, path_type=Path, reads="file"),
    metavar="FILE",
    help="The CA certificates (PEM) to trust in place of the default store (with --key).",
)
@_timeouts
@_guard
def verify_command(directory: Path, key_url: str | None, **params: Any) -> None:
    """Check an evidence pack offline: every digest, then the signature with the included public key.

    DIR is the pack a scan wrote with --evidence-pack. With --key the signer is pinned: the key's
    public half is fetched from Key Vault (needs keys/get) and must be the one that signed.

    Exit 0 when everything matches, 1 naming the first file or signature that does not, 2 when the
    pack cannot be read (missing or truncated manifest).
    """
    import sys

    from scanner import evidence, signing

    expected = None
    if key_url is not None:
        pinned = signing.KeyRef.parse(key_url, option="--key")
        expected = lambda header: _pinned_key(pinned, header, params)  # noqa: E731
    try:
        verified = evidence.verify(directory, expected)
    except evidence.PackMismatch as exc:
        click.echo(f"mlwarden: verify failed: {printable(str(exc))}", err=True)
        sys.exit(1)
    if verified.header is None:
        click.echo(f"{directory}: {verified.files} files match {evidence.MANIFEST}; the pack is not signed")
    else:
        alg, kid = printable(str(verified.header.get("alg"))), printable(str(verified.header.get("kid")))
        click.echo(f"{directory}: {verified.files} files match {evidence.MANIFEST}; signature {alg} by {kid} verifies")


def _pinned_key(pinned: KeyRef, header: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The public key Key Vault holds for the version that signed, if that is the key the user pinned."""
    from scanner import evidence, signing

    kid = str(header.get("kid", ""))
    try:
        signed_by = signing.KeyRef.parse(kid, option="kid")
    except InputError:
        raise evidence.PackMismatch(f"{evidence.SIGNATURE}: key id {kid!r} is not a Key Vault key URL") from None
    same = signed_by.host == pinned.host and signed_by.name.lower() == pinned.name.lower()
    if not same or (pinned.version is not None and signed_by.version != pinned.version):
        raise evidence.PackMismatch(f"{evidence.SIGNATURE}: signed by {kid}, not by {pinned.url}")
    credential, transport = _transport(params)
    return signing.fetch_public_jwk(signed_by, credential, transport)


def register(cli: click.Group) -> None:
    cli.add_command(attestations)
    cli.add_command(verify_command)
