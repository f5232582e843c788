"""A small client for keeper's REST API.

Every failure becomes a :class:`~conveyor.errors.ConveyorError` whose message
says what to do, and transient failures (connection errors, 502/503/504,
429) are retried with backoff before giving up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from conveyor import __version__
from conveyor.errors import (
    ConveyorError,
    NotFound,
    PermissionDenied,
    Rejected,
    Unreachable,
)
from conveyor.retry import Backoff, ClosingClient, request_with_retries

#: Keeper answers API calls quickly; registering a large manifest may copy
#: thousands of reused files, so reads get generous time.
_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=60.0)
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class KeeperClient(ClosingClient):
    def __init__(
        self,
        host: str,
        token: str | None = None,
        *,
        attempts: int = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not host:
            raise ConveyorError("no keeper host: pass --host or set LTD_HOST")
        if "://" not in host:
            host = f"https://{host}"
        self.host = host.rstrip("/")
        self.attempts = attempts
        headers = {"User-Agent": f"ltd/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=f"{self.host}/api",
            headers=headers,
            timeout=_TIMEOUT,
            transport=transport,
        )

    # -- plumbing ---------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one API call; ``retry`` is safe for idempotent calls and for
        the build calls keeper makes idempotent (confirm)."""
        response = request_with_retries(
            self._http,
            method,
            path,
            json=json,
            params=params,
            attempts=self.attempts if retry else 1,
            backoff=Backoff(),
            retry_statuses=_RETRY_STATUSES,
            retry_transport=lambda exc: True,
            unreachable=lambda exc: Unreachable(
                f"cannot reach keeper at {self.host}: {exc!s} "
                "(check --host / LTD_HOST and the network)"
            ),
        )
        if response.is_success:
            return response
        raise self._error(method, path, response)

    def _error(self, method: str, path: str, response: httpx.Response) -> Exception:
        detail = _detail(response)
        where = f"{method} {self.host}/api{path}"
        status = response.status_code
        if status == 401:
            return PermissionDenied(
                f"keeper did not accept the token ({detail}); "
                "pass --token or set LTD_TOKEN"
            )
        if status == 403:
            return PermissionDenied(f"the token lacks the role needed: {detail}")
        if status == 404:
            return NotFound(detail or f"{where}: not found")
        if status in (409, 413, 422):
            return Rejected(detail or f"{where}: rejected ({status})")
        if status >= 500 or status == 429:
            return Unreachable(f"{where}: keeper answered {status}: {detail}")
        return ConveyorError(f"{where}: keeper answered {status}: {detail}")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, body: Any, *, retry: bool = False) -> Any:
        return self.request("POST", path, json=body, retry=retry).json()

    def patch(self, path: str, body: Any, *, retry: bool = True) -> Any:
        return self.request("PATCH", path, json=body, retry=retry).json()

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def list_all(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following ``Link: rel=next``."""
        url: str | None = path
        query: dict[str, Any] | None = params or None
        while url is not None:
            response = self.request("GET", url, params=query)
            yield from response.json()
            url = _next_link(response, self.host + "/api")
            query = None

    # -- paths ------------------------------------------------------------

    @staticmethod
    def org_path(org: str) -> str:
        return f"/orgs/{quote(org, safe='')}"

    @classmethod
    def product_path(cls, org: str, product: str) -> str:
        return f"{cls.org_path(org)}/products/{quote(product, safe='')}"

    @classmethod
    def build_path(cls, org: str, product: str, build: str) -> str:
        return f"{cls.product_path(org, product)}/builds/{quote(build, safe='')}"

    @classmethod
    def edition_path(cls, org: str, product: str, edition: str) -> str:
        return f"{cls.product_path(org, product)}/editions/{quote(edition, safe='')}"


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item)
            for item in detail
        )
    return str(detail) if detail is not None else response.text[:300]


def _next_link(response: httpx.Response, api_base: str) -> str | None:
    link = response.links.get("next")
    if not link or "url" not in link:
        return None
    url = str(link["url"])
    # httpx resolves relative paths against base_url; strip our own base so
    # an absolute link does not double it.
    return url[len(api_base) :] if url.startswith(api_base) else url
