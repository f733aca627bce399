"""Every command of the CLI, found by walking its group tree: a test over all options covers a
command or option added later without being told."""

from __future__ import annotations

import click


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """(path of names, command) for every leaf command under `group`, in name order."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found
