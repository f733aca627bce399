"""Estate text as an auditor must see it in the HTML and PDF: escaped, nothing hidden, nothing reordered.

Names, tags, messages and descriptions come from the scanned estate, and Unicode lets them hide
things from a reader: a zero-width or soft-hyphen character makes two names that look the same
differ, a right-to-left override (U+202E) shows `exe.txt` for `txt.exe` and reorders the text after
it, a newline or tab reads as a space. So every such character is shown as a marked `[U+XXXX]`
chip, and text holding right-to-left letters (Hebrew, Arabic) is wrapped in `<bdi>` so it cannot
flip the order of what surrounds it (`name: 5 reasons` must not read `5 :name reasons`).

This is the HTML side of `scanner.textsafe.printable` (terminal, Markdown, logs), which replaces such
characters with `?`; a report names each one instead, since the auditor may need to tell them apart.
`shown_html` is the template environment's finalize step, so it covers every value a template
writes; html.py calls `marked` for the long lists it writes itself. Printable ASCII, the usual
text, takes one regex test and is returned as it was, which keeps a large report's cost flat.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from markupsafe import Markup, escape

_OTHER = re.compile(r"[^\x20-\x7e]")
_LAYOUT = frozenset("\t\n\r")
"""Whitespace controls that prose (a waiver's justification) may hold; names never do."""
_BLANKS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
"""Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern)."""
_RTL = frozenset(("R", "AL"))


def _plain(text: str) -> bool:
    """Printable ASCII: nothing hidden, nothing right-to-left (two C-level tests, no regex)."""
    return text.isascii() and text.isprintable()


def _hidden(char: str, prose: bool) -> bool:
    """Whether a reader could not see `char` or tell it from a space."""
    if char in _LAYOUT:
        return not prose
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return True
    return (category == "Zs" and char != " ") or char in _BLANKS


def _chip(char: str) -> str:
    return f"[U+{ord(char):04X}]"


def plain(text: str, prose: bool = False) -> str:
    """The text with each hidden character written as `[U+XXXX]`: for places that take no markup
    (the page title, PDF metadata, attribute values)."""
    if _plain(text):
        return text
    return "".join(_chip(char) if _hidden(char, prose) else char for char in text)


def marked(text: str, prose: bool = False) -> str:
    """The text as HTML: escaped, hidden characters as `<span class="cc">[U+XXXX]</span>`, and in
    `<bdi>` when it holds right-to-left letters. A line may break on either side of a chip: WeasyPrint
    does not break a word that runs across inline boxes, so without it `kv[U+000A]research:` ran
    out of a narrow cell."""
    escaped = str(escape(text))
    if _plain(text):
        return escaped
    rtl = False

    def one(match: re.Match[str]) -> str:
        nonlocal rtl
        char = match.group()
        if _hidden(char, prose):
            return f'<wbr><span class="cc">{_chip(char)}</span><wbr>'
        rtl = rtl or unicodedata.bidirectional(char) in _RTL
        return char

    body = _OTHER.sub(one, escaped)
    return f"<bdi>{body}</bdi>" if rtl else body


def shown_html(value: object) -> object:
    """jinja2 `finalize`: a string written by a template, marked; markup (already made safe by the
    code that built it) and other values pass through for autoescape to handle as before."""
    if type(value) is str and not _plain(value):
        return Markup(marked(value))
    return value


def prose_html(value: object) -> Markup:
    """Free text an owner wrote (a justification, an attestation statement): the same, but its
    newlines and tabs stay layout."""
    return Markup(marked(str(value), prose=True))


def joined(values: Iterable[object], separator: str = "") -> Markup:
    """jinja2's `join` for a template that lists estate names: each one marked.

    A list of plain strings whose joined text is printable ASCII (the usual case: a large page's
    passing names) is escaped once as a whole: escaping replaces character by character, so that
    is the same text as escaping each name and the separator, without a call per name."""
    items = values if isinstance(values, (list, tuple)) else list(values)
    if type(separator) is str and set(map(type, items)) <= {str}:
        text = separator.join(items)  # type: ignore[arg-type]  # all str, tested just above
        if _plain(text):
            return escape(text)
    return Markup(escape(separator)).join(
        Markup(value) if isinstance(value, Markup) else Markup(marked(str(value))) for value in items
    )
