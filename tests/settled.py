"""A TestClient that waits for the jobs a request queued.

Publishing runs in keeper's job runner after the request that asked for it
has answered, as in production; a test that reads the pages or an edge
right after a change waits for that work here, the way ``ltd upload``
waits for its editions to be published.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class SettledClient(TestClient):
    def request(  # type: ignore[override]
        self, method: str, url: httpx._types.URLTypes, **kwargs: Any
    ) -> httpx.Response:
        response = super().request(method, url, **kwargs)
        if method.upper() not in _READS:
            settle(self)
        return response


def settle(client: TestClient, timeout: float = 60.0) -> None:
    """Wait until the app's job runner has nothing due or running (unless
    the test stopped it)."""
    runner = getattr(client.app.state, "jobs", None)  # type: ignore[attr-defined]
    if runner is not None and runner.running:
        runner.wait_idle(timeout)
