"""The ``--timeout`` of the commands that wait for keeper's jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from conveyor.upload import DEFAULT_WAIT_SECONDS


def timeout_option(help: str) -> Callable[[Any], Any]:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=DEFAULT_WAIT_SECONDS,
        show_default=True,
        help=help,
    )
