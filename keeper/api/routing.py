"""The route class of every API route: the caller is admitted and the body
bounded before any of the body is read; bodies are strict JSON.

FastAPI reads and parses a request's body before it solves the route's
dependencies, so authorization written as a dependency would come after
the parsing it should prevent. :class:`KeeperRoute` therefore wraps the
handler FastAPI builds: for the route a request is for, it

1. refuses a body declared larger than the route takes (413);
2. admits the caller by the route's rule (:mod:`keeper.api.access`): 401,
   403 or 404 from the headers and the path alone;
3. counts the body as it streams in and stops it at the route's limit
   (413), whatever ``Content-Length`` claimed;

and only then lets FastAPI read, parse and validate the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from keeper.api.access import ACCESS_KEY, ADMITTED, Rule, admit, rule_of
from keeper.api.errors import error_response
from keeper.domain.json_values import deeper_than
from keeper.domain.limits import DEFAULT_BODY_BYTES
from keeper.services.errors import KeeperError

#: Where an OpenAPI operation states the largest body its route takes.
MAX_BODY_KEY = "x-keeper-max-body"
#: Nesting of any JSON body; keeper's own bodies need 4, free-form fields
#: (``ci``, tracking parameters) are held to a lower limit by the schemas.
MAX_BODY_DEPTH = 32


def max_body(limit: int) -> dict[str, Any]:
    """``openapi_extra`` for a route that takes bodies other than the
    default :data:`~keeper.domain.limits.DEFAULT_BODY_BYTES`."""
    return {MAX_BODY_KEY: limit}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its route's limit.

    An HTTPException so that FastAPI, reading the body, lets it through to
    keeper's error handler instead of calling it a parse error.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"the request body is larger than the {limit} bytes this "
            "route takes",
        )


class KeeperRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any):
        # FastAPI builds the handler (get_route_handler) within __init__.
        super().__init__(path, endpoint, **kwargs)
        self.openapi_extra = {
            **(self.openapi_extra or {}),
            MAX_BODY_KEY: self._max_body(),
            ACCESS_KEY: self._rule().describe(),
        }

    def _rule(self) -> Rule:
        rule = rule_of(self)
        if rule is None:
            methods = ",".join(sorted(self.methods or ()))
            raise RuntimeError(
                f"{methods} {self.path} must declare exactly one access rule "
                "(keeper.api.access: PUBLIC, Reader, Uploader, Admin, …)"
            )
        return rule

    def _max_body(self) -> int:
        limit: int = (self.openapi_extra or {}).get(MAX_BODY_KEY, DEFAULT_BODY_BYTES)
        return limit

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        rule, limit = self._rule(), self._max_body()

        async def gated(request: Request) -> Response:
            declared = _content_length(request)
            if declared is not None and declared > limit:
                return error_response(413, "too_large", BodyTooLarge(limit).detail)
            try:
                caller = await run_in_threadpool(admit, rule, request)
            except KeeperError as exc:
                return error_response(exc.status_code, exc.error_type, exc.msg)
            request.scope.setdefault("state", {})[ADMITTED] = caller
            bounded = StrictJsonRequest(request.scope, _bounded(request.receive, limit))
            return await handle(bounded)

        return gated


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes are :class:`KeeperRoute` s."""
    return APIRouter(route_class=KeeperRoute, **kwargs)


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _bounded(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_within_limit


# -- strict JSON ---------------------------------------------------------------


class StrictJsonRequest(Request):
    """Request bodies are JSON as RFC 8259 means it: no repeated keys
    (parsers disagree on which one wins), no NaN or Infinity, and bounded
    nesting."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def parse_json(body: bytes) -> Any:
    """Parse a request body; :class:`json.JSONDecodeError` for anything
    that is not strict JSON (FastAPI answers 422 ``json_invalid``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from None
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constants
        )
    except RecursionError:
        raise json.JSONDecodeError(_TOO_DEEP, text, 0) from None
    if deeper_than(value, MAX_BODY_DEPTH):
        raise json.JSONDecodeError(_TOO_DEEP, text, 0)
    return value


_TOO_DEEP = f"nested deeper than {MAX_BODY_DEPTH} levels"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise json.JSONDecodeError(
                f"the key {key!r} appears twice in one object", "", 0
            )
        found[key] = value
    return found


def _no_constants(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number", "", 0)
