"""Neutralise estate-supplied text before a person or a log reads it.

A resource name comes from whoever can write to the estate. Raw ESC/BEL/NUL/CR can recolour a
terminal or forge a second log line, and Unicode bidi overrides (U+202A-U+202E, U+2066-U+2069)
can make text read differently from what it is. Every medium meant for people (terminal,
stderr, Markdown, history diff) passes estate strings through `printable` first.
"""

from __future__ import annotations

import re

# C0 and C1 controls (tab and newline included: one value stays one line), DEL, bidi
# embeddings/overrides/isolates, and the zero-width/line/paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: object, replacement: str = "?") -> str:
    """`text` as one line with every control or bidi character replaced; linear in its length."""
    return _UNSAFE.sub(replacement, str(text))
