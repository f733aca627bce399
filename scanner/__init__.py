"""mlwarden: audit ML deployments on Azure and map the findings to compliance controls."""

from importlib import metadata

try:
    __version__ = metadata.version("mlwarden")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"
