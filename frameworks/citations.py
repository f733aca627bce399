"""Catch a control whose title cites a different provision than its id.

A copy-paste slip such as id `164.312(e)(2)(ii)` titled "164.312(a)(2)(iv) Encryption and
decryption" would file every finding under the wrong safeguard, so the loader rejects it. Only
citation schemes the id itself follows are checked; a title may name the id or one of its
ancestors ("Art. 32" above `Art. 32(1)(a)`), nothing else.
"""

from __future__ import annotations

import re

_SCHEMES: tuple[re.Pattern[str], ...] = (
    # 45 CFR Part 164: 164.312(a)(2)(iv), optionally "45 CFR" and/or "§" before it
    re.compile(r"(?<![\w.])(?:45\s*CFR\s*)?(?:§\s*)?(1\d\d\.\d{3}(?:\([A-Za-z0-9]+\))*)"),
    # GDPR articles: Art. 32(1)(a), Article 5(2)
    re.compile(r"\bArt(?:icle\b|\.|\b)\s*(\d+(?:\(\d+\))*(?:\([a-z]\))*)"),
    # ISO/IEC 27001 Annex A: A.8.24
    re.compile(r"\b(A\.\d+(?:\.\d+)+)\b"),
    # SOC 2 trust services criteria: CC6.1, A1.2, C1.1, PI1.3, P4.1
    re.compile(r"\b((?:CC|PI|A|C|P)\d+\.\d+)\b"),
    # NIST SP 800-53 and MCSB: SC-28(1), DP-5
    re.compile(r"\b([A-Z]{2}-\d+(?:\(\d+\))?)"),
)


def _normal(citation: str) -> str:
    return re.sub(r"\s+", "", citation)


def _names_same_or_ancestor(cited: str, control_id: str) -> bool:
    if cited == control_id:
        return True
    return control_id.startswith(cited) and control_id[len(cited)] in "(."


def contradicting_citation(control_id: str, title: str) -> str | None:
    """The first citation in `title` that names a provision other than `control_id` (or its ancestors)."""
    for pattern in _SCHEMES:
        own = pattern.fullmatch(control_id.strip())
        if own is None:
            continue
        ident = _normal(own.group(1))
        for cited in pattern.finditer(title):
            if not _names_same_or_ancestor(_normal(cited.group(1)), ident):
                return cited.group(0).strip()
    return None
