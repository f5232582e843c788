"""One error shape everywhere: ``{"detail": [{"type": …, "msg": …}]}``.

Validation errors also name the field at fault (``loc``); at most
:data:`~keeper.domain.limits.MAX_REPORTED_ERRORS` of them are listed, so a
large invalid body cannot produce a larger answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from keeper.domain.limits import MAX_REPORTED_ERRORS
from keeper.services.errors import KeeperError
from keeper.storage import StorageError

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
}


class ErrorItem(BaseModel):
    type: str = Field(description="A stable, machine-readable error type.")
    msg: str = Field(description="What is wrong, for a person to act on.")
    loc: list[str | int] | None = Field(
        default=None,
        description="Where in the request the error is (validation errors).",
    )


class ErrorBody(BaseModel):
    detail: list[ErrorItem]


def error_response(
    status: int, error_type: str, msg: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        {"detail": [{"type": error_type, "msg": msg}]},
        status_code=status,
        headers=headers,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at the request's path."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(
            route.matches(scope)[0] is Match.FULL for route in request.app.router.routes
        ):
            allowed.append(method)
    return allowed


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's validation errors as keeper reports them (capped)."""
    detail = [_item(e) for e in errors[:MAX_REPORTED_ERRORS]]
    more = len(errors) - MAX_REPORTED_ERRORS
    if more > 0:
        detail.append(
            {
                "type": "too_many_errors",
                "msg": f"and {more} more error(s) like these; only the first "
                f"{MAX_REPORTED_ERRORS} are listed",
            }
        )
    return detail


def _item(error: Any) -> dict[str, Any]:
    error_type = str(error.get("type", "invalid"))
    msg = str(error.get("msg", ""))
    if error_type == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        msg = f"the body is not valid JSON: {reason}" if reason else msg
    return {
        "type": error_type,
        "msg": msg,
        "loc": [p if isinstance(p, int) else str(p) for p in error.get("loc", ())],
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KeeperError)
    async def _keeper(_: Request, exc: KeeperError) -> JSONResponse:
        return error_response(exc.status_code, exc.error_type, exc.msg)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route that matched
            # the path; RFC 9110 wants every method the resource takes.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(
            exc.status_code,
            _HTTP_TYPES.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = validation_detail(exc.errors())
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(StorageError)
    async def _storage(_: Request, exc: StorageError) -> JSONResponse:
        return error_response(502, "storage_error", f"object storage failed: {exc}")
