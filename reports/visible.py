"""Estate text as an auditor must see it in the HTML and PDF: escaped, nothing hidden, nothing reordered.

Names, tags, messages and descriptions come from the scanned estate, and Unicode lets them hide
things from a reader: a zero-width or soft-hyphen character makes two names that look the same
differ, a right-to-left override (U+202E) shows `exe.txt` for `txt.exe` and reorders the text after
it, a newline or tab reads as a space. So every such character is shown as a marked `[U+XXXX]`
chip, and text holding right-to-left letters (Hebrew, Arabic) is wrapped in `<bdi>` so it cannot
flip the order of what surrounds it (`name: 5 reasons` must not read `5 :name reasons`).

Very long estate text is cut where it is written (`TEXT_LIMIT`, `CHIP_LIMIT`), saying how much was
left out: a 200,000-character resource name or tag value made the page that size at each mention,
and the PDF's layout of it took tens of seconds. The JSON report holds the whole value.

This is the HTML side of `scanner.textsafe.printable` (terminal, Markdown, logs), which replaces such
characters with `?`; a report names each one instead, since the auditor may need to tell them apart.
`shown_html` is the template environment's finalize step, so it covers every value a template
writes; html.py calls `marked` for the long lists it writes itself. Printable ASCII, the usual
text, takes one regex test and is returned as it was, which keeps a large report's cost flat.
"""

from __future__ import annotations

import html as html_text
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

TEXT_LIMIT = 2000
"""Characters of one unbroken word a page shows: far beyond any real name (an ARM id is broken at
each `/`), far below what makes a page slow to lay out or to read."""
CHIP_LIMIT = 200
"""Hidden-character chips shown in a row (`[U+200B]` each; a name of 20,000 of them is 20,000 boxes)."""
_CHIP_OPEN = '<span class="cc">'
_LONG_WORD = re.compile(rf"(?<![^<>\s])[^<>\s]{{{TEXT_LIMIT + 1},}}(?=[\s<]|$)")
"""An unbroken run of page text (tags and whitespace end it), tried only where a run starts: linear."""
_CHIP = r'<wbr><span class="cc">\[U\+[0-9A-F]{4,6}\]</span><wbr>'
_CHIP_RUN = re.compile(rf"((?:{_CHIP}[^<>]*){{{CHIP_LIMIT}}})((?:{_CHIP}[^<>]*)+)")
_LONG_PLAIN = re.compile(rf"(?<!\S)\S{{{TEXT_LIMIT + 1},}}")


def left_out(count: int) -> str:
    """What stands where text was cut."""
    return f"\u2026 ({count:,} more characters; the JSON report holds the whole value)"


def _clip_word(match: re.Match[str]) -> str:
    word = match.group()
    cut = TEXT_LIMIT
    entity = word.rfind("&", cut - 10, cut)  # never cut `&amp;` or `&#x27;` in two
    if entity >= 0 and ";" not in word[entity:cut]:
        cut = entity
    # `<wbr>` ends the word where it was cut, so bounding a bounded page changes nothing
    return f"{word[:cut]}<wbr>{left_out(len(html_text.unescape(word[cut:])))}"


def _clip_chips(match: re.Match[str]) -> str:
    text, chips = re.subn(_CHIP, "", match.group(2))
    return f"{match.group(1)}{left_out(chips + len(html_text.unescape(text)))}"


def bounded_html(body: str) -> str:
    """HTML with each unbroken word longer than `TEXT_LIMIT` characters cut there, and each row of more
    than `CHIP_LIMIT` hidden-character chips cut after that many, each followed by how much was left
    out. Text holding nothing that long is returned as it is."""
    if len(body) > TEXT_LIMIT:
        body = _LONG_WORD.sub(_clip_word, body)
    if body.count(_CHIP_OPEN) > CHIP_LIMIT:
        body = _CHIP_RUN.sub(_clip_chips, body)
    return body


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
    if not _plain(text):
        text = "".join(_chip(char) if _hidden(char, prose) else char for char in text)
    if len(text) > TEXT_LIMIT:
        text = _LONG_PLAIN.sub(lambda word: word.group()[:TEXT_LIMIT] + left_out(len(word.group()) - TEXT_LIMIT), text)
    return text


def marked(text: str, prose: bool = False, bound: bool = True) -> str:
    """The text as HTML: escaped, hidden characters as `<span class="cc">[U+XXXX]</span>`, and in
    `<bdi>` when it holds right-to-left letters. A line may break on either side of a chip: WeasyPrint
    does not break a word that runs across inline boxes, so without it `kv[U+000A]research:` ran
    out of a narrow cell. Unless `bound` is False, very long words and chip rows are cut
    (`bounded_html`)."""
    escaped = str(escape(text))
    if _plain(text):
        return bounded_html(escaped) if bound and len(text) > TEXT_LIMIT else escaped
    rtl = False

    def one(match: re.Match[str]) -> str:
        nonlocal rtl
        char = match.group()
        if _hidden(char, prose):
            return f'<wbr><span class="cc">{_chip(char)}</span><wbr>'
        rtl = rtl or unicodedata.bidirectional(char) in _RTL
        return char

    body = _OTHER.sub(one, escaped)
    if bound:
        body = bounded_html(body)
    return f"<bdi>{body}</bdi>" if rtl else body


def shown_html(value: object) -> object:
    """jinja2 `finalize`: a string written by a template, marked; markup (already made safe by the
    code that built it) and other values pass through for autoescape to handle as before."""
    if type(value) is str and (len(value) > TEXT_LIMIT or not _plain(value)):
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
        if _plain(text) and max(map(len, items), default=0) <= TEXT_LIMIT:
            return escape(text)
    return Markup(escape(separator)).join(
        Markup(value) if isinstance(value, Markup) else Markup(marked(str(value))) for value in items
    )
