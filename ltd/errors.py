"""Turn client errors into a message on stderr and a distinct exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from conveyor.errors import ConveyorError

P = ParamSpec("P")
R = TypeVar("R")


class CommandFailed(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # click declares exit_code on the class; ours varies per error.
        self.exit_code = exit_code  # type: ignore[misc]


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a click command so a :class:`ConveyorError` ends it with the
    error's message and exit code instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConveyorError as exc:
            raise CommandFailed(exc.message, exc.exit_code) from exc

    return wrapper
