"""One server for readers and for the API, told apart by ``Host``.

A request for a product's host (``<product>.<base_domain>``, or the base
domain of a path-layout org with ``/<product>`` first in the path) is the
edge's; every other request goes to the API unchanged. Host comes first:
keeper answers ``GET /``, ``/token`` and ``/products/…`` at its own root
for LTD Keeper 1.x clients, paths a product's site has too. A request
whose Host header is missing (HTTP/1.1), repeated or not a host name is
neither's: 400, in the API's error shape.
"""

from __future__ import annotations

import json

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from keeper.edge import rules
from keeper.edge.app import EdgeApp, host_values


class HostDispatch:
    """ASGI middleware in front of the API app.

    The edge is read from ``state.edge`` per request because the app's
    lifespan creates it (it needs the database engine); until then, and
    for lifespan and websocket events, everything goes to the API.
    """

    def __init__(self, app: ASGIApp, *, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # A request whose Host no one can route is nobody's: neither a
            # site's nor the API's (RFC 9112 §3.2 asks for 400).
            problem = rules.host_problem(host_values(scope), scope["http_version"])
            if problem is not None:
                await _bad_host(problem, send)
                return
        edge: EdgeApp | None = getattr(self.state, "edge", None)
        if scope["type"] == "http" and edge is not None:
            routed = await edge.route(scope)
            if routed is not None:
                await edge.serve(routed, scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _bad_host(problem: rules.BadRequest, send: Send) -> None:
    body = json.dumps(
        {"detail": [{"type": "bad_host", "msg": problem.reason}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
