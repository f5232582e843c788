"""Exponential backoff with full jitter, shared by API calls and transfers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

from keeper.domain.retry_after import retry_after


@dataclass
class Backoff:
    """Delays of ``base * 2**n`` capped at ``cap``, each drawn uniformly from
    ``[0, delay]`` so that many clients failing together do not retry in
    lockstep (AWS's "full jitter")."""

    base: float = 0.2
    cap: float = 10.0
    attempt: int = field(default=0)

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return random.uniform(0, delay)


def request_with_retries(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    attempts: int,
    backoff: Backoff,
    retry_statuses: frozenset[int],
    retry_transport: Callable[[httpx.TransportError], bool],
    unreachable: Callable[[httpx.TransportError], Exception],
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send one request, retrying what the caller says is safe to retry.

    Returns the last response, successful or not, for the caller to turn
    into its own error; a transport failure that is not retried (or is the
    last attempt) raises ``unreachable(exc)``.
    """
    for attempt in range(1, attempts + 1):
        last = attempt == attempts
        try:
            response = http.request(
                method, url, json=json, params=params, headers=headers
            )
        except httpx.TransportError as exc:
            if last or not retry_transport(exc):
                raise unreachable(exc) from exc
            time.sleep(backoff.next())
            continue
        if response.status_code in retry_statuses and not last:
            time.sleep(retry_after(response.headers) or backoff.next())
            continue
        return response
    raise AssertionError("attempts must be at least 1")


class ClosingClient:
    """An API client over one ``httpx.Client`` (``self._http``), usable in a
    ``with`` block that closes its connections."""

    _http: httpx.Client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
