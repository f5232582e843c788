"""One error shape everywhere: ``{"detail": [{"type": …, "msg": …}]}``."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from keeper.services.errors import KeeperError
from keeper.storage import StorageError

_HTTP_TYPES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
}


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KeeperError)
    async def _keeper(_: Request, exc: KeeperError) -> JSONResponse:
        return error_response(exc.status_code, exc.error_type, exc.msg)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(
            exc.status_code,
            _HTTP_TYPES.get(exc.status_code, "http_error"),
            str(exc.detail),
            exc.headers,  # e.g. Allow on 405
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "type": e.get("type", "invalid"),
                "msg": e.get("msg", ""),
                "loc": list(e.get("loc", ())),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(StorageError)
    async def _storage(_: Request, exc: StorageError) -> JSONResponse:
        return error_response(502, "storage_error", f"object storage failed: {exc}")
