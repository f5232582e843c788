"""Domain errors. The API maps each to one HTTP status and error type."""

from __future__ import annotations


class KeeperError(Exception):
    status_code = 400
    error_type = "bad_request"

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class NotFound(KeeperError):
    status_code = 404
    error_type = "not_found"


class Conflict(KeeperError):
    status_code = 409
    error_type = "conflict"


class Invalid(KeeperError):
    status_code = 422
    error_type = "invalid"


class Unauthorized(KeeperError):
    status_code = 401
    error_type = "unauthorized"


class Forbidden(KeeperError):
    status_code = 403
    error_type = "forbidden"


class NotReady(KeeperError):
    """What was asked for is being prepared; ask again shortly."""

    status_code = 503
    error_type = "not_ready"


class VerificationFailed(KeeperError):
    """Uploaded objects are missing or differ from the manifest."""

    status_code = 422
    error_type = "verification_failed"
