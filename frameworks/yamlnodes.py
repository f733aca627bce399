"""YAML parsing that remembers where each mapping and key sits, so catalog errors can name a line.

PyYAML's plain loaders drop positions and silently keep the last of two equal keys; a catalog
author needs both the line and the duplicate reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml


class LocatedDict(dict[str, Any]):
    """A YAML mapping with the 1-based line it starts on and the line of each of its keys."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """The line of `key` when present, else where the mapping starts."""
        return self.key_lines.get(key, self.line)


class LocatedError(Exception):
    """A structural problem found while parsing, with the 1-based line it sits on."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are `LocatedDict`s."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LocatedDict]:
    data = LocatedDict(node.start_mark.line + 1)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise LocatedError(line, f"key {key!r} must be a string")
        if key in data:
            raise LocatedError(line, f"duplicate key {key!r} (first at line {data.key_lines[key]})")
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse(text: str) -> Any:
    """Parse one YAML document; raises `yaml.YAMLError` or `LocatedError`."""
    return yaml.load(text, Loader=_LineLoader)  # _LineLoader is a SafeLoader subclass
