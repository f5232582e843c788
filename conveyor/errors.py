"""Errors the client raises, each with the exit code ``ltd`` uses for it.

Distinct codes let a CI script tell "fix your configuration" apart from
"try again later" without parsing messages.
"""

from __future__ import annotations


class ConveyorError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ConveyorError):
    """The org, product, edition or build named does not exist."""

    exit_code = 3


class PermissionDenied(ConveyorError):
    """No token, a bad token, or a token without the role needed."""

    exit_code = 4


class Unreachable(ConveyorError):
    """Keeper could not be reached or kept failing."""

    exit_code = 5


class BadSite(ConveyorError):
    """The directory cannot be published as it is (empty, unreadable file,
    a symlink leaving it, a name the platform cannot store)."""

    exit_code = 6


class UploadFailed(ConveyorError):
    """Files could not be sent, or keeper's verification rejected them."""

    exit_code = 7


class Rejected(ConveyorError):
    """Keeper refused the request as invalid (HTTP 409 or 422)."""

    exit_code = 8


class BadPattern(ConveyorError, ValueError):
    """An ``--exclude`` or ``--include`` glob that cannot be used (empty,
    too long, malformed, or too many of them)."""

    exit_code = 2
