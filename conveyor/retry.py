"""Exponential backoff with full jitter, shared by API calls and transfers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx


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


def retry_after(headers: Mapping[str, str], *, cap: float = 30.0) -> float | None:
    """Seconds a 429/503 asks us to wait, if its headers say."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(cap, max(0.0, (when - datetime.now(UTC)).total_seconds()))


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
