"""Errors the CLI turns into one line and a documented exit code (never a traceback)."""

from __future__ import annotations


class MlwardenError(Exception):
    exit_code = 2


class InputError(MlwardenError):
    """Bad input: a malformed snapshot, framework file, waiver, option or plugin. Exit 2."""

    exit_code = 2


class SourceError(MlwardenError):
    """A source could not be read at all (auth failed, malformed service response). Exit 3."""

    exit_code = 3
