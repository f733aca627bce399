"""CLI wiring for the audit deliverable: `--attestations` on `scan` and `mlwarden attestations template`.

Kept out of scanner/cli.py so the scan command only gains a decorator and a few calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from scanner.models import Attestation, ScanResult
from scanner.textsafe import printable

P = ParamSpec("P")
R = TypeVar("R")


def _guard(func: Callable[P, R]) -> Callable[P, R]:
    """scanner.cli's one-line error handling, looked up at call time: scanner.cli imports this module."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from scanner.cli import _guard as cli_guard

        return cli_guard(func)(*args, **kwargs)

    return wrapper


def scan_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options `scan` gains for auditors; their values reach the command in its keyword arguments."""
    options = [
        click.option(
            "--attestations",
            "attestations_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Attestations YAML for manual controls (see `mlwarden attestations template`).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True, slots=True)
class ScanExtras:
    """The auditor options of one scan, taken out of the command's keyword arguments."""

    attestations_file: Path | None = None

    @classmethod
    def take(cls, params: dict[str, Any]) -> ScanExtras:
        return cls(attestations_file=params.pop("attestations_file", None))

    def attestations(self, framework_files: Sequence[Path], checks: Mapping[str, Any]) -> dict[Any, Attestation]:
        """Load and validate the attestations file against every known framework (not only the selected)."""
        if self.attestations_file is None:
            return {}
        from frameworks.catalog import load_all
        from scanner.attestations import load
        from scanner.registry import TAGS

        catalog = load_all(check_ids=set(checks), tags=TAGS, extra=list(framework_files))
        return load(self.attestations_file, catalog)


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
@click.option("--framework", "framework_id", required=True, help="Framework id (see `mlwarden frameworks list`).")
@click.option("--framework-file", "framework_files", multiple=True, type=click.Path(path_type=Path))
@_guard
def template_command(framework_id: str, framework_files: tuple[Path, ...]) -> None:
    """Print a starting attestations file with one entry per manual control and its evidence request."""
    from scanner import __version__
    from scanner.attestations import template
    from scanner.cli import _frameworks, _load_checks

    (framework,) = _frameworks([framework_id], framework_files, _load_checks())
    click.echo(template(framework, datetime.now(UTC).date(), __version__), nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(attestations)
