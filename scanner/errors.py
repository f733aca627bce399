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


class StoreUnavailableError(MlwardenError):
    """The history store could not be reached, or stayed locked past every retry. Exit 3: the
    scan itself was fine, but it is not recorded; a rerun can succeed without any change."""

    exit_code = 3
