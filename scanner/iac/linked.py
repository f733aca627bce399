"""Linked templates: `Microsoft.Resources/deployments` whose template is in another file.

A local `templateLink.relativePath` is read, relative to the template that links it (as ARM does
for a template deployed from a file or a template spec), no deeper than `MAX_DEPTH` links and
never outside the directory given to `--template`. A link to a remote `uri` or a template spec
`id` cannot be read offline: it becomes a coverage gap naming the link (the scan is incomplete,
exit 3 unless `--allow-partial`), never "nothing deployed".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scanner import files
from scanner.errors import InputError
from scanner.inventory import RESOURCES
from scanner.models import Gap
from scanner.unevaluated import PREFIX as UNEVALUATED

MAX_DEPTH = 8
"""Links followed from the main template (ARM itself allows 64 nested deployments; 8 is plenty)."""


def local_file(relative: str, linking: Path, root: Path, chain: tuple[Path, ...], where: str) -> Path:
    """The linked file for `relative`, checked; InputError (one line, naming the link) otherwise."""
    if len(chain) > MAX_DEPTH:
        raise InputError(f"{where}: linked templates nested more than {MAX_DEPTH} deep")
    candidate = Path(relative)
    if candidate.is_absolute() or candidate.drive:
        raise InputError(f"{where}: linked template {relative!r} is not a relative path")
    try:
        resolved = (linking.parent / candidate).resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a link loop (exit 4, "a bug")
        loop = files.problem(linking.parent / candidate) or "a symbolic link loop"
        raise InputError(f"{where}: linked template {relative!r} ({linking.parent / candidate}): {loop}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise InputError(f"{where}: linked template {relative!r} is outside {root} (the --template directory)")
    if resolved in chain:
        raise InputError(f"{where}: linked template {relative!r} links back to itself")
    if (why := files.problem(resolved)) is not None:  # a FIFO, device or directory in the templates' tree
        raise InputError(f"{where}: linked template {relative!r} ({resolved}): {why}")
    if not resolved.is_file():
        raise InputError(f"{where}: linked template {relative!r}: no such file ({resolved})")
    return resolved


def remote_gap(link: Mapping[str, Any], where: str) -> Gap:
    """A link mlwarden cannot follow offline, as a gap that names it (a URI without its query: a SAS
    token in it is a credential)."""
    uri, spec = link.get("uri"), link.get("id")
    if isinstance(uri, str) and not uri.startswith("<"):
        parts = urlsplit(uri)
        target = f"remote template {parts.scheme}://{parts.netloc}{parts.path}"
    elif isinstance(spec, str) and not spec.startswith("<"):
        target = f"template spec {spec}"
    elif isinstance(link.get("relativePath"), str):
        target = "relative path known only at deployment"
    else:
        target = "remote template whose address is known only at deployment"
    if UNEVALUATED in target:
        target = target.split(UNEVALUATED, 1)[0] + "(known only at deployment)"
    return Gap(
        source=RESOURCES,
        scope=f"{where}: {target}",
        reason="a linked template mlwarden cannot read offline: the resources it deploys are not judged",
    )
