"""Click plumbing for `mlwarden`: one-line errors for click's own usage errors, a quiet exit
on a closed pipe, and a `--format` type that lists the formats actually registered.

Kept apart from `scanner.cli` so that the command module holds commands only.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click
from click.core import ParameterSource

from scanner import argv, files, sigterm
from scanner.errors import MlwardenError
from scanner.textsafe import printable

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 128 + signal.SIGINT
"""130, what a shell reports for a command stopped by Ctrl-C."""
EXIT_TERMINATED = 128 + signal.SIGTERM
"""143, what a shell reports for a command stopped by SIGTERM (see `scanner.sigterm`)."""
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""141, what a shell reports for `cat` or `grep` killed by SIGPIPE: the reader went away early
(`mlwarden checks list | head -1`). Not 0, so that `scan ... | head` never turns a gate green
under `set -o pipefail`; nothing is printed."""

EXIT_CODES_HELP = """\b
Exit codes:
  0    nothing failing at or above --fail-on
  1    failing findings at or above --fail-on, not waived or baselined (history diff --fail-on-new:
       new ones; verify: a mismatch)
  2    usage or input error (one line on stderr: what and where), or no Azure credential could sign in
  3    scan incomplete: a source or scope could not be read, or a check errored (--allow-partial: a
       warning); or the history could not be reached, so the scan was not recorded
  4    internal error, a bug in mlwarden (please report it)
  130  interrupted (Ctrl-C)
  141  the reader of stdout went away (e.g. piped into head); nothing else printed
  143  terminated (SIGTERM: docker stop, a cancelled CI job); nothing written, as for Ctrl-C"""


_LONG_RUN = re.compile(r"\S{512,}")
"""A run of text without a space this long is a value given or read, not words: it is clipped."""


def error_line(message: str) -> str:
    """The one line every error becomes; estate text in it is neutralised, and a value of 100,000
    characters (`--fail-on "$(cat somefile)"`) is shown by its start and end, not in full."""
    return f"mlwarden: error: {_LONG_RUN.sub(_clip, printable(message))}"


def _clip(match: re.Match[str]) -> str:
    run = match.group()
    return f"{run[:100]}[...{len(run) - 140} characters...]{run[-40:]}"


def guard(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every failure of a command into one line on stderr and a documented exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MlwardenError as exc:
            click.echo(error_line(str(exc)), err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as exc:
            message = f"internal error: {type(exc).__name__} (this is a bug in mlwarden; please report it)"
            click.echo(error_line(message), err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


def _usage_message(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())
    ctx, param = getattr(exc, "ctx", None), getattr(exc, "param", None)
    variable = _from_environment(exc)
    if variable is not None and ctx is not None and param is not None:
        why = " ".join(exc.message.split())
        behind = f"the environment variable behind {param.opts[0]}"
        return f"{ctx.command_path}: invalid value for {variable} ({behind}): {why}"
    if isinstance(exc, click.MissingParameter) and isinstance(param, click.Option) and isinstance(param.envvar, str):
        message = f"{message.removesuffix('.')} (or set {param.envvar})."
    if isinstance(exc, click.UsageError) and ctx is not None:
        return f"{ctx.command_path}: {message} (see '{ctx.command_path} --help')"
    return message


def _from_environment(exc: click.ClickException) -> str | None:
    """The environment variable a refused option value came from, None when it came from elsewhere.
    Click names the option (`Invalid value for '--connect-timeout'`) although nothing on the command
    line set it; a scheduled job's operator must look in the job's environment instead."""
    param, ctx = getattr(exc, "param", None), getattr(exc, "ctx", None)
    if not isinstance(exc, click.BadParameter) or not isinstance(param, click.Option) or ctx is None:
        return None
    if param.name is None or ctx.get_parameter_source(param.name) is not ParameterSource.ENVIRONMENT:
        return None
    names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
    if ctx.auto_envvar_prefix is not None:
        names.append(f"{ctx.auto_envvar_prefix}_{param.name.upper()}")
    return next((name for name in names if os.environ.get(name)), None)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. a test runner's buffer)
        pass


class MlwardenGroup(click.Group):
    """The top-level group: bare `mlwarden` prints help and exits 0; every error is one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        full_summaries(self)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            click.echo(error_line(_usage_message(exc)), err=True)
            sys.exit(EXIT_INPUT)
        except click.exceptions.Abort:
            terminated = sigterm.received()
            click.echo(error_line("terminated" if terminated else "interrupted"), err=True)
            sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_BROKEN_PIPE)
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        # `mlwarden --help | head -1`: help is printed while parsing, before invoke.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            _silence_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None

    def invoke(self, ctx: click.Context) -> Any:
        # Caught here, inside click: click's own handler would turn EPIPE into exit 1, and would
        # start Ctrl-C's error with an empty line even where no `^C` was echoed (a CI log).
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
        except KeyboardInterrupt:
            if sys.stderr is not None and sys.stderr.isatty():
                click.echo(err=True)  # end the line the terminal's `^C` is on
            raise click.exceptions.Abort() from None


if TYPE_CHECKING:  # click >= 8.2 types ParamType generically; older ones cannot be subscripted
    _ParamType = click.ParamType[tuple[str, ...], Any]
else:
    _ParamType = click.ParamType


_HYPHEN, _KEPT = "-", "\u2011"
"""textwrap breaks a line after any hyphen; a non-breaking hyphen stands in while help is wrapped."""


class _HelpFormatter(click.HelpFormatter):
    """click's help layout, except that `--fail-on-new`, `MLW-KV-01` or `comma-separated` is never
    split across two lines: `--fail-` then `on-new` reads as an option that does not exist."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog.replace(_HYPHEN, _KEPT), args.replace(_HYPHEN, _KEPT), prefix)

    def write_text(self, text: str) -> None:
        super().write_text(text.replace(_HYPHEN, _KEPT))

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        kept = [(first.replace(_HYPHEN, _KEPT), second.replace(_HYPHEN, _KEPT)) for first, second in rows]
        super().write_dl(kept, col_max, col_spacing)

    def getvalue(self) -> str:
        return super().getvalue().replace(_KEPT, _HYPHEN)


class _Context(click.Context):
    formatter_class = _HelpFormatter


def full_summaries(group: click.Group) -> None:
    """Give every subcommand its whole first sentence as summary: click cuts long ones with '...'.
    Every command's help is laid out by `_HelpFormatter`."""
    group.context_class = _Context
    for command in group.commands.values():
        command.context_class = _Context
        if command.short_help is None and command.help:
            first = command.help.split("\n\n", 1)[0]
            command.short_help = " ".join(first.split())
        if isinstance(command, click.Group):
            full_summaries(command)


class FormatList(_ParamType):
    """Report formats, repeatable or comma-separated, checked against `reports.RENDERERS`;
    `FMT.gz` (any but pdf) writes that format gzipped, to `mlwarden-report.<ext>.gz`.

    The registry is read when a value is converted or help is shown, so formats that another
    module registers (pdf, compliance-csv, ...) are accepted and listed without touching the CLI.
    """

    name = "format"

    @staticmethod
    def choices() -> list[str]:
        from reports import RENDERERS

        return list(RENDERERS)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.choices()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        names: list[str] = []
        choices = self.choices()
        for item in str(value).split(","):
            name = item.strip().lower()
            if not name:
                continue
            base = name.removesuffix(".gz")
            if base not in choices or (base != name and base == "pdf"):
                self.fail(
                    f"unknown format {item.strip()!r} (choose from {', '.join(choices)}; add .gz to gzip any but pdf)",
                    param,
                    ctx,
                )
            names.append(name)
        if not names:
            self.fail(f"{value!r} names no format (choose from {', '.join(choices)})", param, ctx)
        return tuple(names)


def flatten_formats(values: Sequence[Sequence[str]]) -> list[str]:
    """The formats from every `--format`, in order, each once."""
    return list(dict.fromkeys(name for group in values for name in group))


class Location(click.Path):
    """`click.Path` that refuses an empty value: `--out "$OUT_DIR"` with the variable unset would
    otherwise be the working directory (reports written where nobody looks), and an empty input
    path would read `.`.

    With `reads`, the path is one mlwarden reads, and what it names is judged by kind before
    anything runs (`scanner.files`): a device, socket, kernel pseudo-file (`/proc/self/status`),
    directory, link loop or unreadable file is one line naming the option and the path, exit 2.
    A file path (`dir_okay=False`) ending in `/` is refused, read or written: pathlib drops the
    slash, so `--write-baseline base.json/` replaced the file where a directory was meant."""

    def __init__(self, *args: Any, reads: files.Accepts | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = reads

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path (is the variable meant to name it unset?)", param, ctx)
        if isinstance(value, str) and value != "-":
            why = files.trailing_slash(value) if not self.dir_okay else None
            if why is None and (self.reads is not None or not self.file_okay):  # a directory read or written
                why = files.problem(value, self.reads or "dir")
            if why is not None:
                raise FileKindError(f"{_name_of(param)} {value}: {why}")
        if value == "-" and not self.file_okay:  # `--out -` made a directory named `-`
            self.fail(
                "'-' names no directory: stdout cannot hold reports (write ./- for a directory named '-')",
                param,
                ctx,
            )
        if value == "-" and not self.allow_dash:  # `--write-baseline -` wrote a file named `-`, not to stdout
            self.fail("'-' (stdin or stdout) is not taken here (write ./- for a file named '-')", param, ctx)
        return super().convert(value, param, ctx)


class FileKindError(click.ClickException):
    """A path that names the wrong kind of file: an input error said as the readers say theirs
    (`--waivers /dev/zero: not a regular file (a character device)`), not as a usage error."""

    exit_code = EXIT_INPUT


def _name_of(param: click.Parameter | None) -> str:
    if isinstance(param, click.Option):
        return next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
    return param.human_readable_name if param is not None else "path"


class Seconds(click.FloatRange):
    """A finite, non-negative number of seconds, written plainly (`argv.plain_number`): `nan`
    passes a plain `FloatRange` (it compares false with every bound), `inf`, `1e309` or `-0` pass
    `min=0` (each reached the check supervisor's clock as a silent 'no limit'), and float() takes
    `1_0` and full-width `１０` as 10."""

    name = "number of seconds"
    """What click's refusal calls a value that is no number (its own word is 'float range')."""

    def __init__(self, *args: Any, least: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.least = least
        """The smallest limit above 0 that is kept to (a supervisor that looks every few
        milliseconds cannot hold a check to a nanosecond); None: any."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # the default, or a value click has converted already
            return super().convert(value, param, ctx)
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{argv.shown(value)} is not a valid number of seconds", param, ctx)
        if not math.isfinite(number):  # before the range, which calls 1e309 'inf'
            self.fail(f"{argv.shown(value)} is not a finite number of seconds", param, ctx)
        if math.copysign(1.0, number) < 0 and number == 0:  # -0 passes min=0; the sign says a negative was meant
            self.fail(f"{argv.shown(value)} is negative", param, ctx)
        converted = super().convert(number, param, ctx)  # the range, in click's words
        if self.least is not None and 0 < number < self.least:
            self.fail(
                f"{argv.shown(value)} is below {self.least:g}, the shortest limit it can keep to (0: no limit)",
                param,
                ctx,
            )
        if not argv.plain_number(value, fraction=True):
            self.fail(
                f"{argv.shown(value)} is not written as a plain number of seconds ({argv.DECIMAL_GRAMMAR})",
                param,
                ctx,
            )
        return converted


class WholeNumber(click.IntRange):
    """A whole number within a range, written plainly (`argv.plain_number`): click's IntRange takes
    whatever int() does, `1_0`, `+10`, ` 10 ` and full-width `１０` included."""

    name = "whole number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not argv.plain_number(value, fraction=False):
            self.fail(f"{argv.shown(value)} is not a plain whole number ({argv.WHOLE_GRAMMAR})", param, ctx)
        return super().convert(value, param, ctx)


def jobs(value: str) -> int | str:
    """`--jobs`: `auto` (in any case) or a whole number of processes, 1 to 1024, written plainly."""
    if value.lower() == "auto":
        return "auto"
    if argv.plain_number(value, fraction=False) and 0 < int(value) <= 1024:
        return int(value)
    raise click.BadParameter(
        f"{argv.shown(value)} is neither auto nor a number of processes (1 to 1024, {argv.WHOLE_GRAMMAR})"
    )


def timeout_options(connect: float, read: float, *, when: str = "", then: str = "") -> list[Callable[[Any], Any]]:
    """`--connect-timeout` and `--read-timeout` (also from `MLWARDEN_CONNECT_TIMEOUT` and
    `MLWARDEN_READ_TIMEOUT`) for every command that talks to Azure: azure-core's own connection
    timeout is 300 s, which a blackholed private endpoint makes the wait of every request."""

    def seconds(flag: str, default: float, env: str, what: str, tail: str = "") -> Callable[[Any], Any]:
        return click.option(
            flag,
            type=Seconds(min=0, min_open=True, max=3600),
            default=default,
            show_default=True,
            envvar=env,
            metavar="SECONDS",
            help=f"Seconds to wait for {what} ({when}env: {env}){tail}.",
        )

    return [
        seconds("--connect-timeout", connect, "MLWARDEN_CONNECT_TIMEOUT", "a host to accept a connection", then),
        seconds("--read-timeout", read, "MLWARDEN_READ_TIMEOUT", "a reply to go on once connected"),
    ]
