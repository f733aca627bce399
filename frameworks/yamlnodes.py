"""Kept for importers: YAML parsing now lives in `scanner.safe_yaml`, the one bounded loader
(size, UTF-8, no aliases, depth, impossible values) that every YAML file goes through."""

from __future__ import annotations

from scanner.safe_yaml import LocatedDict, LocatedError, parse

__all__ = ["LocatedDict", "LocatedError", "parse"]
