"""The client library behind ``ltd``: API client, site scan, transfers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ltd-platform")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
