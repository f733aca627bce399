"""Command-line values must be text: every one of them may end up in a UTF-8 report.

On POSIX a byte that is not UTF-8 (`--snapshot $'\\xff.jsonl'`, `--sarif-category $'\\xff'`) reaches
Python as a lone surrogate. Such a string cannot be encoded, so the report writer would fail
only after the whole scan; it is refused here, before anything runs, naming the argument.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from scanner.errors import InputError

_SURROGATE = re.compile("[\ud800-\udfff]")


def check_utf8(args: Sequence[str]) -> None:
    """Raise InputError for the first argument holding bytes that are not UTF-8."""
    for number, arg in enumerate(args, start=1):
        if _SURROGATE.search(arg):
            shown = os.fsencode(arg).decode("utf-8", "backslashreplace")
            raise InputError(
                f"argument {number} ({shown[:80]}) is not valid UTF-8: mlwarden writes UTF-8 reports, "
                "so every value, file and directory name given to it must be UTF-8 text"
            )
