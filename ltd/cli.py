"""The ``ltd`` command line used by documentation CI jobs."""

from __future__ import annotations

import click

from keeper import __version__


@click.group()
@click.version_option(__version__, prog_name="ltd")
def main() -> None:
    """Publish documentation builds to keeper."""
