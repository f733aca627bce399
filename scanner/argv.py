"""Command-line values must be text: every one of them may end up in a UTF-8 report.

On POSIX a byte that is not UTF-8 (`--snapshot $'\\xff.jsonl'`, `--sarif-category $'\\xff'`) reaches
Python as a lone surrogate. Such a string cannot be encoded, so the report writer would fail
only after the whole scan; it is refused here, before anything runs, naming the argument.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from scanner.errors import InputError
from scanner.textsafe import printable

_SURROGATE = re.compile("[\ud800-\udfff]")
_WHOLE = re.compile("[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
WHOLE_GRAMMAR = "ASCII digits only, such as 8"
DECIMAL_GRAMMAR = "ASCII digits with at most one decimal point, such as 30 or 1.5"
"""The numbers mlwarden takes, said where one is refused. Python's int() and float() also take
`1_0`, full-width `１０`, other scripts' digits, surrounding whitespace, a sign and (float) an
exponent, `inf` or `nan`: a value a reviewer reads one way, or cannot read, was taken as another."""


def plain_number(text: str, *, fraction: bool) -> bool:
    """Whether `text` is a number as mlwarden takes one: ASCII digits, and (where a fraction is
    allowed) at most one decimal point; no sign, exponent, underscore, space or other digit."""
    return (_DECIMAL if fraction else _WHOLE).fullmatch(text) is not None


def shown(text: str, limit: int = 40) -> str:
    """A refused value as an error line quotes it: clipped, so a megabyte argument is no megabyte line."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_utf8(args: Sequence[str]) -> None:
    """Raise InputError for the first argument holding bytes that are not UTF-8."""
    for number, arg in enumerate(args, start=1):
        if _SURROGATE.search(arg):
            shown = os.fsencode(arg).decode("utf-8", "backslashreplace")
            raise InputError(
                f"argument {number} ({shown[:80]}) is not valid UTF-8: mlwarden writes UTF-8 reports, "
                "so every value, file and directory name given to it must be UTF-8 text"
            )


def check_option_values(command: click.Command, args: Sequence[str]) -> None:
    """Raise InputError where an option that takes a value is followed by another of the command's
    options: `--write-baseline -q` wrote a baseline named `-q` and the scan was not quiet; `--snapshot
    --demo` looked for a file named `--demo`. The value was forgotten, not meant; `--opt=VALUE` is
    taken as written (and a file so named can be given as `./-q`)."""
    current = command
    for position, arg in enumerate(args):
        if arg == "--":
            return
        if isinstance(current, click.Group) and arg in current.commands:
            current = current.commands[arg]
            continue
        option = _value_option(current, arg)
        if option is None or position + 1 >= len(args):
            continue
        following = args[position + 1]
        if following != "-" and following.split("=", 1)[0] in _option_names(current):
            raise InputError(
                f"{arg} was given no value: the next argument, {printable(following)!r}, is one of the "
                f"command's options (for a value spelt so, write {arg}={printable(following)})"
            )


def _option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts, param.secondary_opts)
    return names


def _value_option(command: click.Command, arg: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and arg in param.opts and not param.is_flag and not param.count:
            return param
    return None


def https_url(value: str, where: str, *, bare_host: bool = False) -> str:
    """`value` when it is an https URL with a host, else InputError naming `where`.

    An endpoint is only parsed when the first request is built, deep in azure-core or MSAL:
    `http://[::1` or a port past 65535 was a ValueError there (exit 4, "a bug"), `ftp://` an
    unreachable service (exit 3, "try again"). With `bare_host`, a host alone means https (as
    `--authority-host` takes it).
    """
    if (problem := url_problem(value, bare_host=bare_host)) is not None:
        raise InputError(f"{where}{problem}")
    return value


def url_problem(value: str, *, bare_host: bool = False) -> str | None:
    """Why `value` is no https URL with a host (text to follow the option's name), or None.
    A URL carrying a user name or password is not repeated."""
    text = value.strip()
    if bare_host and text and "://" not in text:
        text = f"https://{text}"
    shown = repr(printable(value[:200]))
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        return f" {shown}: not a URL ({exc})"
    if parts.username is not None or parts.password is not None:
        return ": a user name or password in the URL is refused (the value is not shown)"
    if parts.scheme.lower() != "https" or not host:
        return f" {shown}: expected an https:// URL with a host"
    return None


if TYPE_CHECKING:  # click >= 8.2 types ParamType generically; older ones cannot be subscripted
    _ParamType = click.ParamType[str, Any]
else:
    _ParamType = click.ParamType


class HttpsUrl(_ParamType):
    """The option type of endpoint URLs (`--arm-endpoint`, `--authority-host`): checked by
    `url_problem` before anything runs."""

    name = "URL"

    def __init__(self, *, bare_host: bool = False) -> None:
        self.bare_host = bare_host

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and (problem := url_problem(value, bare_host=self.bare_host)) is not None:
            self.fail(problem.lstrip(" :"), param, ctx)
        return value


class VaultUrlTemplate(_ParamType):
    """The option type of `--keyvault-url`: an https URL in which `{name}` (the vault's name) is the
    only thing in braces; it is substituted, never formatted, so no other field can reach the URL."""

    name = "TEMPLATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        rest = value.replace("{name}", "")
        if rest == value or "{" in rest or "}" in rest:
            self.fail(
                f"{printable(value[:200])!r}: expected {{name}} (the vault's name), and no other braces", param, ctx
            )
        if (problem := url_problem(value.replace("{name}", "vault"))) is not None:
            self.fail(problem.lstrip(" :"), param, ctx)
        return value
