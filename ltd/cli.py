"""The ``ltd`` command line used by documentation CI jobs."""

from __future__ import annotations

import click

from conveyor import __version__
from ltd.admin import register
from ltd.upload import upload


@click.group()
@click.version_option(__version__, prog_name="ltd")
def main() -> None:
    """Publish documentation builds to keeper and manage them."""


main.add_command(upload)
register(main)
