"""The one `scan incomplete` warning line, shared by `scan` and `collect`."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.models import Gap
from scanner.textsafe import printable

SHOWN = 5


def incomplete_warning(gaps: Iterable[Gap]) -> str | None:
    """`mlwarden: warning: scan incomplete: N coverage gap(s): source:scope, ...`, or None without gaps."""
    scopes = sorted({f"{gap.source}:{printable(gap.scope)}" for gap in gaps})
    if not scopes:
        return None
    shown = ", ".join(scopes[:SHOWN]) + (f" and {len(scopes) - SHOWN} more" if len(scopes) > SHOWN else "")
    return f"mlwarden: warning: scan incomplete: {len(scopes)} coverage gap(s): {shown}"
