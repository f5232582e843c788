"""One server for readers and for the API, told apart by ``Host``.

A request for a product's host (``<product>.<base_domain>``, or the base
domain of a path-layout org with ``/<product>`` first in the path) is the
edge's; every other request goes to the API unchanged. Host comes first:
keeper answers ``GET /``, ``/token`` and ``/products/…`` at its own root
for LTD Keeper 1.x clients, paths a product's site has too.
"""

from __future__ import annotations

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from keeper.edge.app import EdgeApp


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
        edge: EdgeApp | None = getattr(self.state, "edge", None)
        if scope["type"] == "http" and edge is not None:
            routed = await edge.route(scope)
            if routed is not None:
                await edge.serve(routed, scope, receive, send)
                return
        await self.app(scope, receive, send)
